"""The delivery window: everything due is delivered together, each exactly once.

``deliver_due(rt, now)`` is a plain function of the clock the caller gives (the scheduler gives
the real one, tests a chosen one). Each channel delivers its due rows and marks them delivered
in the same transaction as ``VaultItem.delivery``; a row whose delivery fails stays pending and
is tried again at the next run. Nothing is ever sent to the co-parent: delivery only moves mail
within the survivor's own mailbox and forwards texts to the survivor's own phone.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from nocontact.coparent.models import CoparentDelivery
from nocontact.coparent.window import batching
from nocontact.db import transaction
from nocontact.errors import NoContactError
from nocontact.models import VaultItem, utcnow
from nocontact.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    email: int = 0
    sms: int = 0
    errors: list[str] = field(default_factory=list)  # content-free


def due(rt: Runtime, now: datetime) -> list[CoparentDelivery]:
    """Pending deliveries due at ``now``; all of them once batching is switched off."""
    with Session(rt.engine) as s:
        q = select(CoparentDelivery).where(
            CoparentDelivery.household_id == rt.household_id, CoparentDelivery.state == "pending"
        )
        if batching(rt.config):
            q = q.where(col(CoparentDelivery.due_at) <= now)
        rows = list(s.exec(q.order_by(col(CoparentDelivery.id))).all())
        s.expunge_all()
        return rows


def finish(rt: Runtime, row_ids: list[int], state: str = "delivered") -> None:
    """Mark rows (and their items) delivered in one transaction; the SMS text is wiped."""
    if not row_ids:
        return
    with transaction(rt.engine) as s:
        for row in s.exec(select(CoparentDelivery).where(col(CoparentDelivery.id).in_(row_ids))):
            row.state, row.payload, row.delivered_at = state, b"", utcnow()
            s.add(row)
            item = s.get(VaultItem, row.item_id)
            if state == "delivered" and item is not None and item.delivery == "pending":
                item.delivery = "delivered"
                s.add(item)


def failed(rt: Runtime, row_ids: list[int], reason: str) -> None:
    with transaction(rt.engine) as s:
        for row in s.exec(select(CoparentDelivery).where(col(CoparentDelivery.id).in_(row_ids))):
            row.attempts += 1
            row.last_error = reason[:300]
            s.add(row)


def already_delivered(rt: Runtime, rows: list[CoparentDelivery]) -> list[CoparentDelivery]:
    """Rows whose item another path already delivered (a release, batching switched off while
    the poller met the message in the INBOX): closed without touching the channel."""
    with Session(rt.engine) as s:
        done = {
            r.id
            for r in rows
            if (item := s.get(VaultItem, r.item_id)) is None or item.delivery != "pending"
        }
    finish(rt, [i for i in done if i is not None])
    return [r for r in rows if r.id not in done]


def deliver_due(rt: Runtime, now: datetime) -> DeliveryReport:
    from nocontact.channels.imap.deliver import deliver_held
    from nocontact.channels.sms.deliver import forward_held

    report = DeliveryReport()
    rows = already_delivered(rt, due(rt, now))
    by_account: dict[str, list[CoparentDelivery]] = defaultdict(list)
    for r in rows:
        if r.channel == "email":
            by_account[r.account].append(r)
    for account, held in by_account.items():
        try:
            report.email += deliver_held(rt, account, held)
        except NoContactError as e:
            failed(rt, [r.id for r in held if r.id is not None], str(e))
            report.errors.append(f"{account}: {e}")
    for r in rows:
        if r.channel != "sms":
            continue
        try:
            report.sms += forward_held(rt, r)
        except NoContactError as e:
            failed(rt, [r.id] if r.id is not None else [], str(e))
            report.errors.append(f"sms item {r.item_id}: {e}")
    if report.email or report.sms or report.errors:
        log.info(
            "co-parent delivery: %s mail, %s texts, %s errors",
            report.email,
            report.sms,
            len(report.errors),
        )
    return report


def delivery_job(rt: Runtime) -> None:
    try:
        report = deliver_due(rt, utcnow())
        for error in report.errors:
            log.warning("co-parent delivery: %s", error)
    except Exception:  # loop boundary: a failed run must not stop the scheduler
        log.exception("co-parent delivery failed")
