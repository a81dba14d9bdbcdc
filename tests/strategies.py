"""Hypothesis strategies for hostile input: what an abuser can put in an email or a text.

Email:

- ``header_values()``: one header value as text. Raw 8-bit bytes are carried as surrogate escapes
  (U+DC80..U+DCFF, the way ``BytesParser`` hands them on) and become the raw bytes again in
  ``to_bytes``. Address lists, groups, comments, encoded words (valid and broken), display names
  with control, bidi and invisible characters, quotes and address-like garbage.
- ``header_blocks()``: a whole header block as bytes: folding at arbitrary whitespace, CRLF, LF or
  CR line ends (or a mix), header names in changed case, duplicated headers. ``render_block``
  with a ``Layout`` renders given fields in a chosen way, for the re-folding properties.
- ``mime_trees()``: a MIME tree (multipart nesting, message/rfc822, random content types, charsets
  known and unknown, transfer encodings valid and broken, filenames plain, encoded and RFC 2231),
  as ``Part`` objects; ``render_part`` makes bytes of one.
- ``emails()``: a whole message as bytes; ``mutated()`` adds byte-level damage to any of them.

SMS: ``sms_payloads()``: gateway webhook requests (``SmsPayload``: which gateway, body bytes)
in the shapes ``nocontact.channels.sms.{twilio,telnyx,android_gateway,httpsms,generic}`` parse,
with fields missing, of the wrong type, lone surrogates (``\\ud800`` escapes), deep nesting, other
encodings, and plain garbage.
"""

from __future__ import annotations

import base64
import json
import quopri
import string
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

# ---------------------------------------------------------------------------------------------
# characters

EOLS = ("\r\n", "\n", "\r")
C0 = (*(chr(c) for c in range(0x20) if c not in (0x0A, 0x0D)), "\x7f")
NEWLINES = ("\r", "\n", "\r\n", "\x85", "\u2028", "\u2029", "\x0b", "\x0c")
# the overrides and isolates (U+202A..U+202E, U+2066..U+2069), and the marks
BIDI_CONTROLS = tuple(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
BIDI = (*BIDI_CONTROLS, "\u200e", "\u200f", "\u061c")
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\ufeff", "\u00ad", "\u2060", "\u180e", "\u3000")
HOMOGLYPHS = ("\u0430", "\u0435", "\u043e", "\u0440", "\u0455", "\u0408", "\u03bf", "\uff4a")
SPECIALS = tuple('"\\()<>[]:;@,.=?_')
ESCAPED_BYTES = tuple(chr(0xDC00 + b) for b in range(0x80, 0x100))  # raw 8-bit, surrogateescape
ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"

# characters an abuser can put in a header value (no raw CR or LF: those end the line)
header_chars = st.one_of(
    st.characters(codec="utf-8", exclude_characters="\r\n"),
    st.sampled_from(C0 + BIDI + INVISIBLE + HOMOGLYPHS + SPECIALS + ESCAPED_BYTES),
    st.sampled_from(("\x85", "\u2028", "\u2029")),
)
ascii_word = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=8)


def hostile_text(min_size: int = 0, max_size: int = 20) -> st.SearchStrategy[str]:
    return st.text(alphabet=header_chars, min_size=min_size, max_size=max_size)


def to_bytes(text: str) -> bytes:
    """Text with surrogate-escaped raw bytes, as bytes on the wire."""
    return text.encode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------------------------
# encoded words (RFC 2047)

CHARSETS = (
    "utf-8",
    "UTF-8",
    "us-ascii",
    "iso-8859-1",
    "windows-1252",
    "koi8-r",
    "shift_jis",
    "iso-2022-jp",
    "utf-16",
    "utf-7",
    "gb2312",
    "x-unknown",
    "unknown-8bit",
    "utf-8*en",  # RFC 2231 language in an encoded word
    "",
    "../../etc/passwd",
    "utf-8'",
    "utf-8\x00",  # a NUL: bytes.decode() raises ValueError, not LookupError
    "a\x00b",
)


def _encode_in(text: str, charset: str) -> bytes:
    """The text in ``charset`` if it can be, else UTF-8 (escaped raw bytes as themselves)."""
    try:
        return text.encode(charset.split("*")[0] or "ascii")
    except (LookupError, ValueError):  # (an unknown name, unencodable text, a NUL in the name)
        pass
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeError:
        return text.encode("utf-8", "surrogatepass")


