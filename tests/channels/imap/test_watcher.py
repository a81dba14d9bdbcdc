"""The watch `nocontact run` starts: IDLE takes new mail within seconds, survives a dropped
connection, and scheduled passes cover accounts in poll mode."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import imapclient

from nocontact.channels.imap.cursors import MAX_BACKOFF_SECONDS, backoff_seconds
from nocontact.channels.imap.watcher import start_imap, start_watchers, stop_watchers
from nocontact.intake import Intake
from nocontact.run import channel_starters
from tests.channels.imap.conftest import (
    PASSWORD,
    account_toml,
    bodies,
    imap_home,
    listed,
    mailbox,
    message,
)
from tests.servers.dovecot import Dovecot


def _until_gone(c: imapclient.IMAPClient, raw: bytes, seconds: float = 15.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if raw not in bodies(c, "INBOX"):
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"still in the INBOX after {seconds}s")


def test_idle_takes_new_mail_and_survives_a_dropped_connection(
    tmp_path: Path, dovecot_clean: Dovecot
) -> None:
    alice = mailbox(dovecot_clean)
    rt = imap_home(
        tmp_path, dovecot_clean, account_toml(dovecot_clean, mode="idle", poll_seconds=300)
    )
    listed(rt, "Jon", emails=["jon@example.org"])
    started = start_watchers(Intake(rt))
    try:
        time.sleep(1.0)  # the first pass and the IDLE are up
        first = message("jon@example.org", subject="one")
        alice.append("INBOX", first)
        assert _until_gone(alice, first) < 5
        # the server drops every session of the user; the watch must come back by itself
        subprocess.run(
            ["doveadm", "-c", str(dovecot_clean.root / "dovecot.conf"), "kick", "alice"],
            check=True,
            capture_output=True,
            timeout=20,
        )
        alice.logout()
        time.sleep(1.0)
        alice = imapclient.IMAPClient(
            "127.0.0.1", port=dovecot_clean.imap_port, ssl=False, timeout=10
        )
        alice.login("alice", "secret")
        second = message("jon@example.org", subject="two")
        alice.append("INBOX", second)
        assert _until_gone(alice, second) < 12
        assert sorted(bodies(alice, "Held")) == sorted([first, second])
    finally:
        stop_watchers(*started)
    alice.logout()


def test_poll_mode_runs_scheduled_passes(
    tmp_path: Path, dovecot_clean: Dovecot, alice: imapclient.IMAPClient
) -> None:
    rt = imap_home(
        tmp_path, dovecot_clean, account_toml(dovecot_clean, mode="poll", poll_seconds=5)
    )
    listed(rt, "Jon", emails=["jon@example.org"])
    raw = message("jon@example.org")
    alice.append("INBOX", raw)
    started = start_watchers(Intake(rt))
    try:
        assert _until_gone(alice, raw) < 5
    finally:
        stop_watchers(*started)
    assert bodies(alice, "Held") == [raw]


def test_backoff_doubles_and_is_capped() -> None:
    assert backoff_seconds(60, 0) == 60
    assert backoff_seconds(60, 1) == 120
    assert backoff_seconds(60, 3) == 480
    assert backoff_seconds(60, 50) == MAX_BACKOFF_SECONDS


def test_nocontact_run_starts_the_watch_only_when_accounts_are_configured(
    tmp_path: Path, dovecot_clean: Dovecot
) -> None:
    assert start_imap in channel_starters()
    rt = imap_home(tmp_path, dovecot_clean)
    without = rt.config.model_copy(update={"imap": []})
    rt_without = type(rt)(rt.home, rt.config_path, without, rt.engine, rt.blobs)
    assert asyncio.run(start_imap(rt_without, Intake(rt_without))) is None

    async def start_and_stop() -> None:
        stop = await start_imap(rt, Intake(rt))
        assert stop is not None
        await stop()

    asyncio.run(start_and_stop())


def test_once_the_account_can_be_reached_again_new_mail_is_taken_at_once(
    tmp_path: Path, dovecot_clean: Dovecot
) -> None:
    """A pass that fails (here: a wrong password) makes the account back off for minutes
    (poll_seconds x 2^n). Once the watch connects again, that backoff is over: the mail that
    came meanwhile, and what comes next, is taken within seconds, not minutes."""
    alice = mailbox(dovecot_clean)
    secret = tmp_path / "imap-password"
    secret.write_text("not the password")
    rt = imap_home(
        tmp_path,
        dovecot_clean,
        account_toml(
            dovecot_clean, mode="idle", poll_seconds=300, password=None, password_file=str(secret)
        ),
    )
    listed(rt, "Jon", emails=["jon@example.org"])
    started = start_watchers(Intake(rt))
    try:
        time.sleep(1.5)  # the first pass and the first watch have failed: backing off
        waiting = message("jon@example.org", subject="while it failed")
        alice.append("INBOX", waiting)
        secret.write_text(PASSWORD)
        assert _until_gone(alice, waiting, 12.0) < 12  # the watch retries within 1 + 2 + 4 s
        later = message("jon@example.org", subject="after")
        alice.append("INBOX", later)
        assert _until_gone(alice, later, 5.0) < 5
    finally:
        stop_watchers(*started)
    alice.logout()
