"""Passes over time: exact originals, large mail, repeat passes, UIDVALIDITY resets, list
changes, several folders, and deleting instead of holding."""

from __future__ import annotations

from pathlib import Path

import imapclient
from sqlmodel import Session, select

from nocontact.channels.imap.batch import BATCH, PREFIX
from nocontact.channels.imap.poller import poll_all
from nocontact.db import transaction
from nocontact.intake import Intake
from nocontact.models import Household, ImapCursor, LedgerEntry
from nocontact.runtime import Runtime
from tests.channels.imap.conftest import (
    account_toml,
    bodies,
    imap_home,
    listed,
    message,
    open_vault,
    vault_items,
)
from tests.servers.dovecot import Dovecot

DATA = Path(__file__).resolve().parents[2] / "data" / "imap"


def _ledger_length(rt: Runtime) -> int:
    with Session(rt.engine) as s:
        h = s.get(Household, rt.household_id)
        assert h is not None
        return h.ledger_seq


def test_malformed_mime_is_kept_byte_identical(
    imap_rt: Runtime, intake: Intake, alice: imapclient.IMAPClient
) -> None:
    raw = (DATA / "malformed.eml").read_bytes()
    listed(imap_rt, "Jon", emails=["jon@example.org"])
    alice.append("INBOX", raw)
    [served] = bodies(alice, "INBOX")
    assert served == raw  # Dovecot keeps the literal as given
    [report] = poll_all(intake)
    assert (report.quarantined, report.errors) == (1, [])
    assert open_vault(imap_rt) == [served]
    assert bodies(alice, "Held") == [served]


