"""The cheap readers give exactly the facts the strict parser gives.

``reference_facts`` below is the full-parse reading (``email.policy.default`` for everything), as
facts_from_email did it before the cheap path existed. Every message here, hand-written or
generated, must read the same both ways; the hand-written ones also check which path read them,
so a reader that silently stopped being used would fail too.
"""

from __future__ import annotations

import base64
import html
import quopri
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nocontact import decoding
from nocontact.matching.facts import (
    MAX_TEXT,
    Facts,
    Party,
    _stray_senders,
    address_tokens,
    facts_from_email,
)
from nocontact.matching.mime import light_message
from nocontact.matching.simple import mailbox, simple_message, split_headers

_TAG = re.compile(r"<[^>]*>")
_SIGNALS = (("from", "From"), ("sender", "Sender"), ("reply_to", "Reply-To"))


def _text(value: str | None) -> str | None:
    if not value:
        return None
    return decoding.visible(decoding.raw_utf8(value).text) or None


def _reference_parties(msg: EmailMessage, header: str, signal: str) -> list[Party]:
    out: list[Party] = []
    mine = [(k, v) for k, v in msg.raw_items() if k.lower() == header.lower()]
    for name, raw in mine:
        parsed: set[str] = set()
        names = ""
        value = raw.replace("\r", "").replace("\n", "")
        try:
            for a in policy.default.header_factory(name, value).addresses:
                addr = _text(a.addr_spec)
                parsed.add(addr or "")
                names += " " + (_text(a.display_name) or "")
                out.append(Party(signal, address=addr, display_name=_text(a.display_name)))
        except Exception:
            words = decoding.header(value).text
            out.append(Party(signal=signal, display_name=words or None))
        in_names = set(address_tokens(names))
        seen_raw = " ".join(v for _, v in mine)
        for token in address_tokens(decoding.raw_utf8(seen_raw).text):
            if token not in parsed and token not in in_names:
                out.append(Party(f"{signal}_text", address=token))
                parsed.add(token)
    return out


def _reference_text(msg: EmailMessage) -> str:
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except (KeyError, LookupError, ValueError, TypeError):
        part = None
    if part is None:
        return ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    text = decoding.decode_bytes(payload[: MAX_TEXT * 4], part.get_content_charset()).text
    if part.get_content_subtype() == "html":
        text = html.unescape(_TAG.sub(" ", text))
    return text[:MAX_TEXT]


def reference_facts(raw: bytes, envelope_from: str | None = None) -> Facts:
    notes: list[str] = []
    parties: list[Party] = []
    text = ""
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(msg, EmailMessage)
        for signal, header in _SIGNALS:
            try:
                parties += _reference_parties(msg, header, signal)
            except Exception:
                notes.append(f"unreadable {header} header")
        try:
            rp = msg.get("Return-Path")
            if rp is not None:
                rp = policy.default.header_factory("sender", str(rp))
                parties += [
                    Party("return_path", _text(a.addr_spec)) for a in rp.addresses if a.addr_spec
                ]
        except Exception:
            notes.append("unreadable Return-Path header")
        subject = ""
        for name, value in msg.raw_items():
            if name.lower() == "subject":
                subject = decoding.header(
                    value.replace("\r", "").replace("\n", ""), limit=MAX_TEXT
                ).text
                break
        try:
            text = (subject + "\n" + _reference_text(msg))[:MAX_TEXT]
        except Exception:
            notes.append("unreadable body")
        if msg.defects:
            notes.append(f"{len(msg.defects)} MIME defects")
    except Exception:
        notes.append("unparseable message")
    known = {p.address for p in parties if p.address}
    for p in parties:
        known.update(address_tokens(p.display_name or ""))
    parties += _stray_senders(raw, known)  # the same step after either reading
    if envelope_from:
        parties.append(Party("envelope_from", envelope_from))
    return Facts(parties=tuple(parties), text=text, notes=tuple(notes))


def msg(*headers: str, body: bytes = b"Hello.\r\n", nl: str = "\r\n") -> bytes:
    return (nl.join(headers) + nl + nl).encode("utf-8", "surrogateescape") + body


B64 = base64.b64encode("Grüße von Jon Smith, ring +44 7700 900123".encode()).decode()
QP = quopri.encodestring("Café: jon.smith@gmail.com=\nnext".encode()).decode()

