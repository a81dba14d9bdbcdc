"""`nocontact orders add|list|report`: record protective orders; report contact since."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session

from nocontact.errors import UsageError


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-03-31, got {text!r}") from e


def cmd_add(args: argparse.Namespace) -> int:
    from nocontact.cli import open_runtime
    from nocontact.db import transaction
    from nocontact.orders.timeline import add_order
    from nocontact.vault import ledger

    rt = open_runtime(args)
    with transaction(rt.engine) as s:
        order = add_order(
            s,
            rt.household_id,
            court=args.court,
            case_number=args.case,
            issued=args.issued,
            expires=args.expires,
            third_party_prohibited=not args.third_party_allowed,
            note=args.note,
        )
        ledger.append(s, rt.household_id, "order_add", order=order.id)
    print(f"Recorded order {order.id} ({order.court}, {order.case_number}).")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from nocontact.cli import open_runtime
    from nocontact.orders.timeline import list_orders

    rt = open_runtime(args)
    with Session(rt.engine) as s:
        orders = list_orders(s, rt.household_id)
    rows = [
        {
            "id": o.id,
            "court": o.court,
            "case_number": o.case_number,
            "issued": o.issued.isoformat(),
            "expires": o.expires.isoformat() if o.expires else None,
            "third_party_prohibited": o.third_party_prohibited,
        }
        for o in orders
    ]
    if args.json:
        print(json.dumps(rows))
    elif not rows:
        print("No orders recorded.")
    for r in rows if not args.json else []:
        until = f" until {r['expires']}" if r["expires"] else ""
        print(f"{r['id']}: {r['court']} {r['case_number']}, from {r['issued']}{until}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from nocontact.cli import open_runtime
    from nocontact.orders.models import ProtectiveOrder
    from nocontact.orders.timeline import attempts, list_orders, violations_csv, weekly_counts

    rt = open_runtime(args)
    with Session(rt.engine) as s:
        if args.order is not None:
            order = s.get(ProtectiveOrder, args.order)
            if order is None or order.household_id != rt.household_id:
                raise UsageError(f"there is no order {args.order}")
        else:
            orders = list_orders(s, rt.household_id)
            if not orders:
                raise UsageError("no order recorded yet; `nocontact orders add` first")
            order = orders[-1]
        rows = attempts(s, rt.household_id, order)
    weeks = weekly_counts(rows)
    if args.csv:
        Path(args.csv).write_text(violations_csv(rows), encoding="utf-8")
    direct = sum(1 for r in rows if r.contact == "direct")
    summary = {
        "order": order.id,
        "since": order.issued.isoformat(),
        "direct": direct,
        "third_party": len(rows) - direct,
        "weeks": weeks,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"Since {order.issued}: {direct} direct, {len(rows) - direct} through others.")
        for w in weeks:
            print(
                f"  week of {w['week_of']}: {w['direct']} direct, {w['third_party']} through others"
            )
    return 0


def register(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    from nocontact.cli import common_parser

    orders = sub.add_parser(
        "orders", help="protective orders and contact since", parents=[common_parser()]
    )
    osub = orders.add_subparsers(dest="orders_command", required=True, metavar="ACTION")
    sp = add("add", cmd_add, "record a protective order", osub)
    sp.add_argument("--court", required=True)
    sp.add_argument("--case", required=True, help="the case number")
    sp.add_argument("--issued", required=True, type=_date, help="YYYY-MM-DD")
    sp.add_argument("--expires", type=_date, help="YYYY-MM-DD")
    sp.add_argument(
        "--third-party-allowed",
        action="store_true",
        help="the order does not forbid contact through other people",
    )
    sp.add_argument("--note", default="")
    sp = add("list", cmd_list, "list recorded orders", osub)
    sp.add_argument("--json", action="store_true")
    sp = add("report", cmd_report, "every contact attempt since the order, week by week", osub)
    sp.add_argument("--order", type=int, help="which order (default: the latest)")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--csv", help="also write violations.csv here")