def q_encode(data: bytes) -> str:
    out = []
    for b in data:
        c = chr(b)
        if c == " ":
            out.append("_")
        elif c.isalnum() and b < 0x80:
            out.append(c)
        else:
            out.append(f"={b:02X}")
    return "".join(out)


@st.composite
def encoded_words(draw: st.DrawFn) -> str:
    """One RFC 2047 encoded word, valid or broken in one of the usual ways."""
    charset = draw(st.sampled_from(CHARSETS))
    text = draw(st.one_of(hostile_text(0, 12), st.sampled_from(["jon@example.com", "<a@b.c>"])))
    data = _encode_in(text, charset)
    enc = draw(st.sampled_from("QqBb"))
    payload = q_encode(data) if enc in "Qq" else base64.b64encode(data).decode()
    damage = draw(st.integers(0, 12))
    end = "?="
    if damage == 1:
        end = draw(st.sampled_from(["", "?", "=", "?= ", "??="]))  # unterminated
    elif damage == 2 and enc in "Bb":
        payload = payload.rstrip("=")  # bad padding
    elif damage == 3 and enc in "Bb":
        payload = payload[: max(0, len(payload) - 1)] + "!*"  # not base64
    elif damage == 4:
        payload += "=Z" if enc in "Qq" else "="  # broken escape
    elif damage == 5:
        enc = draw(st.sampled_from(["X", "", "QB", "?"]))
    elif damage == 6:
        payload = payload.replace("_", " ")  # a space inside the word
    elif damage == 7:
        payload = draw(hostile_text(0, 8))  # anything between the markers
    elif damage == 8:
        return "=?" + charset  # cut short
    return f"=?{charset}?{enc}?{payload}{end}"


# ---------------------------------------------------------------------------------------------
# addresses and header values

label = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=8)
domains = st.one_of(
    st.builds(lambda ls, tld: ".".join([*ls, tld]), st.lists(label, min_size=1, max_size=3), label),
    st.sampled_from(
        ["example.com", "gmail.com", "googlemail.com", "bücher.de", "xn--bcher-kva.de"]
    ),
    st.builds("[{}.{}.{}.{}]".format, *[st.integers(0, 300)] * 4),  # domain literal
    hostile_text(1, 10),
)
local_parts = st.one_of(
    st.text(alphabet=ATEXT + ".", min_size=1, max_size=12),
    st.builds(lambda s: '"' + s + '"', hostile_text(0, 10)),  # quoted local part
    hostile_text(1, 10),
)
addr_specs = st.builds(lambda lp, d: f"{lp}@{d}", local_parts, domains)
ADDRESS_GARBAGE = (
    "a@@b.c",
    "@b.c",
    "a@",
    "@",
    "<<a@b.c>>",
    "a@b@c.d",
    "a@[",
    "<a@b.c",
    "a@b.c>",
    '"a@b.c"',
    "a@b.c.",
    ".a@b.c",
    "a..b@c.d",
    "<@route,@x:a@b.c>",
    "a@b.c (x@y.z)",
    "a@-b.c",
    "a@b..c",
    "\\<a@b.c\\>",
    "a(comment)@b.c",
    "a @ b . c",
    "<>",
)
address_garbage = st.one_of(
    st.sampled_from(ADDRESS_GARBAGE),
    st.builds(lambda a, b: a + "@" + b, hostile_text(0, 6), hostile_text(0, 6)),
)


@st.composite
def comments(draw: st.DrawFn, depth: int = 2) -> str:
    inner = draw(hostile_text(0, 8)).replace("(", "").replace(")", "")
    if depth > 0 and draw(st.booleans()):
        inner += draw(comments(depth - 1))
    if draw(st.integers(0, 9)) == 0:
        return "(" + inner  # unclosed
    return "(" + inner + ")"


def quoted(text: str, *, escape: bool) -> str:
    if escape:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text + '"'


