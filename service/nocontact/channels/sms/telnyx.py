"""Telnyx Messaging API v2 webhooks.

Signature (Telnyx "Webhook signing"): ``telnyx-signature-ed25519`` is the base64 Ed25519
signature of ``<telnyx-timestamp>|<raw body>``, checked with the public key from the Telnyx
portal; the timestamp must be within the tolerance (default 5 minutes) so a captured request
cannot be replayed later. Only ``message.received`` events are texts; delivery reports and the
like are acknowledged and dropped.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from nocontact.channels.sms.gateway import (
    Gateway,
    InboundText,
    Malformed,
    Refused,
    WebhookRequest,
    fresh,
    json_object,
    obj,
    text_field,
)
from nocontact.config import Config
from nocontact.errors import ConfigError

NAME = "telnyx"
HEADERS = ("content-type", "user-agent", "telnyx-signature-ed25519", "telnyx-timestamp")


def public_key(b64: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(b64, validate=True))
    except (binascii.Error, ValueError) as e:
        raise ConfigError("config", "sms.telnyx.public_key", "not a base64 Ed25519 key") from e


def verify_with(key: Ed25519PublicKey, tolerance: int, req: WebhookRequest, now: float) -> None:
    sig = req.header("telnyx-signature-ed25519")
    if not sig:
        raise Refused("missing signature")
    ts = req.header("telnyx-timestamp")
    fresh(ts, now, tolerance)
    try:
        key.verify(base64.b64decode(sig, validate=True), f"{ts}|".encode() + req.body)
    except (binascii.Error, ValueError, InvalidSignature) as e:
        raise Refused("bad signature") from e


def parse(req: WebhookRequest) -> InboundText | None:
    data = obj(json_object(req.body), "data")
    if data.get("event_type") != "message.received":
        return None
    p = obj(data, "payload")
    sender = text_field(obj(p, "from"), "phone_number")
    to_list = p.get("to")
    to = ""
    if isinstance(to_list, list) and to_list and isinstance(to_list[0], dict):
        to = str(to_list[0].get("phone_number") or "")
    media_list = p.get("media") or []
    if not isinstance(media_list, list):
        raise Malformed("media is not a list")
    media = tuple(
        str(m["url"]) for m in media_list if isinstance(m, dict) and isinstance(m.get("url"), str)
    )
    claimed = p.get("received_at") or data.get("occurred_at")
    return InboundText(
        provider=NAME,
        message_id=text_field(p, "id"),
        sender=sender,
        to=to,
        text=text_field(p, "text", required=False),
        claimed_at=str(claimed) if claimed else None,
        media=media,
    )


def gateway(config: Config) -> Gateway | None:
    cfg = config.sms.telnyx
    if cfg is None:
        return None
    key = public_key(cfg.public_key)

    def verify(req: WebhookRequest, now: float) -> None:
        verify_with(key, cfg.tolerance_seconds, req, now)

    return Gateway(NAME, verify, parse, HEADERS)
