"""report.html in a real browser (Chromium): it shows the items and asks for nothing remote."""

from __future__ import annotations

import zipfile
from pathlib import Path

from playwright.sync_api import Browser

from tests.export.conftest import NON_LATIN, Shared


def test_report_html_renders_offline_and_requests_nothing(
    shared: Shared, tmp_path: Path, browser: Browser
) -> None:
    with zipfile.ZipFile(shared.path) as z:
        z.extract("report.html", tmp_path)
    page_url = (tmp_path / "report.html").as_uri()
    requested: list[str] = []
    context = browser.new_context()
    try:
        page = context.new_page()
        page.on("request", lambda r: requested.append(r.url))
        page.goto(page_url, timeout=30_000)
        page.wait_for_load_state("networkidle", timeout=30_000)
        text = page.inner_text("body")
        # the timeline links to the sections inside the same file
        page.click("a[href='#item-2']", timeout=10_000)
    finally:
        context.close()
    assert requested == [page_url]  # the file itself, nothing else
    assert "Jordan says call him tonight." in text
    assert NON_LATIN in text and "Timeline" in text
