"""A lighter full parse for MIME mail whose structure headers are plain.

``email``'s parser walks a multipart message the same way under every policy; what makes it
ten times slower under ``policy.default`` is building a header object each time it (or
``get_body``) looks at a Content-Type. With ``policy.compat32`` those looks read the raw
string instead, and for a plain value (``type/subtype`` with simple ``name=value`` parameters,
no comments, encoded words, RFC 2231 parameters, or non-ASCII) both readings agree. So: parse
with compat32, check that every part's Content-Type, Content-Transfer-Encoding and
Content-Disposition are plain, and pick the readable body the way ``EmailMessage.get_body``
does. Anything else (``message/*``, ``multipart/related`` or ``digest``, an odd header) answers
None and goes to the strict parser. tests/matching/test_simple_parse.py compares the two.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import policy
from email.message import Message
from email.parser import BytesParser

_ATOM = r"[A-Za-z0-9!#$%&'+.^_`{|}~-]+"  # RFC 2045 token, without "*" (RFC 2231)
_PARAMS = rf'(?:[ \t]*;[ \t]*{_ATOM}=(?:{_ATOM}|"[^"\\]*"))*[ \t]*;?[ \t]*'
_CONTENT_TYPE = re.compile(
    rf"(?i)[ \t]*(?P<type>text|multipart|application|image|audio|video|font|model)/{_ATOM}"
    rf"{_PARAMS}"
)
_DISPOSITION = re.compile(rf"[ \t]*{_ATOM}{_PARAMS}")
_ENCODING = re.compile(r"[A-Za-z0-9-]+")
_STRUCTURE = ("content-type", "content-transfer-encoding", "content-disposition")
_FOLD_IN_VALUE = re.compile(r"[^;\s][ \t]*\r?\n")  # folded other than after a ";"


def _plain(value: str) -> str | None:
    """The value unfolded, when it is ASCII without encoded words or comments."""
    value = value.replace("\r", "").replace("\n", "")
    if not value.isascii() or "=?" in value or "(" in value:
        return None
    return value


def _plain_part(part: Message) -> bool:
    for name in _STRUCTURE:
        values = part.get_all(name) or []
        if len(values) > 1:
            return False
        if not values:
            continue
        value = _plain(str(values[0]))
        if value is None or _FOLD_IN_VALUE.search(str(values[0])):
            return False
        if name == "content-type":
            m = _CONTENT_TYPE.fullmatch(value)
            if m is None:
                return False
            subtype = part.get_content_subtype()
            if m["type"].lower() == "multipart" and subtype in ("related", "digest"):
                return False  # a start part or message/rfc822 defaults: the strict parser
        elif name == "content-disposition":
            if _DISPOSITION.fullmatch(value) is None:
                return False
        elif _ENCODING.fullmatch(value) is None:
            return False
    return True


def _is_attachment(part: Message) -> bool:
    value = part.get("content-disposition")
    if value is None:
        return False
    return str(value).split(";", 1)[0].strip().lower() == "attachment"


def _candidates(part: Message, preference: tuple[str, ...]) -> Iterator[tuple[int, Message]]:
    """As ``EmailMessage._find_body`` (no ``related`` here: those went to the strict parser)."""
    if _is_attachment(part):
        return
    maintype, subtype = part.get_content_type().split("/")
    if maintype == "text":
        if subtype in preference:
            yield preference.index(subtype), part
        return
    if maintype != "multipart" or not part.is_multipart():
        return
    payload = part.get_payload()
    assert isinstance(payload, list)
    for sub in payload:
        assert isinstance(sub, Message)
        yield from _candidates(sub, preference)


def light_message(raw: bytes) -> tuple[Message, Message | None] | None:
    """The parsed message and the part ``get_body(("plain", "html"))`` would give, or None."""
    msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    if not all(_plain_part(part) for part in msg.walk()):
        return None
    preference = ("plain", "html")
    best, body = len(preference), None
    for rank, part in _candidates(msg, preference):
        if rank < best:
            best, body = rank, part
            if rank == 0:
                break
    return msg, body
