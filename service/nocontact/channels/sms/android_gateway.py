"""capcom6 SMS Gateway for Android (sms-gate.app) webhooks, local or cloud mode.

Signature (the app's "Webhooks" guide, payload signing): ``X-Signature`` is the hex
HMAC-SHA256, keyed with the signing key set in the app, of the raw body followed by the
``X-Timestamp`` header (Unix seconds); the timestamp must be within the tolerance.

The payload's ``messageId`` is derived from the content and is not unique (the project's docs
say not to rely on it), so texts are deduplicated on a hash of device, sender, text and
``receivedAt`` instead: a retry of the same text hashes the same, a different text does not.
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


def gateway(config: Config) -> Gateway | None:
    cfg = config.sms.android_gateway
    if cfg is None:
        return None
    key = cfg.key()

    def verify(req: WebhookRequest, now: float) -> None:
        verify_with(key, cfg.tolerance_seconds, req, now)

    return Gateway(NAME, verify, parse, HEADERS)
