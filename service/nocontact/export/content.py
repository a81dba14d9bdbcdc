"""What a reader of the report sees of one item: headers, plain text, attachment names.

Only for the report. The evidence is the original file next to it, byte for byte; this view is
a convenience and never replaces it. HTML is reduced to plain text (nh3 removes every tag and
the content of script/style), so nothing in the report can load anything remote.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import nh3

from nocontact import email_view, sms_view
from nocontact.decoding import UNREADABLE_NOTE
from nocontact.limits import DEFAULT_LIMITS, ReadLimits

MAX_TEXT = 20_000  # characters of body per item in the report; the original is in items/
HEADERS = ("From", "Sender", "Reply-To", "To", "Cc", "Date", "Subject", "Message-ID")
HEADER_CHARS = 1_000  # of one header value in the report
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANKS = re.compile(r"\n{3,}")
SHORTENED = f"text shortened to {MAX_TEXT} characters; the original is whole"
HEADER_SHORTENED = "long headers shortened here (ending in …); the original is whole"


@dataclass(frozen=True)
class Readable:
    headers: list[tuple[str, str]]
    text: str
    attachments: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def not_laid_out() -> Readable:
    """What a report shows of an item its renderer could not lay out: the facts and hashes
    (drawn by the report itself) and this note; the export goes on."""
    from nocontact.export.report import NOT_LAID_OUT

    return Readable([], "", [], [NOT_LAID_OUT])


def html_to_text(markup: str) -> str:
    cleaned = nh3.clean(markup, tags=set(), attributes={}, strip_comments=True)
    return tidy(html.unescape(cleaned))


def tidy(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def readable_email(raw: bytes, limits: ReadLimits = DEFAULT_LIMITS) -> Readable:
    """Headers, the first inline text/plain part (else text/html as plain text) and the
    attachments' names; every value through ``decoding``, so nothing here can fail to encode."""
    view = email_view.parse(raw, limits)
    found = email_view.headers(view, HEADERS, limit=HEADER_CHARS)
    headers = [(n, t.text) for n, t in found]
    lossy = any(t.lossy for _, t in found)
    long_headers = any(t.shortened for _, t in found)
    shortened = False
    text = ""
    part = email_view.body_part(view, ("plain", "html"))
    if part is not None:
        body = email_view.part_text(part, limit=MAX_TEXT * 4)
        lossy = lossy or body.lossy
        plain = part.get_content_subtype() == "plain"
        text = tidy(body.text) if plain else html_to_text(body.text)
        shortened = shortened or body.shortened or len(text) > MAX_TEXT
        text = text[:MAX_TEXT]
    attachments = [
        f"{a.filename} ({a.content_type}, {len(a.payload())} bytes)"
        for a in email_view.attachments(view, limits)
    ]
    notes = ([UNREADABLE_NOTE] if lossy else []) + list(dict.fromkeys(view.notes))
    if long_headers:
        notes.append(HEADER_SHORTENED)
    if shortened:
        notes.append(SHORTENED)
    return Readable(headers, text, attachments, notes)


def readable_sms(raw: bytes, sender: str, text: str | None) -> Readable:
    words, found = sms_view.sms_text(raw, text, limit=MAX_TEXT * 2)
    notes = [] if found else ["shown as the request was received"]
    if words.lossy:
        notes.insert(0, UNREADABLE_NOTE)
    tidied = tidy(words.text)
    if words.shortened or len(tidied) > MAX_TEXT:
        notes.append(SHORTENED)
    return Readable([("From", sms_view.sender(sender))], tidied[:MAX_TEXT], [], notes)


def readable(
    channel: str,
    raw: bytes,
    sender: str,
    sms_text: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Readable:
    if channel == "email":
        return readable_email(raw, limits)
    return readable_sms(raw, sender, sms_text)
