"""One reading of a kept email for people to look at: headers, the body part, attachments.

The web pages (``web.render``) and the evidence report (``export.content``) both read mail
through here, so a message that one of them can show, the other can too. The evidence is the
original bytes, kept whole elsewhere; this reading is bounded (``ReadLimits``) and never raises.

The message is parsed with ``compat32`` (raw strings; the modern policy's header registry is
slow, and quadratic on some hostile headers) and walked without recursion, so a part nested a
thousand deep or a message of ten thousand parts costs a bounded, linear walk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

from nocontact import decoding
from nocontact.decoding import Text
from nocontact.limits import DEFAULT_LIMITS, ReadLimits


@dataclass(frozen=True)
class AttachmentPart:
    index: int
    part: Message
    filename: str  # safe to show and to save (``decoding.filename``)
    content_type: str

    def payload(self) -> bytes:
        try:
            data = self.part.get_payload(decode=True)
        except Exception:  # noqa: BLE001  (e.g. a NUL in the charset name)
            data = None
        if isinstance(data, bytes):
            return data
        return str(_payload(self.part)).encode("utf-8", "surrogateescape")


@dataclass
class EmailView:
    msg: Message | None
    parts: list[Message] = field(default_factory=list)  # leaf parts, in order, bounded
    notes: list[str] = field(default_factory=list)


def parse(raw: bytes, limits: ReadLimits = DEFAULT_LIMITS) -> EmailView:
    try:
        msg = BytesParser(policy=compat32).parsebytes(raw)
    except Exception:  # noqa: BLE001  (RecursionError, MemoryError-free hostile shapes)
        return EmailView(None, notes=["This message could not be read as email."])
    view = EmailView(msg)
    view.parts = _leaves(msg, limits, view.notes)
    return view


def _leaves(msg: Message, limits: ReadLimits, notes: list[str]) -> list[Message]:
    leaves: list[Message] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    seen = too_deep = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > limits.mime_parts:
            notes.append(f"Only the first {limits.mime_parts} parts are shown here.")
            break
        payload = _payload(part)
        if isinstance(payload, list):
            if depth >= limits.mime_depth:
                too_deep += 1
                continue
            subs = [p for p in payload if isinstance(p, Message)]
            stack.extend((p, depth + 1) for p in reversed(subs))
        else:
            leaves.append(part)
    if too_deep:
        notes.append(f"Parts nested more than {limits.mime_depth} deep are not shown here.")
    return leaves


def _payload(part: Message) -> object:
    """The payload as parsed: a list of parts, or the undecoded text. ``get_payload`` decodes
    raw 8-bit text with the part's charset, and a charset name can be anything at all."""
    try:
        return part.get_payload()
    except Exception:  # noqa: BLE001
        return part._payload  # type: ignore[attr-defined]  # (the stored text, as parsed)


def headers(
    view: EmailView, names: tuple[str, ...], *, limit: int = decoding.HEADER_CHARS
) -> list[tuple[str, Text]]:
    """The named headers in ``names``' order, each decoded by ``decoding.header``."""
    if view.msg is None:
        return []
    wanted = {n.lower(): n for n in names}
    found: list[tuple[str, Text]] = []
    for name, value in view.msg.raw_items():
        label = wanted.get(name.lower())
        if label is not None:
            found.append((label, decoding.header(str(value), limit=limit)))
    order = {n: i for i, n in enumerate(names)}
    return sorted(found, key=lambda kv: order[kv[0]])


def _disposition(part: Message) -> str:
    value = part.get("Content-Disposition")
    return str(value or "").split(";", 1)[0].strip().lower()


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # noqa: BLE001
        return "application/octet-stream"


def is_text_body(part: Message) -> bool:
    return _content_type(part) in ("text/plain", "text/html") and _disposition(part) != (
        "attachment"
    )


def body_part(view: EmailView, prefer: tuple[str, ...]) -> Message | None:
    """The first inline text part of the first subtype in ``prefer`` that has one."""
    firsts: dict[str, Message] = {}
    for part in view.parts:
        if is_text_body(part):
            firsts.setdefault(_content_type(part).split("/")[1], part)
    return next((firsts[s] for s in prefer if s in firsts), None)


def part_text(part: Message, *, limit: int) -> Text:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        payload = None
    if not isinstance(payload, bytes):
        return Text("")
    try:
        charset = part.get_content_charset()
    except Exception:  # noqa: BLE001
        charset = None
    return decoding.body(payload, charset, limit=limit)


def _filename(part: Message) -> str | None:
    """The part's file name. compat32 turns raw 8-bit in a parameter into U+FFFD, one per byte;
    read as UTF-8 first (``decoding.raw_utf8``), a raw UTF-8 name keeps its letters."""
    probe = Message()
    for name, value in part.raw_items():
        if name.lower() in ("content-disposition", "content-type"):
            probe[name] = decoding.raw_utf8(str(value)).text
    try:
        return probe.get_filename()
    except Exception:  # noqa: BLE001
        return None


def attachments(view: EmailView, limits: ReadLimits) -> Iterator[AttachmentPart]:
    """Every leaf part that is not inline text (a body or its alternative), numbered from 0,
    at most ``attachments_shown`` of them. A one-part message has none."""
    index = 0
    for part in view.parts:
        if part is view.msg or is_text_body(part):
            continue
        if index >= limits.attachments_shown:
            view.notes.append(f"Only the first {limits.attachments_shown} attachments are listed.")
            return
        kind = decoding.line(_content_type(part), limit=100)
        name = _filename(part)
        yield AttachmentPart(index, part, decoding.filename(name, index), kind)
        index += 1
