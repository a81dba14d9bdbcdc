"""The one intake: kept once, sealed first, no plaintext on disk, no content in logs."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from nocontact.db import transaction
from nocontact.intake import InboundMessage, Intake
from nocontact.matching.facts import facts_from_email, facts_from_sms
from nocontact.models import ImapCursor, LedgerEntry, VaultItem
from nocontact.people.service import add_person
from nocontact.runtime import Runtime
from nocontact.users import find_user, unlock
from nocontact.vault.store import open_item
from tests.conftest import PASSPHRASE, stored_originals

DATA = Path(__file__).parent / "data"
SECRET_BODY = b"The plaintext canary 5f0c2a91 must never be on disk."
RAW = (
    b"From: Jon Smith <jon@example.org>\r\nTo: me@example.org\r\n"
    b"Subject: subject canary 77ab\r\nMessage-ID: <1@example.org>\r\n\r\n" + SECRET_BODY + b"\r\n"
)


def listed(rt: Runtime) -> None:
    with transaction(rt.engine) as s:
        add_person(
            s, rt.household_id, "Jon", "abuser", emails=["jon@example.org"], phones=["07700 900123"]
        )
        add_person(s, rt.household_id, "Kim", "coparent", emails=["kim@example.org"])


def email(raw: bytes, key: str) -> InboundMessage:
    return InboundMessage("email", raw, key, facts_from_email(raw))


def count(rt: Runtime) -> int:
    with Session(rt.engine) as s:
        return s.exec(select(func.count()).select_from(VaultItem)).one()


def test_the_same_message_twice_is_kept_once(any_rt: Runtime) -> None:
    listed(any_rt)
    intake = Intake(any_rt)
    first = intake.process(email(RAW, "src:1"))
    again = intake.process(email(RAW, "src:1"))
    other_copy = intake.process(email(RAW, "src:other-uid"))
    assert first.decision.action == "quarantine" and first.item_id
    assert again.duplicate and again.item_id == first.item_id
    assert other_copy.duplicate and other_copy.item_id == first.item_id
    assert count(any_rt) == 1
    with Session(any_rt.engine) as s:
        intakes = s.exec(select(LedgerEntry).where(LedgerEntry.kind == "intake")).all()
    assert len(intakes) == 1


def test_concurrent_deliveries_of_one_message_keep_one_item(any_rt: Runtime) -> None:
    listed(any_rt)
    intake = Intake(any_rt)
    results: list[int | None] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            results.append(intake.process(email(RAW, "src:race")).item_id)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert len(set(results)) == 1 and results[0] is not None
    assert count(any_rt) == 1
    assert len(stored_originals(any_rt)) == 1, "the losers of the race leave no sealed copies"


def test_no_plaintext_of_a_kept_message_is_anywhere_in_the_home(rt: Runtime) -> None:
    listed(rt)
    Intake(rt).process(email(RAW, "src:2"))
    Intake(rt).process(
        InboundMessage(
            "sms",
            b'{"Body": "sms canary 3c3c"}',
            "sms:1",
            facts_from_sms("07700900123", "sms canary 3c3c"),
        )
    )
    needles = [b"5f0c2a91", b"77ab", b"sms canary", b"jon@example.org"]
    for path in rt.home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for needle in needles:
                if needle == b"jon@example.org" and path.name.startswith("nocontact.db"):
                    continue  # the list itself names Jon's address; the message does not
                assert needle not in data, f"{needle!r} found in {path}"


def test_malformed_mime_is_kept_byte_identical(rt: Runtime) -> None:
    listed(rt)
    raw = (DATA / "malformed.eml").read_bytes()
    r = Intake(rt).process(email(raw, "src:bad"))
    assert r.decision.action == "quarantine"
    with Session(rt.engine) as s:
        owner = find_user(s, rt.household_id, "owner")
        assert owner is not None
        item = s.get(VaultItem, r.item_id)
        assert item is not None
        original, meta = open_item(
            s, rt.blobs, item, owner.recipient_id, unlock(s, owner, PASSPHRASE)
        )
    assert original == raw
    assert meta["notes"], "the parse problems are recorded with the item"


def test_co_parent_messages_are_recorded_and_strangers_leave_no_trace(rt: Runtime) -> None:
    listed(rt)
    intake = Intake(rt)
    rec = intake.process(email(RAW.replace(b"jon@", b"kim@"), "src:kim"))
    assert rec.decision.action == "record" and rec.item_id
    stranger = RAW.replace(b"Jon Smith <jon@", b"Pat <pat@")
    cursor_written: list[bool] = []

    def advance(s: Session) -> None:
        s.add(ImapCursor(household_id=rt.household_id, account="a", folder="INBOX", last_uid=9))
        cursor_written.append(True)

    d = intake.process(email(stranger, "src:pat"), in_transaction=advance)
    assert d.decision.action == "deliver" and d.item_id is None
    assert cursor_written and count(rt) == 1
    with Session(rt.engine) as s:
        assert s.exec(select(ImapCursor)).one().last_uid == 9


def test_the_cursor_commits_with_the_item_or_not_at_all(rt: Runtime) -> None:
    listed(rt)

    def broken(s: Session) -> None:
        raise RuntimeError("crash inside the transaction")

    with pytest.raises(RuntimeError):
        Intake(rt).process(email(RAW, "src:3"), in_transaction=broken)
    assert count(rt) == 0
    r = Intake(rt).process(email(RAW, "src:3"))
    assert r.item_id is not None and not r.duplicate


def test_logs_carry_ids_never_content(rt: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    listed(rt)
    with caplog.at_level(logging.DEBUG):
        Intake(rt).process(email(RAW, "src:4"))
    text = caplog.text
    assert "kept item" in text
    for needle in ("5f0c2a91", "77ab", "jon@example.org", "Jon Smith"):
        assert needle not in text


def test_small_originals_are_kept_in_the_database_and_large_ones_in_files(any_rt: Runtime) -> None:
    from nocontact.vault.store import INLINE_MAX

    listed(any_rt)
    big = RAW + b"A long letter, line after line.\r\n" * (INLINE_MAX // 30)
    intake = Intake(any_rt)
    small_id = intake.process(email(RAW, "src:small")).item_id
    big_id = intake.process(email(big, "src:big")).item_id
    files = [p.name for p in any_rt.blobs.root.rglob("*") if p.is_file()]
    with Session(any_rt.engine) as s:
        owner = find_user(s, any_rt.household_id, "owner")
        assert owner is not None
        identity = unlock(s, owner, PASSPHRASE)
        opened = {}
        for item_id in (small_id, big_id):
            item = s.get(VaultItem, item_id)
            assert item is not None
            opened[item_id] = (
                item.blob,
                open_item(s, any_rt.blobs, item, owner.recipient_id, identity)[0],
            )
    assert opened[small_id][1] == RAW and opened[big_id][1] == big
    assert files == [opened[big_id][0]], "only the large original is a file"
    assert stored_originals(any_rt) == sorted(b for b, _ in opened.values())


def test_the_batch_dedupe_read_uses_the_unique_indexes(rt: Runtime) -> None:
    """A look-ahead runs for every batch; scanning the household's items instead would make
    each batch slower as the vault grows (seen: an OR between the IN lists did exactly that)."""
    import sqlite3

    from nocontact.intake import _EXISTING_MANY

    sql = _EXISTING_MANY.format(keys=":k0, :k1", shas=":s0, :s1")
    db = sqlite3.connect(rt.home / "nocontact.db")
    try:
        plan = [
            row[3]
            for row in db.execute(
                "EXPLAIN QUERY PLAN " + sql, dict.fromkeys(("hid", "k0", "k1", "s0", "s1"), "x")
            )
        ]
    finally:
        db.close()
    searches = [p for p in plan if p.startswith(("SEARCH", "SCAN"))]
    assert len(searches) == 2
    assert all("source_key=?" in p or "sha256=?" in p for p in searches), plan
