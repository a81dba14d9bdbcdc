"""What a message claims about who sent it, and the text that mentions people.

Headers are read as the strict modern parser (``email.policy.default`` header objects) reads
them, never with ``email.utils.parseaddr`` (CVE-2023-27043). Most mail comes in a few plain
shapes that have one reading; ``simple`` and ``mime`` read those far more cheaply and give the
same facts (tests/matching/test_simple_parse.py holds them to it); everything else goes to the
strict parser. Parsing never raises: malformed mail yields what could be read, and the
original bytes are kept whole elsewhere.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser

from nocontact import decoding
from nocontact.limits import DEFAULT_LIMITS, ReadLimits
from nocontact.matching.mime import light_message
from nocontact.matching.simple import END_OF_HEADERS, mailbox, simple_message

MAX_TEXT = 16_384  # enough to find a mention; bounds the work per message
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Party:
    signal: str  # from | sender | reply_to | return_path | envelope_from | sms_from
    address: str | None = None
    display_name: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Facts:
    parties: tuple[Party, ...]
    text: str = ""  # subject and readable body, bounded
    notes: tuple[str, ...] = field(default=())  # parse problems, for the record (no content)


_SIGNAL_HEADERS = (("from", "From"), ("sender", "Sender"), ("reply_to", "Reply-To"))


# "'" is allowed in a local part (o'brien@…) and quotes names ('Jo' <…>): both readings count
_ADDRESS_LIKE = re.compile(r"[^\s<>()\[\]\\,;:\"]+@[^\s<>()\[\]\\,;:\"']+")


def address_tokens(text: str) -> list[str]:
    """Every address-like token in ``text``, with and without a leading quote mark."""
    out: list[str] = []
    for token in _ADDRESS_LIKE.findall(text):
        out.append(token)
        if token.startswith("'") and len(token.lstrip("'")) > 1:
            out.append(token.lstrip("'"))
    return out


def _text(value: str | None) -> str | None:
    """Raw UTF-8 in headers (RFC 6532) arrives as surrogate escapes; read it as UTF-8. Control
    and bidi characters go, so ``Jor<U+202E>dan`` reads as the name it shows."""
    if not value:
        return None
    if value.isascii() and value.isprintable():
        return value
    return decoding.visible(decoding.raw_utf8(value).text) or None


Fields = dict[str, list[tuple[str, str]]]  # lower-case name -> (name, raw value), in order


_READ = frozenset({"from", "sender", "reply-to", "return-path", "subject"})  # all _read reads


def _fields(items: list[tuple[str, str]]) -> Fields:
    by_name: Fields = {}
    for k, v in items:
        name = k.lower()
        if name in _READ:
            by_name.setdefault(name, []).append((k, v))
    return by_name


# A sender line anywhere in the header block, however the parser reads the block: a stray CR,
# a line without a colon or a byte-order mark ends the parser's headers early, while mail
# programs may still show the From below it.
_SENDER_LINE = re.compile(
    rb"(?im)^[\xef\xbb\xbf \t]*(from|sender|reply-to|return-path)[ \t]*:(.*(?:\n[ \t].*)*)"
)
_STRAY_READ = 1 << 20  # bytes of header block scanned
_BOUNDARY = re.compile(rb"(?i)boundary[ \t]*=")


def _stray_senders(raw: bytes, known: set[str]) -> list[Party]:
    end = END_OF_HEADERS.search(raw, 0, _STRAY_READ)
    block = raw[: end.start() if end else _STRAY_READ]
    block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    out: list[Party] = []
    for m in _SENDER_LINE.finditer(block):
        signal = m[1].decode().lower().replace("-", "_") + "_text"
        for token in address_tokens(
            decoding.raw_utf8(m[2].decode("ascii", "surrogateescape")).text
        ):
            if token not in known:
                known.add(token)
                out.append(Party(signal, address=token))
    return out


def _header_parties(fields: Fields, header: str, signal: str, cap: int) -> list[Party]:
    """The parties one sender header names. The structured parser reads ``cap`` characters of
    each value (it takes seconds on a From of ten thousand addresses); the address scan below
    reads the whole value, so a listed address is found however far in it sits."""
    out: list[Party] = []
    mine = fields.get(header.lower(), [])
    for name, raw in mine:
        parsed: set[str] = set()
        names = ""
        value = _unfold(raw)[:cap]
        simple = mailbox(value)
        if simple is not None:  # the one reading of a plain mailbox, without the parser's cost
            display, addr = _text(simple[0]), _text(simple[1])
            parsed.add(addr or "")
            names += " " + (display or "")
            out.append(Party(signal, address=addr, display_name=display))
        else:
            try:
                parsed_value = policy.default.header_factory(name, value)
                for a in parsed_value.addresses:
                    addr = _text(a.addr_spec)
                    parsed.add(addr or "")
                    names += " " + (_text(a.display_name) or "")
                    out.append(Party(signal, address=addr, display_name=_text(a.display_name)))
            except Exception:  # noqa: BLE001  (the parser's own errors, and RecursionError)
                # unreadable as addresses: the words still count as a display name, and every
                # address in them as a sender (the scan below), as in any header it cannot read
                words = decoding.header(value).text
                out.append(Party(signal=signal, display_name=words or None))
        # Parsers disagree on hostile forms (CVE-2023-27043): every address-like token in the
        # raw header counts too, so no reading of the header lets a listed address through.
        in_names = set(address_tokens(names))
        seen_raw = " ".join(v for _, v in mine)
        for token in address_tokens(decoding.raw_utf8(seen_raw).text):
            if token not in parsed and token not in in_names:
                out.append(Party(f"{signal}_text", address=token))
                parsed.add(token)
    return out


def _unfold(raw: str) -> str:
    """A stored header value as ``policy.default`` hands it to its header classes."""
    return raw.replace("\r", "").replace("\n", "")


def _first(fields: Fields, header: str) -> tuple[str, str] | None:
    found = fields.get(header.lower())
    return found[0] if found else None


def _return_path(fields: Fields, cap: int) -> list[Party]:
    field = _first(fields, "Return-Path")
    if field is None:
        return []
    value = _unfold(field[1])[:cap]
    simple = mailbox(value)
    if simple is not None:
        return [Party("return_path", _text(simple[1]))]
    # policy.default has no address class for Return-Path: parse its text as one
    text = str(policy.default.header_factory(field[0], value))
    rp = policy.default.header_factory("sender", text)
    return [Party("return_path", _text(a.addr_spec)) for a in rp.addresses if a.addr_spec]


def _subject(fields: Fields) -> str:
    field = _first(fields, "Subject")
    if field is None:
        return ""
    return decoding.header(_unfold(field[1]), limit=MAX_TEXT).text


def _decode(payload: bytes, charset: str | None, subtype: str) -> str:
    # undeclared 8-bit text is usually UTF-8; so is text in a charset that does not exist
    text = decoding.decode_bytes(payload[: MAX_TEXT * 4], charset).text
    if subtype == "html":
        text = html.unescape(_TAG.sub(" ", text))
    return text[:MAX_TEXT]


def _readable_text(msg: EmailMessage) -> str:
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except (KeyError, LookupError, ValueError, TypeError):
        part = None
    return _part_text(part)


def _part_text(part: Message | None) -> str:
    if part is None:
        return ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return _decode(payload, part.get_content_charset(), part.get_content_subtype())


def _read(
    items: list[tuple[str, str]], body: Callable[[], str], notes: list[str], limits: ReadLimits
) -> Facts:
    """Facts from the header fields (as the parser stores them) and the readable body."""
    fields = _fields(items)
    parties: list[Party] = []
    cap = limits.header_bytes
    for signal, header in _SIGNAL_HEADERS:
        try:
            parties += _header_parties(fields, header, signal, cap)
        except Exception:  # noqa: BLE001  (hostile headers must not stop intake)
            notes.append(f"unreadable {header} header")
    try:
        parties += _return_path(fields, cap)
    except Exception:  # noqa: BLE001
        notes.append("unreadable Return-Path header")
    try:
        subject = _subject(fields)
    except Exception:  # noqa: BLE001
        subject = ""
    text = ""
    try:
        text = (subject + "\n" + body())[:MAX_TEXT]
    except Exception:  # noqa: BLE001
        notes.append("unreadable body")
    return Facts(parties=tuple(parties), text=text, notes=())


def _light(raw: bytes) -> tuple[Message, Message | None] | None:
    try:
        return light_message(raw)
    except Exception:  # noqa: BLE001  (the strict parser then reads it, and says what failed)
        return None


def _over_limits(raw: bytes, limits: ReadLimits) -> bool:
    """Too many parts or multipart sections to parse for matching. Counted on the bytes, before
    any parse: the parser's cost grows with the nesting (a thousand levels take seconds)."""
    sections = sum(1 for _ in _BOUNDARY.finditer(raw))
    return raw.count(b"\n--") > limits.mime_parts or sections > limits.mime_depth