@st.composite
def display_names(draw: st.DrawFn) -> str:
    """A display name as written in the header (quoted, atoms, encoded words or raw)."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return " ".join(draw(st.lists(ascii_word, min_size=1, max_size=3)))
    if kind == 1:
        return quoted(draw(hostile_text(0, 16)), escape=draw(st.booleans()))
    if kind == 2:
        words = draw(st.lists(encoded_words(), min_size=1, max_size=3))
        return draw(st.sampled_from([" ", "", "\t", " x "])).join(words)
    if kind == 3:
        return draw(hostile_text(1, 16)).replace("<", "").replace(">", "")
    if kind == 4:
        return quoted(draw(addr_specs), escape=False)  # an address hidden in the name
    return draw(hostile_text(0, 4)) + draw(encoded_words()) + draw(hostile_text(0, 4))


@st.composite
def mailboxes(draw: st.DrawFn, addresses: st.SearchStrategy[str] = addr_specs) -> str:
    addr = draw(addresses)
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return addr
    if kind == 1:
        return f"<{addr}>"
    if kind == 2:
        return f"{draw(display_names())} <{addr}>"
    if kind == 3:
        return f"{addr} {draw(comments())}"
    if kind == 4:
        return f"{draw(comments())} {draw(display_names())} {draw(comments())} <{addr}>"
    return f"{draw(display_names())}<{addr}>"  # no space before the angle


@st.composite
def address_lists(draw: st.DrawFn, addresses: st.SearchStrategy[str] = addr_specs) -> str:
    items = draw(
        st.lists(
            st.one_of(mailboxes(addresses), address_garbage, groups(addresses)),
            min_size=1,
            max_size=4,
        )
    )
    sep = draw(st.sampled_from([", ", ",", " , ", ",,", "; ", " "]))
    return sep.join(items)


@st.composite
def groups(draw: st.DrawFn, addresses: st.SearchStrategy[str] = addr_specs) -> str:
    members = draw(st.lists(mailboxes(addresses), max_size=3))
    name = draw(st.one_of(ascii_word, display_names()))
    end = draw(st.sampled_from([";", "", ";;", "; "]))
    return f"{name}: {', '.join(members)}{end}"


def header_values() -> st.SearchStrategy[str]:
    """One header value (no line ends: ``render_block`` folds), any of the shapes above."""
    return st.one_of(
        address_lists(),
        mailboxes(),
        encoded_words(),
        st.lists(st.one_of(encoded_words(), hostile_text(0, 8)), max_size=4).map(" ".join),
        hostile_text(0, 40),
        address_garbage,
    )


# ---------------------------------------------------------------------------------------------
# header blocks

ADDRESS_HEADERS = ("From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Return-Path")
OTHER_HEADERS = (
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Received",
    "MIME-Version",
    "X-Mailer",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "Resent-From",
    "List-Unsubscribe",
)
header_names = st.one_of(
    st.sampled_from(ADDRESS_HEADERS + OTHER_HEADERS),
    st.text(alphabet=string.ascii_letters + "-_", min_size=1, max_size=12),
    st.text(alphabet=st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=8),
)


@dataclass(frozen=True)
class Layout:
    """How a header block is written: each line's end, where each value folds, name case."""

    eols: tuple[str, ...]  # per field (one end for the field's lines); then the blank line's
    folds: tuple[frozenset[int], ...]  # per field: indexes of whitespace to fold before
    cases: tuple[str | None, ...]  # per field: the name as written (None: as given)


def canonical_layout(fields: list[tuple[str, str]], eol: str = "\r\n") -> Layout:
    n = len(fields)
    return Layout((eol,) * (n + 1), (frozenset(),) * n, (None,) * n)


def whitespace_at(value: str) -> list[int]:
    """Positions a fold may go before (RFC 5322 folding: a line end before a space or tab)."""
    return [i for i, c in enumerate(value) if c in " \t"]


def _recase(draw: st.DrawFn, name: str) -> str:
    mode = draw(st.integers(0, 3))
    if mode == 0:
        return name.upper()
    if mode == 1:
        return name.lower()
    if mode == 2:
        flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
        return "".join(c.swapcase() if f else c for c, f in zip(name, flips, strict=True))
    return name


@st.composite
def layouts(
    draw: st.DrawFn,
    fields: list[tuple[str, str]],
    eols: tuple[str, ...] = EOLS,
    mixed: bool = True,
    recase: bool = True,
) -> Layout:
    """Another way of writing the same fields: re-folded, other line ends, names in other case."""
    if mixed and draw(st.booleans()):
        ends = tuple(draw(st.sampled_from(eols)) for _ in range(len(fields) + 1))
    else:
        ends = (draw(st.sampled_from(eols)),) * (len(fields) + 1)
    folds = []
    for _, value in fields:
        spots = whitespace_at(" " + value)  # " ": the space after the colon
        chosen = draw(st.lists(st.sampled_from(spots), unique=True, max_size=6)) if spots else []
        folds.append(frozenset(chosen))
    cases = tuple(_recase(draw, name) if recase else None for name, _ in fields)
    return Layout(ends, tuple(folds), cases)


