"""The protective-order timeline: a scripted month of contact, counted as a court would."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from nocontact.db import transaction
from nocontact.intake import InboundMessage, Intake
from nocontact.matching.facts import facts_from_email, facts_from_sms
from nocontact.models import ReviewNote
from nocontact.orders.timeline import add_order, attempts, violations_csv, weekly_counts
from nocontact.people.service import add_person
from nocontact.runtime import Runtime

MONTH = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)  # a Sunday


def script_a_month(rt: Runtime) -> dict[str, int]:
    with transaction(rt.engine) as s:
        add_person(
            s,
            rt.household_id,
            "Jon",
            "abuser",
            emails=["jon@example.org"],
            phones=["07700 900123"],
            aliases=["Jon Smith"],
        )
        add_person(s, rt.household_id, "Ann", "ally", emails=["ann@example.org"])
        add_person(s, rt.household_id, "Kim", "coparent", emails=["kim@example.org"])
    intake = Intake(rt)
    ids: dict[str, int] = {}
    plan = [
        (0, "jon@example.org", "before the order"),
        (9, "jon@example.org", "day 9 email"),
        (10, "sms", "day 10 text"),
        (10, "ann@example.org", "sister passes a message"),
        (11, "kim@example.org", "pick-up times"),
        (16, "jon@example.org", "week three"),
        (17, "cousin@example.com", "Jon Smith wants you to call"),
        (18, "friend@example.com", "Jon Smith's birthday party, harmless"),
        (30, "jon@example.org", "after expiry"),
    ]
    for n, (day, sender, text) in enumerate(plan):
        at = MONTH + timedelta(days=day)
        if sender == "sms":
            raw = json.dumps({"From": "07700900123", "Body": text, "n": n}).encode()
            msg = InboundMessage("sms", raw, f"sms:t:{n}", facts_from_sms("07700900123", text), at)
        else:
            raw = f"From: {sender}\r\nSubject: {n}\r\n\r\n{text}\r\n".encode()
            msg = InboundMessage("email", raw, f"t:{n}", facts_from_email(raw), at)
        r = intake.process(msg)
        if r.item_id:
            ids[text] = r.item_id
    with transaction(rt.engine) as s:
        # the go-between mark is the one part of a note kept in the clear; the other note's
        # words are sealed (vault.notes) and the timeline never needs them
        s.add(ReviewNote(item_id=ids["Jon Smith wants you to call"], go_between=True))
        s.add(ReviewNote(item_id=ids["Jon Smith's birthday party, harmless"], sealed=b"words"))
    return ids


def test_contact_since_the_order_is_split_direct_and_third_party_by_week(rt: Runtime) -> None:
    ids = script_a_month(rt)
    with transaction(rt.engine) as s:
        order = add_order(
            s,
            rt.household_id,
            court="Family Court",
            case_number="FC-1",
            issued=date(2026, 3, 5),
            expires=date(2026, 3, 25),
        )
    with Session(rt.engine) as s:
        rows = attempts(s, rt.household_id, order)
    got = {(r.item_id, r.contact) for r in rows}
    assert got == {
        (ids["day 9 email"], "direct"),
        (ids["day 10 text"], "direct"),
        (ids["sister passes a message"], "third-party"),
        (ids["week three"], "direct"),
        (ids["Jon Smith wants you to call"], "third-party"),
    }
    assert all(r.violation for r in rows)
    assert weekly_counts(rows) == [
        {"week_of": "2026-03-09", "direct": 2, "third_party": 1},
        {"week_of": "2026-03-16", "direct": 1, "third_party": 1},
    ]
    lines = violations_csv(rows).splitlines()
    assert lines[0].startswith("date,time_utc,channel,person,relation,contact,violation")
    assert lines[1].startswith("2026-03-10,09:00:00,email,Jon,abuser,direct,yes")
    assert len(lines) == 6


def test_third_party_contact_is_listed_but_not_a_breach_when_the_order_allows_it(
    rt: Runtime,
) -> None:
    script_a_month(rt)
    with transaction(rt.engine) as s:
        order = add_order(
            s,
            rt.household_id,
            court="C",
            case_number="1",
            issued=date(2026, 3, 5),
            third_party_prohibited=False,
        )
    with Session(rt.engine) as s:
        rows = attempts(s, rt.household_id, order)
    assert {r.contact: r.violation for r in rows} == {"direct": True, "third-party": False}
    assert len(rows) == 6  # no expiry: the day-30 email counts too


def test_orders_from_the_command_line(rt: Runtime) -> None:
    script_a_month(rt)

    def nc(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nocontact", "--home", str(rt.home), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    bad = nc(
        "orders",
        "add",
        "--court",
        "C",
        "--case",
        "1",
        "--issued",
        "2026-03-10",
        "--expires",
        "2026-03-01",
    )
    assert bad.returncode == 2 and "expire before" in bad.stderr
    ok = nc("orders", "add", "--court", "Family Court", "--case", "FC-1", "--issued", "2026-03-05")
    assert ok.returncode == 0, ok.stderr
    report = nc("orders", "report", "--json", "--csv", str(rt.home / "violations.csv"))
    assert report.returncode == 0, report.stderr
    summary = json.loads(report.stdout)
    assert (summary["direct"], summary["third_party"]) == (4, 2)
    assert (rt.home / "violations.csv").read_text().count("\n") == 7


def test_the_evidence_file_carries_violations_csv_and_still_verifies(
    rt: Runtime, tmp_path: Path
) -> None:
    from nocontact.export.bundle import export_bundle
    from nocontact.export.scope import ExportFilters
    from nocontact.export.verify import verify
    from nocontact.users import find_user, unlock
    from tests.conftest import PASSPHRASE

    ids = script_a_month(rt)
    with transaction(rt.engine) as s:
        add_order(
            s,
            rt.household_id,
            court="Family Court",
            case_number="FC-1",
            issued=date(2026, 3, 5),
            expires=date(2026, 3, 25),
        )
    with Session(rt.engine) as s:
        owner = find_user(s, rt.household_id, "owner")
        assert owner is not None
        identity = unlock(s, owner, PASSPHRASE)
    out = tmp_path / "evidence.zip"
    export_bundle(rt, out, owner.recipient_id, identity, ExportFilters(persons=("Jon",)), "owner")
    assert verify(out)
    with zipfile.ZipFile(out) as z:
        rows = list(csv.DictReader(io.StringIO(z.read("violations.csv").decode())))
    assert {int(r["item"]) for r in rows} == {
        ids["day 9 email"],
        ids["day 10 text"],
        ids["week three"],
        ids["Jon Smith wants you to call"],  # a confirmed go-between, held as about Jon
    }  # only what the file discloses (Jon's items), within the order's dates
    assert {r["case_number"] for r in rows} == {"FC-1"}
    with zipfile.ZipFile(out) as z:
        from pypdf import PdfReader

        pdf = PdfReader(io.BytesIO(z.read("report.pdf")))
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert "Protective orders" in text
    assert "case FC-1" in text and "3 direct, 1 through others" in text
