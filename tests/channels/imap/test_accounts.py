"""Accounts fail on their own: a wrong password, a closed port or a missing folder is a clear
status row and a JSON error, and never stops the other accounts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import imapclient
from sqlmodel import Session, select

from nocontact.channels.imap.poller import poll_all
from nocontact.intake import Intake
from nocontact.models import ChannelStatus
from tests.channels.imap.conftest import account_toml, bodies, imap_home, listed, message
from tests.servers.dovecot import Dovecot
from tests.servers.ports import free_port


def test_failing_account_does_not_stop_another(
    tmp_path: Path, dovecot_clean: Dovecot, alice: imapclient.IMAPClient
) -> None:
    rt = imap_home(
        tmp_path,
        dovecot_clean,
        account_toml(dovecot_clean, name="wrong-password", password="not-it"),
        account_toml(dovecot_clean, name="closed-port", port=free_port()),
        account_toml(dovecot_clean, name="good", folders=["INBOX", "Nowhere"]),
    )
    listed(rt, "Jon", emails=["jon@example.org"])
    held = message("jon@example.org")
    alice.append("INBOX", held)
    reports = {r.name: r for r in poll_all(Intake(rt))}
    assert "refused the login" in reports["wrong-password"].errors[0]
    assert "refused" in reports["closed-port"].errors[0]
    assert reports["good"].quarantined == 1
    assert [e.split(":")[0] for e in reports["good"].errors] == ["Nowhere"]
    assert bodies(alice, "Held") == [held]
    poll_all(Intake(rt), "closed-port")
    with Session(rt.engine) as s:
        rows = {r.name: r for r in s.exec(select(ChannelStatus)).all()}
    assert not rows["wrong-password"].ok and rows["wrong-password"].failures == 1
    assert rows["closed-port"].failures == 2 and rows["closed-port"].last_checked is not None
    assert rows["good"].last_error is not None and "Nowhere" in rows["good"].last_error
    for row in rows.values():
        assert "jon@example.org" not in (row.last_error or "")


def _nocontact(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOCONTACT_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "nocontact", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_poll_command_prints_the_contract_json(
    tmp_path: Path, dovecot_clean: Dovecot, alice: imapclient.IMAPClient
) -> None:
    rt = imap_home(
        tmp_path,
        dovecot_clean,
        account_toml(dovecot_clean),
        account_toml(dovecot_clean, name="other", password="not-it"),
    )
    listed(rt, "Jon", emails=["jon@example.org"])
    alice.append("INBOX", message("jon@example.org"))
    alice.append("INBOX", message("friend@example.net"))
    one = _nocontact(rt.home, "poll", "--account", "personal", "--json")
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout) == {
        "accounts": [
            {
                "name": "personal",
                "scanned": 2,
                "quarantined": 1,
                "recorded": 0,
                "review": 0,
                "delivered": 1,
                "errors": [],
            }
        ]
    }
    both = _nocontact(rt.home, "poll", "--json")
    assert both.returncode == 1
    names = [(a["name"], bool(a["errors"])) for a in json.loads(both.stdout)["accounts"]]
    assert names == [("personal", False), ("other", True)]
    unknown = _nocontact(rt.home, "poll", "--account", "nope")
    assert unknown.returncode == 2 and "nope" in unknown.stderr
    assert "jon@example.org" not in one.stderr + both.stderr
