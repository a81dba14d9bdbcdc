"""One pass: held mail leaves the INBOX unread; everything else is untouched."""

from __future__ import annotations

import imapclient

from nocontact.channels.imap.poller import poll_all
from nocontact.intake import Intake
from nocontact.runtime import Runtime
from tests.channels.imap.conftest import bodies, listed, message, uids_and_flags


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