def render_field(name: str, value: str, eol: str, folds: frozenset[int]) -> str:
    """``name: value`` and a line end, with a line end before each whitespace in ``folds``
    (indexes into ``" " + value``: 0 is the space after the colon)."""
    text = " " + value
    out = []
    for i, c in enumerate(text):
        if i in folds:
            out.append(eol)
        out.append(c)
    return f"{name}:{''.join(out)}{eol}"


def render_block(fields: list[tuple[str, str]], layout: Layout | None = None) -> bytes:
    """The header block, blank line included, as bytes."""
    layout = layout or canonical_layout(fields)
    lines = []
    for i, (name, value) in enumerate(fields):
        written = layout.cases[i] or name
        lines.append(render_field(written, value, layout.eols[i], layout.folds[i]))
    return to_bytes("".join(lines) + layout.eols[len(fields)])


header_fields = st.tuples(header_names, header_values())


@st.composite
def header_lists(draw: st.DrawFn, min_size: int = 0, max_size: int = 8) -> list[tuple[str, str]]:
    fields = draw(st.lists(header_fields, min_size=min_size, max_size=max_size))
    duplicate = draw(st.booleans())
    if fields and duplicate:  # duplicate some
        extra = draw(st.lists(st.sampled_from(fields), max_size=3))
        for f in extra:
            fields.insert(draw(st.integers(0, len(fields))), f)
    return fields


@st.composite
def header_blocks(draw: st.DrawFn) -> bytes:
    fields = draw(header_lists())
    block = render_block(fields, draw(layouts(fields)))
    if draw(st.integers(0, 9)) == 0:  # damage: a line starting with whitespace, no colon, …
        junk = draw(st.sampled_from([" leading continuation\r\n", "no colon\r\n", "From x\n"]))
        block = junk.encode() + block
    return block


# ---------------------------------------------------------------------------------------------
# MIME trees

CONTENT_TYPES = (
    "text/plain",
    "text/html",
    "TEXT/PLAIN",
    "text/enriched",
    "text/calendar",
    "application/octet-stream",
    "application/pdf",
    "image/png",
    "image/svg+xml",
    "message/delivery-status",
    "application/ms-tnef",
    "text",
    "",
    "text/plain/extra",
    "/",
    "x/y",
    "text/ plain",
)
MULTIPART_SUBTYPES = ("mixed", "alternative", "related", "digest", "signed", "report", "x-odd")
TRANSFER_ENCODINGS = (
    None,
    "7bit",
    "8bit",
    "binary",
    "base64",
    "BASE64",
    "quoted-printable",
    "x-uuencode",
    "garbage",
    " base64 ",
)
DISPOSITIONS = (None, "inline", "attachment", "ATTACHMENT", "form-data", "attachment garbage")


