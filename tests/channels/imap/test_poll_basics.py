"""One pass: held mail leaves the INBOX unread; everything else is untouched."""

from __future__ import annotations

import imapclient
import pytest

from nocontact.channels.imap.client import session
from nocontact.channels.imap.poller import poll_all
from nocontact.intake import Intake
from nocontact.runtime import Runtime
from tests.channels.imap.conftest import (
    bodies,
    listed,
    message,
    uids_and_flags,
    vault_items,
)


def test_blocked_sender_is_moved_unread(
    imap_rt: Runtime, intake: Intake, alice: imapclient.IMAPClient
) -> None:
    listed(imap_rt, "Jon", emails=["jon@example.org"])
    held = message("Jon <jon@example.org>", body="hello")
    kept = message("Friend <friend@example.net>", body="see you")
    alice.append("INBOX", held)
    alice.append("INBOX", kept, flags=[b"\\Flagged"])
    [report] = poll_all(intake)
    assert report.as_json() == {
        "name": "personal",
        "scanned": 2,
        "quarantined": 1,
        "recorded": 0,
        "review": 0,
        "delivered": 1,
        "errors": [],
    }
    assert bodies(alice, "Held") == [held]
    assert bodies(alice, "INBOX") == [kept]
    assert list(uids_and_flags(alice, "Held").values()) == [()]
    assert list(uids_and_flags(alice, "INBOX").values()) == [(b"\\Flagged",)]


def test_a_fetch_that_would_mark_mail_read_is_refused(
    imap_rt: Runtime, alice: imapclient.IMAPClient
) -> None:
    alice.append("INBOX", message("friend@example.net"))
    with session(imap_rt.config.imap[0]) as conn:
        conn.select("INBOX")
        for item in ("BODY[]", "RFC822", "BODY[TEXT]", "rfc822.text"):
            with pytest.raises(ValueError, match="Seen"):
                conn.fetch([1], [item])
        assert conn.fetch([1], ["BODY.PEEK[HEADER]"])[1][b"BODY[HEADER]"].startswith(b"From:")
    assert list(uids_and_flags(alice, "INBOX").values()) == [()]


def test_coparent_mail_stays_and_is_recorded_as_delivered(
    imap_rt: Runtime, intake: Intake, alice: imapclient.IMAPClient
) -> None:
    listed(imap_rt, "Pat", "coparent", emails=["pat@school.example"])
    raw = message("Pat <pat@school.example>")
    alice.append("INBOX", raw)
    [report] = poll_all(intake)
    assert (report.recorded, report.quarantined) == (1, 0)
    assert bodies(alice, "INBOX") == [raw]
    assert not alice.folder_exists("Held")
    [item] = vault_items(imap_rt)
    assert (item.action, item.delivery, item.relation) == ("record", "delivered", "coparent")
    assert item.source_key.startswith("imap:personal:INBOX:") and item.source_key.endswith(":1")


def test_without_move_copy_and_uid_expunge_leave_the_persons_deletions_alone(
    imap_rt: Runtime, alice: imapclient.IMAPClient
) -> None:
    ours, theirs = message("jon@example.org"), message("friend@example.net")
    alice.append("INBOX", ours)
    alice.append("INBOX", theirs, flags=[b"\\Deleted"])  # marked deleted, not yet expunged
    with session(imap_rt.config.imap[0]) as conn:
        conn._caps.discard(b"MOVE")  # as on a server without RFC 6851
        conn.select("INBOX")
        conn.ensure_folder("Held")
        conn.move([1], "Held")
    assert bodies(alice, "Held") == [ours]
    assert bodies(alice, "INBOX") == [theirs]
    assert list(uids_and_flags(alice, "INBOX").values()) == [(b"\\Deleted",)]
