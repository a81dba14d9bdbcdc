"""report.pdf and report.html: readable, complete, non-Latin text intact, nothing remote."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path

from pypdf import PdfReader

from nocontact.export.content import readable_email, readable_sms
from tests.export.conftest import DATA, NON_LATIN, Shared, read_member


def pdf_pages(path: Path) -> list[str]:
    reader = PdfReader(io.BytesIO(read_member(path, "report.pdf")))
    return [page.extract_text() for page in reader.pages]


def test_pdf_cover_page_says_who_when_what_and_the_digests(shared: Shared) -> None:
    pages = pdf_pages(shared.path)
    m = json.loads(read_member(shared.path, "manifest.json"))
    cover = pages[0]
    assert "Evidence file" in cover
    assert "Exported by" in cover and "owner" in cover
    assert m["exported_at"] in cover
    assert "everyone; email and texts" in cover
    assert "3 / 1" in cover  # email / texts
    assert m["items_sha256"] in cover
    assert m["ledger"]["head"] in cover
    assert f"page 1 of {len(pages)}" in cover


def test_pdf_has_a_timeline_and_a_section_per_item_with_non_latin_text(shared: Shared) -> None:
    pages = pdf_pages(shared.path)
    m = json.loads(read_member(shared.path, "manifest.json"))
    assert "Timeline" in pages[1] and "dmitri@example.ru" in pages[1]
    first = m["items"][0]
    section = next(p for p in pages if "Item 1: email" in p)
    assert NON_LATIN in section
    assert "Позвони мне" in section  # the subject, decoded from RFC 2047
    assert "Ты не можешь прятаться вечно." in section
    assert first["sha256"] in section and first["file"] in section
    assert re.search(r"page \d+ of \d+", section)
    sms = next(p for p in pages if "Item 4: sms" in p)
    assert "Answer your phone." in sms


def test_html_report_is_self_contained_and_loads_nothing(shared: Shared) -> None:
    html = read_member(shared.path, "report.html").decode()
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    for forbidden in ("<script", "<img", "<iframe", "<link", "src=", "url(", "http://", "https://"):
        assert forbidden not in html.lower(), forbidden
    assert "Jordan says call him tonight." in html  # the HTML mail, as plain text
    assert "tracker.example.net" not in html
    assert NON_LATIN in html
    for it in json.loads(read_member(shared.path, "manifest.json"))["items"]:
        assert it["sha256"] in html
    pdf_text = "\n".join(pdf_pages(shared.path))
    assert "tracker.example.net" not in pdf_text
    assert "alert(" not in pdf_text and "alert(" not in html


def test_html_mail_becomes_plain_text_and_attachments_are_listed() -> None:
    view = readable_email((DATA / "export-thirdparty.eml").read_bytes())
    assert "Jordan says call him tonight." in view.text
    assert "alert" not in view.text and "color:red" not in view.text
    assert view.attachments == ["letter.pdf (application/pdf, 19 bytes)"]
    assert ("Subject", "He wants you to call") in view.headers


def test_unreadable_input_still_gets_a_section() -> None:
    assert readable_email(b"\xff\xfe not mail at all").headers == []
    view = readable_sms(b"From=%2B44&Body=form+text", "+44", None)
    assert view.text == "From=%2B44&Body=form+text"
    assert view.notes == ["shown as the request was received"]


def test_pdf_says_when_its_font_cannot_draw_some_characters() -> None:
    """DejaVu has no Chinese or emoji: the section says so rather than silently dropping them."""
    from nocontact.export.manifest import ItemRecord
    from nocontact.export.report import Cover
    from nocontact.export.report_pdf import MISSING_GLYPHS, PdfReport

    cover = Cover("home", "owner", "2026-11-26T00:00:00Z", "everyone", [], "a" * 64, 1, "b", "c")
    rec = ItemRecord(
        1,
        "sms",
        "2026-11-01T00:00:00Z",
        "+447700900123",
        "",
        "王小明",
        "abuser",
        "direct",
        "quarantine",
        "d" * 64,
        10,
        "items/00001.json",
        1,
    )
    pdf = PdfReport(cover)
    pdf.item(1, rec, readable_sms(b"{}", "+447700900123", "我知道 Дмитрий"))
    latin = dataclasses.replace(rec, person="Jordan Reed")
    pdf.item(2, latin, readable_sms(b"{}", "+447700900123", "plain Latin and Кириллица"))
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(pdf.output())).pages]
    first_words = MISSING_GLYPHS.split(" (")[0]
    assert first_words in pages[1] and "Дмитрий" in pages[1]
    assert "Кириллица" in pages[2] and first_words not in pages[2]
