"""Showing a held message safely: headers, a sanitised body, and a list of attachments.

The body is cleaned with nh3 (ammonia): no scripts, no styles, no images, and no attribute that
can name a URL (``src``, ``href``, ``srcset``, ``background``, ``style`` and its CSS ``url()``),
and no ``<link>``. It is then served from its own route under ``default-src 'none'`` inside a
sandboxed iframe, so even a mistake here cannot make the browser fetch anything: opening a
message never tells its sender it was read (DESIGN §1.3).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import nh3

from nocontact import email_view, sms_view
from nocontact.decoding import UNREADABLE_NOTE
from nocontact.limits import DEFAULT_LIMITS, ReadLimits

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
    notes: list[str] = field(default_factory=list)  # what could not be read or shown


BODY_CHARS = 500_000  # of the body shown; the original is whole


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


def attachment(
    raw: bytes, index: int, limits: ReadLimits = DEFAULT_LIMITS
) -> tuple[str, bytes] | None:
    view = email_view.parse(raw, limits)
    for a in email_view.attachments(view, limits):
        if a.index == index:
            return a.filename, a.payload()
    return None


def _notes(view: email_view.EmailView, lossy: bool, shortened: bool) -> list[str]:
    notes = list(dict.fromkeys(view.notes))
    if lossy:
        notes.insert(0, UNREADABLE_NOTE)
    if shortened:
        notes.append("Part of this message is too long to show here; the original is whole.")
    return notes


def show_email(raw: bytes, limits: ReadLimits = DEFAULT_LIMITS) -> Shown:
    view = email_view.parse(raw, limits)
    found = email_view.headers(view, ("From", "To", "Cc", "Date", "Subject"))
    headers = [(name, t.text) for name, t in found]
    lossy = any(t.lossy for _, t in found)
    shortened = any(t.shortened for _, t in found)
    part = email_view.body_part(view, ("html", "plain"))
    body, pictures = "", False
    if part is not None:
        text = email_view.part_text(part, limit=BODY_CHARS)
        lossy, shortened = lossy or text.lossy, shortened or text.shortened
        if part.get_content_subtype() == "html":
            lowered = text.text.lower()
            pictures = any(f"<{t}" in lowered for t in _PICTURES)
            body = clean_html(text.text)
        else:
            body = text_to_html(text.text)
    atts = [
        Attachment(a.index, a.filename, a.content_type, len(a.payload()))
        for a in email_view.attachments(view, limits)
    ]
    return Shown(headers, body, atts, pictures, _notes(view, lossy, shortened))


def show_sms(raw: bytes, meta: dict[str, Any]) -> Shown:
    """A text message: the gateway's request was kept whole; show its text if we can find it."""
    stored = next((meta[k] for k in ("text", "body") if isinstance(meta.get(k), str)), None)
    text, _found = sms_view.sms_text(raw, stored, limit=BODY_CHARS)
    who = sms_view.sender(next((meta[k] for k in ("from", "sender") if meta.get(k)), ""))
    notes = [UNREADABLE_NOTE] if text.lossy else []
    if text.shortened:
        notes.append("Part of this message is too long to show here; the original is whole.")
    return Shown([("From", who)] if who else [], text_to_html(text.text), notes=notes)


def show(channel: str, raw: bytes, meta: dict[str, Any], limits: ReadLimits) -> Shown:
    """What a page shows of one kept item, whichever channel brought it."""
    return show_sms(raw, meta) if channel == "sms" else show_email(raw, limits)


def frame_document(body_html: str) -> str:
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="referrer" content="no-referrer"></head><body>'
        f"{body_html}</body></html>"
    )
