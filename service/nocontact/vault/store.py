"""Sealing an item into the vault, and opening it again with a holder's identity."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from nocontact.errors import VaultError
from nocontact.models import BatchKey, ItemKey, Recipient, SealedBlob, VaultItem, table
from nocontact.vault import envelope
from nocontact.vault.batches import Batch
from nocontact.vault.blobs import BlobStore
from nocontact.vault.crypto import seal, unseal

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
    batch: Batch  # the batch key the data key is wrapped under
    wrapped_key: bytes  # the item's data key, wrapped under the batch key
    inline: bytes | None = None  # the sealed original, when it is kept in the database

    def row(self, household_id: int) -> dict[str, Any] | None:
        """The ``SealedBlob`` row to insert with the item, if the original is kept inline."""
        if self.inline is None:
            return None
        return {"address": self.blob, "household_id": household_id, "data": self.inline}

    def key_rows(self, item_id: int) -> list[dict[str, Any]]:
        """The item's ``ItemKey`` rows: one per recipient of its batch."""
        batch, wrapped = self.batch.id, self.wrapped_key
        return [
            {"item_id": item_id, "recipient_id": rid, "wrapped": wrapped, "batch": batch}
            for rid, _ in self.batch.recipients
        ]


def active_recipients(session: Session, household_id: int) -> list[Recipient]:
    q = select(Recipient).where(Recipient.household_id == household_id, col(Recipient.active))
    return list(session.exec(q).all())


def seal_item(
    blobs: BlobStore, raw: bytes, meta: dict[str, Any], batch: Batch, sha256: str
) -> Sealed:
    """Encrypt the original and its metadata under a fresh data key wrapped in ``batch``, and
    stage the original in the blob store if it is too large for the database; nothing here can
    read it back. The caller makes a staged blob durable (``BlobStore.make_durable``) and
    inserts the batch's ``BatchKey`` rows before anything refers to them."""
    key = envelope.new_key()
    original = envelope.seal(key, raw, envelope.ORIGINAL)
    sealed_meta = envelope.seal(key, json.dumps(meta, ensure_ascii=False).encode(), envelope.META)
    wrapped = envelope.wrap_key(batch.key, key, batch.id, sha256)
    if len(original) <= INLINE_MAX:
        address = hashlib.sha256(original).hexdigest()
        return Sealed(address, sealed_meta, batch, wrapped, original)
    return Sealed(blobs.stage(original), sealed_meta, batch, wrapped)


def sealed_original(session: Session, blobs: BlobStore, address: str) -> bytes:
    """The sealed bytes at ``address``, from the database or the blob files, checked against
    the address either way. A Core read: nothing is kept in the session."""
    data = session.connection().execute(_READ_BLOB, {"address": address}).scalar()
    if data is None:
        return blobs.get(address)
    if hashlib.sha256(data).hexdigest() != address:
        raise VaultError(f"blob {address[:12]} does not match its address")
    return bytes(data)


# What opens one item: its own age identity (format 1) or its AES-256-GCM data key (format 2).
ItemSecret = str | bytes


def open_part(secret: ItemSecret, sealed: bytes, label: bytes) -> bytes:
    """One sealed part of an item (``envelope.ORIGINAL`` or ``envelope.META``)."""
    if isinstance(secret, str):
        return unseal(sealed, secret)
    return envelope.open_sealed(secret, sealed, label)


def open_meta(secret: ItemSecret, item: VaultItem) -> dict[str, Any]:
    meta = json.loads(open_part(secret, item.sealed_meta, envelope.META))
    if not isinstance(meta, dict):
        raise VaultError(f"item {item.id} has unreadable metadata")
    return meta


