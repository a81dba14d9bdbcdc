"""Text for people to read, made from bytes the sender chose.

Every page, notice and report shows held messages through these three helpers, so the rule for
bytes that cannot be read lives here and nowhere else:

- ``header``: one header value as the parser stores it (raw 8-bit arrives as surrogate escapes,
  RFC 2047 encoded words may name any charset or none that exists, the value may be a megabyte);
- ``body``: a part's payload in its declared charset (or its byte-order mark's);
- ``filename``: an attachment's name, made safe to show and to offer as a download name.

The rule: never raise. Bytes that do not decode become U+FFFD and the result says so
(``lossy``), so the reader is told that "some characters could not be read; the original is kept
exactly". Control characters become U+FFFD and bidirectional overrides are removed (they would
let a sender make text read differently from what it is, e.g. ``invoice<U+202E>fdp.exe``).
Long values are cut (``shortened``). Decoding is linear in the input: the standard library's
header registry is quadratic in the number of encoded words and is never used for display.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from dataclasses import dataclass

UNREADABLE_NOTE = "Some characters could not be read; the original is kept exactly."
HEADER_CHARS = 2_000  # shown of one header value; the original is whole
HEADER_READ = 65_536  # characters of one raw header value decoded at all
FILENAME_CHARS = 120

# LRE RLE PDF LRO RLO, LRI RLI FSI PDI, LRM RLM, ALM
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_REMOVE = dict.fromkeys(map(ord, _BIDI))
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_HEADER_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_ESCAPES = re.compile(r"[\ud800-\udc7f\udd00-\udfff]")  # surrogates no byte escapes to
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\r\n]+")
_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([QqBb])\?([^?\s]*)\?=")
_QHEX = re.compile(rb"=([0-9A-Fa-f]{2})")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose BOM it starts with
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# text codecs that are not character sets a mail can honestly declare
_NOT_CHARSETS = frozenset(
    {"idna", "punycode", "unicode_escape", "raw_unicode_escape", "undefined", "mbcs", "oem"}
)
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in range(10)}
    | {f"LPT{i}" for i in range(10)}
)
_UNSAFE_IN_NAME = re.compile(r'[<>:"|?*]')


@dataclass(frozen=True)
class Text:
    text: str
    lossy: bool = False  # some bytes could not be read; they show as U+FFFD
    shortened: bool = False


def codec(charset: str | None) -> str | None:
    """The Python codec for a declared charset, or None when it names nothing we can use."""
    if not charset:
        return None
    name = charset.strip().strip("\"'").lower()
    if not name or len(name) > 64 or not name.isascii():
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def decode_bytes(data: bytes, charset: str | None) -> Text:
    """Bytes in a declared charset; an unknown charset is read as UTF-8."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            charset = name
            break
    name = codec(charset) or "utf-8"
    try:
        return Text(data.decode(name))
    except UnicodeDecodeError:
        pass
    except Exception:  # noqa: BLE001  (a codec that fails in its own way: read as UTF-8)
        name = "utf-8"
    try:
        return Text(data.decode(name, "replace"), lossy=True)
    except Exception:  # noqa: BLE001
        return Text(data.decode("utf-8", "replace"), lossy=True)


def well_formed(text: str) -> str:
    """Text with every lone surrogate (which no encoder takes) replaced by U+FFFD."""
    return _SURROGATES.sub("\ufffd", text)


def raw_utf8(value: str) -> Text:
    """Raw 8-bit in a header (RFC 6532) arrives from the parser as surrogate escapes; read it as
    UTF-8. Bytes that are not UTF-8 (Latin-1, Shift-JIS written raw) become U+FFFD."""
    if value.isascii():
        return Text(value)
    lossy = False
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        value, lossy = _NOT_ESCAPES.sub("\ufffd", value), True
        data = value.encode("utf-8", "surrogateescape")
    try:
        return Text(data.decode("utf-8"), lossy)
    except UnicodeDecodeError:
        return Text(data.decode("utf-8", "replace"), lossy=True)


