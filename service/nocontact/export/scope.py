"""Which items an export covers: people, a date range, a channel. Ordered oldest first."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from nocontact.errors import UsageError
from nocontact.models import ItemKey, Person, VaultItem
from nocontact.vault.ledger import iso

BATCH = 500


@dataclass(frozen=True)
class ExportFilters:
    persons: tuple[str, ...] = ()  # names on the list (as named when the item arrived)
    since: datetime | None = None  # inclusive, aware
    until: datetime | None = None  # exclusive, aware
    channel: str | None = None  # email | sms
    action: str | None = None  # record: the co-parent log (messages kept and delivered)

    def as_dict(self) -> dict[str, Any]:
        scope: dict[str, Any] = {
            "persons": list(self.persons),
            "since": iso(self.since) if self.since else None,
            "until": iso(self.until) if self.until else None,
            "channel": self.channel,
        }
        if self.action:
            scope["action"] = self.action
        return scope

    def describe(self) -> str:
        parts = [f"people: {', '.join(self.persons)}" if self.persons else "everyone"]
        if self.since:
            parts.append(f"from {iso(self.since)}")
        if self.until:
            parts.append(f"before {iso(self.until)}")
        parts.append(f"{self.channel} only" if self.channel else "email and texts")
        if self.action == "record":
            parts.append("co-parent messages only")
        return "; ".join(parts)


def item_ids(session: Session, household_id: int, filters: ExportFilters) -> list[int]:
    if filters.channel not in (None, "email", "sms"):
        raise UsageError(f"channel must be email or sms, not {filters.channel!r}")
    if filters.action not in (None, "quarantine", "record", "review"):
        raise UsageError(f"action must be quarantine, record or review, not {filters.action!r}")
    q = select(VaultItem.id).where(VaultItem.household_id == household_id)
    if filters.persons:
        known = set(
            session.exec(
                select(Person.name).where(
                    Person.household_id == household_id, col(Person.name).in_(filters.persons)
                )
            ).all()
        )
        known |= {
            name
            for name in session.exec(
                select(VaultItem.person_name).where(
                    VaultItem.household_id == household_id,
                    col(VaultItem.person_name).in_(filters.persons),
                )
            ).all()
            if name is not None
        }
        unknown = [p for p in filters.persons if p not in known]
        if unknown:
            raise UsageError(f"nobody called {unknown[0]!r} is on the list or in the vault")
        q = q.where(col(VaultItem.person_name).in_(filters.persons))
    if filters.since is not None:
        q = q.where(VaultItem.received_at >= filters.since)
    if filters.until is not None:
        q = q.where(VaultItem.received_at < filters.until)
    if filters.channel:
        q = q.where(VaultItem.channel == filters.channel)
    if filters.action:
        q = q.where(VaultItem.action == filters.action)
    q = q.order_by(col(VaultItem.received_at), col(VaultItem.id))
    return [i for i in session.exec(q).all() if i is not None]


def batches(
    session: Session, ids: list[int], recipient_id: int
) -> Iterator[list[tuple[VaultItem, ItemKey | None]]]:
    """Items with their key for this holder, a batch at a time (memory stays flat)."""
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        rows = session.exec(select(VaultItem).where(col(VaultItem.id).in_(chunk))).all()
        keys = session.exec(
            select(ItemKey).where(
                col(ItemKey.item_id).in_(chunk), ItemKey.recipient_id == recipient_id
            )
        ).all()
        by_item = {k.item_id: k for k in keys}
        by_id = {r.id: r for r in rows}
        yield [(by_id[i], by_item.get(i)) for i in chunk if i in by_id]
        session.expunge_all()
