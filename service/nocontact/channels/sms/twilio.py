"""Twilio Programmable Messaging webhooks.

Signature (Twilio "Webhooks security"): ``X-Twilio-Signature`` is base64 HMAC-SHA1, keyed with
the account's auth token, over the full URL Twilio called followed by every POST parameter
sorted by name, each as name + value. The URL is ``[web] public_url`` + path (+ query): behind a
proxy ``request.url`` differs from what Twilio signed. JSON bodies are the exception: the URL
carries ``bodySHA256`` and the signature covers the URL alone.

What a captured request (every export holds them) still lets anyone do (issue 19, point 5):

- Twilio signs no time, so it stays valid for ever.
- Names and values are joined with no separator, so the same signed text splits into other
  parameters: ``MessageSid=SM…`` + ``NumMedia=0`` signs as ``MessageSid=SM…NumMedia0``. Hence
  ``MessageSid``/``SmsSid`` must be ``(SM|MM)`` + 32 lower-case hex and ``AccountSid`` ``AC`` +
  32 hex, or the request is refused (400); no genuine request differs. Parameters we do not
  know are never refused: Twilio adds new ones, and they are kept as received.
- The dedupe id is a function of the signed text, not of how it is split: the SID, found in
  the signed text after ``MessageSid`` or ``SmsSid``. A sender can write such pairs into a text
  (``…MessageSidSM<32 hex>…``) and, with that request, split it so the written ones are the
  parameters; so when the signed text names several SIDs, the id is all of them
  (``message_key``). Every split of it is then one text, kept once; the genuine one is never
  refused, and no id written in a text can take the place of an earlier text's.
- A split can also name any ``MediaUrl<n>``: media are fetched, with the account's basic auth,
  only from Twilio's hosts (``*.twilio.com`` over HTTPS, or ``api_url``), so the auth token
  never goes to a URL a sender wrote.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
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
MESSAGE_SID = re.compile(r"(?:SM|MM)[0-9a-f]{32}")  # fullmatch: an SMS or an MMS
ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")
# a SID after a SID parameter's name anywhere in the signed text (lookahead: overlapping too)
_NAMED_SID = re.compile(r"(?=(?:MessageSid|SmsSid)((?:SM|MM)[0-9a-f]{32}))")
# where media (with the account's basic auth) may come from, besides ``api_url``
TWILIO_MEDIA = "https://*.twilio.com"


def signed_text(url: str, params: list[tuple[str, str]]) -> str:
    """What the signature covers: the same for every split of the same bytes."""
    return url + "".join(k + v for k, v in sorted(params))


def signature(token: str, url: str, params: list[tuple[str, str]]) -> str:
    data = signed_text(url, params)
    mac = hmac.digest(token.encode(), data.encode("utf-8"), "sha1")  # one-shot: no HMAC object
    return base64.b64encode(mac).decode()


def message_key(sid: str, signed: str) -> str:
    """The dedupe id of a text: its SID when the signed text names no other one after
    ``MessageSid`` or ``SmsSid``, else one id for all of them (a sender wrote some into the
    text). ``sid`` is itself named in the signed text of any split that passes ``parse``, so
    the id depends on the signed text alone. The catch-up gives the message's SID and text."""
    found = {m.group(1) for m in _NAMED_SID.finditer(signed)}
    found.add(sid)
    if len(found) == 1:
        return sid
    return "several-" + hashlib.sha256(" ".join(sorted(found)).encode()).hexdigest()


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


def _sid(form: dict[str, str]) -> str:
    """The message's SID; Malformed unless every SID is in Twilio's format (a stretched or cut
    one is a replay with moved boundaries, never a genuine request)."""
    account = form.get("AccountSid")
    if account is None or not ACCOUNT_SID.fullmatch(account):
        raise Malformed("AccountSid missing or not Twilio's")
    sids = [form[k] for k in ("MessageSid", "SmsSid") if k in form]
    if not sids:
        raise Malformed("MessageSid or From missing")
    if not all(MESSAGE_SID.fullmatch(s) for s in sids):
        raise Malformed("MessageSid or SmsSid not Twilio's")
    if len(set(sids)) > 1:
        raise Malformed("MessageSid and SmsSid differ")  # Twilio sends the same in both
    return sids[0]


def parse_with(
    token: str, req: WebhookRequest, media_origins: tuple[str, ...] = (TWILIO_MEDIA,)
) -> InboundText:
    form: dict[str, str] = {}
    for k, v in req.form:
        if k in _ONCE and form.get(k, v) != v:
            raise Malformed(f"{k} given twice")  # which one is the sender? refused, not guessed
        form.setdefault(k, v)
    sender = form.get("From")
    if not sender:
        raise Malformed("MessageSid or From missing")
    sid = _sid(form)
    try:
        count = min(int(form.get("NumMedia", "0") or "0"), MAX_MEDIA)
    except ValueError as e:
        raise Malformed("NumMedia is not a number") from e
    media = tuple(form[f"MediaUrl{i}"] for i in range(count) if form.get(f"MediaUrl{i}"))
    # Twilio media URLs need HTTP basic auth (Account SID + auth token) when the account
    # enforces it; sent only to Twilio's hosts (``media_origins``), never where a split says
    return InboundText(
        provider=NAME,
        message_id=message_key(sid, signed_text(req.url, req.form)),
        sender=sender,
        to=form.get("To", ""),
        text=form.get("Body", ""),
        claimed_at=None,  # Twilio's inbound webhook carries no send time
        media=media,
        media_auth=(form["AccountSid"], token),
        media_origins=media_origins,
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

    api = urlsplit(cfg.api_url)
    origins = (TWILIO_MEDIA, f"{api.scheme}://{api.netloc}")  # api_url: tests point it elsewhere

    def parse(req: WebhookRequest) -> InboundText:
        return parse_with(token, req, origins)

    return Gateway(
        NAME,
        verify,
        parse,
        HEADERS,
        reply_body=b'<?xml version="1.0" encoding="UTF-8"?><Response/>',
        reply_type="text/xml",
    )