class Opener:
    """Opens item keys for one holder, each batch key once: a batch is one age decryption,
    however many of its items are opened (an export of thousands, a review page)."""

    def __init__(self, session: Session, recipient_id: int, identity: str) -> None:
        self.session = session
        self.recipient_id = recipient_id
        self.identity = identity
        self._batches: dict[str, bytes] = {}

    def batch_key(self, batch: str) -> bytes:
        key = self._batches.get(batch)
        if key is None:
            row = self.session.get(BatchKey, (batch, self.recipient_id))
            if row is None:
                raise VaultError("a batch key is missing for this holder")
            key = unseal(row.wrapped, self.identity)
            self._batches[batch] = key
        return key

    def secret(self, item: VaultItem, key: ItemKey | None) -> ItemSecret:
        """The secret of ``item`` from this holder's ``ItemKey`` row."""
        if key is None or key.recipient_id != self.recipient_id:
            raise VaultError(f"item {item.id} is not sealed to this key")
        if key.batch is None:
            return unseal(key.wrapped, self.identity).decode()
        return envelope.unwrap_key(self.batch_key(key.batch), key.wrapped, key.batch, item.sha256)

    def item_secret(self, item: VaultItem) -> ItemSecret:
        return self.secret(item, self.session.get(ItemKey, (item.id, self.recipient_id)))


def open_item(
    session: Session, blobs: BlobStore, item: VaultItem, recipient_id: int, identity: str
) -> tuple[bytes, dict[str, Any]]:
    """The original bytes and the sealed metadata. The caller records the access."""
    secret = Opener(session, recipient_id, identity).item_secret(item)
    raw = open_part(secret, sealed_original(session, blobs, item.blob), envelope.ORIGINAL)
    return raw, open_meta(secret, item)


def batch_keys_held(session: Session, recipients: Iterable[Recipient]) -> set[tuple[str, int]]:
    """(batch, recipient id) for every batch key already sealed to these recipients."""
    ids = [r.id for r in recipients if r.id is not None]
    q = select(BatchKey.batch, BatchKey.recipient_id).where(col(BatchKey.recipient_id).in_(ids))
    return {(b, rid) for b, rid in session.exec(q).all()}


def give_access(
    session: Session,
    household_id: int,
    holder: Opener,
    to: Sequence[Recipient],
    keys: Iterable[ItemKey],
    held: set[tuple[str, int]],
) -> int:
    """Give each recipient in ``to`` the items of ``keys`` (the holder's own ``ItemKey`` rows):
    a format-2 item by sealing its batch key to the recipient (once per batch; ``held`` says
    which are sealed already and is updated) and copying the wrapped data key, a format-1 item
    by sealing its identity. Returns the item keys added; the caller commits."""
    added = 0
    for key in keys:
        for r in to:
            assert r.id is not None
            if key.batch is None:
                wrapped = seal(unseal(key.wrapped, holder.identity), [r.public_key])
            else:
                if (key.batch, r.id) not in held:
                    sealed_key = seal(holder.batch_key(key.batch), [r.public_key])
                    session.add(
                        BatchKey(
                            batch=key.batch,
                            recipient_id=r.id,
                            household_id=household_id,
                            wrapped=sealed_key,
                        )
                    )
                    held.add((key.batch, r.id))
                wrapped = key.wrapped
            session.add(
                ItemKey(item_id=key.item_id, recipient_id=r.id, wrapped=wrapped, batch=key.batch)
            )
            added += 1
    return added


def rewrap_missing(
    session: Session, household_id: int, holder_recipient_id: int, identity: str
) -> int:
    """Give every active recipient the item keys it lacks (a reviewer added later).

    Runs when the owner unlocks; returns how many keys were added. The caller commits.
    """
    recipients = active_recipients(session, household_id)
    holder = Opener(session, holder_recipient_id, identity)
    held = batch_keys_held(session, recipients)
    items = session.exec(select(VaultItem.id).where(VaultItem.household_id == household_id))
    ids = [i for i in items.all() if i is not None]
    added = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.exec(select(ItemKey).where(col(ItemKey.item_id).in_(chunk))).all()
        have: dict[int, set[int]] = {}
        mine: dict[int, ItemKey] = {}
        for k in rows:
            have.setdefault(k.item_id, set()).add(k.recipient_id)
            if k.recipient_id == holder_recipient_id:
                mine[k.item_id] = k
        for item_id, key in mine.items():
            missing = [r for r in recipients if r.id not in have[item_id] and r.id is not None]
            if missing:
                added += give_access(session, household_id, holder, missing, [key], held)
    session.flush()
    return added
