"""The same passes with PostgreSQL as the database (the hosted set-up): cursors, seals and
status rows behave as on SQLite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlmodel import Session, select

from nocontact.channels.imap.poller import poll_all
from nocontact.intake import Intake
from nocontact.models import ChannelStatus, ImapCursor
from tests.channels.imap.conftest import account_toml, bodies, listed, mailbox, message, vault_items
from tests.conftest import make_home
from tests.servers import postgres
from tests.servers.dovecot import Dovecot


def test_passes_on_postgresql(tmp_path: Path, dovecot_clean: Dovecot) -> None:
    if not postgres.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with postgres.temporary_database() as url:
        rt = make_home(tmp_path, database_url=url, extra_config=account_toml(dovecot_clean))
        try:
            listed(rt, "Jon", emails=["jon@example.org"])
            alice = mailbox(dovecot_clean)
            held, later, other = (
                message(s) for s in ("jon@example.org", "lee@x.example", "f@y.example")
            )
            for raw in (held, later, other):
                alice.append("INBOX", raw)
            [first] = poll_all(Intake(rt))
            assert (first.quarantined, first.delivered, first.errors) == (1, 2, [])
            [again] = poll_all(Intake(rt))
            assert again.scanned == 0
            listed(rt, "Lee", "ally", emails=["lee@x.example"])
            [sweep] = poll_all(Intake(rt))
            assert (sweep.scanned, sweep.quarantined) == (2, 1)
            assert sorted(bodies(alice, "Held")) == sorted([held, later])
            assert len(vault_items(rt)) == 2
            with Session(rt.engine) as s:
                cursor = s.exec(select(ImapCursor)).one()
                status = s.exec(select(ChannelStatus)).one()
            assert cursor.last_uid == 3 and status.ok and status.failures == 0
            alice.logout()
        finally:
            rt.engine.dispose()
