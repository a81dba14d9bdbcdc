"""Sealing: only the holders' passphrases (or the recovery code) open what the service sealed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlmodel import Session, select

from nocontact.db import transaction
from nocontact.errors import VaultError, WrongPassphrase
from nocontact.intake import InboundMessage, Intake
from nocontact.matching.facts import facts_from_email
from nocontact.models import Person, VaultItem
from nocontact.people.service import add_person
from nocontact.runtime import Runtime
from nocontact.users import add_user, find_user, unlock, unlock_recovery
from nocontact.vault.crypto import new_identity, seal, unseal, unwrap_identity, wrap_identity
from nocontact.vault.store import open_item, sealed_original
from tests.conftest import PASSPHRASE

RAW = b"From: jon@example.org\r\nSubject: s\r\n\r\nthe sealed body text 8d1f\r\n"


def keep_one(rt: Runtime, raw: bytes = RAW, key: str = "t:1") -> int:
    with transaction(rt.engine) as s:
        if s.exec(select(Person).where(Person.name == "Jon")).first() is None:
            add_person(s, rt.household_id, "Jon", "abuser", emails=["jon@example.org"])
    r = Intake(rt).process(InboundMessage("email", raw, key, facts_from_email(raw)))
    assert r.item_id is not None
    return r.item_id


def test_seal_and_open_round_trip_with_the_owner_passphrase(rt: Runtime) -> None:
    item_id = keep_one(rt)
    with Session(rt.engine) as s:
        owner = find_user(s, rt.household_id, "owner")
        assert owner is not None
        identity = unlock(s, owner, PASSPHRASE)
        item = s.get(VaultItem, item_id)
        assert item is not None
        raw, meta = open_item(s, rt.blobs, item, owner.recipient_id, identity)
    assert raw == RAW
    assert meta["channel"] == "email"


def test_a_wrong_passphrase_is_refused(rt: Runtime) -> None:
    with Session(rt.engine) as s:
        owner = find_user(s, rt.household_id, "owner")
        assert owner is not None
        with pytest.raises(WrongPassphrase):
            unlock(s, owner, PASSPHRASE + "x")


def test_the_recovery_code_opens_every_item(rt: Runtime) -> None:
    item_id = keep_one(rt)
    code: str = rt.recovery_code  # type: ignore[attr-defined]
    with Session(rt.engine) as s:
        rid, identity = unlock_recovery(s, rt.household_id, code.lower().replace("-", " "))
        item = s.get(VaultItem, item_id)
        assert item is not None
        raw, _ = open_item(s, rt.blobs, item, rid, identity)
    assert raw == RAW


def test_the_services_own_keys_cannot_open_an_item(rt: Runtime) -> None:
    """What the service holds on disk (signing key, config, public keys) opens nothing."""
    item_id = keep_one(rt)
    with Session(rt.engine) as s:
        item = s.get(VaultItem, item_id)
        assert item is not None
        sealed = sealed_original(s, rt.blobs, item.blob)
    other_identity, _ = new_identity()
    with pytest.raises(VaultError):
        unseal(sealed, other_identity)
    # the signing key is an Ed25519 PEM, not an age identity: age itself refuses it
    proc = subprocess.run(
        ["age", "-d", "-i", str(rt.signing_key_path)], input=sealed, capture_output=True
    )
    assert proc.returncode != 0
    assert RAW not in proc.stdout


def test_a_reviewer_added_later_can_open_only_new_items_until_rewrapped(rt: Runtime) -> None:
    from nocontact.vault.store import rewrap_missing

    old = keep_one(rt)
    with transaction(rt.engine) as s:
        add_user(s, rt.household_id, "friend", "reviewer", "friend passphrase 123")
    new_raw = RAW.replace(b"8d1f", b"9e2a")
    new = keep_one(rt, new_raw, "t:2")
    with Session(rt.engine) as s:
        friend = find_user(s, rt.household_id, "friend")
        assert friend is not None
        fid = unlock(s, friend, "friend passphrase 123")
        item_new = s.get(VaultItem, new)
        item_old = s.get(VaultItem, old)
        assert item_new is not None and item_old is not None
        assert open_item(s, rt.blobs, item_new, friend.recipient_id, fid)[0] == new_raw
        with pytest.raises(VaultError):
            open_item(s, rt.blobs, item_old, friend.recipient_id, fid)
    with transaction(rt.engine) as s:
        owner = find_user(s, rt.household_id, "owner")
        assert owner is not None
        added = rewrap_missing(s, rt.household_id, owner.recipient_id, unlock(s, owner, PASSPHRASE))
    assert added == 1
    with Session(rt.engine) as s:
        item_old = s.get(VaultItem, old)
        assert item_old is not None
        assert open_item(s, rt.blobs, item_old, friend.recipient_id, fid)[0] == RAW


def test_the_age_command_line_reads_our_files(tmp_path: Path) -> None:
    """No lock-in: Debian's `age` decrypts a sealed item and unwraps a passphrase identity."""
    identity, public = new_identity()
    (tmp_path / "id.txt").write_text(identity + "\n")
    (tmp_path / "item.age").write_bytes(seal(b"evidence", [public]))
    out = subprocess.run(
        ["age", "-d", "-i", str(tmp_path / "id.txt"), str(tmp_path / "item.age")],
        capture_output=True,
        check=True,
    )
    assert out.stdout == b"evidence"
    wrapped = wrap_identity(identity, "a long passphrase")
    assert unwrap_identity(wrapped, "a long passphrase") == identity
