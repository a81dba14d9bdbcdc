"""Where each (account, folder) got to, and the account's health row.

The cursor holds UIDVALIDITY, the last UID below which everything is handled, and the list
version the folder was last swept for. It only ever moves forward within one UIDVALIDITY.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from nocontact.db import transaction
from nocontact.models import ChannelStatus, Household, ImapCursor, VaultItem, utcnow
from nocontact.runtime import Runtime

MAX_BACKOFF_SECONDS = 15 * 60


@dataclass(frozen=True)
class CursorState:
    uidvalidity: int
    last_uid: int
    list_version: int


def _get(s: Session, hid: int, account: str, folder: str) -> ImapCursor | None:
    q = select(ImapCursor).where(
        ImapCursor.household_id == hid, ImapCursor.account == account, ImapCursor.folder == folder
    )
    return s.exec(q).first()


def read_cursor(rt: Runtime, account: str, folder: str) -> CursorState | None:
    with Session(rt.engine) as s:
        c = _get(s, rt.household_id, account, folder)
        return None if c is None else CursorState(c.uidvalidity, c.last_uid, c.list_version)


def list_version(rt: Runtime) -> int:
    with Session(rt.engine) as s:
        h = s.get(Household, rt.household_id)
        return h.list_version if h else 0


def advance(
    s: Session,
    hid: int,
    account: str,
    folder: str,
    *,
    uidvalidity: int,
    last_uid: int,
    list_version: int | None = None,
) -> None:
    """Move the cursor forward inside the caller's transaction (never backward, except that a
    new UIDVALIDITY starts the count again)."""
    c = _get(s, hid, account, folder)
    if c is None:
        c = ImapCursor(household_id=hid, account=account, folder=folder)
    if c.uidvalidity != uidvalidity:
        c.uidvalidity, c.last_uid = uidvalidity, 0
    c.last_uid = max(c.last_uid, last_uid)
    if list_version is not None:
        c.list_version = max(c.list_version, list_version)
    c.updated_at = utcnow()
    s.add(c)


def mark_delivered(s: Session, hid: int, source_key: str) -> None:
    """Co-parent mail stays in the INBOX, so its copy in the vault is already delivered."""
    q = select(VaultItem).where(VaultItem.household_id == hid, VaultItem.source_key == source_key)
    item = s.exec(q).first()
    if item is not None and item.delivery == "pending":
        item.delivery = "delivered"
        s.add(item)


def is_released(rt: Runtime, item_id: int | None) -> bool:
    with Session(rt.engine) as s:
        item = s.get(VaultItem, item_id)
        return item is not None and item.delivery == "released"


def record_status(rt: Runtime, account: str, error: str | None) -> int:
    """Store the outcome of one pass; returns the consecutive failure count."""
    now = utcnow()
    with transaction(rt.engine) as s:
        q = select(ChannelStatus).where(
            ChannelStatus.household_id == rt.household_id,
            ChannelStatus.channel == "imap",
            ChannelStatus.name == account,
        )
        row = s.exec(q).first() or ChannelStatus(
            household_id=rt.household_id, channel="imap", name=account
        )
        row.last_checked = now
        if error is None:
            row.ok, row.last_ok, row.last_error, row.failures = True, now, None, 0
        else:
            row.ok, row.last_error, row.failures = False, error[:300], row.failures + 1
        s.add(row)
        return row.failures


def backoff_seconds(base: float, failures: int) -> float:
    """Wait before retrying a failing account: doubles per failure, capped."""
    if failures <= 0:
        return base
    return float(min(base * 2 ** min(failures, 16), MAX_BACKOFF_SECONDS))
