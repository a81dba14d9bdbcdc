"""Twilio Programmable Messaging webhooks.

Signature (Twilio "Webhooks security"): ``X-Twilio-Signature`` is base64 HMAC-SHA1, keyed with
the account's auth token, over the full URL Twilio called followed by every POST parameter
sorted by name, each as name + value. The URL is ``[web] public_url`` + path (+ query): behind a
proxy ``request.url`` differs from what Twilio signed. JSON bodies are the exception: the URL
carries ``bodySHA256`` and the signature covers the URL alone.

Twilio signs no timestamp, so a captured request stays valid; replays store nothing new because
``MessageSid`` is unique and the item is deduplicated on it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

from nocontact.channels.sms.gateway import (
    Gateway,
    InboundText,
    Malformed,
    Refused,
    WebhookRequest,
    same,
)
from nocontact.config import Config
from nocontact.errors import ConfigError

NAME = "twilio"
HEADERS = ("content-type", "user-agent", "x-twilio-signature", "i-twilio-idempotency-token")
MAX_MEDIA = 10  # Twilio sends at most 10 media per message


def signature(token: str, url: str, params: list[tuple[str, str]]) -> str:
    data = url + "".join(k + v for k, v in sorted(params))
    mac = hmac.digest(token.encode(), data.encode("utf-8"), "sha1")  # one-shot: no HMAC object
    return base64.b64encode(mac).decode()


def verify_with(token: str, req: WebhookRequest) -> None:
    given = req.header("x-twilio-signature")
    if not given:
        raise Refused("missing signature")
    query = parse_qs(urlsplit(req.url).query) if "?" in req.url else {}  # the usual URL has none
    if "bodySHA256" in query:
        if not same(query["bodySHA256"][0], hashlib.sha256(req.body).hexdigest()):
            raise Refused("body hash does not match")
        params: list[tuple[str, str]] = []
    else:
        try:
            params = req.form
        except Malformed as e:  # nothing readable to check the signature over
            raise Refused("unreadable form body") from e
    if not same(given, signature(token, req.url, params)):
        raise Refused("bad signature")


_ONCE = frozenset({"From", "To", "Body", "MessageSid", "SmsSid", "AccountSid", "NumMedia"})


def parse_with(token: str, req: WebhookRequest) -> InboundText:
    form: dict[str, str] = {}
    for k, v in req.form:
        if k in _ONCE and form.get(k, v) != v:
            raise Malformed(f"{k} given twice")  # which one is the sender? refused, not guessed
        form.setdefault(k, v)
    sid = form.get("MessageSid") or form.get("SmsSid")
    sender = form.get("From")
    if not sid or not sender:
        raise Malformed("MessageSid or From missing")
    try:
        count = min(int(form.get("NumMedia", "0") or "0"), MAX_MEDIA)
    except ValueError as e:
        raise Malformed("NumMedia is not a number") from e
    media = tuple(form[f"MediaUrl{i}"] for i in range(count) if form.get(f"MediaUrl{i}"))
    account = form.get("AccountSid")
    # Twilio media URLs need HTTP basic auth (Account SID + auth token) when the account
    # enforces it; sending it anyway is harmless.
    auth = (account, token) if account else None
    return InboundText(
        provider=NAME,
        message_id=sid,
        sender=sender,
        to=form.get("To", ""),
        text=form.get("Body", ""),
        claimed_at=None,  # Twilio's inbound webhook carries no send time
        media=media,
        media_auth=auth,
    )


def gateway(config: Config) -> Gateway | None:
    cfg = config.sms.twilio
    if cfg is None:
        return None
    token = cfg.secret("auth_token")
    if not token:
        raise ConfigError(
            "config", "sms.twilio", "give auth_token, auth_token_env or auth_token_file"
        )

    def verify(req: WebhookRequest, _now: float) -> None:
        verify_with(token, req)

    def parse(req: WebhookRequest) -> InboundText:
        return parse_with(token, req)

    return Gateway(
        NAME,
        verify,
        parse,
        HEADERS,
        reply_body=b'<?xml version="1.0" encoding="UTF-8"?><Response/>',
        reply_type="text/xml",
    )