# (message, read by the cheap path?)
CASES: list[tuple[bytes, bool]] = [
    (msg("From: Someone <a@b.example>", "Subject: hi"), True),
    (msg("From: a@b.example", "Subject: hi", nl="\n"), True),
    (msg("From: <a@b.example>", "Return-Path: <bounce@b.example>"), True),
    (msg('From: "Smith, Jon" <a@b.example>'), True),
    (msg('From: "jon.smith@gmail.com" <random@example.com>'), True),
    (msg("From: Jon  \t Smith   <a@b.example>  "), True),
    (msg("From: Someone\r\n <a@b.example>", "Subject: folded\r\n\tsubject"), True),
    (msg("FROM: a@b.example", "reply-to: Jon <jon.smith@gmail.com>"), True),
    (msg("From: a@b.example", "From: Jon <jon.smith@gmail.com>"), True),
    (msg("From: a@b.example", "Sender: x@y.example", "Reply-To: z@w.example"), True),
    (msg("From: a@b.example", "Subject: a (comment) and  spaces  "), True),
    (msg("From: a@b.example", "Content-Type: text/plain; charset=iso-8859-1"), True),
    (msg("From: a@b.example", 'Content-Type: TEXT/HTML; charset="UTF-8"; format=flowed'), True),
    (msg("From: a@b.example", "Content-Type: text/plain; charset=no-such-charset"), True),
    (msg("From: a@b.example", 'Content-Type: text/plain; charset=""'), True),
    (
        msg(
            "From: a@b.example",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            body=(B64 + "\r\n").encode(),
        ),
        True,
    ),
    (
        msg(
            "From: a@b.example",
            "Content-Transfer-Encoding: base64",
            body=b"SGVsbG8sIEpvbg\r\n",  # padding left off: one defect
        ),
        True,
    ),
    (
        msg("From: a@b.example", "Content-Transfer-Encoding: Quoted-Printable", body=QP.encode()),
        True,
    ),
    (
        msg(
            "From: a@b.example",
            "Content-Type: text/html",
            body=b"<p>Jon &amp; <b>Smith</b></p>",
        ),
        True,
    ),
    (msg("From: a@b.example", body="Grüße ".encode("latin-1")), True),
    (msg("From: a@b.example", body=b""), True),
    # odd sender headers: the message is simple, the header goes to the strict parser
    (msg("From: =?utf-8?q?J=C3=B6n?= <a@b.example>"), True),
    (msg("From: a@b.example", "Subject: =?utf-8?b?SsO2bg==?="), True),
    (msg("From: J\u00f6n <a@b.example>"), True),
    (msg("From: Jon (comment) <a@b.example>"), True),
    (msg("From: Jon Q. Public <a@b.example>"), True),
    (msg('From: "a\\"b" <a@b.example>'), True),
    (msg("From: a@b.example, jon.smith@gmail.com"), True),
    (msg("From: undisclosed:;"), True),
    (msg("From: jon.smith@gmail.com@evil.example"), True),
    (msg("From: <jon.smith@gmail.com>evil@example.com"), True),
    (msg('From: "jon.smith@gmail.com\\" <x@y.example>'), True),
    (msg("From: Jon <a@[127.0.0.1]>"), True),
    (msg("Return-Path: <>", "From: a@b.example"), True),
    # everything below goes to the full parser
    (msg("From a@b.example Thu Nov 26 05:00:00 2026", "From: a@b.example"), False),
    (msg(" folded-first: x", "From: a@b.example"), False),
    (msg("From: a@b.example", "Content-Type: multipart/alternative; boundary=x"), False),
    (msg("From: a@b.example", "Content-Type: text/plain; charset*=utf-8''x"), False),
    (msg("From: a@b.example", "Content-Type: text/plain;\r\n charset=utf-8"), False),
    (msg("From: a@b.example", "Content-Type: text/plain", "Content-Type: text/html"), False),
    (msg("From: a@b.example", "Content-Disposition: attachment; filename=x.txt"), False),
    (msg("From: a@b.example", "Content-Transfer-Encoding: base64 "), False),
    (msg("From: a@b.example", "Content-Transfer-Encoding: x-uuencode"), False),
    (msg("From: a@b.example", "Content-Transfer-Encoding: base64", body=b"!!! not b64 ==="), False),
    (b"From: a@b.example\rSubject: bare CR\r\n\r\nbody", False),
    (b"From: a@b.example\r\nNo colon here\r\n\r\nbody", False),
    (b"From: a@b.example\r\n", False),
    (b"\r\n\r\nno headers at all", False),
    (b"X-Empty:\r\n\t\r\nFrom: a@b.example\r\n\r\nbody", True),
    (b"From: a@b.example\n\r\nmixed line ends", True),
    (b"", False),
]


