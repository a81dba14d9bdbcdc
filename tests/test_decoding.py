"""The one rule for bytes a sender chose: shown readably, never raising, honest about loss."""

from __future__ import annotations

import pytest

from nocontact import decoding


def test_raw_utf8_in_a_header_reads_as_utf8() -> None:
    raw = "Jördan Rééd".encode().decode("ascii", "surrogateescape")  # as the parser stores it
    t = decoding.header(raw)
    assert (t.text, t.lossy) == ("Jördan Rééd", False)
    t.text.encode("utf-8")


def test_raw_bytes_that_are_not_utf8_become_replacement_characters_and_say_so() -> None:
    raw = "J\xf6rdan".encode("latin-1").decode("ascii", "surrogateescape")
    t = decoding.header(raw)
    assert t.text == "J\ufffdrdan" and t.lossy
    t.text.encode("utf-8")


def test_a_lone_surrogate_that_is_no_escaped_byte_is_replaced() -> None:
    t = decoding.header("a\ud800b")
    assert t.text == "a\ufffdb" and t.lossy


@pytest.mark.parametrize(
    ("value", "text", "lossy"),
    [
        ("=?utf-8?q?J=C3=B6rdan?=", "Jördan", False),
        ("=?utf-8?b?SsO2cmRhbg==?=", "Jördan", False),
        ("=?utf-8?b?SsO2cmRhbg?=", "Jördan", False),  # padding left off
        ("=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab", False),  # space between words is not text
        ("=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b", False),
        ("=?x-no-such-charset?q?J=C3=B6rdan?=", "Jördan", True),  # read as UTF-8, flagged
        ("=?utf-8?b?!!!!!?=", "=?utf-8?b?!!!!!?=", True),  # does not decode: stays as written
        ("=?utf-8?q?caf=E9?=", "caf\ufffd", True),  # the charset's bytes are wrong
        ("=?iso-8859-1*fr?q?caf=E9?=", "café", False),  # RFC 2231 language tag
        ("=?utf-8?q?a=0D=0Ab?=", "a b", False),  # a line break hidden in a word
        ("=?idna?q?x?=", "x", True),  # a codec that is no charset
    ],
)
def test_encoded_words(value: str, text: str, lossy: bool) -> None:
    t = decoding.header(value)
    assert (t.text, t.lossy) == (text, lossy)


def test_control_and_bidi_characters_never_reach_a_reader() -> None:
    t = decoding.header("Jor\u202edan\x00\x1b[31m \u2066x\u2069 \x7f")
    assert t.text == "Jordan\ufffd\ufffd[31m x \ufffd"
    assert not any(c in t.text for c in "\u202e\u2066\u2069\x00\x1b\x7f")


def test_a_megabyte_header_is_cut_and_says_so() -> None:
    t = decoding.header("A" * 1_048_576)
    assert t.shortened and len(t.text) <= decoding.HEADER_CHARS + 2


def test_seventy_thousand_encoded_words_decode() -> None:
    # the standard library's header registry needs tens of gigabytes for this one
    t = decoding.header("=?utf-8?q?a?= " * 70_000, limit=200_000)
    assert t.text == "a" * (decoding.HEADER_READ // len("=?utf-8?q?a?= ") + 1) or t.shortened


@pytest.mark.parametrize(
    ("payload", "charset", "text", "lossy"),
    [
        (b"caf\xc3\xa9", "utf-8", "café", False),
        (b"caf\xe9", "iso-8859-1", "café", False),
        (b"caf\xe9", "utf-8", "caf\ufffd", True),
        (b"caf\xc3\xa9", "x-unknown", "café", False),  # unknown: read as UTF-8
        (b"caf\xc3\xa9", "base64", "café", False),  # a codec that is not a text encoding
        ("<p>hé</p>".encode("utf-16"), None, "<p>hé</p>", False),  # byte-order mark wins
        ("<p>hé</p>".encode("utf-16-le"), "utf-16", "<p>hé</p>", False),
        (b"\xef\xbb\xbfhi", "latin-1", "hi", False),
        (b"a\x00b\r\nc\x1b", "utf-8", "a\ufffdb\nc\ufffd", False),
    ],
)
def test_bodies(payload: bytes, charset: str | None, text: str, lossy: bool) -> None:
    t = decoding.body(payload, charset, limit=1000)
    assert (t.text, t.lossy) == (text, lossy)


def test_a_long_body_is_cut_and_says_so() -> None:
    t = decoding.body(b"x" * 100_000, "utf-8", limit=1000)
    assert t.shortened and len(t.text) == 1000


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\evil.dll", "evil.dll"),
        ("/abs/path/x.pdf", "x.pdf"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("com1.tar.gz", "_com1.tar.gz"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ('a<b>:"c|?*.txt', "a_b___c___.txt"),
        ("...", "attachment-3"),
        ("", "attachment-3"),
        (None, "attachment-3"),
        ("=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=", "résumé.pdf"),
        ("x" * 500 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_attachment_names_are_safe_to_show_and_save(name: str | None, safe: str) -> None:
    assert decoding.filename(name, 2) == safe