def _encoded_word(charset: str, encoding: str, payload: str) -> Text | None:
    if encoding in "Qq":
        data = _QHEX.sub(
            lambda m: bytes([int(m[1], 16)]),
            payload.replace("_", " ").encode("ascii", "replace"),
        )
    else:
        packed = payload.encode("ascii", "replace").rstrip(b"=")
        if len(packed) % 4 == 1:
            return None
        try:
            data = base64.b64decode(packed + b"=" * (-len(packed) % 4))
        except (binascii.Error, ValueError):
            return None
    found = codec(charset)
    decoded = decode_bytes(data, found)
    return Text(decoded.text, decoded.lossy or found is None)


def encoded_words(value: str) -> Text:
    """RFC 2047 encoded words decoded; a word that does not decode stays as written."""
    if "=?" not in value:
        return Text(value)
    out: list[str] = []
    pos, lossy, after_word = 0, False, False
    for m in _WORD.finditer(value):
        gap = value[pos : m.start()]
        if not (after_word and not gap.strip(" \t\r\n")):
            out.append(gap)  # whitespace between two encoded words is not part of the text
        word = _encoded_word(m[1], m[2], m[3])
        if word is None:
            out.append(m[0])
            lossy = True
        else:
            out.append(word.text)
            lossy = lossy or word.lossy
        pos, after_word = m.end(), True
    out.append(value[pos:])
    return Text("".join(out), lossy)


def clean(text: str, *, one_line: bool) -> str:
    """Bidi overrides removed, control characters (and lone surrogates) shown as U+FFFD; for one
    line, line breaks and runs of spaces become one space."""
    text = text.translate(_REMOVE)
    if one_line:
        return _SPACES.sub(" ", _HEADER_CONTROLS.sub(_space_or_mark, text)).strip()
    return _CONTROLS.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))


def visible(text: str) -> str:
    """Bidi overrides removed, control characters (and lone surrogates) shown as U+FFFD, line
    breaks and tabs as spaces; nothing else changed."""
    return _HEADER_CONTROLS.sub(_space_or_mark, text.translate(_REMOVE))


def line(value: object, *, limit: int = HEADER_CHARS) -> str:
    """Text already decoded (a stored display name, a gateway's sender field) as one safe,
    bounded line."""
    text = clean(str(value or "")[: limit * 2], one_line=True)
    return text if len(text) <= limit else text[:limit] + " …"


def _space_or_mark(m: re.Match[str]) -> str:
    return " " if m[0] in "\t\r\n" else "\ufffd"


def header(value: str | None, *, limit: int = HEADER_CHARS) -> Text:
    """One header value for display, from its raw stored form."""
    if not value:
        return Text("")
    cut = len(value) > HEADER_READ
    raw = raw_utf8(value[:HEADER_READ])
    words = encoded_words(raw.text)
    text = clean(words.text, one_line=True)
    if len(text) > limit:
        text, cut = text[:limit] + " …", True
    return Text(text, raw.lossy or words.lossy or "\ufffd" in text, cut)


def body(payload: bytes, charset: str | None, *, limit: int) -> Text:
    """A part's text for display: at most ``limit`` characters, line ends as ``\\n``."""
    cut = len(payload) > limit * 4  # no charset takes more than four bytes a character
    decoded = decode_bytes(payload[: limit * 4] if cut else payload, charset)
    text = clean(decoded.text, one_line=False)
    if len(text) > limit:
        text, cut = text[:limit], True
    return Text(text, decoded.lossy, cut)


def filename(name: str | None, index: int) -> str:
    """An attachment's name that is safe to show and to save: no folders, no control or bidi
    characters, no Windows device names; ``attachment-N`` when nothing usable is left."""
    fallback = f"attachment-{index + 1}"
    if not name:
        return fallback
    text = header(name, limit=1_000).text
    text = re.split(r"[/\\]", text)[-1]
    text = _UNSAFE_IN_NAME.sub("_", text).strip(" .")
    if not text:
        return fallback
    if text.split(".", 1)[0].strip().upper() in _WINDOWS_DEVICES:
        text = "_" + text
    if len(text) > FILENAME_CHARS:
        _stem, dot, ext = text.rpartition(".")
        ext = ext if dot and len(ext) <= 10 else ""
        text = text[: FILENAME_CHARS - len(ext) - 1].rstrip(" .") + ("." + ext if ext else "")
    return text
