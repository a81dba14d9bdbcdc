"""Cheap readings of the common, unambiguous shapes of mail, each giving exactly what the strict
parser (``email.policy.default``) gives for that shape, and ``None`` for anything else.

Most mail is a plain text message with a handful of one-line headers and ``Name <a@b.example>``
senders. Parsing each of those with the full parser costs milliseconds; these readers cost
microseconds. They accept only shapes with a single reading (no comments, quoting escapes,
encoded words, groups, non-ASCII, bare CR, MIME parts, unusual encodings); everything else goes
to the full parser, so a decision never depends on which path read the message. The tests
compare both paths on hostile and generated input (tests/matching/test_simple_parse.py).
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass
from functools import lru_cache

# RFC 5322 atext; a phrase word leaves out "." (obsolete phrase, parsed with defects).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_WORD = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_ADDR = rf"{_DOT_ATOM}@{_DOT_ATOM}"
_MAILBOX = re.compile(
    rf'[ \t]*(?:(?:(?P<phrase>{_WORD}(?:[ \t]+{_WORD})*)|"(?P<quoted>[^"\\\r\n]*)")?'
    rf"[ \t]*<(?P<angle>{_ADDR})>|(?P<bare>{_ADDR}))[ \t]*"
)
END_OF_HEADERS = re.compile(rb"\n\r?\n")  # the blank line that ends them
# one field: its name, then its first line and any continuation lines (starting with SP/HT)
_FIELD = re.compile(r"([\x21-\x39\x3b-\x7e]+):([^\n]*\n(?:[ \t][^\n]*\n)*)")
_MIME_ATOM = r"[A-Za-z0-9!#$%&'*+.^_`{|}~-]+"  # RFC 2045 token
_PARAMS = rf'(?:[ \t]*;[ \t]*{_MIME_ATOM}=(?:{_MIME_ATOM}|"[^"\\]*"))*'
_CONTENT_TYPE = re.compile(rf"(?i)text/(?P<subtype>plain|html)(?P<params>{_PARAMS})[ \t]*;?")
_PARAM = re.compile(rf'(?P<name>{_MIME_ATOM})=(?:(?P<token>{_MIME_ATOM})|"(?P<quoted>[^"\\]*)")')
_PLAIN_CTE = frozenset({"", "7bit", "8bit", "binary"})
_MIME_HEADERS = frozenset({"content-type", "content-transfer-encoding", "content-disposition"})


@dataclass(frozen=True)
class SimpleMessage:
    """A one-part text message: its headers as the parser stores them, and its decoded body."""

    headers: list[tuple[str, str]]  # (name, raw value), like ``Message.raw_items()``
    body: bytes  # transfer encoding removed
    charset: str | None
    subtype: str  # plain | html
    defects: int  # what the full parser would count on the message


@lru_cache(maxsize=4096)  # most of a mailbox's mail comes from senders it has seen before
def mailbox(value: str) -> tuple[str, str] | None:
    """(display name, addr-spec) of one plain mailbox, or None for any other shape."""
    if "=?" in value or not value.isascii():
        return None
    m = _MAILBOX.fullmatch(value)
    if m is None:
        return None
    if m["bare"] is not None:
        return "", m["bare"]
    if m["quoted"] is not None:
        return m["quoted"], m["angle"]
    return " ".join((m["phrase"] or "").split()), m["angle"]


def plain_text(value: str) -> bool:
    """True when an unstructured header reads as itself (no encoded words, only ASCII)."""
    return value.isascii() and "=?" not in value


def split_headers(raw: bytes) -> tuple[list[tuple[str, str]], int] | None:
    """The header fields (name, raw value) and where the body starts, when every header line is
    a plain ``Name: value`` or a continuation and a blank line ends them; otherwise None."""
    end = END_OF_HEADERS.search(raw)
    if end is None:
        return None  # no end of the headers (cut short, headers only, or no headers at all)
    block = raw[: end.start() + 1]
    if block.count(b"\r") != block.count(b"\r\n"):
        return None  # a bare CR also ends a line for the parser
    text = block.decode("ascii", "surrogateescape")  # as BytesParser reads it
    headers: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _FIELD.match(text, pos)
        if m is None:
            return None  # "From " envelope line, missing colon, bad name, leading continuation
        # as policy.header_source_parse: the value left-stripped, continuations kept as they are
        headers.append((m[1], m[2].lstrip(" \t").rstrip("\r\n")))
        pos = m.end()
    return headers, end.end()


def simple_message(raw: bytes) -> SimpleMessage | None:
    """A one-part text/plain or text/html message with a plain transfer encoding, or None."""
    split = split_headers(raw)
    if split is None:
        return None
    headers, start = split
    mime = [(n.lower(), v) for n, v in headers if n.lower() in _MIME_HEADERS]
    names = [n for n, _ in mime]
    if "content-disposition" in names or len(set(names)) != len(names):
        return None  # an attachment, or a repeated MIME header: the full parser decides
    fields = dict(mime)
    subtype, charset = "plain", None
    if "content-type" in fields:
        ctype = _content_type(fields["content-type"])
        if ctype is None:
            return None
        subtype, charset = ctype
    cte = fields.get("content-transfer-encoding", "")
    if not cte.isascii() or "\r" in cte or "\n" in cte:
        return None
    cte = cte.lower()
    body = raw[start:]
    defects = 0
    if cte == "quoted-printable":
        body = quopri.decodestring(body)
    elif cte == "base64":
        joined = b"".join(body.splitlines())
        pad = len(joined) % 4
        try:
            body = base64.b64decode(joined + b"==="[: 4 - pad] if pad else joined, validate=True)
        except binascii.Error:
            return None  # the full parser's lenient retries decide
        defects = 1 if pad else 0  # InvalidBase64PaddingDefect, as the parser registers it
    elif cte not in _PLAIN_CTE:
        return None
    return SimpleMessage(headers, body, charset, subtype, defects)


@lru_cache(maxsize=1024)  # a mailbox's mail uses a handful of these values
def _content_type(value: str) -> tuple[str, str | None] | None:
    """(subtype, charset) of a one-line ``text/plain`` or ``text/html`` type with plain
    parameters; None for any other type or shape."""
    if not value.isascii() or "\r" in value or "\n" in value or "*" in value:
        return None
    m = _CONTENT_TYPE.fullmatch(value.strip(" \t"))
    if m is None:
        return None
    charset = None
    for p in _PARAM.finditer(m["params"]):
        if p["name"].lower() == "charset":
            charset = (p["token"] if p["token"] is not None else p["quoted"]).lower()
            break
    return m["subtype"].lower(), charset
