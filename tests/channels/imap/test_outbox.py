"""Removals of several batches go together, and the cursor moves only after them."""

from __future__ import annotations

import imapclient
import pytest

from nocontact.channels.imap import cursors, outbox
from nocontact.channels.imap.client import session
from nocontact.channels.imap.outbox import Outbox
from nocontact.runtime import Runtime
from tests.channels.imap.conftest import bodies, message


def test_removals_wait_for_the_flush_and_the_cursor_follows_them(
    imap_rt: Runtime, alice: imapclient.IMAPClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "FLUSH_SECONDS", 3600.0)
    raws = [message(f"s{i}@example.org", subject=f"m{i}") for i in range(4)]
    for raw in raws:
        alice.append("INBOX", raw)
    account = imap_rt.config.imap[0]
    with session(account) as conn:
        uidvalidity, _ = conn.select("INBOX")
        box = Outbox(imap_rt, conn, account, "INBOX")
        box.add([1, 2])  # one batch's committed mail
        box.handled(uidvalidity, 2)
        box.add([4])  # the next batch's
        box.handled(uidvalidity, 4)
        box.flush_if_due()
        assert len(bodies(alice, "INBOX")) == 4
        assert cursors.read_cursor(imap_rt, account.name, "INBOX") is None
        box.flush()
    assert bodies(alice, "INBOX") == [raws[2]]
    assert bodies(alice, account.quarantine_folder) == [raws[0], raws[1], raws[3]]
    cur = cursors.read_cursor(imap_rt, account.name, "INBOX")
    assert cur is not None and (cur.uidvalidity, cur.last_uid) == (uidvalidity, 4)


def test_a_flush_is_due_at_the_uid_bound_or_after_the_time_bound(
    imap_rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = imap_rt.config.imap[0]
    with session(account) as conn:
        monkeypatch.setattr(outbox, "FLUSH_SECONDS", 3600.0)
        box = Outbox(imap_rt, conn, account, "INBOX")
        assert not box.due()
        box.add(list(range(1, outbox.FLUSH_UIDS)))
        assert not box.due()
        box.add([outbox.FLUSH_UIDS])
        assert box.due()
        monkeypatch.setattr(outbox, "FLUSH_SECONDS", 0.0)
        later = Outbox(imap_rt, conn, account, "INBOX")
        later.handled(1, 5)  # a cursor alone is due too: it should not lag far behind
        assert later.due()
