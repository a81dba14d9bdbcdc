"""Every contact attempt since an order was made, direct or through others, week by week.

Direct: the abuser. Third-party: allies, and go-betweens a reviewer confirmed (a review-held
item the reviewer tagged ``go-between``: ``ReviewNote.go_between``, the one mark of a note
kept in the clear, so this needs no key). Co-parent messages are not counted: written contact
about the children is what a minimal-contact arrangement allows. Times are the server's UTC
receipt times; rows carry ids, hashes and list-side names, never content.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, col, select

from nocontact.errors import UsageError
from nocontact.models import ReviewNote, VaultItem
from nocontact.orders.models import ProtectiveOrder


@dataclass(frozen=True)
class Attempt:
    item_id: int
    received_at: datetime
    channel: str
    person: str
    relation: str
    contact: str  # direct | third-party
    violation: bool  # breaches the order's terms
    sha256: str


def add_order(
    session: Session,
    household_id: int,
    *,
    court: str,
    case_number: str,
    issued: date,
    expires: date | None = None,
    third_party_prohibited: bool = True,
    note: str = "",
) -> ProtectiveOrder:
    if expires is not None and expires < issued:
        raise UsageError("the order cannot expire before it was issued")
    if not court.strip() or not case_number.strip():
        raise UsageError("give the court and the case number")
    order = ProtectiveOrder(
        household_id=household_id,
        court=court.strip(),
        case_number=case_number.strip(),
        issued=issued,
        expires=expires,
        third_party_prohibited=third_party_prohibited,
        note=note,
    )
    session.add(order)
    session.flush()
    return order


def list_orders(session: Session, household_id: int) -> list[ProtectiveOrder]:
    q = select(ProtectiveOrder).where(ProtectiveOrder.household_id == household_id)
    return list(session.exec(q.order_by(col(ProtectiveOrder.issued))).all())


def _go_between(session: Session, item_id: int) -> bool:
    note = session.get(ReviewNote, item_id)
    return note is not None and note.go_between


def attempts(session: Session, household_id: int, order: ProtectiveOrder) -> list[Attempt]:
    start = datetime.combine(order.issued, time.min, tzinfo=UTC)
    q = select(VaultItem).where(
        VaultItem.household_id == household_id, col(VaultItem.received_at) >= start
    )
    if order.expires is not None:
        end = datetime.combine(order.expires + timedelta(days=1), time.min, tzinfo=UTC)
        q = q.where(col(VaultItem.received_at) < end)
    out: list[Attempt] = []
    for item in session.exec(q.order_by(col(VaultItem.received_at), col(VaultItem.id))).all():
        assert item.id is not None
        if item.action == "quarantine" and item.relation == "abuser":
            contact = "direct"
        elif item.relation == "ally" and item.action == "quarantine":
            contact = "third-party"
        elif item.action == "review" and _go_between(session, item.id):
            contact = "third-party"  # a go-between the reviewer confirmed
        else:
            continue
        violation = contact == "direct" or order.third_party_prohibited
        at = item.received_at  # SQLite hands back naive datetimes; every stored time is UTC
        out.append(
            Attempt(
                item.id,
                at if at.tzinfo else at.replace(tzinfo=UTC),
                item.channel,
                item.person_name or "",
                item.relation or "",
                contact,
                violation,
                item.sha256,
            )
        )
    return out


def weekly_counts(rows: list[Attempt]) -> list[dict[str, str | int]]:
    """ISO weeks (Monday start), with direct and third-party counts."""
    counts: Counter[tuple[str, str]] = Counter()
    for r in rows:
        monday = (r.received_at.date() - timedelta(days=r.received_at.weekday())).isoformat()
        counts[(monday, r.contact)] += 1
    weeks = sorted({w for w, _ in counts})
    return [
        {"week_of": w, "direct": counts[(w, "direct")], "third_party": counts[(w, "third-party")]}
        for w in weeks
    ]


CSV_FIELDS = (
    "date",
    "time_utc",
    "channel",
    "person",
    "relation",
    "contact",
    "violation",
    "item",
    "sha256",
)


def violations_csv(rows: list[Attempt]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_FIELDS)
    for r in rows:
        at = r.received_at.astimezone(UTC)
        w.writerow(
            [
                at.date().isoformat(),
                at.strftime("%H:%M:%S"),
                r.channel,
                r.person,
                r.relation,
                r.contact,
                "yes" if r.violation else "no",
                r.item_id,
                r.sha256,
            ]
        )
    return buf.getvalue()


def bundle_violations(session: Session, household_id: int, item_ids: set[int]) -> str | None:
    """``violations.csv`` for an evidence file: every recorded order, the attempts since it
    that are in the file, with the order's court and case number first. None without orders."""
    orders = list_orders(session, household_id)
    if not orders:
        return None
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(("court", "case_number", "order_issued", *CSV_FIELDS))
    for order in orders:
        rows = [r for r in attempts(session, household_id, order) if r.item_id in item_ids]
        body = violations_csv(rows).splitlines()[1:]
        for line in body:
            row = next(csv.reader([line]))
            w.writerow((order.court, order.case_number, order.issued.isoformat(), *row))
    return buf.getvalue()


def bundle_violations_text(session: Session, household_id: int, item_ids: set[int]) -> list[str]:
    """The same as ``bundle_violations``, as lines for the report's "Protective orders" section."""
    out: list[str] = []
    for order in list_orders(session, household_id):
        rows = [r for r in attempts(session, household_id, order) if r.item_id in item_ids]
        until = f" until {order.expires.isoformat()}" if order.expires else ""
        terms = "forbidden" if order.third_party_prohibited else "not forbidden"
        direct = sum(1 for r in rows if r.contact == "direct")
        out += [
            f"{order.court}, case {order.case_number}: made {order.issued.isoformat()}{until}; "
            f"contact through other people {terms}.",
            f"In this file: {direct} direct, {len(rows) - direct} through others.",
        ]
        out += [
            f"  week of {w['week_of']}: {w['direct']} direct, {w['third_party']} through others"
            for w in weekly_counts(rows)
        ]
        for r in rows:
            at = r.received_at.astimezone(UTC)
            breach = "breach" if r.violation else "not a breach"
            out.append(
                f"  {at:%Y-%m-%d %H:%M} UTC, {r.channel}, {r.person} ({r.relation}), "
                f"{r.contact}, {breach}, item {r.item_id}"
            )
        out.append("")
    return out
