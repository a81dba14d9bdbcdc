"""Go-betweens (issue 8) in real Chromium and over HTTP: the reasons in plain words, the
reviewer's one step "add this sender as someone passing messages on", the next message from
that sender quarantined by the real intake, and the same-sender suggestion."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from nocontact.db import transaction
from nocontact.intake import InboundMessage, IntakeResult
from nocontact.matching.facts import facts_from_email, facts_from_sms
from nocontact.models import LedgerEntry, Person, ReviewNote, User
from nocontact.people.service import add_person, list_people
from nocontact.users import add_user
from tests.web.conftest import REVIEWER_PASSPHRASE, Site, csrf_of, http_login, login, press, shoot

REVIEWER = "noor"


@pytest.fixture(scope="module")
def noor(site: Site) -> int:
    """An abuser of this module's own (the site is shared) and a reviewer added before any
    item here is held, so every item is sealed to them."""
    with transaction(site.rt.engine) as s:
        add_person(
            s,
            site.rt.household_id,
            "Morgan",
            "abuser",
            emails=["morgan@example.net"],
            phones=["07700 900456"],
            aliases=["Morgan Blake"],
        )
        user = add_user(s, site.rt.household_id, REVIEWER, "reviewer", REVIEWER_PASSPHRASE)
        assert user.id is not None
        return user.id


def _text(site: Site, sender: str, body: str, n: str) -> IntakeResult:
    raw = json.dumps({"From": sender, "Body": body, "MessageSid": n}).encode()
    msg = InboundMessage(
        "sms", raw, f"sms:test:{n}", facts_from_sms(sender, body), meta={"from": sender}
    )
    return site.intake.process(msg)


def _email(site: Site, sender: str, body: str, n: str) -> IntakeResult:
    raw = f"From: {sender}\r\nTo: me@example.org\r\nSubject: {n}\r\n\r\n{body}\r\n".encode()
    return site.intake.process(InboundMessage("email", raw, f"gb:{n}", facts_from_email(raw)))


def _unlock(page: Page, site: Site) -> None:
    login(page, site, REVIEWER, REVIEWER_PASSPHRASE)
    page.goto(site.url + "/review/unlock")
    page.fill("#passphrase", REVIEWER_PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    page.wait_for_url("**/review")


def _ledger(site: Site, kind: str) -> list[dict[str, object]]:
    with Session(site.rt.engine) as s:
        q = select(LedgerEntry).where(LedgerEntry.kind == kind).order_by(col(LedgerEntry.seq))
        return [json.loads(e.body) for e in s.exec(q).all()]


def _passed_on(site: Site, item_id: int | None) -> bool:
    """The go-between mark: the one part of a note kept in the clear, for the timeline."""
    with Session(site.rt.engine) as s:
        note = s.get(ReviewNote, item_id)
    return note is not None and note.go_between


def test_reviewer_adds_the_sender_as_an_ally_and_their_next_message_is_quarantined(
    page: Page, site: Site, noor: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    held = _email(
        site,
        "Pat Doe <pat@carrier.example>",
        "Morgan Blake asked me to say: ring him on 07700 900456.",
        "pat-1",
    )
    assert held.action == "review"
    _unlock(page, site)
    assert "pat@carrier.example" not in page.content(), "the list page named a sender"
    page.goto(f"{site.url}/review/items/{held.item_id}")
    reasons = page.locator("ul.reasons")
    expect(reasons).to_contain_text(
        "It mentions ‘Morgan Blake’ and their number 07700 900456 (listed as Morgan)."
    )
    form = page.locator("form[action$='/ally']")
    expect(form.locator("#ally-name")).to_have_value("Pat Doe")
    form.evaluate("e => e.scrollIntoView()")  # see conftest.press
    page.fill("#ally-note", "Morgan's cousin")
    press(page.get_by_role("button", name="Add this sender to the list as someone passing"))
    expect(page.locator("main")).to_contain_text("on the list now as someone passing messages on")
    expect(page.locator("main")).to_contain_text("This sender is on the list as someone passing")
    expect(page.locator("input[value=go-between]")).to_be_checked()
    shoot(page, "review-go-between")

    assert _passed_on(site, held.item_id)
    with Session(site.rt.engine) as s:
        pat = next(p for p in list_people(s, site.rt.household_id) if p["name"] == "Pat Doe")
    assert pat["relation"] == "ally" and pat["emails"] == ["pat@carrier.example"]
    assert pat["note"] == "Morgan's cousin"
    entry = _ledger(site, "go_between_added")[-1]
    assert entry["user"] == noor and entry["items"] == [held.item_id]

    following = _email(site, "pat@carrier.example", "Just saying hello this time.", "pat-2")
    assert following.action == "quarantine"
    assert (following.decision.person_name, following.decision.relation) == ("Pat Doe", "ally")

    page.context.clear_cookies()
    login(page, site)
    page.goto(site.url + "/activity")
    expect(page.locator("ul.activity")).to_contain_text(
        f"{REVIEWER} added someone passing messages on to your list"
    )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "added a go-between" in logged  # the capture works: the step is logged by id
    for secret in ("pat@carrier.example", "Pat Doe", "Morgan's cousin", "07700 900456"):
        assert secret not in logged, f"{secret!r} reached the logs"


def test_three_held_messages_from_one_new_sender_bring_a_suggestion(
    page: Page, site: Site, noor: int
) -> None:
    three = [
        _email(site, f"Quinn <{addr}>", f"Morgan Blake wants the keys back ({n})", f"quinn-{n}")
        for n, addr in enumerate(
            ("quinn@relay.example", "QUINN@relay.example", "quinn@Relay.example")
        )
    ]
    two = [
        _email(site, "lee@relay.example", f"Morgan Blake is upset ({n})", f"lee-{n}")
        for n in range(2)
    ]
    assert {r.action for r in three + two} == {"review"}
    newest = three[-1].item_id
    _unlock(page, site)
    suggestion = page.locator(f"p.notice:has(a[href='/review/senders/{newest}'])")
    expect(suggestion).to_contain_text("3 held messages come from the same sender")
    for r in two:
        assert f"/review/senders/{r.item_id}" not in page.content(), "two is not several"
    content = page.content()
    assert "quinn@" not in content.lower() and "Quinn" not in content, "sender on the list page"
    shoot(page, "review-suggestion")

    suggestion.get_by_role("link").click()
    expect(page.locator("h1")).to_have_text("3 held messages from one sender")
    expect(page.locator("main strong")).to_have_text("quinn@relay.example", ignore_case=True)
    assert page.locator("ul.items li").count() == 3
    assert _ledger(site, "review_sender_viewed")[-1]["items"] == [
        r.item_id for r in reversed(three)
    ]
    page.get_by_role("button", name="Add this sender to the list as someone passing").click()
    expect(page.locator("h1")).to_have_text("Added to the list")
    expect(page.locator("main")).to_contain_text("The 3 held messages from them are marked")
    assert all(_passed_on(site, r.item_id) for r in three)
    assert not any(_passed_on(site, r.item_id) for r in two)

    page.goto(site.url + "/review")
    assert f"/review/senders/{newest}" not in page.content(), "suggested after being added"
    assert _email(site, "quinn@relay.example", "hi", "quinn-next").action == "quarantine"


@contextmanager
def _reviewer(site: Site) -> Iterator[httpx.Client]:
    with http_login(site, REVIEWER, REVIEWER_PASSPHRASE) as client:
        r = client.post(
            "/review/unlock",
            data={"csrf": csrf_of(client.get("/review").text), "passphrase": REVIEWER_PASSPHRASE},
        )
        assert r.url.path == "/review"
        yield client


def test_a_texting_go_between_is_added_to_an_ally_already_listed(site: Site, noor: int) -> None:
    with transaction(site.rt.engine) as s:
        sister = add_person(
            s, site.rt.household_id, "Sister of Morgan", "ally", emails=["sis@x.example"]
        )
    held = _text(site, "+447700900999", "Morgan Blake says you owe him", "sms-1")
    assert held.action == "review"
    with _reviewer(site) as client:
        page = client.get(f"/review/items/{held.item_id}")
        assert "It mentions ‘Morgan Blake’ (listed as Morgan)." in page.text
        form = {"csrf": csrf_of(page.text), "name": "Morgan", "ally": "", "note": ""}
        clash = client.post(f"/review/items/{held.item_id}/ally", data=form)
        assert "There is already someone called “Morgan” on the list" in clash.text
        form["ally"], form["note"] = str(sister.id), "her new phone"
        added = client.post(f"/review/items/{held.item_id}/ally", data=form)
        assert "on the list now as someone passing messages on (Sister of Morgan)" in added.text
        again = client.post(f"/review/items/{held.item_id}/ally", data=form)
        assert "This sender is already on the list." in again.text
    # the same number written the national way is the same sender
    nxt = _text(site, "07700 900999", "hello", "sms-2")
    assert (nxt.action, nxt.decision.person_name) == ("quarantine", "Sister of Morgan")
    assert _passed_on(site, held.item_id)
    with Session(site.rt.engine) as s:
        listed = next(p for p in list_people(s, site.rt.household_id) if p["name"] == sister.name)
    assert listed["phones"] == ["+447700900999"] and listed["note"] == "her new phone"


def test_only_a_reviewer_with_the_item_unlocked_can_add_its_sender(site: Site, noor: int) -> None:
    held = _email(site, "kit@carrier.example", "Morgan Blake says hi", "kit-1")
    with http_login(site, REVIEWER, REVIEWER_PASSPHRASE) as client:
        csrf = csrf_of(client.get("/review").text)
        r = client.post(f"/review/items/{held.item_id}/ally", data={"csrf": csrf})
        assert r.url.path == "/review/unlock", "a locked session added someone"
        for path in (f"/review/items/{held.item_id}/ally", f"/review/senders/{held.item_id}/ally"):
            assert client.post(path, data={"csrf": "forged"}).status_code == 403
    with http_login(site) as owner:
        csrf = csrf_of(owner.get("/").text)
        r = owner.post(f"/review/items/{held.item_id}/ally", data={"csrf": csrf})
        assert r.status_code == 403
    with Session(site.rt.engine) as s:
        assert not s.exec(select(Person).where(Person.name == "kit@carrier.example")).first()
        assert s.exec(select(User).where(User.name == REVIEWER)).one().id == noor
