"""Held messages grouped by who sent them, for the reviewer's suggestion (issue 8).

The sender of an item is sealed with it, so grouping happens here, in the reviewer's unlocked
session: each held item's metadata is opened with the key this session holds (a fast X25519
unwrap; the slow passphrase step was the unlock), the sender is normalised in memory, and only
item ids leave this module. Nothing about the sender is stored or logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from nocontact.errors import VaultError
from nocontact.models import Household, ItemKey, VaultItem
from nocontact.people.gobetween import Sender, listed_as, sender_of
from nocontact.vault.store import Opener, open_meta
from nocontact.web.keyring import Unlocked

log = logging.getLogger(__name__)
SUGGEST_FROM = 3  # "several" held messages from one new sender
LOOK_AT = 500  # newest held items examined per page view: bounds the work


@dataclass(frozen=True)
class Group:
    sender: Sender
    item_ids: tuple[int, ...]  # newest first


def _meta(opener: Opener, item: VaultItem) -> dict[str, Any] | None:
    """The sealed metadata of one item (not the original), or None if not sealed to us."""
    try:
        return open_meta(opener.item_secret(item), item)
    except (VaultError, ValueError):
        log.warning("metadata of item %s could not be opened", item.id)
        return None


def _held_for_review(s: Session, household_id: int, held: Unlocked) -> list[VaultItem]:
    q = (
        select(VaultItem)
        .join(ItemKey, col(ItemKey.item_id) == col(VaultItem.id))
        .where(
            VaultItem.household_id == household_id,
            VaultItem.action == "review",
            VaultItem.delivery != "released",
            ItemKey.recipient_id == held.recipient_id,
        )
        .order_by(col(VaultItem.received_at).desc(), col(VaultItem.id).desc())
        .limit(LOOK_AT)
    )
    return list(s.exec(q).all())


def new_sender_groups(
    s: Session, household_id: int, held: Unlocked, *, at_least: int = SUGGEST_FROM
) -> list[Group]:
    """Senders not on the list with ``at_least`` messages still held for review."""
    h = s.get(Household, household_id)
    region = h.default_region if h else "GB"
    by_sender: dict[tuple[str, str], list[int]] = {}
    senders: dict[tuple[str, str], Sender] = {}
    opener = Opener(s, held.recipient_id, held.identity)  # each batch key opened once
    for item in _held_for_review(s, household_id, held):
        meta = _meta(opener, item)
        sender = sender_of(meta, region) if meta is not None else None
        if sender is None or item.id is None:
            continue
        key = (sender.kind, sender.normalised)
        senders.setdefault(key, sender)
        by_sender.setdefault(key, []).append(item.id)
    groups = [
        Group(senders[k], tuple(ids))
        for k, ids in by_sender.items()
        if len(ids) >= at_least and listed_as(s, household_id, senders[k]) is None
    ]
    return sorted(groups, key=lambda g: -len(g.item_ids))


def group_of(s: Session, household_id: int, held: Unlocked, item_id: int) -> Group | None:
    """The new-sender group (of any size) that holds this item."""
    for g in new_sender_groups(s, household_id, held, at_least=1):
        if item_id in g.item_ids:
            return g
    return None
