"""What every SMS gateway module provides, and the pieces they share.

A gateway module turns one webhook request into ``InboundText``s in two steps, always in this
order: ``verify`` (the signature over the raw body; nothing is parsed before it passes) and
``parse`` (the provider's payload into a normalised text). Both are plain functions of a
``WebhookRequest`` so tests and the release path call them without HTTP. A provider whose one
request can carry several texts (capcom6's batch events) also gives ``parse_all``; the route
reads every request through ``Gateway.texts``, so all of a request's texts are parsed (and a
malformed one refuses the whole request) before any is kept.

Errors: ``Refused`` (bad or missing signature -> 403, nothing stored, one log line) and
``Malformed`` (signed but unreadable -> 400, nothing stored). Their messages carry reasons only,
never content.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import parse_qsl

from nocontact import decoding
from nocontact.errors import ChannelError

EVIDENCE_FORMAT = "nocontact-sms/1"


class Refused(ChannelError):
    """The request is not provably from the provider; ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, permanent=True)
        self.reason = reason


class Malformed(ChannelError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, permanent=True)
        self.reason = reason


@dataclass(frozen=True)
class WebhookRequest:
    url: str  # the URL the provider signed: [web] public_url + path (+ query), never request.url
    headers: Mapping[str, str]  # lower-case names
    body: bytes  # exactly as received
    # which text of a batch request this stands for: set when read back from a batch text's
    # evidence (releasing it), so ``parse`` gives that text and not the first
    entry: int | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @cached_property
    def text(self) -> str:
        """The body as UTF-8 text (every supported provider sends form or JSON text)."""
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Malformed("body is not UTF-8") from e

    @cached_property
    def form(self) -> list[tuple[str, str]]:
        """The body as an HTML form, parsed once for both ``verify`` and ``parse``."""
        try:
            return parse_qsl(self.text, keep_blank_values=True, strict_parsing=False)
        except (Malformed, ValueError) as e:
            raise Malformed("unreadable form body") from e


@dataclass(frozen=True)
class InboundText:
    provider: str
    message_id: str  # unique per text at this provider: the dedupe key
    sender: str
    to: str
    text: str
    claimed_at: str | None = None  # the provider's or phone's time, as it said it
    media: tuple[str, ...] = ()
    media_auth: tuple[str, str] | None = field(default=None, repr=False)  # basic auth, Twilio
    # where media may be fetched from (None: anywhere), as ``scheme://host[:port]``, or
    # ``scheme://*.domain`` for any host under it; Twilio's: a moved split can name any URL
    media_origins: tuple[str, ...] | None = None
    # what the provider said about media it did not send (capcom6 MMS: size, content class)
    media_reported: Mapping[str, object] | None = None
    batch_index: int | None = None  # its place in a batch request; None when sent alone

    def __post_init__(self) -> None:
        # JSON may escape lone surrogates ("\ud800"): no encoder downstream (the database,
        # httpx when forwarding, the pages) takes them. The request itself is the evidence.
        for name in ("sender", "to", "text"):
            value = getattr(self, name)
            if isinstance(value, str) and not value.isascii():
                object.__setattr__(self, name, decoding.well_formed(value))

    @property
    def source_key(self) -> str:
        return f"sms:{self.provider}:{self.message_id}"


@dataclass(frozen=True)
class Gateway:
    name: str  # as in the URL: twilio, telnyx, android-gateway, httpsms, generic
    verify: Callable[[WebhookRequest, float], None]  # (request, now) -> None or raise Refused
    parse: Callable[[WebhookRequest], InboundText | None]  # None: an event that is not a text
    evidence_headers: tuple[str, ...]
    reply_body: bytes = b""
    reply_type: str | None = None
    reply_status: int = 200
    # every text of a request that may carry several (raises Malformed if any is unreadable)
    parse_all: Callable[[WebhookRequest], list[InboundText]] | None = None
    # a larger request gets 413, unread; ``[sms] max_body_bytes`` overrides it for all
    max_body_bytes: int = 256 * 1024

    def texts(self, req: WebhookRequest) -> list[InboundText]:
        """All the texts the request carries: none (a status report, a ping), one, or a batch."""
        if self.parse_all is not None:
            return self.parse_all(req)
        text = self.parse(req)
        return [] if text is None else [text]


