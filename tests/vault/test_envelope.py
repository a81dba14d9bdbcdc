"""Vault format 2: per-item AES-256-GCM data keys under batch keys sealed with age.

What a holder relies on: every item opens with their key (and the recovery code), a batch of
items costs one age encryption per recipient, a change of recipients starts a new batch at once,
tampering is detected, and items sealed in format 1 (before migration 0013) still open, export,
re-key and re-wrap."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from nocontact.db import transaction
from nocontact.errors import VaultError
from nocontact.export.bundle import export_bundle
from nocontact.export.scope import ExportFilters
from nocontact.intake import InboundMessage, Intake
from nocontact.matching.facts import facts_from_email
from nocontact.models import BatchKey, ItemKey, Person, Recipient, VaultItem
from nocontact.people.service import add_person
from nocontact.runtime import Runtime
from nocontact.users import add_user, find_user, reset_with_recovery, unlock
from nocontact.vault import envelope
from nocontact.vault.batches import KeyRing
from nocontact.vault.crypto import new_identity, seal
from nocontact.vault.store import open_item, rewrap_missing, sealed_original
from tests.conftest import PASSPHRASE

FRIEND = "friend passphrase 123"


def raw(n: int) -> bytes:
    return f"From: jon@example.org\r\nSubject: s{n}\r\n\r\nsealed body {n} 51c7\r\n".encode()


def listed(rt: Runtime) -> None:
    with transaction(rt.engine) as s:
        if s.exec(select(Person).where(Person.name == "Jon")).first() is None:
            add_person(s, rt.household_id, "Jon", "abuser", emails=["jon@example.org"])


def keep(intake: Intake, n: int) -> int:
    data = raw(n)
    r = intake.process(InboundMessage("email", data, f"t:{n}", facts_from_email(data)))
    assert r.item_id is not None
    return r.item_id


def holder(rt: Runtime, name: str = "owner", passphrase: str = PASSPHRASE) -> tuple[int, str]:
    """(recipient id, identity): unlocking costs a scrypt run, so tests do it once per holder."""
    with Session(rt.engine) as s:
        user = find_user(s, rt.household_id, name)
        assert user is not None
        return user.recipient_id, unlock(s, user, passphrase)


def opened(rt: Runtime, key: tuple[int, str], *item_ids: int) -> list[bytes]:
    rid, identity = key
    with Session(rt.engine) as s:
        items = [s.get(VaultItem, i) for i in item_ids]
        return [open_item(s, rt.blobs, item, rid, identity)[0] for item in items if item]


def test_many_items_share_one_batch_key_per_recipient_and_each_opens(rt: Runtime) -> None:
    listed(rt)
    intake = Intake(rt)
    ids = [keep(intake, n) for n in range(20)]
    with Session(rt.engine) as s:
        recipients = s.exec(select(Recipient).where(col(Recipient.active))).all()
        batch_keys = s.exec(select(BatchKey)).all()
        keys = s.exec(select(ItemKey).where(col(ItemKey.item_id).in_(ids))).all()
    # 20 items, one batch: one sealed batch key per recipient, one item key per (item, holder)
    assert len(batch_keys) == len(recipients) >= 2
    assert len(keys) == 20 * len(recipients)
    assert {k.batch for k in keys} == {batch_keys[0].batch}
    assert opened(rt, holder(rt), *ids) == [raw(n) for n in range(20)]


def test_a_batch_key_expires_by_age_and_by_count() -> None:
    now = [0.0]
    ring = KeyRing(max_age=1.0, max_items=3, clock=lambda: now[0])
    _, pub = new_identity()
    first = ring.batch(1, [(1, pub)])
    assert ring.batch(1, [(1, pub)]) is first
    assert ring.batch(1, [(1, pub)]) is first
    fourth = ring.batch(1, [(1, pub)])  # three items per batch
    assert fourth is not first
    now[0] = 0.99
    assert ring.batch(1, [(1, pub)]) is fourth
    now[0] = 1.0
    assert ring.batch(1, [(1, pub)]) is not fourth
    assert ring.batch(2, [(1, pub)]).household_id == 2  # per household


def test_a_reviewer_added_while_running_gets_new_items_at_once(rt: Runtime) -> None:
    """The service keeps one Intake (and its current batch) for hours: adding a reviewer must
    start a new batch sealed to them, not keep sealing to the old recipients."""
    listed(rt)
    intake = Intake(rt)
    before = keep(intake, 1)
    with transaction(rt.engine) as s:
        add_user(s, rt.household_id, "friend", "reviewer", FRIEND)
    after = keep(intake, 2)
    friend, owner = holder(rt, "friend", FRIEND), holder(rt)
    assert opened(rt, friend, after) == [raw(2)]
    with pytest.raises(VaultError):
        opened(rt, friend, before)
    with transaction(rt.engine) as s:
        assert rewrap_missing(s, rt.household_id, *owner) == 1
    assert opened(rt, friend, before) == [raw(1)]
    with transaction(rt.engine) as s:  # nothing left to give
        assert rewrap_missing(s, rt.household_id, *owner) == 0


def test_tampering_with_a_sealed_part_or_swapping_item_keys_is_detected(rt: Runtime) -> None:
    listed(rt)
    intake = Intake(rt)
    a, b = keep(intake, 1), keep(intake, 2)
    owner = holder(rt)
    rid = owner[0]
    with transaction(rt.engine) as s:
        ka, kb = s.get(ItemKey, (a, rid)), s.get(ItemKey, (b, rid))
        assert ka is not None and kb is not None and ka.batch == kb.batch
        ka.wrapped, kb.wrapped = kb.wrapped, ka.wrapped  # each key is bound to its own item
        s.add(ka)
        s.add(kb)
    with pytest.raises(VaultError):
        opened(rt, owner, a)
    with transaction(rt.engine) as s:
        ka, kb = s.get(ItemKey, (a, rid)), s.get(ItemKey, (b, rid))
        assert ka is not None and kb is not None
        ka.wrapped, kb.wrapped = kb.wrapped, ka.wrapped
        s.add(ka)
        s.add(kb)
        item = s.get(VaultItem, a)
        assert item is not None
        item.sealed_meta = item.sealed_meta[:-1] + bytes([item.sealed_meta[-1] ^ 1])
        s.add(item)
    assert opened(rt, owner, b) == [raw(2)]
    with pytest.raises(VaultError):
        opened(rt, owner, a)
    with Session(rt.engine) as s:
        item = s.get(VaultItem, b)
        assert item is not None
        sealed = sealed_original(s, rt.blobs, item.blob)
    assert sealed.startswith(envelope.MAGIC) and b"51c7" not in sealed


def format1_item(rt: Runtime, n: int) -> int:
    """An item as sealed before migration 0013: its own age identity, sealed to every holder,
    and the original and metadata sealed with age to that identity."""
    data = raw(n)
    ident, public = new_identity()
    sealed = seal(data, [public])
    meta = {"channel": "email", "source_key": f"v1:{n}", "parties": [], "notes": []}
    with transaction(rt.engine) as s:
        recipients = s.exec(select(Recipient).where(col(Recipient.active))).all()
        address = rt.blobs.stage(sealed)
        rt.blobs.make_durable([address])
        item = VaultItem(
            household_id=rt.household_id,
            channel="email",
            source_key=f"v1:{n}",
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            blob=address,
            sealed_meta=seal(json.dumps(meta).encode(), [public]),
            received_at=datetime.now(UTC),
            action="quarantine",
        )
        s.add(item)
        s.flush()
        assert item.id is not None
        for r in recipients:
            assert r.id is not None
            wrapped = seal(ident.encode(), [r.public_key])
            s.add(ItemKey(item_id=item.id, recipient_id=r.id, wrapped=wrapped))
        return item.id


def test_format1_items_still_open_rewrap_reset_and_export(rt: Runtime, tmp_path: Path) -> None:
    listed(rt)
    old = format1_item(rt, 1)
    new = keep(Intake(rt), 2)
    owner = holder(rt)
    assert opened(rt, owner, old, new) == [raw(1), raw(2)]
    with transaction(rt.engine) as s:
        add_user(s, rt.household_id, "friend", "reviewer", FRIEND)
    with transaction(rt.engine) as s:
        assert rewrap_missing(s, rt.household_id, *owner) == 2
    assert opened(rt, holder(rt, "friend", FRIEND), old, new) == [raw(1), raw(2)]
    code: str = rt.recovery_code  # type: ignore[attr-defined]
    fresh = "a brand new passphrase 77"
    with transaction(rt.engine) as s:
        assert reset_with_recovery(s, rt.household_id, "owner", code, fresh) == 2
    renewed = holder(rt, "owner", fresh)
    assert opened(rt, renewed, old, new) == [raw(1), raw(2)]
    out = tmp_path / "bundle.zip"
    export_bundle(rt, out, *renewed, ExportFilters(), exported_by="owner")
    with zipfile.ZipFile(out) as z:
        items = [n for n in z.namelist() if n.startswith("items/")]
        bodies = sorted(z.read(n) for n in items)
    assert bodies == sorted([raw(1), raw(2)])


def test_randomness_is_never_handed_out_twice_even_across_a_fork() -> None:
    """Keys and nonces come from a buffer of kernel randomness: no slice may repeat, in this
    process or in a forked child (a repeated nonce under one key breaks AES-GCM)."""
    import os

    first = [envelope.new_key() for _ in range(300)]  # crosses several 4 KiB refills
    assert len(set(first)) == len(first)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what it draws next goes back to the parent
        os.close(r)
        os.write(w, b"".join(envelope.new_key() for _ in range(8)))
        os._exit(0)
    os.close(w)
    parent_next = [envelope.new_key() for _ in range(8)]
    child_bytes = b""
    while chunk := os.read(r, 4096):
        child_bytes += chunk
    os.close(r)
    os.waitpid(pid, 0)
    child = [child_bytes[i : i + 32] for i in range(0, len(child_bytes), 32)]
    assert len(child) == 8
    assert not set(child) & set(parent_next)
