"""[limits]: each bound on what one message can cost, with its default, holds; none of them lets
a listed sender through, and the original is never cut (only what is read or shown)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nocontact.config import parse_config
from nocontact.errors import ConfigError
from nocontact.export.content import readable_email
from nocontact.limits import DEFAULT_LIMITS, ReadLimits
from nocontact.matching.decide import decide
from nocontact.matching.facts import facts_from_email
from nocontact.web.render import attachment, show_email
from tests.matching.test_decide import blocklist

LISTED = "jon.smith@gmail.com"  # on the list in tests.matching.test_decide


def nested(depth: int) -> bytes:
    raw = f"From: {LISTED}\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for i in range(1, depth + 1):
        raw += f"--b{i - 1}\r\nContent-Type: multipart/mixed; boundary=b{i}\r\n\r\n"
    return (raw + f"--b{depth}\r\nContent-Type: text/plain\r\n\r\nthe words\r\n").encode()


def with_attachments(n: int) -> bytes:
    parts = "".join(
        f"--b\r\nContent-Type: application/pdf\r\n"
        f'Content-Disposition: attachment; filename="f{i}.pdf"\r\n\r\nx{i}\r\n'
        for i in range(n)
    )
    return (
        f"From: {LISTED}\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        f"--b\r\nContent-Type: text/plain\r\n\r\nthe words\r\n{parts}--b--\r\n"
    ).encode()


def test_defaults_and_settings() -> None:
    cfg = parse_config("", file="x.toml")
    assert cfg.limits.read() == DEFAULT_LIMITS
    cfg = parse_config("[limits]\nmime_parts = 20\nattachments_shown = 3\n", file="x.toml")
    assert (cfg.limits.read().mime_parts, cfg.limits.read().attachments_shown) == (20, 3)
    with pytest.raises(ConfigError) as e:
        parse_config("[limits]\nmime_depth = 1\n", file="/home/x/nocontact.toml")
    assert "limits.mime_depth" in str(e.value) and "/home/x/nocontact.toml" in str(e.value)


def test_over_mime_parts_the_senders_are_read_but_not_the_body() -> None:
    limits = ReadLimits(mime_parts=10)
    facts = facts_from_email(with_attachments(30), limits=limits)
    assert any("MIME limits" in n for n in facts.notes)
    assert "the words" not in facts.text
    assert decide(facts, blocklist()).action == "quarantine"
    assert "the words" in facts_from_email(with_attachments(30)).text  # within the default


def test_over_mime_depth_the_senders_are_read_and_the_page_says_what_it_left_out() -> None:
    raw = nested(60)
    facts = facts_from_email(raw)  # default depth 50
    assert any("MIME limits" in n for n in facts.notes)
    assert decide(facts, blocklist()).action == "quarantine"
    shown = show_email(raw)
    assert any("nested more than 50" in n for n in shown.notes)
    assert "the words" in show_email(raw, ReadLimits(mime_depth=70)).body_html
    assert any("nested more than" in n for n in readable_email(raw).notes)


def test_a_thousand_deep_message_is_shown_without_recursion() -> None:
    raw = nested(1000)
    assert show_email(raw).notes  # (the modern parser's walk raised RecursionError here)
    readable_email(raw)
    assert decide(facts_from_email(raw), blocklist()).action == "quarantine"


def test_header_bytes_bound_the_parser_not_the_address_scan() -> None:
    strangers = ", ".join(f"Person {i} <p{i}@else.example>" for i in range(400))
    raw = f"From: {strangers}, Jon <{LISTED}>\r\n\r\nhi\r\n".encode()
    small = facts_from_email(raw, limits=ReadLimits(header_bytes=1024))
    parsed = [p for p in small.parties if p.signal == "from"]
    assert len(parsed) < 60  # only the first KiB went through the structured parser
    assert any(p.address == LISTED for p in small.parties)
    assert decide(small, blocklist()).action == "quarantine"
    assert len([p for p in facts_from_email(raw).parties if p.signal == "from"]) == 401


def test_attachments_shown_is_a_bound_on_the_list_not_on_the_evidence() -> None:
    raw = with_attachments(8)
    shown = show_email(raw, ReadLimits(attachments_shown=3))
    assert [a.filename for a in shown.attachments] == ["f0.pdf", "f1.pdf", "f2.pdf"]
    assert any("first 3 attachments" in n for n in shown.notes)
    assert len(show_email(raw).attachments) == 8
    assert attachment(raw, 7) == ("f7.pdf", b"x7")
    assert len(readable_email(raw, ReadLimits(attachments_shown=3)).attachments) == 3


def test_limits_are_documented_in_the_example_config() -> None:
    example = Path(__file__).resolve().parents[1] / "config" / "nocontact.example.toml"
    text = example.read_text()
    for key in ("mime_parts", "mime_depth", "header_bytes", "attachments_shown"):
        assert key in text
    parse_config(text, file=str(example))


def test_the_report_says_which_part_was_shortened() -> None:
    addresses = ", ".join(f"p{i}@else.example" for i in range(400))
    long_from = readable_email(f"From: {addresses}, {LISTED}\r\n\r\nhello\r\n".encode())
    assert long_from.text == "hello"
    assert [n for n in long_from.notes if "shortened" in n] == [
        "long headers shortened here (ending in …); the original is whole"
    ]
    long_body = readable_email(f"From: {LISTED}\r\n\r\n{'word ' * 10_000}\r\n".encode())
    assert [n for n in long_body.notes if "shortened" in n] == [
        "text shortened to 20000 characters; the original is whole"
    ]
