"""What a reader of the report sees of one item: headers, plain text, attachment names.

Only for the report. The evidence is the original file next to it, byte for byte; this view is
a convenience and never replaces it. HTML is reduced to plain text (nh3 removes every tag and
the content of script/style), so nothing in the report can load anything remote.
"""

from __future__ import annotations

import html
import json
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
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


def readable_email(raw: bytes) -> Readable:
    notes: list[str] = []
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(msg, EmailMessage)
    except Exception:  # noqa: BLE001  (hostile mail still gets a section; the file is whole)
        return Readable([], "", notes=["the message could not be read as email"])
    headers: list[tuple[str, str]] = []
    for name in HEADERS:
        try:
            headers += [(name, str(v)) for v in msg.get_all(name, []) or []]
        except Exception:  # noqa: BLE001
            notes.append(f"unreadable {name} header")
    text = ""
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
        if part is not None:
            content = str(part.get_content())
            html_part = part.get_content_subtype() == "html"
            text = html_to_text(content) if html_part else tidy(content)
    except Exception:  # noqa: BLE001
        notes.append("the body could not be decoded")
    attachments: list[str] = []
    try:
        for att in msg.iter_attachments():
            size = len(att.get_payload(decode=True) or b"")
            name = att.get_filename() or "(no name)"
            attachments.append(f"{name} ({att.get_content_type()}, {size} bytes)")
    except Exception:  # noqa: BLE001
        notes.append("attachments could not be listed")
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


def readable_sms(raw: bytes, sender: str, meta: dict[str, Any]) -> Readable:
    text = meta.get("text") if isinstance(meta.get("text"), str) else None
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


def readable(channel: str, raw: bytes, sender: str, meta: dict[str, Any]) -> Readable:
    if channel == "email":
        return readable_email(raw)
    return readable_sms(raw, sender, meta)
