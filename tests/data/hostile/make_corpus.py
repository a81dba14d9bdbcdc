"""Make the hostile corpus: emails and SMS webhook requests whose every byte an abuser chose.

What it makes (all under ``tests/data/hostile/``):

- ``email/<NN>-<slug>.eml``: the raw bytes of one email each. Every one names the listed
  abuser's address ``jordan@example.org`` among its From addresses, in some hostile form, so
  every one must be kept (``"expect": "kept"``): no form may let a listed sender slip through.
- ``sms/<NN>-<slug>.json``: one SMS webhook request each, as
  ``{"gateway", "content_type", "body_base64", "expect", "note"}``; ``gateway`` is one of
  ``twilio``, ``telnyx``, ``android_gateway``, ``httpsms``, ``generic`` and ``body_base64`` is
  the exact request body. Requests are NOT signed: the tests sign the body with the gateway's
  scheme at test time (Twilio signs the form fields, so sign over
  ``urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)``, duplicates included; a body
  that is not UTF-8 cannot be signed and is refused whatever the signature). ``expect`` is
  ``kept`` (the text from +447700900123 is sealed in the vault), ``refused`` (a 4xx answer,
  nothing stored: no usable sender, not a valid request of that gateway, or over the body limit)
  or ``not_kept`` (a 2xx, nothing stored: an absurd sender that is not listed, and a text that
  mentions nobody listed).
- ``index.json``: ``[{"file", "kind", "expect", "note"}, ...]`` for every item, sorted by file.

The household under test lists ONE abuser: name "Jordan Reed", email ``jordan@example.org``,
phone ``+447700900123``, alias "Jordan Reed", with ``default_region = "GB"``.

The placeholder host ``CANARY`` appears literally (always in plain ASCII, never inside base64
or UTF-16) in URLs of the hostile HTML (``http://CANARY/img.gif``): the tests replace the bytes
``CANARY`` with a loopback ``host:port`` they listen on before sending, and fail if anything
ever fetches from it (a remote image loaded tells the sender the message was opened).

Why: intake, matching, the vault, the web pages and the exports must survive anything an
adversary can send, and never lose a message from a listed sender because it is malformed.

How to run (from the repository root)::

    python tests/data/hostile/make_corpus.py          # rewrites the files (and removes stale ones)
    python tests/data/hostile/make_corpus.py --check  # exits 1 naming every file that differs

The output is deterministic byte for byte: no clocks, no randomness except ``random.Random``
with fixed seeds. Only the standard library is used.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

HERE = Path(__file__).resolve().parent
JORDAN = b"jordan@example.org"
PHONE = "+447700900123"
STRANGER = "+447700900999"  # not listed
TO_PHONE = "+447700900500"
TO = b"To: Sam <sam@example.net>"
DATE = b"Date: Thu, 01 Jan 2026 10:00:00 +0000"
CRLF = b"\r\n"
ANDROID_LIMIT = 16 * 1024 * 1024  # android_gateway.MAX_BODY_BYTES
DEFAULT_LIMIT = 256 * 1024  # Gateway.max_body_bytes for every other gateway


@dataclass(frozen=True)
class Item:
    kind: str  # email | sms
    slug: str
    expect: str
    note: str
    make: Callable[[], bytes]  # the file's bytes


EMAILS: list[Item] = []
SMS: list[Item] = []
Maker = Callable[[], bytes]


def email(slug: str, note: str) -> Callable[[Maker], Maker]:
    def register(fn: Maker) -> Maker:
        EMAILS.append(Item("email", slug, "kept", note, fn))
        return fn

    return register


def sms(
    slug: str, gateway: str, expect: str, note: str, content_type: str | None = None
) -> Callable[[Maker], Maker]:
    if content_type is None:
        content_type = (
            "application/x-www-form-urlencoded" if gateway == "twilio" else "application/json"
        )

    def register(fn: Maker) -> Maker:
        def make() -> bytes:
            doc = {
                "gateway": gateway,
                "content_type": content_type,
                "body_base64": base64.b64encode(fn()).decode(),
                "expect": expect,
                "note": note,
            }
            return (json.dumps(doc, indent=2, ensure_ascii=True) + "\n").encode()

        SMS.append(Item("sms", slug, expect, note, make))
        return fn

    return register


# ---------------------------------------------------------------------------------------------
# email helpers


def mail(*headers: bytes, body: bytes = b"", eol: bytes = CRLF) -> bytes:
    """A message from header lines (each without its line end) and a body (as given)."""
    return eol.join(headers) + eol + eol + body


def plain(charset: str = "utf-8") -> list[bytes]:
    return [
        b"MIME-Version: 1.0",
        b"Content-Type: text/plain; charset=" + charset.encode(),
        b"Content-Transfer-Encoding: 8bit",
    ]


def mid(n: str) -> bytes:
    return b"Message-ID: <hostile-" + n.encode() + b"@example.org>"


def multipart(boundary: bytes, parts: list[bytes]) -> bytes:
    """The body of a multipart entity; each part is its own headers + blank line + body."""
    out = b"This is a multi-part message in MIME format.\r\n"
    for p in parts:
        out += b"\r\n--" + boundary + b"\r\n" + p
    return out + b"\r\n--" + boundary + b"--\r\n"


def part(ctype: bytes, body: bytes, *extra: bytes) -> bytes:
    return b"Content-Type: " + ctype + CRLF + b"".join(e + CRLF for e in extra) + CRLF + body


def mp_headers(boundary: bytes, subtype: bytes = b"mixed") -> list[bytes]:
    return [
        b"MIME-Version: 1.0",
        b"Content-Type: multipart/" + subtype + b'; boundary="' + boundary + b'"',
    ]


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", CRLF)


def attachment(filename_params: bytes, body: bytes = b"SGVsbG8=\r\n") -> bytes:
    return (
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; " + filename_params + b"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + body
    )


FROM = b"From: Jordan Reed <jordan@example.org>"
BASIC = [DATE, TO, b"Subject: answer me"]


def simple(n: str, *headers: bytes, body: bytes = b"hello\r\n") -> bytes:
    """Jordan's plain message with ``headers`` (MIME ones included) in place of text/plain."""
    return mail(FROM, *BASIC, mid(n), *(headers or plain()), body=body)


# ---------------------------------------------------------------------------------------------
# emails: 8-bit and broken encodings in headers


@email("utf8-raw-from", "raw UTF-8 in From display name and Subject (RFC 6532, unencoded)")
def _() -> bytes:
    return mail(
        "From: Jördan Rééd <jordan@example.org>".encode(),
        TO,
        DATE,
        "Subject: Ça va? Всё хорошо? 你好 🙂".encode(),
        mid("utf8-raw-from"),
        *plain(),
        body="Réponds-moi. Ответь мне.\r\n".encode(),
    )


@email("latin1-raw-from", "raw latin-1 bytes (not UTF-8) in From display name and Subject")
def _() -> bytes:
    return mail(
        b"From: J\xf6rdan R\xe9\xe9d <jordan@example.org>",
        TO,
        DATE,
        b"Subject: R\xe9ponds-moi \xa9 \xff",
        mid("latin1-raw-from"),
        *plain("iso-8859-1"),
        body=b"R\xe9ponds-moi.\r\n",
    )


@email("shiftjis-raw-from", "raw Shift-JIS bytes in From display name, Subject and body")
def _() -> bytes:
    return mail(
        b"From: " + "ジョーダン".encode("shift_jis") + b" <jordan@example.org>",
        TO,
        DATE,
        b"Subject: " + "返事をしてください".encode("shift_jis"),
        mid("shiftjis-raw-from"),
        *plain("shift_jis"),
        body="お願いします。\r\n".encode("shift_jis"),
    )


@email(
    "shiftjis-backslash-in-quoted-name",
    "Shift-JIS 'ソ' is 0x83 0x5C: its second byte is a backslash that escapes the closing quote"
    " of the display name, so a naive reading swallows the address into the name",
)
def _() -> bytes:
    return mail(
        b'From: "' + "ソ".encode("shift_jis") + b'" <jordan@example.org>',
        TO,
        DATE,
        b"Subject: " + "ソ表".encode("shift_jis"),
        mid("sjis-backslash"),
        *plain("shift_jis"),
        body=b"...\r\n",
    )


@email(
    "invalid-utf8-in-quoted-name",
    "invalid UTF-8 (overlong, lone continuation, 0xFF, surrogate) in a quoted display name",
)
def _() -> bytes:
    return mail(
        b'From: "J\xc3\xb6rdan \xc0\xaf \x80\x80 \xff\xfe \xed\xa0\x80" <jordan@example.org>',
        TO,
        DATE,
        b"Subject: \xe2\x82 truncated sequence \xf4\x90\x80\x80 beyond U+10FFFF",
        mid("invalid-utf8-name"),
        *plain(),
        body=b"\xc3\x28 \xa0\xa1 \xf0\x28\x8c\xbc\r\n",
    )