def _headers_only(raw: bytes, notes: list[str], limits: ReadLimits) -> Facts:
    try:
        head = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
        return _read(list(head.raw_items()), lambda: "", notes, limits)
    except Exception:  # noqa: BLE001  (the raw bytes are still kept whole)
        notes.append("unparseable headers")
        return Facts(parties=())


def facts_from_email(
    raw: bytes, envelope_from: str | None = None, limits: ReadLimits = DEFAULT_LIMITS
) -> Facts:
    """The facts of one message. A plain one-part text message is read by the cheap readers in
    ``simple``; MIME mail with plain structure headers by the lighter parse in ``mime``;
    anything else by the strict parser. All three give the same facts. A message over the MIME
    limits has its senders read but not its body (the original is still kept whole)."""
    notes: list[str] = []
    facts = Facts(parties=())
    simple = simple_message(raw)
    if simple is not None:
        facts = _read(
            simple.headers,
            lambda: _decode(simple.body, simple.charset, simple.subtype),
            notes,
            limits,
        )
        if simple.defects:
            notes.append(f"{simple.defects} MIME defects")
    elif _over_limits(raw, limits):
        notes.append("over the MIME limits: senders read, body not read for matching")
        facts = _headers_only(raw, notes, limits)
    elif (light := _light(raw)) is not None:
        lmsg, part = light
        facts = _read(list(lmsg.raw_items()), lambda: _part_text(part), notes, limits)
        if lmsg.defects:
            notes.append(f"{len(lmsg.defects)} MIME defects")
    else:
        try:
            msg = BytesParser(policy=policy.default).parsebytes(raw)
            assert isinstance(msg, EmailMessage)
            facts = _read(list(msg.raw_items()), lambda: _readable_text(msg), notes, limits)
            if msg.defects:
                notes.append(f"{len(msg.defects)} MIME defects")
        except Exception:  # noqa: BLE001  (the raw bytes are still kept whole)
            notes.append("unparseable message")
            facts = _headers_only(raw, notes, limits)
    parties = facts.parties
    try:
        known = {p.address for p in parties if p.address}
        for p in parties:  # an address written as a display name is decide's to judge
            known.update(address_tokens(p.display_name or ""))
        parties += tuple(_stray_senders(raw, known))
    except Exception:  # noqa: BLE001
        notes.append("unreadable header block")
    if envelope_from:
        parties += (Party("envelope_from", envelope_from),)
    return Facts(parties=parties, text=facts.text, notes=tuple(notes))


def facts_from_sms(sender: str, text: str) -> Facts:
    return Facts(parties=(Party("sms_from", phone=sender),), text=text[:MAX_TEXT])