@dataclass
class Part:
    """One MIME part: its own headers (name, value) and its body or its children."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    children: list[Part] = field(default_factory=list)
    boundary: str | None = None
    preamble: bytes = b""
    epilogue: bytes = b""
    close: bool = True  # whether the closing boundary is written
    message: bytes | None = None  # a message/rfc822 part's message


@st.composite
def filenames(draw: st.DrawFn) -> tuple[str, str]:
    """(parameter name, parameter text) of a filename: plain, quoted, encoded, RFC 2231."""
    name = draw(
        st.one_of(
            hostile_text(0, 16),
            st.sampled_from(
                [
                    "invoice\u202egpj.exe",
                    "../../etc/passwd",
                    "a\x00b.txt",
                    "CON",
                    "x" * 300,
                    "photo.jpg\r\nX-Injected: 1",
                    "",
                ]
            ),
        )
    )
    param = draw(st.sampled_from(["filename", "name"]))
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return param, quoted(name, escape=draw(st.booleans()))
    if kind == 1:
        return param, name.replace(";", "").replace(" ", "") or "x"
    if kind == 2:
        return param, quoted(draw(encoded_words()), escape=False)
    data = name.encode("utf-8", "surrogateescape")
    pct = urllib.parse.quote_from_bytes(data, safe="")
    charset = draw(st.sampled_from(["utf-8", "UTF-8", "iso-8859-1", "x-unknown", "", "utf-16"]))
    lang = draw(st.sampled_from(["", "en", "''"]))
    if kind == 3:
        return param + "*", f"{charset}'{lang}'{pct}"
    if kind == 4:  # continuations, some encoded
        cut = draw(st.integers(0, len(pct)))
        return (
            param,
            f"x; {param}*0*={charset}'{lang}'{pct[:cut]}; {param}*1*={pct[cut:] or 'z'}",
        )
    if kind == 5:  # broken percent escapes, missing quotes
        return param + "*", draw(st.sampled_from(["utf-8''%", "utf-8''%zz", "'", "utf-8'", "%41"]))
    return param + "*0", quoted(name, escape=True)  # a continuation without its siblings


@st.composite
def content_type_values(draw: st.DrawFn, ctype: str, filename: tuple[str, str] | None) -> str:
    value = ctype
    if draw(st.booleans()):
        charset = draw(st.one_of(st.sampled_from(CHARSETS), hostile_text(0, 10)))
        value += "; charset=" + (quoted(charset, escape=False) if draw(st.booleans()) else charset)
    if filename is not None and filename[0].startswith("name"):
        value += f"; {filename[0]}={filename[1]}"
    if draw(st.integers(0, 9)) == 0:
        value += draw(st.sampled_from(["; charset", ";;", "; x=", ' ; a="b', "; (comment)"]))
    return value


def encode_body(data: bytes, cte: str | None, damage: int) -> bytes:
    kind = (cte or "").strip().lower()
    if kind == "base64":
        out = base64.encodebytes(data)
        if damage == 1:
            out = out.rstrip(b"=\n")  # bad padding
        elif damage == 2:
            out = out[: len(out) // 2] + b"!!*" + out[len(out) // 2 :]  # not base64
        elif damage == 3:
            out = out[:-3]  # cut short
        return out
    if kind == "quoted-printable":
        out = quopri.encodestring(data)
        if damage == 1:
            out += b"=ZZ"  # a bad escape
        elif damage == 2:
            out += b"="  # a soft break at the end
        elif damage == 3:
            out = out.replace(b"=", b"=\r\n", 1)
        return out
    return data


text_bodies = st.one_of(
    st.text(max_size=200),
    hostile_text(0, 80),
    st.sampled_from(
        [
            "<html><body><p>hi<img src='http://t.example/x.png'></p>"
            "<script>alert(1)</script></body></html>",
            "<svg onload=alert(1)><style>@import url(http://x)</style>",
            "Jon Smith here, write to jon.smith@gmail.com or +44 7700 900123",
            "\u202eevil\u202c <a href='http://x'>x</a>",
        ]
    ),
)


@st.composite
def leaf_parts(draw: st.DrawFn) -> Part:
    ctype = draw(st.one_of(st.sampled_from(CONTENT_TYPES), hostile_text(0, 10)))
    cte = draw(st.sampled_from(TRANSFER_ENCODINGS))
    disposition = draw(st.sampled_from(DISPOSITIONS))
    filename = draw(st.one_of(st.none(), filenames()))
    headers = [("Content-Type", draw(content_type_values(ctype, filename)))] if ctype else []
    if cte is not None:
        headers.append(("Content-Transfer-Encoding", cte))
    if disposition is not None:
        value = disposition
        if filename is not None and filename[0].startswith("filename"):
            value += f"; {filename[0]}={filename[1]}"
        headers.append(("Content-Disposition", value))
    if draw(st.integers(0, 4)) == 0:
        data = draw(st.binary(max_size=200))
    else:
        text = draw(text_bodies)
        charset = draw(st.sampled_from(CHARSETS))
        data = _encode_in(text, charset)
        data = data.replace(b"\r", b"").replace(b"\n", b"\r\n")
    body = encode_body(data, cte, draw(st.integers(0, 5)))
    return Part(headers=headers, body=body)


@st.composite
def mime_trees(draw: st.DrawFn, depth: int = 3) -> Part:
    """A MIME tree at most ``depth`` levels of multipart deep."""
    kind = draw(st.integers(0, 4)) if depth > 0 else 0
    if kind <= 1:
        return draw(leaf_parts())
    if kind == 2:  # message/rfc822 with a whole message inside
        inner_headers = draw(header_lists(max_size=4))
        inner = render_message(inner_headers, draw(mime_trees(depth - 1)))
        return Part(headers=[("Content-Type", "message/rfc822")], message=inner)
    subtype = draw(st.sampled_from(MULTIPART_SUBTYPES))
    boundary = draw(
        st.one_of(
            st.text(alphabet=string.ascii_letters + string.digits + "'()+_,-./:=?", max_size=20),
            st.sampled_from(["", "--", "b", "=_x", "a b"]),
        )
    )
    quote_it = draw(st.booleans())
    written = quoted(boundary, escape=False) if quote_it else boundary
    headers = [("Content-Type", f"multipart/{subtype}; boundary={written}")]
    if draw(st.integers(0, 9)) == 0:
        headers[0] = ("Content-Type", f"multipart/{subtype}")  # no boundary
    children = draw(st.lists(mime_trees(depth - 1), max_size=4))
    return Part(
        headers=headers,
        children=children,
        boundary=boundary,
        preamble=draw(st.sampled_from([b"", b"This is a multi-part message.\r\n"])),
        epilogue=draw(st.sampled_from([b"", b"epilogue\r\n", b"--\r\n"])),
        close=draw(st.integers(0, 5)) > 0,
    )


def render_part(part: Part) -> tuple[list[tuple[str, str]], bytes]:
    """(the part's headers, its body bytes)."""
    if part.message is not None:
        return part.headers, part.message
    if part.boundary is None:
        return part.headers, part.body
    b = part.boundary.encode("utf-8", "surrogateescape")
    out = [part.preamble]
    for child in part.children:
        headers, body = render_part(child)
        out.append(b"--" + b + b"\r\n" + render_block(headers) + body + b"\r\n")
    if part.close:
        out.append(b"--" + b + b"--\r\n" + part.epilogue)
    return part.headers, b"".join(out)


def render_message(
    fields: list[tuple[str, str]], tree: Part | None, layout: Layout | None = None
) -> bytes:
    headers, body = render_part(tree) if tree is not None else ([], b"Hello.\r\n")
    all_fields = fields + headers
    if layout is not None and len(layout.cases) != len(all_fields):
        raise ValueError("layout is for other fields")
    return render_block(all_fields, layout) + body


@st.composite
def emails(draw: st.DrawFn, depth: int = 3) -> bytes:
    """A whole message: hostile headers, a MIME tree, any line ends and folding."""
    fields = draw(header_lists())
    if draw(st.booleans()):
        fields.insert(0, ("From", draw(address_lists())))
    tree = draw(mime_trees(depth))
    mime_headers, _ = render_part(tree)
    raw = render_message(fields, tree, draw(layouts(fields + mime_headers)))
    if draw(st.integers(0, 9)) == 0:
        raw = b"From sender@example.com Mon Jan  1 00:00:00 2024\n" + raw  # mbox line
    return raw


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    """A generated message with a few bytes inserted, deleted or replaced."""
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.integers(0, 2))
        chunk = draw(
            st.one_of(
                st.binary(min_size=1, max_size=4),
                st.sampled_from([b"\r", b"\n", b"\r\n\r\n", b"--", b"=?", b"?=", b":", b"\x00"]),
            )
        )
        if op == 0:
            data[at:at] = chunk
        elif op == 1:
            del data[at : at + len(chunk)]
        else:
            data[at : at + len(chunk)] = chunk
    return bytes(data)