def test_ten_megabyte_message_is_held_whole(
    imap_rt: Runtime, intake: Intake, alice: imapclient.IMAPClient
) -> None:
    listed(imap_rt, "Jon", emails=["jon@example.org"])
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/\r\n"
    big = message("jon@example.org", body="attached").rstrip(b"\r\n") + b"\r\n"
    big += line * (10 * 1024 * 1024 // len(line))
    alice.append("INBOX", big)
    alice.append("INBOX", message("friend@example.net", body="x" * 200_000))
    [report] = poll_all(intake)
    assert (report.quarantined, report.delivered, report.errors) == (1, 1, [])
    [item] = vault_items(imap_rt)
    assert item.size == len(big) > 10_000_000
    assert open_vault(imap_rt) == [big]


def test_second_pass_is_a_no_op(
    imap_rt: Runtime, intake: Intake, alice: imapclient.IMAPClient
) -> None:
    listed(imap_rt, "Jon", emails=["jon@example.org"])
    listed(imap_rt, "Pat", "coparent", emails=["pat@school.example"])
    for sender in ("jon@example.org", "pat@school.example", "friend@example.net"):
        alice.append("INBOX", message(sender))
    poll_all(intake)
    before = (bodies(alice, "INBOX"), bodies(alice, "Held"), _ledger_length(imap_rt))
    [again] = poll_all(intake)
    assert again.as_json() == {
        "name": "personal",
        "scanned": 0,
        "quarantined": 0,
        "recorded": 0,
        "review": 0,
        "delivered": 0,
        "errors": [],
    }
    assert (bodies(alice, "INBOX"), bodies(alice, "Held"), _ledger_length(imap_rt)) == before
    assert len(vault_items(imap_rt)) == 2


def test_uidvalidity_reset_rescans_without_duplicates(
    tmp_path: Path, dovecot_clean: Dovecot, alice: imapclient.IMAPClient
) -> None:
    rt = imap_home(tmp_path, dovecot_clean, account_toml(dovecot_clean, folders=["Lists"]))
    listed(rt, "Jon", emails=["jon@example.org"])
    intake = Intake(rt)
    held, other = message("jon@example.org"), message("friend@example.net")
    alice.create_folder("Lists")
    alice.append("Lists", held)
    alice.append("Lists", other)
    poll_all(intake)
    first_validity = alice.select_folder("Lists")[b"UIDVALIDITY"]
    # The folder is recreated (a server restore does the same): new UIDVALIDITY, UIDs from 1.
    alice.select_folder("INBOX")
    alice.delete_folder("Lists")
    alice.create_folder("Lists")
    later = message("jon@example.org", subject="later")
    for raw in (held, other, later):
        alice.append("Lists", raw)
    assert alice.select_folder("Lists")[b"UIDVALIDITY"] != first_validity
    [report] = poll_all(intake)
    assert (report.scanned, report.quarantined, report.errors) == (3, 2, [])
    items = vault_items(rt)
    assert len(items) == 2  # the original again is the same evidence, not a second item
    assert bodies(alice, "Lists") == [other]
    assert sorted(bodies(alice, "Held")) == sorted([held, held, later])
    with Session(rt.engine) as s:
        cursor = s.exec(select(ImapCursor).where(ImapCursor.folder == "Lists")).one()
    assert cursor.uidvalidity != first_validity and cursor.last_uid == 3


def test_person_added_later_is_swept(
    imap_rt: Runtime, intake: Intake, alice: imapclient.IMAPClient
) -> None:
    early, other = message("newly@listed.example"), message("friend@example.net")
    alice.append("INBOX", early)
    alice.append("INBOX", other)
    [first] = poll_all(intake)
    assert (first.delivered, bodies(alice, "INBOX")) == (2, [early, other])
    listed(imap_rt, "Lee", "ally", emails=["newly@listed.example"])
    [sweep] = poll_all(intake)
    assert (sweep.scanned, sweep.quarantined, sweep.delivered) == (2, 1, 1)
    assert bodies(alice, "INBOX") == [other]
    assert bodies(alice, "Held") == [early]
    [quiet] = poll_all(intake)
    assert quiet.scanned == 0  # swept once per list change, not every pass


def test_old_mail_mentioning_a_newly_listed_abuser_is_swept_for_review(
    imap_rt: Runtime, intake: Intake, alice: imapclient.IMAPClient
) -> None:
    # decided as it would have been had it arrived after the listing: the text counts too
    note = message("cousin@example.net", body="Lee asked me to pass on: call lee@listed.example")
    other = message("friend@example.net", body="See you on Friday.")
    alice.append("INBOX", note)
    alice.append("INBOX", other)
    [first] = poll_all(intake)
    assert first.delivered == 2
    listed(imap_rt, "Lee", "abuser", emails=["lee@listed.example"])
    [sweep] = poll_all(intake)
    assert (sweep.scanned, sweep.review, sweep.delivered) == (2, 1, 1)
    assert bodies(alice, "INBOX") == [other]
    assert bodies(alice, "Held") == [note] == open_vault(imap_rt)


def test_junk_folder_is_rescued_too(
    tmp_path: Path, dovecot_clean: Dovecot, alice: imapclient.IMAPClient
) -> None:
    rt = imap_home(tmp_path, dovecot_clean, account_toml(dovecot_clean, folders=["INBOX", "Junk"]))
    listed(rt, "Jon", emails=["jon@example.org"])
    in_inbox, in_junk = message("jon@example.org", subject="a"), message("jon@example.org")
    spam = message("offers@spam.example")
    alice.append("INBOX", in_inbox)
    alice.append("Junk", in_junk)
    alice.append("Junk", spam)
    [report] = poll_all(Intake(rt))
    assert (report.scanned, report.quarantined, report.errors) == (3, 2, [])
    assert sorted(bodies(alice, "Held")) == sorted([in_inbox, in_junk])
    assert bodies(alice, "Junk") == [spam]
    assert {i.source_key.split(":")[2] for i in vault_items(rt)} == {"INBOX", "Junk"}


def test_holding_folder_is_created_unsubscribed(
    imap_rt: Runtime, intake: Intake, alice: imapclient.IMAPClient
) -> None:
    listed(imap_rt, "Jon", emails=["jon@example.org"])
    alice.append("INBOX", message("jon@example.org"))
    poll_all(intake)
    assert alice.folder_exists("Held")
    assert "Held" not in [name for _, _, name in alice.list_sub_folders()]


def test_delete_after_quarantine_removes_only_after_sealing(
    tmp_path: Path, dovecot_clean: Dovecot, alice: imapclient.IMAPClient
) -> None:
    rt = imap_home(tmp_path, dovecot_clean, account_toml(dovecot_clean, after_quarantine="delete"))
    listed(rt, "Jon", emails=["jon@example.org"])
    held, other = message("jon@example.org"), message("friend@example.net")
    alice.append("INBOX", held)
    alice.append("INBOX", other)
    alice.select_folder("INBOX")
    alice.add_flags([2], [b"\\Deleted"])  # the person's own pending delete must survive
    [report] = poll_all(Intake(rt))
    assert (report.quarantined, report.errors) == (1, [])
    assert bodies(alice, "INBOX") == [other]
    assert not alice.folder_exists("Held")
    assert open_vault(rt) == [held]
    with transaction(rt.engine) as s:
        kinds = [e.kind for e in s.exec(select(LedgerEntry)).all()]
    assert kinds.count("intake") == 1


def test_messages_around_the_first_read_size_are_kept_whole(
    imap_rt: Runtime, intake: Intake, alice: imapclient.IMAPClient
) -> None:
    listed(imap_rt, "Jon", emails=["jon@example.org"])
    sizes = (PREFIX - 1, PREFIX, PREFIX + 1)
    originals = []
    for n in sizes:
        head = message("jon@example.org", subject=str(n), body="")
        originals.append(head + b"y" * (n - len(head)))
        assert len(originals[-1]) == n
        alice.append("INBOX", originals[-1])
    [report] = poll_all(intake)
    assert (report.quarantined, report.errors) == (3, [])
    assert sorted(open_vault(imap_rt)) == sorted(originals)


def test_a_mailbox_of_several_batches_is_read_ahead_and_held_exactly(
    imap_rt: Runtime, intake: Intake, alice: imapclient.IMAPClient
) -> None:
    # more than two batches, with held mail in each and a large held message in the middle
    # one, so the whole-message fetch and the moves wait on a fetch running ahead
    listed(imap_rt, "Jon", emails=["jon@example.org"])
    total = 2 * BATCH + 40
    held: list[bytes] = []
    for i in range(total):
        if i % 37 == 0 or i == BATCH + 5:
            body = "x" * (PREFIX + 1000) if i == BATCH + 5 else f"note {i}"
            raw = message("Jon <jon@example.org>", subject=f"m{i}", body=body)
            held.append(raw)
        else:
            raw = message(f"friend{i}@example.net", subject=f"m{i}")
        alice.append("INBOX", raw)
    [report] = poll_all(intake)
    assert (report.scanned, report.quarantined, report.errors) == (total, len(held), [])
    assert report.delivered == total - len(held)
    assert sorted(open_vault(imap_rt)) == sorted(bodies(alice, "Held")) == sorted(held)
    assert len(bodies(alice, "INBOX")) == total - len(held)
    with Session(imap_rt.engine) as s:
        [cursor] = s.exec(select(ImapCursor)).all()
    alice.select_folder("INBOX", readonly=True)
    assert all(uid <= cursor.last_uid for uid in alice.search(["ALL"]))
    [again] = poll_all(intake)
    assert (again.scanned, again.quarantined) == (0, 0)
