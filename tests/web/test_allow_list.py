"""Always-let-through entries (relation ``allow``, issue 8) made on the owner's people page in
real Chromium, then checked through the real intake: an allowed sender and an allowed word beat
mention matching, never an explicit block."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from nocontact.db import transaction
from nocontact.intake import InboundMessage
from nocontact.matching.facts import facts_from_email
from nocontact.people.service import add_person
from tests.conftest import PASSPHRASE
from tests.web.conftest import Site, login, shoot

FRIEND = "casey.lin@friends.example"


@pytest.fixture(scope="module")
def casey(site: Site) -> None:
    """This module's own abuser (the site is shared): "Casey" alone counts as a mention."""
    with transaction(site.rt.engine) as s:
        add_person(
            s,
            site.rt.household_id,
            "Casey",
            "abuser",
            emails=["casey@example.net"],
            aliases=["Casey", "Casey Hart"],
        )


def _action(site: Site, sender: str, body: str) -> str:
    site._n += 1
    raw = f"From: {sender}\r\nSubject: a note\r\nX-N: {site._n}\r\n\r\n{body}\r\n".encode()
    msg = InboundMessage("email", raw, f"allow:{site._n}", facts_from_email(raw))
    return site.intake.process(msg).action


def test_allow_entry_from_the_people_page_beats_mentions_but_never_a_block(
    page: Page, site: Site, casey: None
) -> None:
    assert _action(site, f"Casey Lin <{FRIEND}>", "Casey says the party is at 8") == "review"

    login(page, site)
    page.goto(site.url + "/people/new")
    page.fill("#passphrase", PASSPHRASE)
    page.get_by_role("button", name="Confirm").click()
    allow = page.get_by_label("Always let through (and their name does not count as a mention)")
    expect(page.locator("#allow-help")).to_contain_text("never lets through an address")
    page.fill("#name", "Casey Lin")
    allow.check()
    page.fill("#emails", "casey.lin at friends")
    page.fill("#aliases", "Casey")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[role=alert]")).to_be_visible()  # validated like every relation
    expect(allow).to_be_checked()
    page.fill("#emails", FRIEND)
    page.get_by_role("button", name="Save").click()
    card = page.locator("article", has_text="Casey Lin")
    expect(card).to_contain_text("Always let through (their name does not count as a mention)")
    shoot(page, "people-allow")

    # the allowed sender reaches the survivor even when naming the abuser in full
    assert _action(site, f"Casey Lin <{FRIEND}>", "Casey Hart was at the school today") == "deliver"
    # anyone's "Casey" alone no longer counts; the abuser's full name still does
    assert _action(site, "sam@else.example", "Casey says the party is at 8") == "deliver"
    assert _action(site, "sam@else.example", "Casey Hart says hello") == "review"

    # an allow entry never beats an explicit block, even for the abuser's own address
    page.goto(site.url + "/people/Casey%20Lin/edit")
    page.fill("#emails", f"{FRIEND}\ncasey@example.net")
    page.get_by_role("button", name="Save").click()
    expect(card).to_contain_text("casey@example.net")
    assert _action(site, "casey@example.net", "it is me") == "quarantine"
    assert _action(site, f"Casey Lin <{FRIEND}>", "still fine") == "deliver"
