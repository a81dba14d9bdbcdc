"""Court orders on the owner's pages (issue 8): record one in real Chromium, read the week by
week timeline of a scripted month of intakes (set ``received_at``), and download
``violations.csv`` after giving the passphrase again."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from nocontact.db import transaction
from nocontact.intake import InboundMessage
from nocontact.matching.facts import facts_from_email, facts_from_sms
from nocontact.models import LedgerEntry, User
from nocontact.orders.models import ProtectiveOrder
from nocontact.people.gobetween import add_go_between, sender_of
from nocontact.people.service import add_person
from nocontact.web.pages.orders import weeks
from tests.conftest import PASSPHRASE
from tests.web.conftest import Site, csrf_of, http_login, login, shoot

MONDAY = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # the order is made this day
SECRET = "Riley's words nobody should see on the timeline"


@pytest.fixture(scope="module")
def month(site: Site) -> dict[str, int]:
    """March 2026 through the real intake: before, during and after the order."""
    hid = site.rt.household_id
    with transaction(site.rt.engine) as s:
        add_person(
            s,
            hid,
            "Riley",
            "abuser",
            emails=["riley@example.net"],
            phones=["07700 900888"],
            aliases=["Riley Stone"],
        )
        add_person(s, hid, "Dana", "ally", emails=["dana@example.net"])
        add_person(s, hid, "Sky", "coparent", emails=["sky@example.net"])
    plan = [
        (-3, "riley@example.net", "before the order"),
        (1, "riley@example.net", "direct, week one"),
        (2, "sms", "direct text, week one"),
        (3, "dana@example.net", "passed on by an ally, week one"),
        (4, "sky@example.net", "pick-up times (co-parent, not counted)"),
        (8, "riley@example.net", "direct, week two"),
        (15, "cousin@other.example", "Riley Stone wants you to call"),
        (16, "friend@other.example", "Riley Stone's birthday, harmless"),
        (22, "riley@example.net", "direct, week four"),
        (31, "riley@example.net", "after the order ended"),
    ]
    ids: dict[str, int] = {}
    for n, (day, sender, text) in enumerate(plan):
        at = MONDAY + timedelta(days=day)
        if sender == "sms":
            raw = json.dumps({"From": "07700900888", "Body": f"{SECRET} {n}"}).encode()
            facts = facts_from_sms("07700900888", f"{text} {SECRET}")
            msg = InboundMessage("sms", raw, f"orders:sms:{n}", facts, at, {"from": "07700900888"})
        else:
            raw = f"From: {sender}\r\nSubject: {SECRET}\r\nX-N: {n}\r\n\r\n{text}\r\n".encode()
            msg = InboundMessage("email", raw, f"orders:{n}", facts_from_email(raw), at)
        result = site.intake.process(msg)
        assert result.item_id is not None, text
        ids[text] = result.item_id
    with transaction(site.rt.engine) as s:  # the reviewer confirms one go-between
        owner = s.exec(select(User).where(User.name == "owner")).one()
        cousin = sender_of(
            {"parties": [{"signal": "from", "address": "cousin@other.example"}]}, "GB"
        )
        assert cousin is not None and owner.id is not None
        add_go_between(
            s,
            hid,
            sender=cousin,
            item_ids=[ids["Riley Stone wants you to call"]],
            reviewer_id=owner.id,
        )
    return ids


def test_order_recorded_in_the_browser_shows_contact_week_by_week_and_downloads_the_csv(
    page: Page, site: Site, month: dict[str, int]
) -> None:
    login(page, site)
    page.get_by_role("link", name="Court orders").click()
    expect(page.locator("h1")).to_have_text("Court orders")
    page.fill("#court", "Family Court at Leeds")
    page.fill("#case_number", "LS26F00123")
    page.fill("#issued", "2026-03-02")
    page.fill("#expires", "2026-02-28")
    page.get_by_role("button", name="Save the order").click()
    expect(page.locator("[role=alert]")).to_contain_text("cannot expire before it was issued")
    expect(page.locator("#court")).to_have_value("Family Court at Leeds")
    page.fill("#expires", "2026-03-29")
    page.get_by_role("button", name="Save the order").click()

    expect(page.locator("h1")).to_have_text("Contact since the order")
    expect(page.locator("#totals")).to_have_text(
        "Since the order: 4 direct, 2 through someone else."
    )
    rows = page.locator("table.weeks tbody tr")
    assert rows.all_inner_texts() == [
        "02 Mar 2026\t2\t1",
        "09 Mar 2026\t1\t0",
        "16 Mar 2026\t0\t1",
        "23 Mar 2026\t1\t0",
    ]
    expect(page.locator("ul.attempts")).to_contain_text("Text message · Riley · direct")
    expect(page.locator("ul.attempts")).to_contain_text("Dana · through someone else")
    assert SECRET not in page.content() and "riley@example.net" not in page.content()
    shoot(page, "order-timeline")

    page.get_by_role("link", name="Download violations.csv").click()
    expect(page.locator("h1")).to_have_text("Please confirm it is you")
    page.fill("#passphrase", PASSPHRASE)
    with page.expect_download() as download:
        page.get_by_role("button", name="Confirm").click()
    assert download.value.suggested_filename == "violations.csv"
    text = Path(download.value.path()).read_text(encoding="utf-8")
    table = list(csv.DictReader(io.StringIO(text)))
    assert [(r["date"], r["contact"], r["violation"]) for r in table] == [
        ("2026-03-03", "direct", "yes"),
        ("2026-03-04", "direct", "yes"),
        ("2026-03-05", "third-party", "yes"),
        ("2026-03-10", "direct", "yes"),
        ("2026-03-17", "third-party", "yes"),
        ("2026-03-24", "direct", "yes"),
    ]
    assert int(table[4]["item"]) == month["Riley Stone wants you to call"]
    assert SECRET not in text and "riley@example.net" not in text
    with Session(site.rt.engine) as s:
        kinds = [e.kind for e in s.exec(select(LedgerEntry).order_by(col(LedgerEntry.seq)))]
    assert kinds[-1] == "violations_exported" and "order_add" in kinds


def test_csv_needs_the_passphrase_again_and_a_bad_order_is_refused(
    site: Site, month: dict[str, int]
) -> None:
    with transaction(site.rt.engine) as s:
        order = ProtectiveOrder(
            household_id=site.rt.household_id,
            court="County Court",
            case_number="X1",
            issued=date(2026, 3, 2),
            expires=date(2026, 3, 29),
            third_party_prohibited=False,
        )
        s.add(order)
        s.flush()
        order_id = order.id
    with http_login(site) as client:
        r = client.get(f"/orders/{order_id}/violations.csv", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == f"/confirm?back=/orders/{order_id}/violations.csv"
        page = client.get(f"/orders/{order_id}")
        assert "not counted as breaches" in page.text
        client.post("/confirm", data={"csrf": csrf_of(page.text), "passphrase": PASSPHRASE})
        r = client.get(f"/orders/{order_id}/violations.csv")
        assert r.headers["content-disposition"] == 'attachment; filename="violations.csv"'
        violations = [row["violation"] for row in csv.DictReader(io.StringIO(r.text))]
        assert violations.count("no") == 2 and violations.count("yes") == 4
        assert client.get("/orders/999999").status_code == 404
        bad = client.post(
            "/orders", data={"csrf": csrf_of(page.text), "court": "C", "case_number": "1"}
        )
        assert bad.status_code == 400 and "the date the order was issued" in bad.text


def test_quiet_weeks_are_shown_as_zero() -> None:
    order = ProtectiveOrder(
        household_id=1, court="C", case_number="1", issued=date(2026, 3, 4), expires=None
    )
    got = weeks(order, [], today=date(2026, 3, 20))
    assert [(w["week_of"], w["direct"], w["third_party"]) for w in got] == [
        (date(2026, 3, 2), 0, 0),
        (date(2026, 3, 9), 0, 0),
        (date(2026, 3, 16), 0, 0),
    ]
