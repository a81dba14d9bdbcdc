"""capcom6 SMS Gateway for Android (sms-gate.app) webhooks, local or cloud mode.

Signature (the app's "Webhooks" guide, payload signing): ``X-Signature`` is the hex
HMAC-SHA256, keyed with the signing key set in the app, of the raw body followed by the
``X-Timestamp`` header (Unix seconds); the timestamp must be within the tolerance.

Every request is ``{"event", "deviceId", "id", "webhookId", "payload"}`` (the app's
``WebHookEventDTO``). Inbound events, each kept (the app's ``WebHookEvent`` and ``payload/*``):

- ``sms:received``: ``sender`` (newer) or ``phoneNumber``, ``message``, ``receivedAt``.
- ``sms:data-received``: a binary (data) SMS, ``data`` in base64. Kept as sent; its text, for
  finding mentions and forwarding, is the decoded bytes if they are UTF-8, else none.
- ``mms:received``: a notice before the MMS is downloaded: ``transactionId``, ``subject``,
  ``size``, ``contentClass``; the pictures stay on the phone.
- ``mms:downloaded``: the MMS after download: ``sender`` (may be null), ``subject`` and
  ``body`` (its text parts), ``attachments`` (``partId``, ``contentType``, ``name``, ``size``
  and, when the phone could read it, ``data`` in base64, which is kept in the request).
- ``sms:batch:received``, ``sms:batch:data-received``, ``mms:batch:received``,
  ``mms:batch:downloaded``: ``{"messages": [...]}``, a list of the matching single payloads
  (``BatchEventPayload``). Each text of the list is decided, kept and deduplicated on its own.

The payload's ``messageId`` is derived from the content and is not unique (the project's docs
say not to rely on it), so texts are deduplicated on a hash of device, sender, content and
``receivedAt`` instead: a retry of the same text hashes the same, a different text does not.
A batch entry is the same payload as the single event, so a text delivered alone and again in a
batch hashes the same and is kept once. An MMS notice and its downloaded content are two items
(nothing in them ties one to the other).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace

from nocontact.channels.sms.gateway import (
    Gateway,
    InboundText,
    Malformed,
    Refused,
    WebhookRequest,
    fresh,
    json_object,
    obj,
    same,
    text_field,
)
from nocontact.config import Config

log = logging.getLogger(__name__)
NAME = "android-gateway"
# mms:downloaded carries the pictures in the request, base64 (a third larger); carriers cap an
# MMS at 300 KiB to a few MiB, and a batch event holds several
MAX_BODY_BYTES = 16 * 1024 * 1024
HEADERS = ("content-type", "user-agent", "x-signature", "x-timestamp")
MMS_REPORTED = ("messageId", "transactionId", "size", "contentClass", "simNumber")
ATTACHMENT_FIELDS = ("partId", "contentType", "name", "size")
# events that carry no text: outbound status reports, health, start-up
NOT_TEXTS = frozenset(
    {"sms:sent", "sms:delivered", "sms:failed", "sms:cancelled", "system:ping", "app:started"}
)

Payload = Mapping[str, object]
Reader = Callable[[Payload, str], InboundText]  # (payload, device id) -> text


def signature(key: str, body: bytes, timestamp: str) -> str:
    return hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def verify_with(key: str, tolerance: int, req: WebhookRequest, now: float) -> None:
    sig = req.header("x-signature")
    if not sig:
        raise Refused("missing signature")
    ts = req.header("x-timestamp") or ""
    fresh(ts, now, tolerance)
    if not same(sig.strip().lower(), signature(key, req.body, ts)):
        raise Refused("bad signature")


def dedupe_id(device: str, sender: str, text: str, received_at: str) -> str:
    canonical = json.dumps([device, sender, text, received_at], ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _sender(p: Payload, *, required: bool = True) -> str:
    """``sender`` (newer apps) or the deprecated ``phoneNumber`` (older, and still sent)."""
    sender = p.get("sender") or p.get("phoneNumber")
    if sender is None and not required:
        return ""  # mms:downloaded: the phone may not know who sent it; kept all the same
    if not isinstance(sender, str) or (required and not sender.strip()):
        raise Malformed("sender missing or not text")
    return sender


def _recipient(p: Payload) -> str:
    recipient = p.get("recipient")
    return recipient if isinstance(recipient, str) else ""


def _sms(p: Payload, device: str) -> InboundText:
    # Versions differ: "message" (older) or {"textMessage": {"text"}} (newer)
    if isinstance(p.get("textMessage"), dict):
        text = text_field(obj(p, "textMessage"), "text", required=False)
    else:
        text = text_field(p, "message", required=False)
    sender = _sender(p)
    received_at = text_field(p, "receivedAt")
    return InboundText(
        provider=NAME,
        message_id=dedupe_id(device, sender, text, received_at),
        sender=sender,
        to=_recipient(p),
        text=text,
        claimed_at=received_at,
    )


def _data(p: Payload, device: str) -> InboundText:
    data = p.get("data")
    if not isinstance(data, str):
        raise Malformed("data missing or not text")
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as e:
        raise Malformed("data is not base64") from e
    sender = _sender(p)
    received_at = text_field(p, "receivedAt")
    return InboundText(
        provider=NAME,
        # the base64 as sent: the same bytes always encode the same way (the app's NO_WRAP)
        message_id="data-" + dedupe_id(device, sender, f"data:{data}", received_at),
        sender=sender,
        to=_recipient(p),
        text=_utf8(content),
        claimed_at=received_at,
    )


def _utf8(content: bytes) -> str:
    """Binary content has no text to search for mentions; UTF-8 content is read as text."""
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def _mms(p: Payload, device: str) -> InboundText:
    sender = _sender(p)
    received_at = text_field(p, "receivedAt")
    subject = text_field(p, "subject", required=False)  # null when the MMS has none
    transaction = p.get("transactionId")
    key = dedupe_id(
        device,
        sender,
        f"mms:{transaction if isinstance(transaction, str) else ''}:{subject}",
        received_at,
    )
    return InboundText(
        provider=NAME,
        message_id="mms-" + key,
        sender=sender,
        to=_recipient(p),
        text=subject,  # so a mention in the subject is still found
        claimed_at=received_at,
        media_reported={k: p[k] for k in MMS_REPORTED if p.get(k) is not None},
    )


def _mms_downloaded(p: Payload, device: str) -> InboundText:
    sender = _sender(p, required=False)
    received_at = text_field(p, "receivedAt")
    subject = text_field(p, "subject", required=False)
    body = text_field(p, "body", required=False)
    attachments = _attachments(p)
    message = p.get("messageId")
    # what the MMS is, not whether the phone could read a part's bytes this time
    parts = [{k: v for k, v in a.items() if k != "inline"} for a in attachments]
    content = json.dumps(
        ["mms:downloaded", message, subject, body, parts], ensure_ascii=False, sort_keys=True
    )
    reported: dict[str, object] = {"attachments": attachments} if attachments else {}
    reported.update((k, p[k]) for k in ("messageId", "simNumber") if p.get(k) is not None)
    return InboundText(
        provider=NAME,
        message_id="mmsdl-" + dedupe_id(device, sender, content, received_at),
        sender=sender,
        to=_recipient(p),
        text="\n".join(part for part in (subject, body) if part),
        claimed_at=received_at,
        # what the pictures were; their bytes, when sent, are in the kept request
        media_reported=reported if attachments else None,
    )


def _attachments(p: Payload) -> list[dict[str, object]]:
    items = p.get("attachments", [])
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(a, dict) for a in items):
        raise Malformed("attachments not a list of objects")
    out: list[dict[str, object]] = []
    for a in items:
        seen: dict[str, object] = {k: a[k] for k in ATTACHMENT_FIELDS if a.get(k) is not None}
        seen["inline"] = isinstance(a.get("data"), str)  # its bytes came in the request
        out.append(seen)
    return out


ONE: dict[str, Reader] = {
    "sms:received": _sms,
    "sms:data-received": _data,
    "mms:received": _mms,
    "mms:downloaded": _mms_downloaded,
}
BATCH: dict[str, Reader] = {
    "sms:batch:received": _sms,
    "sms:batch:data-received": _data,
    "mms:batch:received": _mms,
    "mms:batch:downloaded": _mms_downloaded,
}


def parse_all(req: WebhookRequest) -> list[InboundText]:
    """Every text the request carries; Malformed if any one is unreadable (then nothing of the
    request is kept and the app retries it)."""
    doc = json_object(req.body)
    event = doc.get("event")
    device = doc.get("deviceId")
    device_s = device if isinstance(device, str) else ""
    if not isinstance(event, str):
        raise Malformed("event missing or not text")
    if event in ONE:
        return [ONE[event](obj(doc, "payload"), device_s)]
    if event in BATCH:
        read = BATCH[event]
        return _unique([replace(read(m, device_s), batch_index=i) for i, m in _entries(doc)])
    if event not in NOT_TEXTS:
        # a newer app's event this version does not know: it may be a text, so say so
        log.warning("sms webhook event not understood: provider=%s event=%.40r", NAME, event)
    return []


def _entries(doc: Mapping[str, object]) -> list[tuple[int, Payload]]:
    messages = obj(doc, "payload").get("messages")
    if not isinstance(messages, list):
        raise Malformed("messages missing or not a list")
    if not all(isinstance(m, dict) for m in messages):
        raise Malformed("a batch entry is not an object")
    return list(enumerate(messages))


def _unique(texts: list[InboundText]) -> list[InboundText]:
    """One text per message id: an entry repeated in a batch is the same text, kept once."""
    seen: dict[str, InboundText] = {}
    for t in texts:
        seen.setdefault(t.message_id, t)
    return list(seen.values())


def parse(req: WebhookRequest) -> InboundText | None:
    """The one text a request stands for: the request's only text, or, for a batch text read
    back from its evidence (``req.entry``), that entry."""
    texts = parse_all(req)
    if req.entry is not None:
        found = [t for t in texts if t.batch_index == req.entry]
        if not found:
            raise Malformed("no such entry in the batch")
        return found[0]
    if len(texts) > 1:
        raise Malformed("several texts in one request: read them with parse_all")
    return texts[0] if texts else None


def gateway(config: Config) -> Gateway | None:
    cfg = config.sms.android_gateway
    if cfg is None:
        return None
    key = cfg.key()

    def verify(req: WebhookRequest, now: float) -> None:
        verify_with(key, cfg.tolerance_seconds, req, now)

    return Gateway(NAME, verify, parse, HEADERS, parse_all=parse_all, max_body_bytes=MAX_BODY_BYTES)
