"""The survivor's pages in real Chromium: login, a calm home, the vault path, people, exit."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from nocontact.db import transaction
from nocontact.models import ChannelStatus, ItemKey, LedgerEntry, VaultItem, utcnow
from nocontact.users import add_user
from nocontact.web.models import WebSession
from tests.conftest import PASSPHRASE
from tests.web.conftest import REVIEWER_PASSPHRASE, Site, configure, login, shoot

SENDER = "jordan@example.net"
SUBJECT = "Open this now you coward"
BODY = "Distinctive words of the held body"


def _kinds(site: Site, after: int = 0) -> list[str]:
    with Session(site.rt.engine) as s:
        q = select(LedgerEntry).where(LedgerEntry.seq > after).order_by(col(LedgerEntry.seq))
        return [e.kind for e in s.exec(q).all()]


def _head(site: Site) -> int:
    with Session(site.rt.engine) as s:
        return max((e.seq for e in s.exec(select(LedgerEntry)).all()), default=0)


def test_wrong_passphrase_is_refused_and_the_right_one_logs_in(page: Page, site: Site) -> None:
    login(page, site, passphrase="not the passphrase at all")
    expect(page.locator("[role=alert]")).to_contain_text("did not work")
    assert page.url.endswith("/login")
    login(page, site)
    expect(page.locator("main")).to_contain_text("What is being watched")


def test_calm_home_shows_no_sender_or_subject_of_held_messages(page: Page, site: Site) -> None:
    site.hold_email(f"Jordan Reed <{SENDER}>", SUBJECT, BODY)
    now = utcnow()
    with transaction(site.rt.engine) as s:  # what the IMAP watcher records about its accounts
        s.add(
            ChannelStatus(
                household_id=site.rt.household_id,
                channel="imap",
                name="personal",
                last_checked=now - timedelta(minutes=2),
                last_ok=now,
            )
        )
        s.add(
            ChannelStatus(
                household_id=site.rt.household_id,
                channel="imap",
                name="work",
                ok=False,
                last_checked=now,
                last_ok=now - timedelta(hours=3),
                last_error="AUTHENTICATIONFAILED",
                failures=4,
            )
        )
    login(page, site)
    expect(page.locator("h1")).to_have_text("Something needs attention")
    health = page.locator("ul.health")
    expect(health).to_contain_text("Your mail account “personal”: checked 2 minutes ago")
    expect(health).to_contain_text("“work”: could not be checked since 3 hours ago")
    assert "AUTHENTICATIONFAILED" not in page.content()
    for path in ("/", "/activity", "/vault", "/settings"):
        if path != "/":
            page.goto(site.url + path)
        html = page.content()
        for secret in (SENDER, "Jordan Reed", SUBJECT, BODY):
            assert secret not in html, f"{secret!r} shown on {path}"
        assert not re.search(r"\d+ messages? kept", html) and "blocked" not in html.lower()
        if path == "/":
            expect(page.locator("main")).to_contain_text("What is being watched")
            shoot(page, "home")
        if path == "/vault":
            shoot(page, "vault-intro")


def test_home_shows_counts_only_when_asked(page: Page, site: Site) -> None:
    site.hold_email(SENDER, SUBJECT + " again", BODY)
    with Session(site.rt.engine) as s:
        n = len(s.exec(select(VaultItem)).all())
    configure(site.rt, show_counts=True)
    login(page, site)
    expect(page.locator("main")).to_contain_text(f"{n} messages kept")


def test_vault_opens_only_through_each_step_with_cooldown(page: Page, site: Site) -> None:
    held = site.hold_email(f"Jordan Reed <{SENDER}>", SUBJECT, BODY)
    with transaction(site.rt.engine) as s:  # added after the item was sealed
        reviewer = add_user(s, site.rt.household_id, "robin", "reviewer", REVIEWER_PASSPHRASE)
        reviewer_key = reviewer.recipient_id
    configure(site.rt, vault_cooldown_minutes=10)
    login(page, site)
    start = _head(site)

    # before any step, the item cannot be reached
    page.goto(f"{site.url}/vault/items/{held.item_id}")
    assert page.url.endswith("/vault")
    expect(page.get_by_role("button", name="Ask my trusted person to look instead")).to_be_visible()
    page.get_by_role("button", name="Continue to open the vault").click()
    page.fill("#passphrase", PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.locator("h1")).to_contain_text("The vault opens in 10 minutes")
    shoot(page, "vault-wait")
    page.get_by_role("button", name="Cancel, don’t open").click()
    expect(page.locator("main")).to_contain_text("Nothing was opened")
    page.goto(f"{site.url}/vault/items")
    assert page.url.endswith("/vault"), "cancelling must close the vault"

    page.get_by_role("button", name="Continue to open the vault").click()
    page.fill("#passphrase", PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.locator("h1")).to_contain_text("The vault opens in 10 minutes")
    with transaction(site.rt.engine) as s:  # ten minutes pass
        for row in s.exec(select(WebSession)).all():
            row.vault_opens_at = utcnow()
            s.add(row)
    page.get_by_role("link", name="Check again").click()
    expect(page.locator("h1")).to_have_text("Held messages")
    listing = page.content()
    assert SUBJECT not in listing and BODY not in listing and SENDER not in listing
    expect(page.locator("ul.items")).to_contain_text("Jordan")
    shoot(page, "vault-list")
    db = site.rt.home / "nocontact.db"
    stored = b"".join(p.read_bytes() for p in db.parent.glob("nocontact.db*"))
    assert b"AGE-SECRET-KEY-" not in stored, "an unwrapped identity reached the disk"

    page.locator("ul.items a").first.click()
    expect(page.locator("dl.headers")).to_contain_text(SUBJECT)
    frame = page.frame_locator("iframe.body")
    expect(frame.locator("body")).to_contain_text(BODY)
    shoot(page, "vault-item")

    assert _kinds(site, start) == [
        "vault_open_started",
        "vault_unlocked",
        "vault_open_cancelled",
        "vault_open_started",
        "vault_unlocked",
        "vault_list_viewed",
        "item_opened",
        "body_viewed",
    ]
    with Session(site.rt.engine) as s:
        assert s.get(ItemKey, (held.item_id, reviewer_key)) is not None, "reviewer got no key"
        item = s.get(VaultItem, held.item_id)
        assert item is not None and item.status == "opened"
        unlocked = [
            json.loads(e.body)
            for e in s.exec(select(LedgerEntry).where(LedgerEntry.kind == "vault_unlocked"))
        ]
    assert unlocked[-2]["cooldown_minutes"] == 10 and unlocked[-2]["keys_added"] >= 1

    page.goto(site.url + "/activity")
    expect(page.locator("ul.activity")).to_contain_text("You opened one held message")
    expect(page.locator("ul.activity")).to_contain_text("cancelled opening the vault")
    assert SUBJECT not in page.content()
    shoot(page, "activity")

    page.goto(site.url + "/vault/items")
    page.get_by_role("button", name="Close the vault").click()
    page.goto(f"{site.url}/vault/items/{held.item_id}")
    assert page.url.endswith("/vault"), "closing must forget the key"


def test_changing_the_list_asks_the_passphrase_again(page: Page, site: Site) -> None:
    login(page, site)
    start = _head(site)
    page.goto(site.url + "/people/new")
    expect(page.locator("h1")).to_have_text("Please confirm it is you")
    page.fill("#passphrase", PASSPHRASE)
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("h1")).to_have_text("Add someone to your list")
    page.fill("#name", "Sam")
    page.check("input[value=ally]")
    page.fill("#emails", "not an address")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[role=alert]")).to_be_visible()
    page.fill("#emails", "sam@example.org")
    page.fill("#phones", "07700 900123")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("main")).to_contain_text("sam@example.org")
    shoot(page, "people")

    page.goto(site.url + "/people/Sam/edit")
    page.check("input[value=coparent]")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("main")).to_contain_text("Co-parent: delivered, copy kept")
    page.locator("article", has_text="Sam").get_by_role("button", name="Remove from list").click()
    expect(page.locator("main")).not_to_contain_text("sam@example.org")
    assert [k for k in _kinds(site, start) if k.startswith("list_")] == [
        "list_add",
        "list_change",
        "list_remove",
    ]


def test_quick_exit_is_first_in_tab_order_and_leaves_on_two_escapes(page: Page, site: Site) -> None:
    login(page, site)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "quick-exit"
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.wait_for_url("about:blank#left")
    page.go_back()
    assert "What is being watched" not in page.content(), "Back returned to the page left"
