"""A generic JSON endpoint for any gateway or script that can sign a request.

Signature: ``X-Nocontact-Timestamp`` (Unix seconds) and ``X-Nocontact-Signature``, the hex
HMAC-SHA256 keyed with the shared secret of ``<timestamp>.<raw body>`` (an optional ``sha256=``
prefix is accepted). The timestamp must be within the tolerance.

Body: ``{"id": "unique per text", "from": "+44…", "to": "+44…", "text": "…",
"sent_at": "2026-01-01T10:00:00Z", "media": ["https://…"]}``; ``to``, ``sent_at`` and ``media``
are optional.
"""

from __future__ import annotations

import hashlib
import hmac

from nocontact.channels.sms.gateway import (
    Gateway,
    InboundText,
    Malformed,
    Refused,
    WebhookRequest,
    fresh,
    json_object,
    same,
    text_field,
)
from nocontact.config import Config

NAME = "generic"
HEADERS = ("content-type", "user-agent", "x-nocontact-signature", "x-nocontact-timestamp")


def signature(key: str, body: bytes, timestamp: str) -> str:
    return hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_with(key: str, tolerance: int, req: WebhookRequest, now: float) -> None:
    sig = (req.header("x-nocontact-signature") or "").strip().lower().removeprefix("sha256=")
    if not sig:
        raise Refused("missing signature")
    ts = req.header("x-nocontact-timestamp") or ""
    fresh(ts, now, tolerance)
    if not same(sig, signature(key, req.body, ts)):
        raise Refused("bad signature")


def parse(req: WebhookRequest) -> InboundText:
    doc = json_object(req.body)
    media = doc.get("media") or []
    if not isinstance(media, list) or not all(isinstance(m, str) for m in media):
        raise Malformed("media is not a list of URLs")
    sent_at = doc.get("sent_at")
    return InboundText(
        provider=NAME,
        message_id=text_field(doc, "id"),
        sender=text_field(doc, "from"),
        to=text_field(doc, "to", required=False),
        text=text_field(doc, "text", required=False),
        claimed_at=str(sent_at) if sent_at else None,
        media=tuple(str(m) for m in media),
    )


def gateway(config: Config) -> Gateway | None:
    cfg = config.sms.generic
    if cfg is None:
        return None
    key = cfg.key()

    def verify(req: WebhookRequest, now: float) -> None:
        verify_with(key, cfg.tolerance_seconds, req, now)

    return Gateway(NAME, verify, parse, HEADERS)
