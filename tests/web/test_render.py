"""Showing held messages: the sanitised body, headers, attachments; never a crash on odd mail."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from nocontact.web.plain import when
from nocontact.web.render import attachment, show_email, show_sms


def _eml(headers: str, body: str) -> bytes:
    return (f"From: J <j@example.net>\r\nSubject: Hi\r\n{headers}\r\n\r\n{body}\r\n").encode()


def test_alternative_mail_shows_the_cleaned_html_part() -> None:
    raw = _eml(
        'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="x"',
        "--x\r\nContent-Type: text/plain\r\n\r\nplain words\r\n"
        "--x\r\nContent-Type: text/html\r\n\r\n"
        '<p onclick="steal()">rich <b>words</b><script>alert(1)</script></p>\r\n--x--',
    )
    shown = show_email(raw)
    assert "rich <b>words</b>" in shown.body_html
    assert "onclick" not in shown.body_html and "alert" not in shown.body_html
    assert ("Subject", "Hi") in shown.headers


def test_plain_text_is_escaped_into_paragraphs() -> None:
    shown = show_email(_eml("Content-Type: text/plain", "a <b>\r\nline two\r\n\r\nnext"))
    assert shown.body_html == "<p>a &lt;b&gt;<br>line two</p><p>next</p>"


def test_unknown_charset_and_broken_headers_still_show_something() -> None:
    raw = (
        b"From: <<<@@\r\nSubject: =?x-unknown?q?zz?=\r\n"
        b"Content-Type: text/plain; charset=x-nope\r\n\r\nstill here\r\n"
    )
    shown = show_email(raw)
    assert "still here" in shown.body_html


def test_attachments_are_listed_and_fetched_by_position() -> None:
    raw = _eml(
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="m"',
        "--m\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        '--m\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="a.pdf"'
        "\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--m--",
    )
    shown = show_email(raw)
    assert [(a.index, a.filename, a.content_type, a.size) for a in shown.attachments] == [
        (0, "a.pdf", "application/pdf", 5)
    ]
    assert attachment(raw, 0) == ("a.pdf", b"%PDF-")
    assert attachment(raw, 1) is None


def test_sms_shows_the_text_from_the_kept_request() -> None:
    raw = json.dumps({"From": "+447700900123", "Body": "call me <now>"}).encode()
    shown = show_sms(raw, {"from": "+447700900123"})
    assert shown.body_html == "<p>call me &lt;now&gt;</p>"
    assert shown.headers == [("From", "+447700900123")]
    assert "hello" in show_sms(b"hello", {}).body_html


def test_times_are_shown_in_the_household_time_zone() -> None:
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert when(summer, "Europe/London") == "01 Jul 2026, 13:00 BST"
    assert when(summer, "Not/AZone") == "01 Jul 2026, 12:00 UTC"
