"""Sealing an item into the vault, and opening it again with a holder's identity."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from nocontact.errors import VaultError
from nocontact.models import ItemKey, Recipient, SealedBlob, VaultItem, table
from nocontact.vault.blobs import BlobStore
from nocontact.vault.crypto import new_identity, seal, unseal

_BLOBS = table(SealedBlob)
_READ_BLOB = sa_select(_BLOBS.c.data).where(_BLOBS.c.address == bindparam("address"))


# Sealed originals up to this size live in the database (``SealedBlob``), larger ones in blob
# files. Texts and most mail are far smaller; SQLite reads and writes blobs of this size faster
# than the filesystem does, and the item's own commit makes them durable.
INLINE_MAX = 128 * 1024


@dataclass(frozen=True)
class Sealed:
    blob: str  # address of the sealed original (SHA-256 of the sealed bytes)
    sealed_meta: bytes
    keys: tuple[tuple[int, bytes], ...]  # (recipient id, item identity sealed to it)
    inline: bytes | None = None  # the sealed original, when it is kept in the database

    def row(self, household_id: int) -> dict[str, Any] | None:
        """The ``SealedBlob`` row to insert with the item, if the original is kept inline."""
        if self.inline is None:
            return None
        return {"address": self.blob, "household_id": household_id, "data": self.inline}


def active_recipients(session: Session, household_id: int) -> list[Recipient]:
    q = select(Recipient).where(Recipient.household_id == household_id, col(Recipient.active))
    return list(session.exec(q).all())


def seal_item(
    blobs: BlobStore, raw: bytes, meta: dict[str, Any], recipients: list[tuple[int, str]]
) -> Sealed:
    """Encrypt the original and stage it in the blob store; nothing here can read it back.
    The caller makes the blob durable (``BlobStore.make_durable``) before anything refers to it."""
    if not recipients:
        raise VaultError("the vault has no keys to seal to; run `nocontact init`")
    identity, public = new_identity()
    original = seal(raw, [public])
    sealed_meta = seal(json.dumps(meta, ensure_ascii=False).encode(), [public])
    keys = tuple((rid, seal(identity.encode(), [pub])) for rid, pub in recipients)
    if len(original) <= INLINE_MAX:
        return Sealed(hashlib.sha256(original).hexdigest(), sealed_meta, keys, original)
    return Sealed(blobs.stage(original), sealed_meta, keys)


def sealed_original(session: Session, blobs: BlobStore, address: str) -> bytes:
    """The sealed bytes at ``address``, from the database or the blob files, checked against
    the address either way. A Core read: nothing is kept in the session."""
    data = session.connection().execute(_READ_BLOB, {"address": address}).scalar()
    if data is None:
        return blobs.get(address)
    if hashlib.sha256(data).hexdigest() != address:
        raise VaultError(f"blob {address[:12]} does not match its address")
    return bytes(data)


def item_identity(session: Session, item: VaultItem, recipient_id: int, identity: str) -> str:
    key = session.get(ItemKey, (item.id, recipient_id))
    if key is None:
        raise VaultError(f"item {item.id} is not sealed to this key")
    return unseal(key.wrapped, identity).decode()


def open_item(
    session: Session, blobs: BlobStore, item: VaultItem, recipient_id: int, identity: str
) -> tuple[bytes, dict[str, Any]]:
    """The original bytes and the sealed metadata. The caller records the access."""
    ident = item_identity(session, item, recipient_id, identity)
    raw = unseal(sealed_original(session, blobs, item.blob), ident)
    meta = json.loads(unseal(item.sealed_meta, ident))
    return raw, meta


def rewrap_missing(
    session: Session, household_id: int, holder_recipient_id: int, identity: str
) -> int:
    """Give every active recipient the item keys it lacks (a reviewer added later).

    Runs when the owner unlocks; returns how many keys were added. The caller commits.
    """
    added = 0
    recipients = active_recipients(session, household_id)
    items = session.exec(select(VaultItem).where(VaultItem.household_id == household_id)).all()
    for item in items:
        have = {
            k.recipient_id
            for k in session.exec(select(ItemKey).where(ItemKey.item_id == item.id)).all()
        }
        missing = [r for r in recipients if r.id not in have and r.id is not None]
        if not missing or holder_recipient_id not in have:
            continue
        ident = item_identity(session, item, holder_recipient_id, identity)
        for r in missing:
            assert r.id is not None and item.id is not None
            session.add(
                ItemKey(
                    item_id=item.id, recipient_id=r.id, wrapped=seal(ident.encode(), [r.public_key])
                )
            )
            added += 1
    session.flush()
    return added
