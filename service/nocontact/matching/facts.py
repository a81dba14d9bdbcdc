"""What a message claims about who sent it, and the text that mentions people.

Headers are read with the strict modern parser (``email.policy.default`` header objects), never
``email.utils.parseaddr`` (CVE-2023-27043). Parsing never raises: malformed mail yields what
could be read, and the original bytes are kept whole elsewhere.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

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
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _header_parties(msg: EmailMessage, header: str, signal: str) -> list[Party]:
    out: list[Party] = []
    for value in msg.get_all(header, []) or []:
        parsed: set[str] = set()
        names = ""
        try:
            for a in value.addresses:
                addr = _text(a.addr_spec)
                parsed.add(addr or "")
                names += " " + (_text(a.display_name) or "")
                out.append(Party(signal, address=addr, display_name=_text(a.display_name)))
        except (AttributeError, ValueError, IndexError, TypeError):
            out.append(Party(signal=signal, display_name=_text(str(value))))
        # Parsers disagree on hostile forms (CVE-2023-27043): every address-like token in the
        # raw header counts too, so no reading of the header lets a listed address through.
        seen_raw = " ".join(v for k, v in msg.raw_items() if k.lower() == header.lower())
        for token in _ADDRESS_LIKE.findall(_text(seen_raw) or ""):
            if token not in parsed and token not in names:
                out.append(Party(f"{signal}_text", address=token))
                parsed.add(token)
    return out


def _readable_text(msg: EmailMessage) -> str:
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except (KeyError, LookupError, ValueError, TypeError):
        part = None
    if part is None:
        return ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"  # undeclared 8-bit text is usually UTF-8
    try:
        text = payload.decode(charset, "replace")
    except LookupError:
        text = payload.decode("utf-8", "replace")
    if part.get_content_subtype() == "html":
        text = html.unescape(_TAG.sub(" ", text))
    return text[:MAX_TEXT]


def facts_from_email(raw: bytes, envelope_from: str | None = None) -> Facts:
    notes: list[str] = []
    parties: list[Party] = []
    text = ""
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(msg, EmailMessage)
        for signal, header in _SIGNAL_HEADERS:
            try:
                parties += _header_parties(msg, header, signal)
            except Exception:  # noqa: BLE001  (hostile headers must not stop intake)
                notes.append(f"unreadable {header} header")
        try:
            rp = msg.get("Return-Path")
            if rp is not None:
                # policy.default has no address class for Return-Path: parse it as one
                rp = policy.default.header_factory("sender", str(rp))
                parties += [
                    Party("return_path", _text(a.addr_spec)) for a in rp.addresses if a.addr_spec
                ]
        except Exception:  # noqa: BLE001
            notes.append("unreadable Return-Path header")
        try:
            subject = str(msg.get("Subject", "") or "")
        except Exception:  # noqa: BLE001
            subject = ""
        try:
            text = (subject + "\n" + _readable_text(msg))[:MAX_TEXT]
        except Exception:  # noqa: BLE001
            notes.append("unreadable body")
        if msg.defects:
            notes.append(f"{len(msg.defects)} MIME defects")
    except Exception:  # noqa: BLE001  (the raw bytes are still kept whole)
        notes.append("unparseable message")
    if envelope_from:
        parties.append(Party("envelope_from", envelope_from))
    return Facts(parties=tuple(parties), text=text, notes=tuple(notes))


def facts_from_sms(sender: str, text: str) -> Facts:
    return Facts(parties=(Party("sms_from", phone=sender),), text=text[:MAX_TEXT])