@email(
    "encoded-word-unknown-charset",
    "RFC 2047 encoded words in an unknown charset (=?x-unknown?Q?...?=)",
)
def _() -> bytes:
    return mail(
        b"From: =?x-unknown?Q?J=F6rdan_R=E9ed?= <jordan@example.org>",
        TO,
        DATE,
        b"Subject: =?x-unknown?Q?=FF=FE_hello?= =?x-no-such?B?SGVsbG8=?=",
        mid("ew-unknown"),
        *plain(),
        body=b"hello\r\n",
    )


@email(
    "encoded-word-bad-base64",
    "encoded words whose base64 is invalid (=?utf-8?B?!!!?=) or misses its padding",
)
def _() -> bytes:
    return mail(
        b"From: =?utf-8?B?!!!?= =?utf-8?B?SsO2cmRhbg?= <jordan@example.org>",
        TO,
        DATE,
        b"Subject: =?utf-8?B?!!!?= =?utf-8?B?w6k===?= =?utf-8?B?=?=",
        mid("ew-bad-b64"),
        *plain(),
        body=b"hello\r\n",
    )


@email(
    "encoded-word-broken",
    "unterminated, empty, nested and mis-encoded encoded words, one spelling out the address",
)
def _() -> bytes:
    return mail(
        b"From: =?utf-8?q?broken= =?utf-8?Q?jordan=40example=2Eorg?= =??Q?x?= <jordan@example.org>",
        TO,
        DATE,
        b"Subject: =?utf-8?q?=E2=80?= =?utf-8?q?=ZZ=?= =?utf-8?=?utf-8?q?nested?=?= =?utf-8?X?x?=",
        mid("ew-broken"),
        *plain(),
        body=b"hello\r\n",
    )


@email(
    "encoded-word-in-addr-spec",
    "encoded words inside addresses themselves (not allowed), next to the real one",
)
def _() -> bytes:
    return mail(
        b"From: Jordan <=?utf-8?q?jordan?=@example.org>, =?utf-8?B?am9yZGFu?=@example.org,"
        b" jordan@example.org",
        TO,
        DATE,
        b"Subject: hello",
        mid("ew-addr"),
        *plain(),
        body=b"hello\r\n",
    )


# ---------------------------------------------------------------------------------------------
# emails: broken MIME


@email(
    "unknown-charset-content-type",
    "text/plain with charset=x-no-such-charset given twice, and 8-bit bytes",
)
def _() -> bytes:
    return simple(
        "unknown-charset",
        b"MIME-Version: 1.0",
        b'Content-Type: text/plain; charset="x-no-such-charset"; charset=utf-8',
        b"Content-Transfer-Encoding: 8bit",
        body=b"\xff\xfe\x00 R\xe9ponds \xe2\x80\xae\r\n",
    )


@email(
    "mislabelled-charsets",
    "multipart/alternative: us-ascii holding 8-bit, odd-length utf-16, utf-7 garbage, charset=",
)
def _() -> bytes:
    parts = [
        part(b"text/plain; charset=us-ascii", b"8 bit \xc3\xa9\xff\r\n"),
        part(b"text/plain; charset=utf-16", b"\x00a\x00b\x00"),
        part(b"text/plain; charset=utf-7", b"+ADw-script+AD4- +!!!- +\r\n"),
        part(b"text/html; charset=", b"<p>empty charset</p>\r\n"),
    ]
    return simple("mislabelled", *mp_headers(b"alt", b"alternative"), body=multipart(b"alt", parts))


@email(
    "invalid-quoted-printable",
    "quoted-printable with =ZZ, lone =, =4 at the end, lower-case hex and a 1,000-byte line",
)
def _() -> bytes:
    body = (
        b"bad =ZZ escape, =4\r\nlower =c3=a9 case, trailing =  \r\n"
        + b"x" * 1000
        + b"=\r\n=\r\n=E2=80=AE reversed =\r\n=\r\n=0"
    )
    return simple(
        "bad-qp",
        b"MIME-Version: 1.0",
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: quoted-printable",
        body=body,
    )


@email(
    "invalid-base64-chars",
    "a base64 body with characters outside the alphabet (!@#$, spaces, raw UTF-8, -_)",
)
def _() -> bytes:
    return simple(
        "bad-b64-chars",
        b"MIME-Version: 1.0",
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: base64",
        body=b"SGVsbG8g!!!@@@###$$$\r\nd29y bGQ=\r\n\xc3\xa9\xc3\xa9\r\n-_-_\r\n",
    )


@email(
    "invalid-base64-padding",
    "base64 with too much, too little and mid-stream padding, in a text part and an attachment",
)
def _() -> bytes:
    parts = [
        part(
            b"text/plain; charset=utf-8",
            b"SGVsbG8===\r\nSGVsbG8\r\nSG=VsbG8=\r\n=\r\n",
            b"Content-Transfer-Encoding: base64",
        ),
        attachment(b'filename="pad.bin"', b"QUJD=RA==\r\nQQ\r\n===="),
    ]
    return simple("bad-b64-pad", *mp_headers(b"pad"), body=multipart(b"pad", parts))


@email("multipart-nested-100", "multipart/mixed nested 100 levels deep, a text part at the bottom")
def _() -> bytes:
    inner = part(b"text/plain; charset=utf-8", b"at the bottom\r\n")
    for level in range(99, 0, -1):
        b = b"lvl%03d" % level
        inner = (
            b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n' + multipart(b, [inner])
        )
    return simple("nested-100", *mp_headers(b"lvl000"), body=multipart(b"lvl000", [inner]))


@email(
    "multipart-nested-same-boundary",
    "multipart nested 100 levels that all use one boundary (which end closes which?)",
)
def _() -> bytes:
    inner = part(b"text/plain; charset=utf-8", b"which level am I?\r\n")
    for _level in range(99):
        inner = b'Content-Type: multipart/mixed; boundary="same"\r\n\r\n' + multipart(
            b"same", [inner]
        )
    return simple("nested-same", *mp_headers(b"same"), body=multipart(b"same", [inner]))


@email("boundary-never-seen", "multipart/mixed declares a boundary the body never uses")
def _() -> bytes:
    return simple(
        "boundary-never",
        *mp_headers(b"never-appears"),
        body=b"--other\r\nContent-Type: text/plain\r\n\r\nhello\r\n--other--\r\n",
    )


@email("boundary-missing", "multipart/mixed with no boundary parameter at all")
def _() -> bytes:
    return simple(
        "boundary-missing",
        b"MIME-Version: 1.0",
        b"Content-Type: multipart/mixed",
        body=b"--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n--x--\r\n",
    )


@email(
    "boundary-empty-and-only-close",
    'boundary="" outside, and inside a multipart/alternative that has only its closing line',
)
def _() -> bytes:
    inner = (
        b'Content-Type: multipart/alternative; boundary="alt"\r\n\r\npreamble only\r\n--alt--\r\n'
    )
    return simple(
        "boundary-empty",
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary=""',
        body=b"--\r\n" + inner + b"\r\n----\r\n",
    )


@email(
    "content-type-garbage",
    "unparseable Content-Type, unknown and duplicate Content-Transfer-Encoding, base64 multipart",
)
def _() -> bytes:
    return simple(
        "ctype-garbage",
        b"MIME-Version: 1.0",
        b"MIME-Version: 9.9 (really)",
        b'Content-Type: ;;;===;;; "unterminated',
        b"Content-Type: multipart/mixed; boundary=b1",
        b"Content-Transfer-Encoding: x-garbage",
        b"Content-Transfer-Encoding: base64",
        body=b"--b1\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
        b"begin 644 x\r\n--b1--\r\n",
    )


# ---------------------------------------------------------------------------------------------
# emails: size


@email("subject-1mb-line", "a single Subject line of 1,048,576 bytes (no place to fold)")
def _() -> bytes:
    prefix = b"Subject: "
    subject = prefix + b"A" * (1_048_576 - len(prefix))
    assert len(subject) == 1_048_576
    return mail(FROM, TO, DATE, subject, mid("subject-1mb"), *plain(), body=b"hello\r\n")