@pytest.mark.parametrize(("raw", "cheap"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_cheap_and_full_readings_give_the_same_facts(raw: bytes, cheap: bool) -> None:
    assert facts_from_email(raw) == reference_facts(raw)
    assert facts_from_email(raw, "env@x.example") == reference_facts(raw, "env@x.example")
    assert (simple_message(raw) is not None) == cheap


# (header value, a plain mailbox the cheap reader takes?)
MAILBOXES = [
    ("Someone <a@b.example>", True),
    ("a@b.example", True),
    ("<a@b.example>", True),
    ('"Smith, Jon" <a@b.example>', True),
    ('"jon.smith@gmail.com" <random@example.com>', True),
    ("Jon  \t Smith   <a@b.example>  ", True),
    ("x'y+tag@sub.b.example", True),
    ("=?utf-8?q?J=C3=B6n?= <a@b.example>", False),
    ("J\u00f6n <a@b.example>", False),
    ("Jon (comment) <a@b.example>", False),
    ("Jon Q. Public <a@b.example>", False),
    ('"a\\"b" <a@b.example>', False),
    ("a@b.example, jon.smith@gmail.com", False),
    ("undisclosed:;", False),
    ("jon.smith@gmail.com@evil.example", False),
    ("<jon.smith@gmail.com>evil@example.com", False),
    ("jon.smith@gmail.com <evil@example.com>", False),
    ('"jon.smith@gmail.com\\" <x@y.example>', False),
    ("Jon <a@[127.0.0.1]>", False),
    ("Jon <a..b@c.example>", False),
    ("<>", False),
]


@pytest.mark.parametrize(("value", "cheap"), MAILBOXES)
def test_only_plain_mailboxes_skip_the_strict_parser(value: str, cheap: bool) -> None:
    found = mailbox(value)
    assert (found is not None) == cheap
    if found is not None:
        header = policy.default.header_factory("From", value)
        assert [(a.display_name, a.addr_spec) for a in header.addresses] == [found]
    raw = msg(f"From: {value}")
    assert facts_from_email(raw) == reference_facts(raw)


def test_the_header_split_is_the_parsers_own() -> None:
    for raw, cheap in CASES:
        split = split_headers(raw)
        if cheap:
            assert split is not None
            parsed = BytesParser(policy=policy.default).parsebytes(raw)
            assert split[0] == list(parsed.raw_items())


def test_malformed_sample_reads_the_same(data_dir: object = None) -> None:
    from pathlib import Path

    raw = (Path(__file__).parents[1] / "data" / "imap" / "malformed.eml").read_bytes()
    assert facts_from_email(raw) == reference_facts(raw)


# -- generated messages ---------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        "Jon",
        "Smith",
        " ",
        "  ",
        "\t",
        "\r\n ",
        '"',
        '"Smith, Jon"',
        "\\",
        "<",
        ">",
        "@",
        ",",
        ";",
        ":",
        ".",
        "(",
        ")",
        "[",
        "]",
        "=?utf-8?q?J=C3=B6n?=",
        "=?",
        "?=",
        "jon.smith@gmail.com",
        "a@b.example",
        "<a@b.example>",
        "x'y@z.example",
        "J\udcc3\udcb6n",
        "\udcff",
        "é",
    ]
)
_VALUE = st.lists(_PIECES, max_size=8).map("".join)
_NAME = st.sampled_from(
    [
        "From",
        "from",
        "Sender",
        "Reply-To",
        "Return-Path",
        "Subject",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "X-Other",
    ]
)
_CTYPE = st.sampled_from(
    [
        "text/plain",
        "text/html",
        "TEXT/Plain; charset=UTF-8",
        'text/plain; charset="iso-8859-1"',
        "text/plain; charset=bogus",
        "text/plain; format=flowed; charset=utf-8",
        'text/html; charset="";',
        "text/plain ; charset=utf-8",
        "text/plain; charset=utf-8; charset=latin-1",
        'text/plain; name="a;b"; charset=utf-8',
        "multipart/mixed; boundary=x",
        "text/x-other",
        "text/plain; charset*=utf-8''x",
    ]
)
_CTE = st.sampled_from(["7bit", "8BIT", "base64", "quoted-printable", "binary", "x-bogus", ""])
_BODY = st.sampled_from(
    [
        b"Hello.\r\n",
        b"",
        b"Call Jon Smith on +44 7700 900123\r\n",
        base64.b64encode("Grüße, Jon".encode()) + b"\r\n",
        base64.b64encode(b"abcd")[:-1],
        b"SGVsbG8=\r\nIQ==",
        b"not base64!!",
        b"caf=C3=A9 =\r\nsoft break =ZZ",
        b"<p>Jon &amp; <br>Smith</p>",
        "Grüße".encode("latin-1"),
        b"line\rbare cr",
    ]
)


