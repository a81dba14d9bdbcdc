"""Releasing a held message: back to the INBOX by Message-ID and SHA-256, or appended when it
is gone from the server; and the next pass leaves it there."""

from __future__ import annotations

import imapclient
import pytest

from nocontact.channels.imap.poller import poll_all
from nocontact.channels.release import release
from nocontact.errors import ChannelError
from nocontact.intake import Intake
from nocontact.runtime import Runtime
from tests.channels.imap.conftest import bodies, flags_by_body, listed, message, vault_items


def test_released_message_moves_back_and_stays(
    imap_rt: Runtime, intake: Intake, alice: imapclient.IMAPClient
) -> None:
    listed(imap_rt, "Jon", aliases=["Jon Smith"])
    # a look-alike with the same Message-ID must not be released in its place
    twin = message("teacher@school.example", body="Jon Smith came again.", msgid="<m1@x>")
    harmless = message("teacher@school.example", body="Jon Smith came to the play.", msgid="<m1@x>")
    alice.append("INBOX", twin)
    alice.append("INBOX", harmless)
    [report] = poll_all(intake)
    assert report.review == 2
    item = next(i for i in vault_items(imap_rt) if i.size == len(harmless))
    release(imap_rt, item, harmless, {})
    assert bodies(alice, "INBOX") == [harmless]
    assert bodies(alice, "Held") == [twin]
    [again] = poll_all(intake)
    assert (again.scanned, again.delivered, again.review) == (1, 1, 0)
    assert bodies(alice, "INBOX") == [harmless]
    assert flags_by_body(alice, "INBOX") == {harmless: ()}
    assert [i.delivery for i in vault_items(imap_rt) if i.id == item.id] == ["released"]


def test_release_appends_the_original_when_it_is_gone(
    imap_rt: Runtime, intake: Intake, alice: imapclient.IMAPClient
) -> None:
    listed(imap_rt, "Jon", emails=["jon@example.org"])
    raw = message("jon@example.org")
    alice.append("INBOX", raw)
    poll_all(intake)
    alice.select_folder("Held")
    alice.delete_messages(alice.search(["ALL"]))
    alice.expunge()
    [item] = vault_items(imap_rt)
    release(imap_rt, item, raw, {})
    assert bodies(alice, "INBOX") == [raw]


def test_release_refuses_bytes_that_are_not_the_original(
    imap_rt: Runtime, intake: Intake, alice: imapclient.IMAPClient
) -> None:
    listed(imap_rt, "Jon", emails=["jon@example.org"])
    alice.append("INBOX", message("jon@example.org"))
    poll_all(intake)
    [item] = vault_items(imap_rt)
    with pytest.raises(ChannelError):
        release(imap_rt, item, b"From: someone else\r\n\r\nnot it\r\n", {})
    assert bodies(alice, "INBOX") == []
    assert [i.delivery for i in vault_items(imap_rt)] == ["none"]