def any_email() -> st.SearchStrategy[bytes]:
    """Generated messages, damaged ones, header blocks alone and plain bytes."""
    return st.one_of(
        emails(),
        mutated(emails(depth=2)),
        header_blocks(),
        st.binary(max_size=300),
    )


# ---------------------------------------------------------------------------------------------
# SMS gateway payloads

# lone surrogates and other text JSON can carry that UTF-8 cannot
sms_chars = st.one_of(
    st.characters(),  # (no surrogates: hypothesis leaves category Cs out by default)
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.sampled_from(C0 + BIDI + INVISIBLE + tuple(c for c in NEWLINES if len(c) == 1)),
)
sms_text = st.text(alphabet=sms_chars, max_size=40)
phones = st.one_of(
    st.sampled_from(["+447700900123", "07700 900456", "+1 (555) 010-9999", "", " ", "12345"]),
    st.from_regex(r"\+?[0-9 ()-]{3,16}", fullmatch=True),
    sms_text,
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    sms_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(sms_text, inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def text_or_junk(draw: st.DrawFn, good: st.SearchStrategy[Any] = sms_text) -> Any:
    """Mostly a value of the right kind, sometimes any JSON value."""
    return draw(good) if draw(st.integers(0, 5)) else draw(json_values)


@st.composite
def damaged(draw: st.DrawFn, doc: Any, depth: int = 0) -> Any:
    """The document with, now and then, a key dropped, a value replaced or a key added."""
    if depth > 6:
        return doc
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for k, v in doc.items():
            roll = draw(st.integers(0, 19))
            if roll == 0:
                continue  # dropped
            out[k] = draw(json_values) if roll == 1 else draw(damaged(v, depth + 1))
        if draw(st.integers(0, 9)) == 0:
            out[draw(sms_text)] = draw(json_values)
        return out
    if isinstance(doc, list):
        return [draw(damaged(v, depth + 1)) for v in doc]
    return doc


@dataclass(frozen=True)
class SmsPayload:
    gateway: str  # twilio | telnyx | android-gateway | httpsms | generic
    body: bytes
    entry: int | None = None  # android-gateway: a batch entry read back from evidence

    def __repr__(self) -> str:  # a 100 KB body would fill the failure report
        body = repr(self.body)
        if len(self.body) > 400:
            body = f"{self.body[:200]!r} + ... + {self.body[-100:]!r}  # {len(self.body)} bytes"
        return f"SmsPayload({self.gateway!r}, {body}, entry={self.entry!r})"


def encode_json(draw: st.DrawFn, doc: Any) -> bytes:
    how = draw(st.integers(0, 9))
    if how == 0:
        return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if how == 1:
        return json.dumps(doc).encode("utf-16")  # json.loads reads UTF-16 and UTF-32 too
    if how == 2:
        return b"\xef\xbb\xbf" + json.dumps(doc).encode()  # a UTF-8 byte order mark
    return json.dumps(doc).encode()  # \ud800 escapes for lone surrogates


@st.composite
def nested_json(draw: st.DrawFn) -> bytes:
    """Deeply nested JSON (a parser's recursion limit), alone or inside a field."""
    depth = draw(st.sampled_from([50, 2_000, 100_000]))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    deep = opener * depth + "1" + closer * depth
    where = draw(st.integers(0, 2))
    if where == 0:
        return deep.encode()
    if where == 1:
        return json.dumps({"text": deep, "body": deep, "id": "1", "from": "+1"}).encode()
    return (opener * depth).encode()  # unclosed


def _twilio_form(draw: st.DrawFn) -> bytes:
    form: list[tuple[str, str]] = []
    for key, strat in (
        ("MessageSid", st.one_of(st.just("SM" + "a" * 32), sms_text)),
        ("SmsSid", sms_text),
        ("AccountSid", st.one_of(st.just("AC" + "b" * 32), sms_text)),
        ("From", phones),
        ("To", phones),
        ("Body", sms_text),
        ("NumMedia", st.one_of(st.integers(-3, 20).map(str), sms_text, st.just("9" * 5000))),
        ("MediaUrl0", sms_text),
        ("MediaUrl1", sms_text),
    ):
        if draw(st.integers(0, 5)):
            form.append((key, draw(strat)))
    for _ in range(draw(st.integers(0, 2))):
        form.insert(draw(st.integers(0, len(form))), (draw(sms_text), draw(sms_text)))
    encoded = urllib.parse.urlencode(
        [(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass")) for k, v in form]
    )
    if draw(st.integers(0, 7)) == 0:
        encoded += draw(st.sampled_from(["&%", "&%zz=1", "&=&&", ";a=b", "&a=%ff%fe", "&&&&"]))
    return encoded.encode()


def _telnyx_doc(draw: st.DrawFn) -> Any:
    event = draw(st.sampled_from(["message.received", "message.finalized", "x"]))
    payload = {
        "id": draw(text_or_junk()),
        "from": {"phone_number": draw(text_or_junk(phones))},
        "to": [{"phone_number": draw(text_or_junk(phones))}],
        "text": draw(text_or_junk()),
        "media": draw(st.one_of(st.lists(st.fixed_dictionaries({"url": sms_text})), json_values)),
        "received_at": draw(text_or_junk()),
    }
    return {"data": {"event_type": event, "occurred_at": draw(sms_text), "payload": payload}}


ANDROID_EVENTS = (
    "sms:received",
    "sms:data-received",
    "mms:received",
    "mms:downloaded",
    "sms:batch:received",
    "sms:batch:data-received",
    "mms:batch:received",
    "mms:batch:downloaded",
    "sms:sent",
    "system:ping",
    "x:new-event",
)


def _android_entry(draw: st.DrawFn, event: str) -> dict[str, Any]:
    p: dict[str, Any] = {"receivedAt": draw(text_or_junk()), "recipient": draw(text_or_junk())}
    p[draw(st.sampled_from(["sender", "phoneNumber"]))] = draw(text_or_junk(phones))
    if "data-received" in event:
        raw = draw(st.binary(max_size=30))
        data = base64.b64encode(raw).decode()
        p["data"] = draw(st.one_of(st.just(data), st.just(data + "!"), json_values))
    elif "mms" in event:
        p.update(
            subject=draw(text_or_junk()),
            body=draw(text_or_junk()),
            transactionId=draw(text_or_junk()),
            messageId=draw(text_or_junk()),
            size=draw(json_values),
            contentClass=draw(json_values),
            attachments=draw(
                st.one_of(
                    st.lists(
                        st.fixed_dictionaries(
                            {"partId": json_values, "contentType": sms_text, "name": sms_text},
                            optional={"data": st.one_of(sms_text, json_values)},
                        ),
                        max_size=3,
                    ),
                    json_values,
                )
            ),
        )
    elif draw(st.booleans()):
        p["message"] = draw(text_or_junk())
    else:
        p["textMessage"] = {"text": draw(text_or_junk())}
    return p


def _android_doc(draw: st.DrawFn) -> Any:
    event = draw(st.sampled_from(ANDROID_EVENTS))
    if "batch" in event:
        entries = [_android_entry(draw, event) for _ in range(draw(st.integers(0, 3)))]
        repeat = draw(st.booleans())
        if entries and repeat:
            entries.append(entries[0])  # a repeated entry
        payload: Any = {"messages": entries}
    else:
        payload = _android_entry(draw, event)
    return {
        "event": event,
        "deviceId": draw(text_or_junk()),
        "id": draw(sms_text),
        "webhookId": draw(sms_text),
        "payload": payload,
    }


def _httpsms_doc(draw: st.DrawFn) -> Any:
    return {
        "type": draw(st.sampled_from(["message.phone.received", "message.phone.sent", "x"])),
        "time": draw(text_or_junk()),
        "data": {
            "message_id": draw(text_or_junk()),
            "contact": draw(text_or_junk(phones)),
            "owner": draw(text_or_junk(phones)),
            "content": draw(text_or_junk()),
            "timestamp": draw(text_or_junk()),
            "attachments": draw(st.one_of(st.lists(sms_text, max_size=3), json_values)),
        },
    }


def _generic_doc(draw: st.DrawFn) -> Any:
    return {
        "id": draw(text_or_junk()),
        "from": draw(text_or_junk(phones)),
        "to": draw(text_or_junk(phones)),
        "text": draw(text_or_junk()),
        "sent_at": draw(text_or_junk()),
        "media": draw(st.one_of(st.lists(sms_text, max_size=3), json_values)),
    }


GATEWAYS = ("twilio", "telnyx", "android-gateway", "httpsms", "generic")
_DOCS = {
    "telnyx": _telnyx_doc,
    "android-gateway": _android_doc,
    "httpsms": _httpsms_doc,
    "generic": _generic_doc,
}


@st.composite
def sms_payloads(draw: st.DrawFn, gateways: tuple[str, ...] = GATEWAYS) -> SmsPayload:
    """One webhook request body for one of ``gateways``: its usual shape, damaged now and then,
    or deep nesting, or plain bytes."""
    gw = draw(st.sampled_from(gateways))
    entry = draw(st.one_of(st.none(), st.integers(-1, 4))) if gw == "android-gateway" else None
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return SmsPayload(gw, draw(st.binary(max_size=200)), entry)
    if kind == 1:
        return SmsPayload(gw, draw(nested_json()), entry)
    if kind == 2:
        return SmsPayload(gw, encode_json(draw, draw(json_values)), entry)
    if gw == "twilio":
        return SmsPayload(gw, _twilio_form(draw), entry)
    doc = _DOCS[gw](draw)
    if draw(st.booleans()):
        doc = draw(damaged(doc))
    return SmsPayload(gw, encode_json(draw, doc), entry)
