"""The two drivers of a group commit store the same thing.

On SQLite, ``Intake.commit_many`` writes through sqlite3 directly (``SqliteWriter``); everywhere
else, and for single items that share a channel's transaction, through SQLAlchemy Core
(``CoreWriter``). A reader (the web app, export, verify) must not be able to tell them apart."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from nocontact.db import transaction
from nocontact.intake import InboundMessage, Intake, Prepared
from nocontact.matching.facts import facts_from_email
from nocontact.models import BatchKey, ItemKey, LedgerEntry, SealedBlob, VaultItem
from nocontact.people.service import add_person
from nocontact.runtime import Runtime
from nocontact.users import find_user, unlock
from nocontact.vault import ledger
from nocontact.vault.store import open_item
from tests.conftest import PASSPHRASE, make_home

AT = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def raw(n: int) -> bytes:
    return f"From: jon@example.org\r\nSubject: s{n}\r\n\r\nbody {n}\r\n".encode()


def prepared(intake: Intake, rt: Runtime, numbers: range) -> list[Prepared]:
    with transaction(rt.engine) as s:
        add_person(s, rt.household_id, "Jon", "abuser", emails=["jon@example.org"])
    out = []
    for n in numbers:
        msg = InboundMessage("email", raw(n), f"t:{n}", facts_from_email(raw(n)), AT)
        p = intake.prepare(msg)
        assert isinstance(p, Prepared)
        out.append(p)
    return out


def stored(rt: Runtime) -> dict[str, list[tuple[object, ...]]]:
    """What a reader sees, through the ORM (datetimes parsed back), minus random bytes."""
    with Session(rt.engine) as s:
        items = s.exec(select(VaultItem).order_by(VaultItem.id)).all()
        entries = s.exec(select(LedgerEntry).order_by(LedgerEntry.seq)).all()
        return {
            "items": [
                (
                    i.source_key,
                    i.sha256,
                    i.size,
                    i.received_at,
                    i.action,
                    i.person_name,
                    i.relation,
                    i.reasons,
                    i.status,
                    i.delivery,
                    i.ledger_seq,
                )
                for i in items
            ],
            "keys": [(k.item_id, k.recipient_id) for k in s.exec(select(ItemKey)).all()],
            "batch_keys": [(b.recipient_id,) for b in s.exec(select(BatchKey)).all()],
            "blobs": [(len(b.data) > 0,) for b in s.exec(select(SealedBlob)).all()],
            "ledger": [(e.seq, e.kind) for e in entries],
        }


def test_sqlite_and_core_drivers_store_the_same_rows(tmp_path: Path, rt: Runtime) -> None:
    other = make_home(tmp_path / "core")
    fast, core = Intake(rt), Intake(other)
    assert fast._sqlite is not None
    core._sqlite = None  # the Core driver, as on PostgreSQL
    ids_fast = fast.commit_many(prepared(fast, rt, range(5)))
    ids_core = core.commit_many(prepared(core, other, range(5)))
    assert [r.item_id for r in ids_fast] == [r.item_id for r in ids_core]
    a, b = stored(rt), stored(other)
    assert a == b
    assert a["items"][0][3].replace(tzinfo=UTC) == AT  # the datetime round-trips exactly
    with Session(rt.engine) as s:
        lines = [
            ledger.ChainLine(e.seq, e.prev_hash, e.hash, e.body)
            for e in s.exec(select(LedgerEntry).order_by(LedgerEntry.seq)).all()
        ]
    assert len(lines) >= 5 and ledger.first_fault(lines) is None  # the chain checks out
    with Session(rt.engine) as s:  # and what the fast driver wrote opens
        owner = find_user(s, rt.household_id, "owner")
        assert owner is not None
        identity = unlock(s, owner, PASSPHRASE)
        for r, n in zip(ids_fast, range(5), strict=True):
            item = s.get(VaultItem, r.item_id)
            assert item is not None
            assert open_item(s, rt.blobs, item, owner.recipient_id, identity)[0] == raw(n)


def test_a_conflict_in_the_fast_driver_rolls_back_and_falls_back(rt: Runtime) -> None:
    """An item committed by someone else after ``prepare`` looked: the fast transaction fails
    on the unique key, leaves nothing half-written, and each item is then stored once."""
    intake = Intake(rt)
    batch = prepared(intake, rt, range(3))
    assert intake.process(batch[1].msg).item_id is not None  # the race: committed meanwhile
    results = intake.commit_many(batch)
    assert [r.duplicate for r in results] == [False, True, False]
    with Session(rt.engine) as s:
        assert len(s.exec(select(VaultItem)).all()) == 3
        seqs = [e.seq for e in s.exec(select(LedgerEntry).order_by(LedgerEntry.seq)).all()]
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no fork


def test_the_fast_driver_leaves_no_transaction_open_after_a_failure(rt: Runtime) -> None:
    intake = Intake(rt)
    assert intake._sqlite is not None
    with pytest.raises(sqlite3.OperationalError), intake._sqlite.transaction() as w:
        w.db.execute("INSERT INTO no_such_table VALUES (1)")
    batch = prepared(intake, rt, range(2))
    assert all(r.item_id for r in intake.commit_many(batch))
