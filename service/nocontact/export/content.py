"""What a reader of the report sees of one item: headers, plain text, attachment names.

Only for the report. The evidence is the original file next to it, byte for byte; this view is
a convenience and never replaces it. HTML is reduced to plain text (nh3 removes every tag and
the content of script/style), so nothing in the report can load anything remote.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from typing import Any

import nh3

MAX_TEXT = 20_000  # characters of body per item in the report; the original is in items/
HEADERS = ("From", "Sender", "Reply-To", "To", "Cc", "Date", "Subject", "Message-ID")
SMS_TEXT_KEYS = ("Body", "text", "message", "content", "Text", "Message", "body")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANKS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Readable:
    headers: list[tuple[str, str]]
    text: str
    attachments: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def html_to_text(markup: str) -> str:
    cleaned = nh3.clean(markup, tags=set(), attributes={}, strip_comments=True)
    return tidy(html.unescape(cleaned))


def tidy(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def _bounded(text: str) -> tuple[str, list[str]]:
    if len(text) <= MAX_TEXT:
        return text, []
    return text[:MAX_TEXT], [f"text shortened to {MAX_TEXT} characters; the original is whole"]


def _headers(msg: Message) -> list[tuple[str, str]]:
    """Display values of the usual headers, RFC 2047 words decoded. The raw values are read
    (``raw_items``) rather than through the header registry, which costs a millisecond or more
    per header; a word that does not decode is shown as received."""
    wanted = {h.lower(): h for h in HEADERS}
    found: list[tuple[str, str]] = []
    for name, value in msg.raw_items():
        label = wanted.get(name.lower())
        if label is None:
            continue
        text = str(value)
        with contextlib.suppress(ValueError, LookupError, HeaderParseError):
            text = str(make_header(decode_header(text)))
        found.append((label, " ".join(text.split())))
    order = {h: i for i, h in enumerate(HEADERS)}
    return sorted(found, key=lambda kv: order[kv[0]])


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:  # an unknown charset name
        return payload.decode("utf-8", "replace")


def _body(msg: Message) -> tuple[str, list[str]]:
    """The first text/plain part that is not an attachment, else the first text/html one;
    and the attachments' names. Parsed with compat32 (plain strings): the modern policy's
    header registry made this the slowest step of a 10,000-item export."""
    plain = markup = None
    attachments: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        if disposition == "attachment" or not ctype.startswith("text/"):
            if part is not msg:
                size = len(part.get_payload(decode=True) or b"")
                attachments.append(f"{part.get_filename() or '(no name)'} ({ctype}, {size} bytes)")
            continue
        if ctype == "text/plain" and plain is None:
            plain = part
        elif ctype == "text/html" and markup is None:
            markup = part
    if plain is not None:
        return tidy(_decoded(plain)), attachments
    if markup is not None:
        return html_to_text(_decoded(markup)), attachments
    return "", attachments


def readable_email(raw: bytes) -> Readable:
    try:
        msg = BytesParser(policy=compat32).parsebytes(raw)
    except Exception:  # noqa: BLE001  (hostile mail still gets a section; the file is whole)
        return Readable([], "", notes=["the message could not be read as email"])
    notes: list[str] = []
    headers = _headers(msg)
    text, attachments = "", list[str]()
    try:
        text, attachments = _body(msg)
    except Exception:  # noqa: BLE001
        notes.append("the body could not be decoded")
    text, more = _bounded(text)
    return Readable(headers, text, attachments, notes + more)


def _values(obj: Any, key: str, depth: int = 0) -> Iterator[str]:
    """Every string under ``key`` in a gateway's JSON, shallowest first."""
    if depth > 5:
        return
    children: list[Any] = []
    if isinstance(obj, dict):
        if isinstance(obj.get(key), str):
            yield str(obj[key])
        children = list(obj.values())
    elif isinstance(obj, list):
        children = obj[:20]
    for child in children:
        yield from _values(child, key, depth + 1)


def _find_text(obj: Any, depth: int = 0) -> str | None:
    """The message text, wherever the gateway puts it (Twilio ``Body``, Telnyx
    ``data.payload.text``, android-sms-gateway ``payload.message``, …). A raw request body
    kept as a string is parsed as JSON or as a form and searched in turn."""
    for key in SMS_TEXT_KEYS:
        for value in _values(obj, key):
            if key != "body" or depth > 1:
                return value
            try:
                inner: Any = json.loads(value)
            except ValueError:
                inner = dict(urllib.parse.parse_qsl(value))
            found = _find_text(inner, depth + 1) if inner else None
            return found if found is not None else value
    return None


def readable_sms(raw: bytes, sender: str, text: str | None) -> Readable:
    if text is None:
        try:
            text = _find_text(json.loads(raw))
        except ValueError:
            text = None
    notes: list[str] = []
    if text is None:
        text = raw.decode("utf-8", "replace")
        notes.append("shown as the request was received")
    text, more = _bounded(tidy(text))
    return Readable([("From", sender)], text, [], notes + more)


def readable(channel: str, raw: bytes, sender: str, sms_text: str | None = None) -> Readable:
    if channel == "email":
        return readable_email(raw)
    return readable_sms(raw, sender, sms_text)
