"""Who can read which item right now, and the ledger entry for every step of reading.

The owner reads only after unlocking and after any cool-down; a reviewer after unlocking.
Either way the item must be sealed to their own key (``store.open_item`` refuses otherwise).
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from sqlmodel import Session

from nocontact import users
from nocontact.db import transaction
from nocontact.errors import VaultError
from nocontact.models import User, VaultItem, utcnow
from nocontact.vault import ledger
from nocontact.vault.store import open_item
from nocontact.web.deps import client_of, keyring_of, rt_of
from nocontact.web.keyring import Unlocked
from nocontact.web.sessions import Current, aware


def identity_for(
    s: Session, request: Request, cur: Current, passphrase: str
) -> tuple[User, str] | None:
    """The user's age identity for this passphrase, with login throttling; None if refused."""
    user = s.get(User, cur.user.id)
    if user is None or not users.check_login(s, user, passphrase, client=client_of(request)):
        return None
    try:
        return user, users.unlock(s, user, passphrase)
    except VaultError:
        return None


def unlocked(request: Request, cur: Current) -> Unlocked | None:
    held = keyring_of(request).get(cur.key)
    if held is None:
        return None
    if cur.user.role == "owner":
        opens = cur.row.vault_opens_at
        if opens is None or aware(opens) > utcnow():
            return None
    return held


def record(request: Request, cur: Current, kind: str, **fields: Any) -> None:
    """One ledger entry for a step someone took; ids only."""
    rt = rt_of(request)
    with transaction(rt.engine) as s:
        ledger.append(s, rt.household_id, kind, user=cur.user.id, role=cur.user.role, **fields)


def _open(
    s: Session, request: Request, cur: Current, item_id: int
) -> tuple[VaultItem, bytes, dict[str, Any]]:
    held = unlocked(request, cur)
    if held is None:
        raise HTTPException(status_code=404)
    rt = rt_of(request)
    item = s.get(VaultItem, item_id)
    if item is None or item.household_id != rt.household_id:
        raise HTTPException(status_code=404)
    try:
        raw, meta = open_item(s, rt.blobs, item, held.recipient_id, held.identity)
    except VaultError as e:
        raise HTTPException(status_code=404) from e
    return item, raw, meta


def read_item(
    request: Request, cur: Current, item_id: int, kind: str
) -> tuple[VaultItem, bytes, dict[str, Any]]:
    """The original of one item for this session's holder, or 404 (not sealed to them).

    The one way any route gets a held message's content: the ledger entry naming who, which
    item and why (``kind``) is committed before the content is handed back, so no reading
    (page, body frame, attachment, release) can go unseen on Activity. If the entry cannot be
    written, the content is not given.
    """
    rt = rt_of(request)
    with transaction(rt.engine) as s:
        item, raw, meta = _open(s, request, cur, item_id)
        ledger.append(s, rt.household_id, kind, item=item_id, user=cur.user.id, role=cur.user.role)
    return item, raw, meta


def sealed_to(request: Request, cur: Current, item_id: int) -> VaultItem:
    """The item, if it is sealed to this session's holder (or 404); its content stays here."""
    with Session(rt_of(request).engine) as s:
        item, _raw, _meta = _open(s, request, cur, item_id)
    return item