_ODD_LINE = st.sampled_from(
    [
        "",
        "",
        "",
        "",
        " leading continuation",
        "From a@b.example Thu",
        ":no name",
        "No colon",
        "Bad Name: v",
        "X-Bare: a\rb",
        "X-Empty:",
        "\tx",
    ]
)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    headers: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        odd = draw(_ODD_LINE)
        if odd:
            headers.append(odd)
            continue
        name = draw(_NAME)
        if name == "Content-Type":
            value = draw(_CTYPE)
        elif name == "Content-Transfer-Encoding":
            value = draw(_CTE)
        else:
            value = draw(_VALUE)
        headers.append(f"{name}:{draw(st.sampled_from(['', ' ', '  ', chr(9)]))}{value}")
    nl = draw(st.sampled_from(["\r\n", "\n"]))
    head = nl.join(h.replace("\r\n", nl) for h in headers)
    return (head + nl + nl).encode("utf-8", "surrogateescape") + draw(_BODY)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
@example(msg("From: Jon <a@b.example>", "Content-Transfer-Encoding: base64", body=b"SGk"))
def test_generated_messages_read_the_same_both_ways(raw: bytes) -> None:
    assert facts_from_email(raw) == reference_facts(raw)


_ATOM = st.text("abcXYZ019!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=4)
_SPACE = st.sampled_from(["", " ", "  ", "\t", " \t "])
_ODD = st.sampled_from(
    ["", "", "", ".", "..", "@", ",", '"', "\\", "(", ")", "<", ">", "[", ":", "é"]
)


@st.composite
def near_mailboxes(draw: st.DrawFn) -> str:
    """Plain mailboxes, and ones a single odd character away from plain."""
    local = ".".join(draw(st.lists(_ATOM, min_size=1, max_size=3)))
    domain = ".".join(draw(st.lists(_ATOM, min_size=1, max_size=3)))
    addr = local + draw(_ODD) + "@" + domain
    shape = draw(st.sampled_from(["bare", "angle", "phrase", "quoted"]))
    if shape == "bare":
        value = addr
    elif shape == "angle":
        value = f"<{addr}>"
    elif shape == "phrase":
        words = draw(st.lists(_ATOM, min_size=1, max_size=3))
        value = draw(_SPACE).join(words) + draw(_ODD) + draw(_SPACE) + f"<{addr}>"
    else:
        inner = draw(st.text("ab ,.@<>()\t:;[]=?", max_size=8)) + draw(_ODD)
        value = f'"{inner}"{draw(_SPACE)}<{addr}>'
    return draw(_SPACE) + value + draw(_SPACE) + draw(_ODD)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(near_mailboxes(), _VALUE))
def test_a_plain_mailbox_reads_as_the_strict_parser_reads_it(value: str) -> None:
    raw = msg(f"From: {value}", f"Reply-To: {value}", f"Return-Path: {value}")
    assert facts_from_email(raw) == reference_facts(raw)
    found = mailbox(value)
    if found is not None:
        header = policy.default.header_factory("From", value)
        assert [(a.display_name, a.addr_spec) for a in header.addresses] == [found]
        assert not header.defects


# -- MIME mail: the lighter parse (policy.compat32 + plain structure headers) ----------------


def mime(*parts: str, ctype: str = 'multipart/alternative; boundary="b1"', end: str = "") -> bytes:
    head = f"From: Jon <jon@example.org>\r\nSubject: hi\r\nContent-Type: {ctype}\r\n\r\n"
    body = "".join(f"--b1\r\n{p}\r\n" for p in parts) + (end if end else "--b1--\r\n")
    return (head + body).encode("utf-8", "surrogateescape")


