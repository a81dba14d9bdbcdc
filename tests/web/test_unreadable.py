"""A message whose bytes cannot all be read: the page shows what it can, says so plainly, and a
file named to deceive is offered under a safe name."""

from __future__ import annotations

import base64

from playwright.sync_api import Page, expect

from nocontact.decoding import UNREADABLE_NOTE
from nocontact.intake import InboundMessage
from nocontact.matching.facts import facts_from_email
from tests.conftest import PASSPHRASE
from tests.web.conftest import Site, login, press, shoot


def test_unreadable_characters_are_marked_and_a_deceptive_file_name_is_made_safe(
    site: Site, page: Page
) -> None:
    payload = base64.b64encode(b"MZ not really a pdf").decode()
    raw = (
        b"From: J\xf6rdan R\xe9ed <jordan@example.net>\r\n"  # Latin-1, raw: not UTF-8
        b"Subject: =?x-no-such-charset?q?call_me?= \xe2\x80\xae\x07now\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nCall me.\r\n"
        b"--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="..\\\\..\\\\invoice\xe2\x80\xaefdp.exe"\r\n'
        b"\r\n" + payload.encode() + b"\r\n--b--\r\n"
    )
    held = site.intake.process(
        InboundMessage("email", raw, "test:unreadable", facts_from_email(raw))
    )
    assert held.item_id is not None

    login(page, site)
    page.goto(site.url + "/vault")
    page.get_by_role("button", name="Continue to open the vault").click()
    page.fill("#passphrase", PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.locator("h1")).to_have_text("Held messages")
    page.goto(f"{site.url}/vault/items/{held.item_id}")
    main = page.locator("main")
    expect(main).to_contain_text(UNREADABLE_NOTE)
    expect(main).to_contain_text("J\ufffdrdan R\ufffded <jordan@example.net>")
    expect(main).to_contain_text("call me \ufffdnow")  # bell shown as a mark, RLO removed
    text = main.inner_text()
    assert "\u202e" not in text and "\x07" not in text
    expect(page.frame_locator("iframe.body").locator("body")).to_contain_text("Call me.")
    shoot(page, "item-unreadable")
    with page.expect_download() as download:
        press(page.get_by_role("link", name="invoicefdp.exe"))
    assert download.value.suggested_filename == "invoicefdp.exe"
