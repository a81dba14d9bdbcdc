"""capcom6 SMS Gateway for Android (sms-gate.app) webhooks, local or cloud mode.

Signature (the app's "Webhooks" guide, payload signing): ``X-Signature`` is the hex
HMAC-SHA256, keyed with the signing key set in the app, of the raw body followed by the
``X-Timestamp`` header (Unix seconds); the timestamp must be within the tolerance.

The payload's ``messageId`` is derived from the content and is not unique (the project's docs
say not to rely on it), so texts are deduplicated on a hash of device, sender, text and
``receivedAt`` instead: a retry of the same text hashes the same, a different text does not.

``mms:received`` (the project's "MMS Support" page) carries metadata only: sender, recipient,
``transactionId``, ``subject``, ``size``, ``contentClass``, ``receivedAt``; the pictures stay on
the phone. It is kept like a text (the subject as its text, so a mention is still found), with
what was said about the media recorded, and deduplicated on a hash that includes the MMS
transaction id.
"""

from __future__ import annotations

import hashlib
import hmac
import json

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

NAME = "android-gateway"
HEADERS = ("content-type", "user-agent", "x-signature", "x-timestamp")
TEXT_EVENTS = {"sms:received"}
MMS_EVENT = "mms:received"
MMS_REPORTED = ("messageId", "transactionId", "size", "contentClass", "simNumber")


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
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse(req: WebhookRequest) -> InboundText | None:
    doc = json_object(req.body)
    if doc.get("event") == MMS_EVENT:
        return _mms(doc)
    if doc.get("event") not in TEXT_EVENTS:
        return None
    p = obj(doc, "payload")
    # Versions differ: "message" (older) or {"textMessage": {"text"}} (newer); "phoneNumber"
    # (older) or "sender" (newer).
    if isinstance(p.get("textMessage"), dict):
        text = text_field(obj(p, "textMessage"), "text", required=False)
    else:
        text = text_field(p, "message", required=False)
    sender = p.get("sender") or p.get("phoneNumber")
    if not isinstance(sender, str) or not sender.strip():
        raise Malformed("phoneNumber missing or not text")
    received_at = text_field(p, "receivedAt")
    device = doc.get("deviceId")
    device_s = device if isinstance(device, str) else ""
    recipient = p.get("recipient")
    return InboundText(
        provider=NAME,
        message_id=dedupe_id(device_s, sender, text, received_at),
        sender=sender,
        to=recipient if isinstance(recipient, str) else "",
        text=text,
        claimed_at=received_at,
    )


def _mms(doc: dict[str, object]) -> InboundText:
    p = obj(doc, "payload")
    sender = text_field(p, "sender")
    received_at = text_field(p, "receivedAt")
    subject = text_field(p, "subject", required=False)  # null when the MMS has none
    transaction = p.get("transactionId")
    device = doc.get("deviceId")
    recipient = p.get("recipient")
    key = dedupe_id(
        device if isinstance(device, str) else "",
        sender,
        f"mms:{transaction if isinstance(transaction, str) else ''}:{subject}",
        received_at,
    )
    return InboundText(
        provider=NAME,
        message_id="mms-" + key,
        sender=sender,
        to=recipient if isinstance(recipient, str) else "",
        text=subject,
        claimed_at=received_at,
        media_reported={k: p[k] for k in MMS_REPORTED if p.get(k) is not None},
    )


def gateway(config: Config) -> Gateway | None:
    cfg = config.sms.android_gateway
    if cfg is None:
        return None
    key = cfg.key()

    def verify(req: WebhookRequest, now: float) -> None:
        verify_with(key, cfg.tolerance_seconds, req, now)

    return Gateway(NAME, verify, parse, HEADERS)
