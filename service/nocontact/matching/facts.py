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

from nocontact.matching.mime import light_message
from nocontact.matching.simple import mailbox, plain_text, simple_message

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


_ADDRESS_LIKE = re.compile(r"[^\s<>()\[\]\\,;:\"']+@[^\s<>()\[\]\\,;:\"']+")


def _text(value: str | None) -> str | None:
    """Raw UTF-8 in headers (RFC 6532) arrives as surrogate escapes; read it as UTF-8."""
    if not value:
        return None
    if value.isascii():  # (no surrogate escapes, and UTF-8 reads ASCII as itself)
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


Fields = dict[str, list[tuple[str, str]]]  # lower-case name -> (name, raw value), in order


_READ = frozenset({"from", "sender", "reply-to", "return-path", "subject"})  # all _read reads


def _fields(items: list[tuple[str, str]]) -> Fields:
    by_name: Fields = {}
    for k, v in items:
        name = k.lower()
        if name in _READ:
            by_name.setdefault(name, []).append((k, v))
    return by_name


def _header_parties(fields: Fields, header: str, signal: str) -> list[Party]:
    out: list[Party] = []
    mine = fields.get(header.lower(), [])
    for name, raw in mine:
        parsed: set[str] = set()
        names = ""
        value = _unfold(raw)
        simple = mailbox(value)
        if simple is not None:  # the one reading of a plain mailbox, without the parser's cost
            display, addr = _text(simple[0]), _text(simple[1])
            parsed.add(addr or "")
            names += " " + (display or "")
            out.append(Party(signal, address=addr, display_name=display))
        else:
            parsed_value = policy.default.header_factory(name, value)
            try:
                for a in parsed_value.addresses:
                    addr = _text(a.addr_spec)
                    parsed.add(addr or "")
                    names += " " + (_text(a.display_name) or "")
                    out.append(Party(signal, address=addr, display_name=_text(a.display_name)))
            except (AttributeError, ValueError, IndexError, TypeError):
                out.append(Party(signal=signal, display_name=_text(str(parsed_value))))
        # Parsers disagree on hostile forms (CVE-2023-27043): every address-like token in the
        # raw header counts too, so no reading of the header lets a listed address through.
        seen_raw = " ".join(v for _, v in mine)
        for token in _ADDRESS_LIKE.findall(_text(seen_raw) or ""):
            if token not in parsed and token not in names:
                out.append(Party(f"{signal}_text", address=token))
                parsed.add(token)
    return out


def _unfold(raw: str) -> str:
    """A stored header value as ``policy.default`` hands it to its header classes."""
    return raw.replace("\r", "").replace("\n", "")


def _first(fields: Fields, header: str) -> tuple[str, str] | None:
    found = fields.get(header.lower())
    return found[0] if found else None


def _return_path(fields: Fields) -> list[Party]:
    field = _first(fields, "Return-Path")
    if field is None:
        return []
    value = _unfold(field[1])
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
    value = _unfold(field[1])
    if plain_text(value):
        return value
    return str(policy.default.header_factory(field[0], value) or "")


def _decode(payload: bytes, charset: str | None, subtype: str) -> str:
    charset = charset or "utf-8"  # undeclared 8-bit text is usually UTF-8
    try:
        text = payload.decode(charset, "replace")
    except LookupError:
        text = payload.decode("utf-8", "replace")
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


def _read(items: list[tuple[str, str]], body: Callable[[], str], notes: list[str]) -> Facts:
    """Facts from the header fields (as the parser stores them) and the readable body."""
    fields = _fields(items)
    parties: list[Party] = []
    for signal, header in _SIGNAL_HEADERS:
        try:
            parties += _header_parties(fields, header, signal)
        except Exception:  # noqa: BLE001  (hostile headers must not stop intake)
            notes.append(f"unreadable {header} header")
    try:
        parties += _return_path(fields)
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


def facts_from_email(raw: bytes, envelope_from: str | None = None) -> Facts:
    """The facts of one message. A plain one-part text message is read by the cheap readers in
    ``simple``; MIME mail with plain structure headers by the lighter parse in ``mime``;
    anything else by the strict parser. All three give the same facts."""
    notes: list[str] = []
    facts = Facts(parties=())
    simple = simple_message(raw)
    if simple is not None:
        facts = _read(
            simple.headers, lambda: _decode(simple.body, simple.charset, simple.subtype), notes
        )
        if simple.defects:
            notes.append(f"{simple.defects} MIME defects")
    elif (light := _light(raw)) is not None:
        lmsg, part = light
        facts = _read(list(lmsg.raw_items()), lambda: _part_text(part), notes)
        if lmsg.defects:
            notes.append(f"{len(lmsg.defects)} MIME defects")
    else:
        try:
            msg = BytesParser(policy=policy.default).parsebytes(raw)
            assert isinstance(msg, EmailMessage)
            facts = _read(list(msg.raw_items()), lambda: _readable_text(msg), notes)
            if msg.defects:
                notes.append(f"{len(msg.defects)} MIME defects")
        except Exception:  # noqa: BLE001  (the raw bytes are still kept whole)
            notes.append("unparseable message")
    parties = facts.parties
    if envelope_from:
        parties += (Party("envelope_from", envelope_from),)
    return Facts(parties=parties, text=facts.text, notes=tuple(notes))


def facts_from_sms(sender: str, text: str) -> Facts:
    return Facts(parties=(Party("sms_from", phone=sender),), text=text[:MAX_TEXT])