def _addresses(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [b"user%05d@x%02d.example" % (i, rng.randrange(100)) for i in range(n)]


@email(
    "from-10000-addresses",
    "From lists 10,000 addresses, folded one a line; jordan is number 7,777, with his name",
)
def _() -> bytes:
    addrs = _addresses(10_000, 1)
    addrs[7776] = b"Jordan Reed <jordan@example.org>"
    return mail(
        b"From: " + b",\r\n ".join(addrs),
        TO,
        DATE,
        b"Subject: from all of us",
        mid("from-10000"),
        *plain(),
        body=b"hello\r\n",
    )


@email("to-10000-addresses", "To lists 10,000 addresses on one unfolded line; From is jordan")
def _() -> bytes:
    return mail(
        b"From: jordan@example.org",
        b"To: " + b", ".join(_addresses(10_000, 2)),
        DATE,
        b"Subject: to all of you",
        mid("to-10000"),
        *plain(),
        body=b"hello\r\n",
    )


@email("body-5mb", "a 5 MiB text/plain body (5,242,880 bytes)")
def _() -> bytes:
    size = 5 * 1024 * 1024
    line = b"%07d the quick brown fox jumps over the lazy dog; answer your phone.\r\n"
    count = size // len(line % 0) + 1
    body = b"".join(line % i for i in range(count))[:size]
    assert len(body) == size
    return simple("body-5mb", body=body)


@email("attachments-1000", "1,000 small attachments in one multipart/mixed")
def _() -> bytes:
    parts = [part(b"text/plain; charset=utf-8", b"see attached\r\n")]
    parts += [attachment(b'filename="f%04d.bin"' % i, b"AAAA%04d\r\n" % i) for i in range(1000)]
    return simple("attach-1000", *mp_headers(b"many"), body=multipart(b"many", parts))


# ---------------------------------------------------------------------------------------------
# emails: line ends and header structure


def _lines(eol: bytes) -> bytes:
    return mail(
        FROM,
        TO,
        DATE,
        b"Subject: line",
        b" ends",
        mid("eol-" + eol.hex()),
        *plain(),
        body=eol.join([b"one", b"two", b"three", b""]),
        eol=eol,
    )


@email("bare-lf", "every line ends in a bare LF")
def _() -> bytes:
    return _lines(b"\n")


@email("lone-cr", "every line ends in a lone CR (old Mac)")
def _() -> bytes:
    return _lines(b"\r")


@email("mixed-line-ends", "CRLF, LF and CR mixed in the headers, CRCRLF too in the body")
def _() -> bytes:
    return (
        b"Received: from x\n"
        b"From: Jordan Reed <jordan@example.org>\n"
        b"To: Sam <sam@example.net>\r"
        b"Subject: mixed\r\n"
        b" folded\r"
        b"\tfolded again\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\n"
        b"a\rb\nc\r\nd\r\r\ne\n\r"
    )


@email(
    "crcrlf-before-from",
    "CR CR LF ends the first header: a blank line to a parser that splits on CR, not to one "
    "that splits on LF (which sees From: jordan as a header)",
)
def _() -> bytes:
    return b"Received: from x\r\r\n" + simple("crcrlf")


@email("header-without-colon-after-from", "lines without a colon in the header block, after From")
def _() -> bytes:
    return mail(
        FROM,
        b"This line is not a header",
        TO,
        b"X-Nothing",
        DATE,
        b"Subject: colonless",
        *plain(),
        body=b"hello\r\n",
    )


@email(
    "header-without-colon-before-from",
    "a line without a colon before From: a strict parser ends the headers there",
)
def _() -> bytes:
    return mail(
        b"Received: from mx.example.org",
        b"This line is not a header",
        FROM,
        TO,
        DATE,
        b"Subject: colonless",
        *plain(),
        body=b"hello\r\n",
    )


@email("headers-only-no-blank-line", "only headers: no blank line and no body; ends with CRLF")
def _() -> bytes:
    return CRLF.join([FROM, TO, DATE, b"Subject: headers only", b""])


@email(
    "headers-only-no-final-newline",
    "only headers, the last one unterminated (the file ends inside From)",
)
def _() -> bytes:
    return CRLF.join([TO, DATE, b"Subject: x", FROM])


@email("empty-body", "headers, the blank line, and a 0-byte body")
def _() -> bytes:
    return simple("empty-body", body=b"")


@email("mbox-from-line", "an mbox 'From ' separator line (no colon) before the headers")
def _() -> bytes:
    return b"From jordan@example.org Thu Jan  1 10:00:00 2026\r\n" + simple("mbox")


@email("utf8-bom-at-start", "a UTF-8 byte order mark before the first header")
def _() -> bytes:
    return b"\xef\xbb\xbf" + simple("bom")


@email(
    "leading-whitespace-first-header",
    "the first header line starts with a space (a continuation of nothing); From again later",
)
def _() -> bytes:
    return mail(
        b" From: Jordan Reed <jordan@example.org>",
        *BASIC,
        b"From: jordan@example.org",
        *plain(),
        body=b"hello\r\n",
    )


@email("space-before-colon", "obsolete 'From : ' with a space before the colon, then 'fRoM:'")
def _() -> bytes:
    return mail(
        b"From : Jordan Reed <jordan@example.org>",
        b"fRoM:jordan@example.org",
        *BASIC,
        *plain(),
        body=b"hello\r\n",
    )


@email(
    "from-folded-whitespace-lines",
    "From folded over empty and whitespace-only continuation lines",
)
def _() -> bytes:
    return mail(
        b"From:\r\n \r\n\t\r\n   Jordan\r\n Reed\r\n\t<jordan@example.org>\r\n \t ",
        *BASIC,
        *plain(),
        body=b"hello\r\n",
    )


# ---------------------------------------------------------------------------------------------
# emails: dates


def _dated(n: str, *dates: bytes) -> bytes:
    return mail(FROM, TO, *dates, b"Subject: when?", mid(n), *plain(), body=b"hello\r\n")


@email("date-impossible", "Date: 31 Feb 99999 25:61:61 +9999")
def _() -> bytes:
    return _dated("date-impossible", b"Date: 31 Feb 99999 25:61:61 +9999")


@email("date-garbage", "Date: garbage, and an empty Date")
def _() -> bytes:
    return _dated("date-garbage", b"Date: garbage", b"Date:")


@email("date-far-future", "a Date in year 9999 and past it (year 10000; about 2^63 seconds)")
def _() -> bytes:
    return _dated(
        "date-future",
        b"Date: Fri, 31 Dec 9999 23:59:59 -1200",
        b"Date: Sat, 01 Jan 10000 00:00:00 +0000",
        b"Resent-Date: Sun, 04 Dec 292277026596 15:30:07 +0000",
    )


@email("date-before-1970", "Dates before the Unix epoch: 1969, 1900, year 1, and a two-digit 69")
def _() -> bytes:
    return _dated(
        "date-past",
        b"Date: Wed, 31 Dec 1969 23:59:59 +1400",
        b"Resent-Date: Mon, 01 Jan 1900 00:00:00 -0000",
        b"Resent-Date: Mon, 01 Jan 0001 00:00:00 +0000",
        b"Resent-Date: 1 Jan 69 00:00 GMT",
    )


# ---------------------------------------------------------------------------------------------
# emails: control characters and bidi overrides

CONTROLS = bytes(c for c in range(32) if c not in (10, 13)) + b"\x7f"
C1 = "".join(chr(c) for c in range(0x80, 0xA0)).encode()  # C1 controls, as UTF-8
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


@email(
    "control-chars-raw",
    "raw C0 controls (0x00-0x1f but CR, LF) and DEL, and C1 controls in UTF-8, in names, "
    "Subject and body",
)
def _() -> bytes:
    return mail(
        b'From: "Jordan'
        + CONTROLS
        + b' Reed" <jordan@example.org>, Jor'
        + CONTROLS
        + b"dan <alice@x.example>",
        TO,
        DATE,
        b"Subject: ring" + CONTROLS + C1 + b"\x1b[2J\x1b]0;title\x07",
        mid("controls"),
        *plain(),
        body=b"ctrl " + CONTROLS + C1 + b"\r\n",
    )


@email(
    "control-chars-encoded",
    "encoded words that decode to NUL, ESC, CR and LF (header injection on re-export)",
)
def _() -> bytes:
    return mail(
        b"From: =?utf-8?q?Jordan=00=1B[31m=0D=0ABcc:_alice@x.example=0D=0A?= <jordan@example.org>",
        TO,
        DATE,
        b"Subject: =?utf-8?q?hi=0D=0A=0D=0A<script>alert(1)</script>=00?=",
        b"Reply-To: =?utf-8?B?DQpCY2M6IGV2aWxAZXZpbC5leGFtcGxl?= <jordan@example.org>",
        mid("controls-encoded"),
        *plain(),
        body=b"hello\r\n",
    )


@email(
    "bidi-overrides-raw",
    "U+202E, U+2066..2069 and other bidi controls raw in display name, Subject and body",
)
def _() -> bytes:
    return mail(
        f'From: "\u202eJordan Reed\u202c {BIDI}" <jordan@example.org>'.encode(),
        TO,
        DATE,
        f"Subject: \u2067court\u2069 \u202egro.elpmaxe@nadroj\u202c {BIDI}".encode(),
        mid("bidi-raw"),
        *plain(),
        body=f"\u202eevif si rebmun ym {BIDI}\r\n".encode(),
    )


@email(
    "bidi-overrides-encoded",
    "bidi controls inside encoded words, making the name read as another address",
)
def _() -> bytes:
    name = "\u202egro.elpmaxe@ecila\u202c\u2066 \u2069"
    return mail(
        b"From: =?utf-8?B?" + base64.b64encode(name.encode()) + b"?= <jordan@example.org>",
        TO,
        DATE,
        b"Subject: =?utf-8?B?" + base64.b64encode(("\u2068" + BIDI).encode()) + b"?=",
        mid("bidi-encoded"),
        *plain(),
        body=b"hello\r\n",
    )


@email("nul-in-body", "NUL bytes through a text/plain body, and a run of 64 KiB of NULs")
def _() -> bytes:
    return simple(
        "nul-body", body=b"hel\x00lo\x00\r\n\x00\x00\r\n" + b"\x00" * 65536 + b"\r\nend\r\n"
    )


# ---------------------------------------------------------------------------------------------
# emails: addresses in hostile forms


def _from(n: str, value: bytes, *more: bytes) -> bytes:
    return mail(b"From: " + value, *more, *BASIC, mid(n), *plain(), body=b"hello\r\n")


@email("duplicate-from-listed-first", "two From headers: jordan first, a stranger second")
def _() -> bytes:
    return _from(
        "dup-from-1", b"Jordan Reed <jordan@example.org>", b"From: Alice <alice@x.example>"
    )


@email("duplicate-from-listed-second", "two From headers: a stranger first, jordan second")
def _() -> bytes:
    return _from("dup-from-2", b"Alice <alice@x.example>", FROM)


@email(
    "from-list-stranger-first",
    "CVE-2023-27043 shape: From: Alice <alice@x.example>, jordan@example.org",
)
def _() -> bytes:
    return _from("list-stranger-first", b"Alice <alice@x.example>, jordan@example.org")


@email(
    "from-comment-with-angle",
    'From: jordan@example.org (comment "<x@y>"): a comment that looks like an address',
)
def _() -> bytes:
    return _from("comment-angle", b'jordan@example.org (comment "<x@y>")')


@email(
    "from-unquoted-address-as-name",
    "an unquoted address as the display name: alice@x.example <jordan@example.org>",
)
def _() -> bytes:
    return _from("unquoted-name", b"alice@x.example <jordan@example.org>")


@email(
    "from-escaped-quotes-in-name",
    "escaped quotes (and an escaped backslash) hiding a fake address in the display name",
)
def _() -> bytes:
    return _from("escaped-quotes", b'"Alice \\"<alice@x.example>\\"\\\\" <jordan@example.org>')


@email("from-empty-list-elements", "empty list elements and stray commas around jordan")
def _() -> bytes:
    return _from("empty-elements", b",,Alice <alice@x.example>,,, ,jordan@example.org,,")


@email(
    "from-group-syntax",
    "RFC 5322 group syntax: friends: Alice <alice@x.example>, jordan@example.org;",
)
def _() -> bytes:
    return _from("group", b"friends: Alice <alice@x.example>, jordan@example.org;, undisclosed:;")


@email(
    "from-obsolete-route",
    "an obsolete source route: <@relay.example,@other.example:jordan@example.org>",
)
def _() -> bytes:
    return _from("route", b"Jordan <@relay.example,@other.example:jordan@example.org>")


@email("from-unclosed-angle", "an unclosed angle bracket; a Sender with garbage after it")
def _() -> bytes:
    return _from(
        "unclosed", b"Jordan Reed <jordan@example.org", b"Sender: <jordan@example.org> garbage <"
    )


@email("from-trailing-garbage", "<jordan@example.org> then garbage and another angle address")
def _() -> bytes:
    return _from("trailing-garbage", b"<jordan@example.org> trailing garbage <alice@x.example>")


@email(
    "from-deep-comment-nesting",
    "jordan followed by a comment nested 5,000 levels deep (recursive parsers overflow)",
)
def _() -> bytes:
    return _from("deep-comment", b"jordan@example.org " + b"(" * 5000 + b"x" + b")" * 5000)


@email(
    "from-huge-display-name",
    "a 100,000-byte quoted display name folded over 1,000 lines before the address",
)
def _() -> bytes:
    name = b"\r\n ".join([b"Jordan" + b"x" * 94] * 1000)
    return _from("huge-name", b'"' + name + b'" <jordan@example.org>')


@email(
    "from-unicode-lookalike-and-real",
    "a Cyrillic look-alike address first, the real one second, raw UTF-8",
)
def _() -> bytes:
    return _from("lookalike", "jоrdan@exаmple.org, Jordan <jordan@example.org>".encode())


# ---------------------------------------------------------------------------------------------
# emails: attachments and names


def _attachments(n: str, params: list[bytes]) -> bytes:
    parts = [part(b"text/plain; charset=utf-8", b"see attached\r\n")]
    parts += [attachment(p) for p in params]
    return simple(n, *mp_headers(b"att"), body=multipart(b"att", parts))


@email(
    "attachment-path-traversal",
    "attachment names with ../, ..\\, absolute, drive, UNC, encoded and NUL-truncation tricks",
)
def _() -> bytes:
    return _attachments(
        "path-traversal",
        [
            b'filename="../../etc/passwd"',
            b'filename="..\\\\..\\\\windows\\\\system32\\\\x.dll"',
            b"filename=..\\..\\windows\\system32\\x.dll",
            b'filename="/etc/passwd"',
            b'filename="C:\\\\Windows\\\\System32\\\\evil.dll"',
            b'filename="\\\\\\\\server\\\\share\\\\x.exe"',
            b'filename="....//....//x.txt"',
            b'filename="%2e%2e%2f%2e%2e%2fx.txt"',
            b'filename="ok/../../../../tmp/x"',
            b'filename="ok.txt\x00.exe"',
            b'filename="~/.ssh/authorized_keys"',
            b'filename="file:///etc/passwd"',
        ],
    )


@email(
    "attachment-reserved-names",
    "Windows device names (CON, nul.txt, COM1, ...), trailing dots and spaces, '.', '..', '', "
    "a 10,000-byte name, forbidden characters",
)
def _() -> bytes:
    return _attachments(
        "reserved",
        [
            b"filename=CON",
            b'filename="nul.txt"',
            b"filename=COM1",
            b'filename="LPT9.log"',
            b'filename="aux."',
            b'filename="PRN .txt"',
            b'filename="CONIN$"',
            b'filename="COM\xc2\xb9"',
            b'filename="report. . ."',
            b'filename="report   "',
            b'filename="."',
            b'filename=".."',
            b'filename=""',
            b'filename="' + b"A" * 10_000 + b'.txt"',
            b'filename="a:b|c*d?e<f>g\\"h.txt"',
        ],
    )


@email(
    "attachment-rtl-override-name",
    "invoice\\u202efdp.exe (shows as invoiceexe.pdf): raw UTF-8, RFC 2047 and RFC 2231 forms",
)
def _() -> bytes:
    rlo = "invoice\u202efdp.exe".encode()
    return _attachments(
        "rtl-name",
        [
            b'filename="' + rlo + b'"',
            b'filename="=?utf-8?B?' + base64.b64encode(rlo) + b'?="',
            b"filename*=utf-8''invoice%E2%80%AEfdp.exe",
            b"filename*=utf-8''photo%E2%81%A6gpj.%E2%81%A9exe",
        ],
    )


@email(
    "attachment-rfc2231-bad",
    "RFC 2231 names: unknown charset, invalid UTF-8, missing continuations, conflicting "
    "forms, bad escapes, CRLF and traversal encoded",
)
def _() -> bytes:
    return _attachments(
        "rfc2231",
        [
            b"filename*=x-unknown''%FF%FE.txt",
            b"filename*=utf-8''%FF%FE%C0%AF.txt",
            b"filename*=''no-charset.txt",
            b"filename*=utf-16''%00a%00",
            b"filename*=utf-7''+ADw-x+AD4-.txt",
            b"filename*0*=utf-8''first; filename*2*=third; filename*99=last",
            b'filename="plain.txt"; filename*=utf-8\'\'other.exe; filename*0="cont.js"',
            b"filename*=utf-8'en-x-\xff'%4.txt%",
            b"filename*=utf-8''%0D%0AContent-Type:%20text/html%0D%0A.txt",
            b"filename*=utf-8''..%2F..%2Fetc%2Fpasswd",
        ],
    )


@email(
    "attachment-8bit-part-headers",
    "raw latin-1 and UTF-8 bytes in a part's own headers and name parameters",
)
def _() -> bytes:
    parts = [
        part(b"text/plain; charset=utf-8", b"see attached\r\n"),
        b'Content-Type: application/pdf; name="r\xe9sum\xe9.pdf"\r\n'
        b'Content-Disposition: attachment; filename="'
        + "резюме.pdf".encode()
        + b'"\r\nContent-Description: \xff\xfe\x00\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n",
    ]
    return simple("8bit-part-headers", *mp_headers(b"p8"), body=multipart(b"p8", parts))


@email(
    "message-rfc822-8bit-inner",
    "message/rfc822 parts holding an 8-bit message with raw UTF-8 headers (8bit and base64)",
)
def _() -> bytes:
    inner = mail(
        "From: Jördan Rééd <jordan@example.org>".encode(),
        "To: Sâm <sam@example.net>".encode(),
        "Subject: Ça va? — transféré".encode(),
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: 8bit",
        body="Réponds-moi \u202e.\r\n".encode(),
    )
    parts = [
        part(b"text/plain; charset=utf-8", b"forwarded\r\n"),
        part(b"message/rfc822", inner, b"Content-Transfer-Encoding: 8bit"),
        part(b"message/rfc822", b64(inner), b"Content-Transfer-Encoding: base64"),
    ]
    return simple("rfc822-8bit", *mp_headers(b"fwd"), body=multipart(b"fwd", parts))


@email(
    "message-rfc822-nested-50",
    "message/rfc822 nested 50 deep, the innermost message truncated (headers only)",
)
def _() -> bytes:
    inner = b"From: jordan@example.org\r\nSubject: innermost"
    for level in range(50):
        inner = mail(
            FROM, b"Subject: level %d" % level, b"Content-Type: message/rfc822", body=inner
        )
    return simple(
        "rfc822-nested", b"MIME-Version: 1.0", b"Content-Type: message/rfc822", body=inner
    )


def _tnef() -> bytes:
    """A TNEF stream (winmail.dat): the signature 0x223E9F78, a key, a few attributes with
    plausible ids, then one whose length lies (0xFFFFFFF0) and seeded random junk."""

    def attr(level: int, ident: int, data: bytes) -> bytes:
        head = struct.pack("<BII", level, ident, len(data))
        return head + data + struct.pack("<H", sum(data) & 0xFFFF)

    rng = random.Random(0x223E9F78)
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += attr(1, 0x00089006, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += attr(1, 0x00069007, b"\x00" * 8)  # attOemCodepage
    out += attr(1, 0x00018004, "\u202eexe.fdp".encode() + b"\x00")  # attSubject
    out += attr(2, 0x00069002, b"\x00" * 4)  # attAttachRenddata
    out += attr(2, 0x00018010, b"../../evil.exe\x00")  # attAttachTitle
    out += struct.pack("<BII", 2, 0x0006800F, 0xFFFFFFF0)  # attAttachData, a lying length
    return out + bytes(rng.randrange(256) for _ in range(4096))


@email(
    "tnef-winmail-dat",
    "application/ms-tnef winmail.dat: TNEF signature, a traversal title, a lying length, junk",
)
def _() -> bytes:
    parts = [
        part(b"text/plain; charset=utf-8", b"see attached\r\n"),
        part(
            b'application/ms-tnef; name="winmail.dat"',
            b64(_tnef()),
            b'Content-Disposition: attachment; filename="winmail.dat"',
            b"Content-Transfer-Encoding: base64",
        ),
    ]
    return simple("tnef", *mp_headers(b"tnef"), body=multipart(b"tnef", parts))


# ---------------------------------------------------------------------------------------------
# emails: HTML

UTF16_HTML = "<html><body><p>R\u00e9ponds-moi \U0001f642</p><p>Jordan</p></body></html>"


@email("html-utf16-bom", "text/html; charset=utf-16 with a little-endian BOM, base64")
def _() -> bytes:
    return simple(
        "utf16-bom",
        b"MIME-Version: 1.0",
        b'Content-Type: text/html; charset="utf-16"',
        b"Content-Transfer-Encoding: base64",
        body=b64(b"\xff\xfe" + UTF16_HTML.encode("utf-16-le")),
    )


@email(
    "html-utf16-no-bom",
    "charset=utf-16 without a BOM: big-endian raw binary in one part, little-endian in another",
)
def _() -> bytes:
    parts = [
        part(
            b"text/html; charset=utf-16",
            UTF16_HTML.encode("utf-16-be"),
            b"Content-Transfer-Encoding: binary",
        ),
        part(
            b"text/html; charset=UTF-16",
            b64(UTF16_HTML.encode("utf-16-le")),
            b"Content-Transfer-Encoding: base64",
        ),
    ]
    return simple("utf16-nobom", *mp_headers(b"u16", b"alternative"), body=multipart(b"u16", parts))


HOSTILE_HTML = b"""<!DOCTYPE html>
<html><head>
<base href="http://CANARY/base/">
<meta http-equiv="refresh" content="0; url=http://CANARY/refresh">
<meta http-equiv="Refresh" content="1;URL='http://CANARY/refresh2'">
<link rel="stylesheet" href="http://CANARY/style.css">
<link rel="prefetch" href="http://CANARY/prefetch">
<link rel="preload" as="image" href="http://CANARY/preload.png">
<link rel="dns-prefetch" href="//CANARY">
<link rel="icon" href="http://CANARY/favicon.ico">
<style>
@import url(http://CANARY/import.css);
@import "http://CANARY/import2.css";
body { background: url('http://CANARY/css-bg.png'); }
p { background-image: url( "http://CANARY/css-p.png" ); }
@font-face { font-family: x; src: url(http://CANARY/font.woff); }
li { list-style-image: url(http://CANARY/bullet.png); cursor: url(http://CANARY/c.cur), auto; }
div { background: \\75 rl(http://CANARY/css-escaped.png); }
</style>
<script src="http://CANARY/script.js"></script>
<script>new Image().src = "http://CANARY/js-beacon"; fetch("http://CANARY/fetch");</script>
</head>
<body background="http://CANARY/body-bg.gif" onload="location='http://CANARY/onload'">
<img src=http://127.0.0.1:9/x>
<img src=http://CANARY/img.gif width=1 height=1>
<img src="relative-to-base.gif">
<img src="//CANARY/protocol-relative.gif">
<img src="HTTP://CANARY/upper.gif">
<img src="  http://CANARY/leading-space.gif">
<img src="&#104;ttp://CANARY/entity.gif">
<img src="x" onerror="this.src='http://CANARY/onerror.gif'">
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="
 srcset="http://CANARY/srcset-1x.gif 1x, http://CANARY/srcset-2x.gif 2x">
<img loading="lazy" src="http://CANARY/lazy.gif" data-src="http://CANARY/data-src.gif">
<picture><source srcset="http://CANARY/picture.webp" type="image/webp">
<img src="http://CANARY/picture.gif"></picture>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">
<image href="http://CANARY/svg-image.png" width="1" height="1"/>
<image xlink:href="http://CANARY/svg-xlink.png" width="1" height="1"/>
<use href="http://CANARY/sprite.svg#a"/>
<feImage href="http://CANARY/feimage.png"/>
</svg>
<iframe src="http://CANARY/iframe"></iframe>
<frameset><frame src="http://CANARY/frame"></frameset>
<object data="http://CANARY/object"></object>
<embed src="http://CANARY/embed">
<video poster="http://CANARY/poster.jpg"><source src="http://CANARY/video.mp4">
<track src="http://CANARY/track.vtt"></video>
<audio src="http://CANARY/audio.mp3" autoplay></audio>
<table background="http://CANARY/table-bg.gif">
<tr><td background="http://CANARY/td-bg.gif">cell</td></tr></table>
<div style="background-image:url(http://CANARY/inline-style.png)">styled</div>
<div style="background:url(&quot;http://CANARY/inline-entity.png&quot;)">styled</div>
<form action="http://CANARY/form"><input type="image" src="http://CANARY/input.png"></form>
<a href="http://CANARY/link" ping="http://CANARY/ping">click</a>
<a href="javascript:fetch('http://CANARY/js-link')">js link</a>
<math><mi xlink:href="http://CANARY/mathml">m</mi></math>
<p>Answer me, Jordan.</p>
</body></html>
"""


@email(
    "html-hostile",
    "hostile HTML: scripts, remote images, CSS url(), <base href>, meta refresh, srcset, SVG "
    "href, stylesheets, frames (host CANARY)",
)
def _() -> bytes:
    return simple(
        "html-hostile",
        b"MIME-Version: 1.0",
        b"Content-Type: text/html; charset=utf-8",
        b"Content-Transfer-Encoding: 8bit",
        body=HOSTILE_HTML.replace(b"\n", CRLF),
    )


def _qp(data: bytes) -> bytes:
    """Quoted-printable by hand: '=' escaped, lines broken only after a space, so no soft break
    falls inside 'CANARY' (the tests replace it whole); a line with no space stays long."""
    out = []
    for raw in data.split(b"\n"):
        line = raw.replace(b"=", b"=3D")
        while len(line) > 70:
            cut = line.rfind(b" ", 0, 70)
            if cut <= 0:
                cut = line.find(b" ", 70)
            if cut < 0:
                break
            out.append(line[: cut + 1] + b"=")
            line = line[cut + 1 :]
        out.append(line)
    return CRLF.join(out)


@email(
    "html-hostile-related-qp",
    "multipart/alternative + related: hostile HTML in quoted-printable, a text/css part, "
    "Content-Location and Content-Base pointing at CANARY, cid images",
)
def _() -> bytes:
    html = HOSTILE_HTML + b'<img src="cid:pic1"><img src="cid:missing@CANARY">\n'
    related = multipart(
        b"rel",
        [
            part(
                b"text/html; charset=utf-8",
                _qp(html),
                b"Content-Transfer-Encoding: quoted-printable",
            ),
            part(
                b"text/css",
                b"body { background: url(http://CANARY/related.css.png) }\r\n",
                b"Content-Location: http://CANARY/style-location.css",
            ),
            part(
                b"image/gif",
                b"R0lGODlhAQABAAAAACw=\r\n",
                b"Content-ID: <pic1>",
                b"Content-Transfer-Encoding: base64",
                b"Content-Location: http://CANARY/pic1.gif",
            ),
        ],
    )
    alt = multipart(
        b"alt",
        [
            part(b"text/plain; charset=utf-8", b"Answer me.\r\n"),
            part(b'multipart/related; boundary="rel"; type="text/html"', related),
        ],
    )
    return simple(
        "html-related",
        *mp_headers(b"alt", b"alternative"),
        b"Content-Base: http://CANARY/content-base/",
        body=alt,
    )


@email(
    "svg-attachment-external-href",
    "an inline image/svg+xml part whose elements load http://CANARY/ and run script",
)
def _() -> bytes:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">\r\n'
        b'<image href="http://CANARY/svg-att.png" width="10" height="10"/>\r\n'
        b'<image xlink:href="http://CANARY/svg-att-xlink.png"/>\r\n'
        b"<style>@import url(http://CANARY/svg-att.css);</style>\r\n"
        b'<script>fetch("http://CANARY/svg-att-script")</script>\r\n'
        b'<foreignObject><iframe xmlns="http://www.w3.org/1999/xhtml"'
        b' src="http://CANARY/svg-iframe"/></foreignObject>\r\n'
        b"</svg>\r\n"
    )
    parts = [
        part(b"text/html; charset=utf-8", b'<p>look</p><img src="cid:svg1">\r\n'),
        part(
            b"image/svg+xml",
            svg,
            b"Content-ID: <svg1>",
            b"Content-Disposition: inline; filename=look.svg",
        ),
    ]
    return simple("svg", *mp_headers(b"svg", b"related"), body=multipart(b"svg", parts))


# ---------------------------------------------------------------------------------------------
# emails: headers that outrun a first read


@email(
    "subject-1mb-before-from",
    "a 1 MiB Subject line before the From: a reader that decides on the first 64 KiB "
    "(the IMAP triage) never sees the sender",
)
def _() -> bytes:
    subject = b"Subject: " + b"B" * (1_048_576 - 9)
    return mail(subject, TO, DATE, FROM, mid("subject-1mb-first"), *plain(), body=b"hello\r\n")


# ---------------------------------------------------------------------------------------------
# SMS helpers

TWILIO_BASE = [
    ("ToCountry", "GB"),
    ("ToState", ""),
    ("SmsMessageSid", ""),
    ("NumMedia", "0"),
    ("ToCity", ""),
    ("FromZip", ""),
    ("SmsSid", ""),
    ("FromState", ""),
    ("SmsStatus", "received"),
    ("FromCity", ""),
    ("Body", ""),
    ("FromCountry", "GB"),
    ("To", TO_PHONE),
    ("ToZip", ""),
    ("NumSegments", "1"),
    ("MessageSid", ""),
    ("AccountSid", "AC" + "1" * 32),
    ("From", PHONE),
    ("ApiVersion", "2010-04-01"),
]


def twilio_form(sid: str, body: str = "Answer me.", **over: str) -> list[tuple[str, str]]:
    """Twilio's inbound SMS fields, in the order it sends them; ``over`` replaces or adds."""
    out = []
    for k, v in TWILIO_BASE:
        if k in ("SmsMessageSid", "SmsSid", "MessageSid"):
            v = sid
        elif k == "Body":
            v = body
        out.append((k, over.pop(k, v)))
    return out + list(over.items())


def form(pairs: list[tuple[str, str]]) -> bytes:
    return "&".join(quote_plus(k) + "=" + quote_plus(v) for k, v in pairs).encode()


def sid(n: int) -> str:
    return f"SM{n:032x}"


def dumps(doc: object, *, ascii_only: bool = False) -> bytes:
    """Compact JSON; ``ascii_only`` is needed for lone surrogates (written as escapes)."""
    return json.dumps(doc, ensure_ascii=ascii_only, separators=(",", ":")).encode()


def telnyx_doc(n: int, sender: object = PHONE, text: object = "Answer me.") -> dict[str, object]:
    hook = "https://nocontact.example.org/webhooks/sms/telnyx"
    payload = {
        "cc": [],
        "completed_at": None,
        "cost": None,
        "direction": "inbound",
        "encoding": "GSM-7",
        "errors": [],
        "from": {"carrier": "Example Mobile", "line_type": "Wireless", "phone_number": sender},
        "id": f"84cca175-9755-4859-b67f-{n:012d}",
        "media": [],
        "messaging_profile_id": "740572b6-099c-44a1-89b9-6c92163bc68d",
        "parts": 1,
        "received_at": "2026-01-01T10:00:00.000+00:00",
        "record_type": "message",
        "sent_at": None,
        "tags": [],
        "text": text,
        "to": [
            {
                "carrier": "Telnyx",
                "line_type": "Wireless",
                "phone_number": TO_PHONE,
                "status": "webhook_delivered",
            }
        ],
        "type": "SMS",
        "valid_until": None,
        "webhook_failover_url": None,
        "webhook_url": hook,
    }
    return {
        "data": {
            "event_type": "message.received",
            "id": f"b301ed3f-1490-491f-995f-{n:012d}",
            "occurred_at": "2026-01-01T10:00:00.000+00:00",
            "payload": payload,
            "record_type": "event",
        },
        "meta": {"attempt": 1, "delivered_to": hook},
    }


def telnyx_payload(doc: dict[str, object]) -> dict[str, object]:
    data = doc["data"]
    assert isinstance(data, dict)
    return data["payload"]  # type: ignore[no-any-return]


AT = "2026-01-01T10:00:00.000+00:00"


def android_entry(
    sender: object = PHONE, message: object = "Answer me.", at: object = AT, n: int = 0
) -> dict[str, object]:
    return {
        "messageId": f"{n:016x}",
        "message": message,
        "phoneNumber": sender,
        "sender": sender,
        "recipient": TO_PHONE,
        "simNumber": 1,
        "receivedAt": at,
    }


def android_doc(event: str, payload: object, n: int) -> dict[str, object]:
    return {
        "deviceId": "ffffffffceb0b1db0000018e937c815b",
        "event": event,
        "id": f"Ey6ECgOkVVFjz3CL48B8C{n}",
        "payload": payload,
        "webhookId": "LreFUt-Z3sSq0JufY9uWB",
    }


def httpsms_doc(
    n: int, contact: object = PHONE, content: object = "Answer me.", **extra: object
) -> dict[str, object]:
    data: dict[str, object] = {
        "message_id": f"32350d3e-0d3d-4a8f-9e5b-{n:012d}",
        "user_id": "WB7DRDWrJZRGbYrv2CKGkqbzvqdC",
        "owner": TO_PHONE,
        "encrypted": False,
        "contact": contact,
        "timestamp": "2026-01-01T10:00:00.000000+00:00",
        "content": content,
        "sim": "SIM1",
    }
    data.update(extra)
    return {
        "specversion": "1.0",
        "id": f"e3ff0c7e-7d2f-4bb4-b4f9-{n:012d}",
        "source": "/v1/messages/receive",
        "type": "message.phone.received",
        "datacontenttype": "application/json",
        "time": "2026-01-01T10:00:00.000000+00:00",
        "data": data,
    }


def generic_doc(
    n: int, sender: object = PHONE, text: object = "Answer me.", **extra: object
) -> dict[str, object]:
    doc: dict[str, object] = {
        "id": f"hostile-{n:04d}",
        "from": sender,
        "to": TO_PHONE,
        "text": text,
        "sent_at": "2026-01-01T10:00:00Z",
    }
    doc.update(extra)
    return doc


EMOJI = (
    "👨‍👩‍👧‍👦 🏳️‍🌈 👍🏽 🇬🇧 🏴󠁧󠁢󠁳󠁣󠁴󠁿 ❤️‍🔥 🧑🏿‍🤝‍🧑🏻 e\u0301\u0301\u0301 "
    "Z\u0337\u031b\u0332\u034da\u0336\u035a\u035dl\u0335g\u0338o\u0334 \ufe0f\u200d\u200d"
)
RTL = "\u202eevif si rebmun ym\u202c \u2066\u2067\u2068\u2069 \u200f\u061c ltr\u202d"
ABSURD_PLUS = "+99999999999999999999"
DIGITS_500 = "+" + "".join(str(i % 10) for i in range(1, 501))


# ---------------------------------------------------------------------------------------------
# SMS: twilio


@sms(
    "twilio-body-invalid-utf8-percent",
    "twilio",
    "kept",
    "Body=%FF%FE%C0%AF%ED%A0%80: percent-encoded bytes that are not UTF-8",
)
def _() -> bytes:
    return form(twilio_form(sid(1), "")).replace(b"Body=", b"Body=%FF%FE%C0%AF%ED%A0%80")


@sms(
    "twilio-raw-8bit-body",
    "twilio",
    "refused",
    "raw 0xFF 0xFE bytes in a form body: not UTF-8, so nothing can be checked or kept",
)
def _() -> bytes:
    return form(twilio_form(sid(2), "")).replace(b"Body=", b"Body=\xff\xfe")


@sms(
    "twilio-emoji-zwj",
    "twilio",
    "kept",
    "emoji, ZWJ sequences, tag flags, skin tones, stacked combining marks",
)
def _() -> bytes:
    return form(twilio_form(sid(3), EMOJI, NumSegments="7"))


@sms("twilio-rtl-overrides", "twilio", "kept", "RLO, isolates and other bidi controls in the text")
def _() -> bytes:
    return form(twilio_form(sid(4), RTL))


@sms(
    "twilio-duplicate-from-listed-second",
    "twilio",
    "refused",
    "From given twice: a stranger first, the listed number second; refused (400): which "
    "is the sender is not guessed, and passing it would let the listed number through",
)
def _() -> bytes:
    return form([("From", STRANGER), *twilio_form(sid(5))])


@sms("twilio-from-absurd", "twilio", "not_kept", "From=+99999999999999999999, nobody listed")
def _() -> bytes:
    return form(twilio_form(sid(6), "hello", From=ABSURD_PLUS))


@sms("twilio-from-empty", "twilio", "refused", "From present but empty: no sender")
def _() -> bytes:
    return form(twilio_form(sid(7), From=""))


@sms(
    "twilio-nummedia-huge",
    "twilio",
    "kept",
    "NumMedia is a 30-digit number but no MediaUrl is given; unknown fields, one a NUL",
)
def _() -> bytes:
    return form(twilio_form(sid(8), NumMedia="9" * 30, MediaUrl9="", X_Unknown="\x00"))


@sms("twilio-body-at-limit", "twilio", "kept", "a form body of exactly 262,144 bytes, the limit")
def _() -> bytes:
    base = form(twilio_form(sid(9), ""))
    fill = DEFAULT_LIMIT - len(base)
    body = base.replace(b"Body=", b"Body=" + (b"answer+" * fill)[:fill])
    assert len(body) == DEFAULT_LIMIT
    return body


# ---------------------------------------------------------------------------------------------
# SMS: telnyx


@sms(
    "telnyx-lone-surrogates",
    "telnyx",
    "kept",
    'JSON escapes of lone surrogates ("\\ud800", "\\udcff", a reversed pair) in text',
)
def _() -> bytes:
    return dumps(telnyx_doc(1, text="a\ud800b\udcffc\udc00\ud800 end"), ascii_only=True)


@sms(
    "telnyx-nulls",
    "telnyx",
    "kept",
    "null where strings and lists are expected: text, to, media, received_at, carrier",
)
def _() -> bytes:
    doc = telnyx_doc(2, text=None)
    p = telnyx_payload(doc)
    p.update({"to": None, "media": None, "received_at": None, "cc": None})
    p["from"] = {"carrier": None, "line_type": None, "phone_number": PHONE}
    return dumps(doc)


@sms(
    "telnyx-phone-as-number",
    "telnyx",
    "refused",
    "from.phone_number is a JSON number (447700900123), not a string",
)
def _() -> bytes:
    return dumps(telnyx_doc(3, sender=447700900123))


@sms(
    "telnyx-duplicate-keys-listed-last",
    "telnyx",
    "refused",
    'duplicate keys by hand: "phone_number":"+441","phone_number":"+447700900123"',
)
def _() -> bytes:
    body = dumps(telnyx_doc(4, sender="@@"))
    return body.replace(
        b'"phone_number":"@@"', b'"phone_number":"+441","phone_number":"+447700900123"'
    )


@sms(
    "telnyx-unknown-fields-lookalikes",
    "telnyx",
    "kept",
    "unknown extra fields, look-alike keys (From, fr\\u043em) naming strangers, odd numbers",
)
def _() -> bytes:
    doc = telnyx_doc(5)
    p = telnyx_payload(doc)
    p["From"] = {"phone_number": STRANGER}
    p["fr\u043em"] = {"phone_number": STRANGER}
    p["x_extra"] = {"a": [1, 2.5e308, -0.0, True, None, {"b": "c"}], "n": 10**40}
    return dumps(doc)


@sms("telnyx-emoji", "telnyx", "kept", "emoji and ZWJ sequences, raw UTF-8 in the JSON")
def _() -> bytes:
    return dumps(telnyx_doc(6, text=EMOJI))


@sms(
    "telnyx-from-letters",
    "telnyx",
    "not_kept",
    'a letters-only sender id "JORDAN" (not a listed number; the text mentions no one)',
)
def _() -> bytes:
    return dumps(telnyx_doc(7, sender="JORDAN", text="hello"))


# ---------------------------------------------------------------------------------------------
# SMS: android_gateway (capcom6)


@sms(
    "android-batch-10000",
    "android_gateway",
    "kept",
    "sms:batch:received with 10,000 entries: every 100th from the listed number (100 texts), "
    "the other 9,900 from strangers",
)
def _() -> bytes:
    messages = []
    for i in range(10_000):
        sender = PHONE if i % 100 == 0 else f"+4477009{i + 10_000:05d}"
        at = f"2026-01-01T{10 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000+00:00"
        messages.append(android_entry(sender, f"part {i:05d}", at, i))
    body = dumps(android_doc("sms:batch:received", {"messages": messages}, 1))
    assert len(body) < ANDROID_LIMIT, len(body)
    return body


@sms(
    "android-sender-null-phonenumber-listed",
    "android_gateway",
    "kept",
    "sender null, the deprecated phoneNumber the listed number",
)
def _() -> bytes:
    entry = android_entry(n=2)
    entry["sender"] = None
    return dumps(android_doc("sms:received", entry, 2))


@sms(
    "android-textmessage-rtl",
    "android_gateway",
    "kept",
    "the newer shape {textMessage: {text}} with bidi overrides; simNumber as a string",
)
def _() -> bytes:
    entry = android_entry(n=3)
    del entry["message"]
    entry["textMessage"] = {"text": RTL}
    entry["simNumber"] = "1"
    return dumps(android_doc("sms:received", entry, 3))


@sms(
    "android-data-invalid-utf8",
    "android_gateway",
    "kept",
    "sms:data-received whose decoded bytes are not UTF-8",
)
def _() -> bytes:
    entry = android_entry(n=4)
    del entry["message"]
    entry["data"] = base64.b64encode(b"\xff\xfe\xc0\xaf\xed\xa0\x80\x00").decode()
    return dumps(android_doc("sms:data-received", entry, 4))


@sms(
    "android-data-bad-base64",
    "android_gateway",
    "refused",
    "sms:data-received whose data is not base64",
)
def _() -> bytes:
    entry = android_entry(n=5)
    del entry["message"]
    entry["data"] = "!!!not base64==="
    return dumps(android_doc("sms:data-received", entry, 5))


@sms(
    "android-receivedat-number",
    "android_gateway",
    "refused",
    "receivedAt is a number (Unix seconds), not the ISO string",
)
def _() -> bytes:
    return dumps(android_doc("sms:received", android_entry(at=1767261600, n=6), 6))


@sms(
    "android-mms-downloaded-hostile",
    "android_gateway",
    "kept",
    "mms:downloaded: traversal and device attachment names, odd types, bogus base64 data",
)
def _() -> bytes:
    payload = {
        "messageId": "mms-7",
        "sender": PHONE,
        "recipient": None,
        "simNumber": None,
        "subject": "\u202efdp.exe",
        "body": EMOJI,
        "receivedAt": AT,
        "attachments": [
            {
                "partId": 1,
                "contentType": "image/jpeg",
                "name": "../../etc/passwd",
                "size": -1,
                "data": "!!!",
            },
            {"partId": "2", "contentType": None, "name": "CON", "size": "12"},
            {"partId": 3, "contentType": "text/html", "name": "C:\\Windows\\x.dll", "size": 1e308},
            {},
        ],
    }
    return dumps(android_doc("mms:downloaded", payload, 7))


@sms("android-sender-500-digits", "android_gateway", "not_kept", "a sender of 500 digits")
def _() -> bytes:
    return dumps(android_doc("sms:received", android_entry(DIGITS_500, "hello", n=8), 8))


@sms(
    "android-batch-one-bad-entry",
    "android_gateway",
    "refused",
    "a batch of three whose middle entry is a string: the whole request is malformed",
)
def _() -> bytes:
    later = "2026-01-01T10:00:01.000+00:00"
    messages = [android_entry(n=9), "not an entry", android_entry(n=10, at=later)]
    return dumps(android_doc("sms:batch:received", {"messages": messages}, 9))


@sms(
    "android-batch-lone-surrogates",
    "android_gateway",
    "kept",
    "a batch of two from the listed number whose texts hold escaped lone surrogates",
)
def _() -> bytes:
    messages = [
        android_entry(message="x\udfff", n=11),
        android_entry(message="\ud83d", at="2026-01-01T10:00:02.000+00:00", n=12),
    ]
    return dumps(android_doc("sms:batch:received", {"messages": messages}, 11), ascii_only=True)


# ---------------------------------------------------------------------------------------------
# SMS: httpsms


@sms(
    "httpsms-lone-surrogates",
    "httpsms",
    "kept",
    'content holding escaped lone surrogates "\\udcff" and "\\ud800"',
)
def _() -> bytes:
    return dumps(httpsms_doc(1, content="\udcff\ud800 hi"), ascii_only=True)


@sms("httpsms-contact-as-number", "httpsms", "refused", "contact is a JSON number, not a string")
def _() -> bytes:
    return dumps(httpsms_doc(2, contact=447700900123))


@sms(
    "httpsms-odd-types",
    "httpsms",
    "kept",
    "attachments of odd types (null, number, object, list), encrypted as a string, sim as a "
    "number, emoji content",
)
def _() -> bytes:
    return dumps(
        httpsms_doc(3, content=EMOJI, attachments=[None, 5, {}, []], encrypted="false", sim=2)
    )


@sms("httpsms-contact-null-string", "httpsms", "not_kept", 'contact is the string "null"')
def _() -> bytes:
    return dumps(httpsms_doc(4, contact="null", content="hello"))


@sms("httpsms-deep-extra", "httpsms", "kept", "an unknown extra field nested 500 objects deep")
def _() -> bytes:
    deep: object = "bottom"
    for _level in range(500):
        deep = {"x": deep}
    return dumps(httpsms_doc(5, extra=deep))


# ---------------------------------------------------------------------------------------------
# SMS: generic


@sms(
    "generic-duplicate-from-listed-last",
    "generic",
    "refused",
    'duplicate keys by hand: {"from":"+441","from":"+447700900123"}',
)
def _() -> bytes:
    body = dumps(generic_doc(1, sender="@@"))
    return body.replace(b'"from":"@@"', b'"from":"+441","from":"+447700900123"')


@sms(
    "generic-duplicate-from-listed-first",
    "generic",
    "refused",
    'duplicate keys the other way: {"from":"+447700900123","from":"+441"}; keeping or '
    "refusing is safe, passing it is not",
)
def _() -> bytes:
    body = dumps(generic_doc(2, sender="@@"))
    return body.replace(b'"from":"@@"', b'"from":"+447700900123","from":"+441"')


@sms("generic-from-null", "generic", "refused", "from is null")
def _() -> bytes:
    return dumps(generic_doc(3, sender=None))


@sms("generic-from-empty", "generic", "refused", 'from is ""')
def _() -> bytes:
    return dumps(generic_doc(4, sender=""))


@sms("generic-from-absurd", "generic", "not_kept", "from is +99999999999999999999")
def _() -> bytes:
    return dumps(generic_doc(5, sender=ABSURD_PLUS, text="hello"))


@sms(
    "generic-text-256k-over-limit",
    "generic",
    "refused",
    "a 256 KiB text: the body is over the default 256 KiB limit (413)",
)
def _() -> bytes:
    return dumps(generic_doc(6, text="a" * DEFAULT_LIMIT))


@sms(
    "generic-body-at-limit",
    "generic",
    "kept",
    "a body of exactly 262,144 bytes (the limit) of 2-byte characters, sent as text/plain",
    content_type="text/plain; charset=latin-1",
)
def _() -> bytes:
    fill = DEFAULT_LIMIT - len(dumps(generic_doc(7, text="")))
    body = dumps(generic_doc(7, text="é" * (fill // 2) + "a" * (fill % 2)))
    assert len(body) == DEFAULT_LIMIT
    return body


@sms(
    "generic-deep-nesting-100000",
    "generic",
    "refused",
    "an extra field of arrays nested 100,000 deep: a parser may refuse it (4xx, never a 500)",
)
def _() -> bytes:
    body = dumps(generic_doc(8, extra="@@"))
    return body.replace(b'"@@"', b"[" * 100_000 + b"]" * 100_000)


@sms("generic-id-as-number", "generic", "refused", "id is a number, not a string")
def _() -> bytes:
    doc = generic_doc(9)
    doc["id"] = 9
    return dumps(doc)


@sms("generic-text-as-number", "generic", "refused", "text is a number, not a string")
def _() -> bytes:
    return dumps(generic_doc(10, text=42))


@sms(
    "generic-fullwidth-from",
    "generic",
    "kept",
    "the listed number in fullwidth digits: \uff0b\uff14\uff14\uff17\uff17\uff10\uff10...",
)
def _() -> bytes:
    return dumps(generic_doc(11, sender="＋４４７７００９００１２３"))


@sms(
    "generic-from-bidi-and-zwsp",
    "generic",
    "kept",
    "the listed number in national format, wrapped in an RLO and a zero-width space",
)
def _() -> bytes:
    return dumps(generic_doc(12, sender="\u202e07700 900123\u200b"))


@sms("generic-from-500-digits", "generic", "not_kept", "from is 500 digits")
def _() -> bytes:
    return dumps(generic_doc(13, sender=DIGITS_500, text="hello"))


# ---------------------------------------------------------------------------------------------


def planned() -> dict[str, bytes]:
    """Every file the corpus holds, by path relative to this folder, with its bytes."""
    out: dict[str, bytes] = {}
    index = []
    for folder, items, ext in (("email", EMAILS, "eml"), ("sms", SMS, "json")):
        for n, item in enumerate(items, 1):
            name = f"{folder}/{n:02d}-{item.slug}.{ext}"
            data = item.make()
            if item.kind == "email":
                assert JORDAN in data, name
            out[name] = data
            index.append(
                {"file": name, "kind": item.kind, "expect": item.expect, "note": item.note}
            )
    index.sort(key=lambda e: e["file"])
    out["index.json"] = (json.dumps(index, indent=2, ensure_ascii=True) + "\n").encode()
    return out


def existing() -> set[str]:
    found = set()
    for folder in ("email", "sms"):
        d = HERE / folder
        if d.is_dir():
            found |= {f"{folder}/{p.name}" for p in d.iterdir() if p.is_file()}
    return found


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Make (or --check) the hostile test corpus.")
    ap.add_argument("--check", action="store_true", help="exit 1 naming each file that differs")
    args = ap.parse_args(argv)
    files = planned()
    stale = sorted(existing() - set(files))
    if args.check:
        bad = [n for n, data in files.items() if _read(HERE / n) != data]
        bad += [f"{n} (not made by this script)" for n in stale]
        for n in bad:
            print(f"differs: tests/data/hostile/{n}", file=sys.stderr)
        return 1 if bad else 0
    for n in stale:
        (HERE / n).unlink()
    for n, data in files.items():
        path = HERE / n
        path.parent.mkdir(parents=True, exist_ok=True)
        if _read(path) != data:
            path.write_bytes(data)
    print(f"{len(EMAILS)} emails, {len(SMS)} SMS requests, index.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
