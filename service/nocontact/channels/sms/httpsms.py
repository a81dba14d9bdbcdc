"""httpSMS (httpsms.com) webhooks.

Signature (httpSMS "Webhooks"): with a signing key set, each request carries
``Authorization: Bearer <JWT>``, HS256 with the signing key, whose ``aud`` is the webhook URL
as registered (our ``[web] public_url`` + path) and which expires 10 minutes after issue. The
token does not cover the body: integrity rests on TLS, and replays inside the token's lifetime
are absorbed by deduplication on ``message_id``.

Payload: a CloudEvents 1.0 envelope; only ``message.phone.received`` is a text.
"""

from __future__ import annotations

import jwt

from nocontact.channels.sms.gateway import (
    Gateway,
    InboundText,
    Refused,
    WebhookRequest,
    json_object,
    obj,
    text_field,
)
from nocontact.config import Config

NAME = "httpsms"
HEADERS = ("content-type", "user-agent", "authorization", "x-event-type")


def verify_with(key: str, req: WebhookRequest, now: float) -> None:
    auth = req.header("authorization") or ""
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused("missing signature")
    try:
        jwt.decode(
            token.strip(),
            key,
            algorithms=["HS256"],  # fixed: never let the token choose its own algorithm
            audience=req.url,
            options={"require": ["exp", "aud"]},
            leeway=0,
        )
    except jwt.ExpiredSignatureError as e:
        raise Refused("token expired") from e
    except jwt.InvalidAudienceError as e:
        raise Refused("token for another URL") from e
    except jwt.PyJWTError as e:
        raise Refused("bad signature") from e


def parse(req: WebhookRequest) -> InboundText | None:
    doc = json_object(req.body)
    if doc.get("type") != "message.phone.received":
        return None
    data = obj(doc, "data")
    media = data.get("attachments") or []
    claimed = data.get("timestamp") or doc.get("time")
    return InboundText(
        provider=NAME,
        message_id=text_field(data, "message_id"),
        sender=text_field(data, "contact"),
        to=text_field(data, "owner", required=False),
        text=text_field(data, "content", required=False),
        claimed_at=str(claimed) if claimed else None,
        media=tuple(m for m in media if isinstance(m, str)) if isinstance(media, list) else (),
    )


def gateway(config: Config) -> Gateway | None:
    cfg = config.sms.httpsms
    if cfg is None:
        return None
    key = cfg.key()

    def verify(req: WebhookRequest, now: float) -> None:
        verify_with(key, req, now)

    return Gateway(NAME, verify, parse, HEADERS)