PLAIN = "Content-Type: text/plain; charset=utf-8\r\n\r\nCall Jon Smith"
HTML = "Content-Type: text/html\r\n\r\n<p>jon.smith@gmail.com</p>"
# (message, read by the lighter parse?)
MIME_CASES: list[tuple[bytes, bool]] = [
    (mime(PLAIN, HTML), True),
    (mime(HTML, PLAIN), True),
    (mime(HTML), True),
    (mime(PLAIN, HTML, ctype='multipart/alternative;\r\n\tboundary="b1"'), True),
    (mime(PLAIN, HTML, ctype="multipart/mixed; boundary=b1"), True),
    (mime("Content-Disposition: attachment; filename=a.txt\r\n" + PLAIN, HTML), True),
    (mime("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nSGk"), True),
    (mime("Content-Type: application/pdf\r\n\r\nxx", HTML), True),
    (mime(PLAIN, end="--b1\r\nno close boundary"), True),
    (mime(PLAIN, end=""), True),
    (b"From: a@b.example\r\nContent-Type: text/plain;\r\n charset=utf-8\r\n\r\nHi", True),
    (mime(PLAIN, ctype='multipart/related; boundary="b1"'), False),
    (mime(PLAIN, ctype='multipart/digest; boundary="b1"'), False),
    (mime("Content-Type: message/rfc822\r\n\r\nFrom: x@y.example\r\n\r\nhi"), False),
    (mime("Content-Type: text/plain; charset*=utf-8''x\r\n\r\nhi"), False),
    (mime("Content-Type: text/plain (comment)\r\n\r\nhi"), False),
    (mime("Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\nhi"), False),
    (mime('Content-Type: text/plain; name="a\r\n b"\r\n\r\nhi'), False),
]


@pytest.mark.parametrize(("raw", "light"), MIME_CASES, ids=[str(i) for i in range(len(MIME_CASES))])
def test_mime_mail_reads_the_same_by_the_lighter_parse(raw: bytes, light: bool) -> None:
    assert facts_from_email(raw) == reference_facts(raw)
    assert (light_message(raw) is not None) == light


_PART_TYPES = st.sampled_from(
    [
        "text/plain",
        "text/plain; charset=utf-8",
        'text/plain; charset="bogus"',
        "text/html; charset=iso-8859-1",
        "TEXT/HTML",
        "application/octet-stream",
        "image/png; name=x.png",
        "text/x-other",
        "message/rfc822",
        "text/plain;\r\n charset=utf-8",
        "text/plain; charset*=utf-8''x",
        "",
    ]
)
_DISPOSITIONS = st.sampled_from(
    ["", "", "inline", "attachment", "ATTACHMENT; filename=a.txt", 'inline; filename="a;b"', "x y"]
)
_PART_BODIES = st.sampled_from(
    [b"Call Jon Smith", b"<b>jon.smith@gmail.com</b>", b"SGVsbG8", "Gr\u00fc\u00dfe".encode(), b""]
)


@st.composite
def mime_trees(draw: st.DrawFn, depth: int = 0) -> str:
    boundary = f"b{depth}{draw(st.sampled_from(['', 'x', '=_q']))}"
    subtype = draw(st.sampled_from(["alternative", "mixed", "mixed", "related"]))
    quoted = draw(st.booleans())
    b = f'"{boundary}"' if quoted or "=" in boundary else boundary
    sep = draw(st.sampled_from(["; ", ";\r\n\t"]))
    lines = [f"Content-Type: multipart/{subtype}{sep}boundary={b}", ""]
    if draw(st.booleans()):
        lines.append("preamble")
    for _ in range(draw(st.integers(0, 3))):
        lines.append(f"--{boundary}{draw(st.sampled_from(['', ' ', 'junk']))}")
        if depth < 2 and draw(st.integers(0, 4)) == 0:
            lines.append(draw(mime_trees(depth + 1)))
            continue
        ctype, disp = draw(_PART_TYPES), draw(_DISPOSITIONS)
        cte = draw(st.sampled_from(["", "", "base64", "quoted-printable", "8bit", "bogus"]))
        for name, value in (("Content-Type", ctype), ("Content-Disposition", disp)):
            if value:
                lines.append(f"{name}: {value}")
        if cte:
            lines.append(f"Content-Transfer-Encoding: {cte}")
        lines += ["", draw(_PART_BODIES).decode("utf-8", "surrogateescape")]
    if draw(st.integers(0, 3)):
        lines.append(f"--{boundary}--")
    return "\r\n".join(lines)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mime_trees())
def test_generated_mime_mail_reads_the_same_both_ways(tree: str) -> None:
    raw = ("From: Jon <jon@example.org>\r\nSubject: hi\r\n" + tree + "\r\n").encode(
        "utf-8", "surrogateescape"
    )
    assert facts_from_email(raw) == reference_facts(raw)
