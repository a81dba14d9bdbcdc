"""Showing a held message safely: headers, a sanitised body, and a list of attachments.

The body is cleaned with nh3 (ammonia): no scripts, no styles, no images, and no attribute that
can name a URL (``src``, ``href``, ``srcset``, ``background``, ``style`` and its CSS ``url()``),
and no ``<link>``. It is then served from its own route under ``default-src 'none'`` inside a
sandboxed iframe, so even a mistake here cannot make the browser fetch anything: opening a
message never tells its sender it was read (DESIGN §1.3).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from typing import Any

import nh3

_TAGS = set(nh3.ALLOWED_TAGS) - {"img", "area", "map"}
_ATTRS: dict[str, set[str]] = {
    "*": {"title", "lang", "dir"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
_PICTURES = ("img", "picture", "svg", "image", "video", "audio", "source")


@dataclass
class Attachment:
    index: int
    filename: str
    content_type: str
    size: int


@dataclass
class Shown:
    headers: list[tuple[str, str]]
    body_html: str  # sanitised, for the iframe
    attachments: list[Attachment] = field(default_factory=list)
    pictures_hidden: bool = False


def clean_html(text: str) -> str:
    return nh3.clean(
        text,
        tags=_TAGS,
        attributes=_ATTRS,
        url_schemes=set(),
        link_rel=None,
        strip_comments=True,
    )


def text_to_html(text: str) -> str:
    paras = [p.strip("\n") for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paras)


def _content(part: MIMEPart) -> str:
    try:
        value = part.get_content()
        return value if isinstance(value, str) else value.decode("utf-8", "replace")
    except (LookupError, UnicodeError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def parse_email(raw: bytes) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg


def attachments_of(msg: EmailMessage) -> list[EmailMessage]:
    try:
        return [p for p in msg.iter_attachments() if isinstance(p, EmailMessage)]
    except (TypeError, KeyError):
        return []


def _attachment_payload(part: EmailMessage) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else str(part.get_payload()).encode()


def attachment(raw: bytes, index: int) -> tuple[str, bytes] | None:
    parts = attachments_of(parse_email(raw))
    if not 0 <= index < len(parts):
        return None
    part = parts[index]
    return part.get_filename() or f"attachment-{index + 1}", _attachment_payload(part)


def show_email(raw: bytes) -> Shown:
    msg = parse_email(raw)
    headers = []
    for name in ("From", "To", "Cc", "Date", "Subject"):
        try:
            value = msg.get(name)
        except (ValueError, IndexError, TypeError):
            value = None
        if value is not None:
            headers.append((name, str(value)))
    try:
        part = msg.get_body(preferencelist=("html", "plain"))
    except (KeyError, LookupError, ValueError, TypeError):
        part = None
    body, pictures = "", False
    if part is not None and part.get_content_type() == "text/html":
        text = _content(part)
        pictures = any(f"<{t}" in text.lower() for t in _PICTURES)
        body = clean_html(text)
    elif part is not None:
        body = text_to_html(_content(part))
    atts = [
        Attachment(
            i,
            p.get_filename() or f"attachment {i + 1}",
            p.get_content_type(),
            len(_attachment_payload(p)),
        )
        for i, p in enumerate(attachments_of(msg))
    ]
    return Shown(headers, body, atts, pictures)


def show_sms(raw: bytes, meta: dict[str, Any]) -> Shown:
    """A text message: the gateway's request was kept whole; show its text if we can find it."""
    text = next((meta[k] for k in ("text", "body") if isinstance(meta.get(k), str)), None)
    if text is None:
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if isinstance(data, dict):
            text = next(
                (str(data[k]) for k in ("text", "Body", "body", "message") if k in data), None
            )
    if text is None:
        text = raw.decode("utf-8", "replace")
    sender = next((str(meta[k]) for k in ("from", "sender") if meta.get(k)), "")
    return Shown([("From", sender)] if sender else [], text_to_html(text))


def frame_document(body_html: str) -> str:
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="referrer" content="no-referrer"></head><body>'
        f"{body_html}</body></html>"
    )