def evidence(gw: Gateway, req: WebhookRequest) -> bytes:
    """The raw request as kept in the vault: signed URL, the headers that matter, exact body.

    The body must be UTF-8 (``Malformed`` otherwise: check ``req.text`` before deciding, so the
    answer does not depend on the decision); it is kept as a JSON string, so ``body.encode()``
    gives back the received bytes exactly.
    """
    body = req.text
    headers = {h: req.headers[h] for h in gw.evidence_headers if h in req.headers}
    doc = {
        "format": EVIDENCE_FORMAT,
        "provider": gw.name,
        "method": "POST",
        "url": req.url,
        "headers": headers,
        "body": body,
    }
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def batch_evidence(whole: bytes, index: int) -> bytes:
    """The evidence of one text of a batch: the whole request (``evidence``) plus the text's
    place in it, as ``"batch_index"``. Every text of a batch keeps the same request bytes; the
    index also makes each text's record distinct, which the intake needs (it deduplicates on
    the record's SHA-256 as well as on the message id). The result is what ``json.dumps`` of
    the record with that key would give (keys sorted: ``batch_index`` comes first), made by
    prefixing, not by encoding a large body again for each text."""
    if not whole.startswith(b"{"):
        raise ValueError("not an evidence record")
    return b'{"batch_index":%d,' % index + whole[1:]


def request_from_evidence(raw: bytes) -> tuple[str, WebhookRequest]:
    """The provider and request back from kept evidence (for releasing a held text)."""
    try:
        doc = json.loads(raw)
        if doc.get("format") != EVIDENCE_FORMAT:
            raise Malformed("not an SMS evidence record")
        entry = doc.get("batch_index")
        if entry is not None and (not isinstance(entry, int) or isinstance(entry, bool)):
            raise Malformed("not an SMS evidence record")
        body = doc["body"].encode("utf-8")
        req = WebhookRequest(doc["url"], dict(doc["headers"]), body, entry)
        return str(doc["provider"]), req
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise Malformed("not an SMS evidence record") from e


def same(a: str | bytes, b: str | bytes) -> bool:
    """Constant-time comparison (a timing difference would let a forger guess byte by byte)."""
    x = a.encode() if isinstance(a, str) else a
    y = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(x, y)


def fresh(timestamp: str | None, now: float, tolerance: int) -> int:
    """A Unix-seconds header within ``tolerance`` of now, else Refused (replay window)."""
    if not timestamp:
        raise Refused("missing timestamp")
    try:
        ts = int(timestamp.strip())
    except ValueError as e:
        raise Refused("unreadable timestamp") from e
    if abs(now - ts) > tolerance:
        raise Refused("timestamp outside the allowed window")
    return ts


def _no_repeats(pairs: list[tuple[str, object]]) -> dict[str, object]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        # no gateway repeats a key; which value would a reader take? (json: the last, others:
        # the first). A listed sender must not hide behind the other reading: refused.
        raise Malformed("a key is repeated")
    return doc


def json_object(body: bytes) -> dict[str, object]:
    try:
        doc = json.loads(body, object_pairs_hook=_no_repeats)
    except Malformed:
        raise
    except (ValueError, RecursionError) as e:  # RecursionError: nested past Python's limit
        raise Malformed("body is not JSON") from e
    if not isinstance(doc, dict):
        raise Malformed("body is not a JSON object")
    return doc


def text_field(doc: Mapping[str, object], key: str, *, required: bool = True) -> str:
    value = doc.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise Malformed(f"{key} missing or not text")
    return value


def obj(doc: Mapping[str, object], key: str) -> dict[str, object]:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise Malformed(f"{key} missing or not an object")
    return value


def now() -> float:
    return time.time()
