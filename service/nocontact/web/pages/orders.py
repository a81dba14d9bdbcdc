"""Protective orders for the owner (issue 8): record one, see contact since it week by week,
download ``violations.csv``.

The timeline holds no content: dates, channel, the listed person and relation, direct or
through others. Downloading the file asks the passphrase again, like any export.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from nocontact.db import transaction
from nocontact.errors import UsageError
from nocontact.models import utcnow
from nocontact.orders.models import ProtectiveOrder
from nocontact.orders.timeline import Attempt, add_order, attempts, list_orders, violations_csv
from nocontact.vault import ledger
from nocontact.web.access import record
from nocontact.web.deps import OwnerDep, SteppedUpDep, render, rt_of
from nocontact.web.plain import CHANNEL, when
from nocontact.web.security import check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)])
Text = Annotated[str, Form()]


def _date(text: str, what: str, *, required: bool) -> date | None:
    if not text.strip():
        if required:
            raise UsageError(f"Please give the date the order was {what}.")
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError as e:
        raise UsageError(f"The date it was {what} should look like 2026-03-31.") from e


def _page(request: Request, cur: OwnerDep, status: int = 200, **ctx: object) -> Response:
    rt = rt_of(request)
    with Session(rt.engine) as s:
        orders = list_orders(s, rt.household_id)
    ctx.setdefault("error", "")
    ctx.setdefault("form", {"third_party": True})
    return render(request, "orders.html", cur, status, orders=orders, **ctx)


@router.get("/orders")
def orders(request: Request, cur: OwnerDep) -> Response:
    return _page(request, cur)


@router.post("/orders")
def add(
    request: Request,
    cur: OwnerDep,
    court: Text = "",
    case_number: Text = "",
    issued: Text = "",
    expires: Text = "",
    third_party: Text = "",
    note: Text = "",
) -> Response:
    rt = rt_of(request)
    try:
        start = _date(issued, "issued", required=True)
        assert start is not None
        with transaction(rt.engine) as s:
            order = add_order(
                s,
                rt.household_id,
                court=court[:200],
                case_number=case_number[:100],
                issued=start,
                expires=_date(expires, "ends", required=False),
                third_party_prohibited=bool(third_party),
                note=note.strip()[:1000],
            )
            ledger.append(s, rt.household_id, "order_add", order=order.id, user=cur.user.id)
    except UsageError as e:
        form = {
            "court": court,
            "case_number": case_number,
            "issued": issued,
            "expires": expires,
            "third_party": bool(third_party),
            "note": note,
        }
        return _page(request, cur, 400, error=str(e), form=form)
    return RedirectResponse(f"/orders/{order.id}", status_code=303)


def _order(s: Session, household_id: int, order_id: int) -> ProtectiveOrder:
    order = s.get(ProtectiveOrder, order_id)
    if order is None or order.household_id != household_id:
        raise HTTPException(status_code=404)
    return order


def weeks(order: ProtectiveOrder, rows: list[Attempt], today: date) -> list[dict[str, object]]:
    """Every week from the order's start to its end (or today), quiet weeks included."""
    counts: dict[date, dict[str, int]] = {}
    for r in rows:
        day = r.received_at.date()
        week = counts.setdefault(day - timedelta(days=day.weekday()), {})
        week[r.contact] = week.get(r.contact, 0) + 1
    last = min(order.expires or today, today) if order.issued <= today else order.issued
    monday = order.issued - timedelta(days=order.issued.weekday())
    while monday <= last:
        counts.setdefault(monday, {})
        monday += timedelta(days=7)
    return [
        {"week_of": w, "direct": c.get("direct", 0), "third_party": c.get("third-party", 0)}
        for w, c in sorted(counts.items())
    ]


@router.get("/orders/{order_id}")
def timeline(request: Request, cur: OwnerDep, order_id: int) -> Response:
    rt = rt_of(request)
    zone = rt.config.household.timezone
    with Session(rt.engine) as s:
        order = _order(s, rt.household_id, order_id)
        rows = attempts(s, rt.household_id, order)
    listed = [
        {
            "when": when(r.received_at, zone),
            "channel": CHANNEL.get(r.channel, r.channel),
            "person": r.person,
            "relation": r.relation,
            "contact": "direct" if r.contact == "direct" else "through someone else",
            "violation": r.violation,
        }
        for r in rows
    ]
    direct = sum(1 for r in rows if r.contact == "direct")
    return render(
        request,
        "order_timeline.html",
        cur,
        order=order,
        weeks=weeks(order, rows, utcnow().date()),
        rows=listed,
        direct=direct,
        third_party=len(rows) - direct,
    )


@router.get("/orders/{order_id}/violations.csv")
def download(request: Request, cur: SteppedUpDep, order_id: int) -> Response:
    rt = rt_of(request)
    with Session(rt.engine) as s:
        order = _order(s, rt.household_id, order_id)
        rows = attempts(s, rt.household_id, order)
    record(request, cur, "violations_exported", order=order_id, rows=len(rows))
    return Response(
        violations_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="violations.csv"'},
    )
