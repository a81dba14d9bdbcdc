"""When the real mail server is away: nothing is lost, nothing is doubled, held mail still held."""

from __future__ import annotations

import os
import smtplib
import time
from collections.abc import Callable

import pytest
from sqlmodel import Session, select

from nocontact.models import ChannelStatus
from nocontact.runtime import Runtime
from tests.channels.smtp.conftest import ABUSER, mailbox, message, vault_items
from tests.channels.smtp.forwarder import Forwarder
from tests.servers.dovecot import Dovecot


def send(port: int, sender: str, rcpts: list[str], raw: bytes) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
        return client.sendmail(sender, rcpts, raw)


def front_status(rt: Runtime, want: bool, name: str = "downstream") -> ChannelStatus:
    deadline = time.monotonic() + 5  # the row is written off the event loop
    while True:
        with Session(rt.engine) as s:
            q = select(ChannelStatus).where(
                ChannelStatus.channel == "smtp", ChannelStatus.name == name
            )
            row = s.exec(q).first()
        if (row is not None and row.ok is want) or time.monotonic() > deadline:
            assert row is not None
            return row
        time.sleep(0.05)


def test_downstream_down_gives_451_then_delivers_once_on_retry(
    front: int, front_home: Runtime, dovecot_clean: Dovecot, lmtp_link: Forwarder
) -> None:
    raw = message("Friend <friend@example.com>", "dinner?")
    lmtp_link.stop()
    try:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send(front, "friend@example.com", ["alice@example.org"], raw)
        assert refused.value.smtp_code == 451
        assert refused.value.smtp_error.startswith(b"4.3.0")
        row = front_status(front_home, want=False)
        assert row.last_error and "LMTP" in row.last_error
    finally:
        lmtp_link.start()
    assert mailbox(dovecot_clean, "alice") == []
    assert send(front, "friend@example.com", ["alice@example.org"], raw) == {}  # the retry
    [delivered] = mailbox(dovecot_clean, "alice")
    assert delivered.endswith(raw)
    assert front_status(front_home, want=True).ok


def test_listed_sender_is_held_even_while_downstream_is_down(
    front: int, front_home: Runtime, dovecot_clean: Dovecot, lmtp_link: Forwarder
) -> None:
    raw = message(f"Jordan <{ABUSER}>", "answer me")
    lmtp_link.stop()
    try:
        assert send(front, ABUSER, ["alice@example.org"], raw) == {}
    finally:
        lmtp_link.start()
    assert [i.action for i in vault_items(front_home, raw)] == ["quarantine"]
    assert mailbox(dovecot_clean, "alice") == []


def test_same_message_sent_again_is_not_delivered_twice(
    front: int, front_home: Runtime, dovecot_clean: Dovecot
) -> None:
    """A sender that retries after a lost reply sends the same bytes; they arrive once."""
    raw = message("Friend <friend@example.com>", "twice?")
    assert send(front, "friend@example.com", ["alice@example.org"], raw) == {}
    assert send(front, "friend@example.com", ["alice@example.org"], raw) == {}
    assert len(mailbox(dovecot_clean, "alice")) == 1


def test_internal_failure_answers_451_and_the_retry_is_kept(
    front: int, front_home: Runtime, dovecot_clean: Dovecot
) -> None:
    raw = message(f"Jordan <{ABUSER}>", "when the vault cannot be written")
    # the storage refuses the sealed original (a full or failing disk, as the database sees it)
    refuse = "CREATE TRIGGER refuse BEFORE INSERT ON sealedblob BEGIN SELECT RAISE(ABORT, 'no');"
    with front_home.engine.begin() as c:
        c.exec_driver_sql(refuse + " END")
    try:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send(front, ABUSER, ["alice@example.org"], raw)
        assert (refused.value.smtp_code, refused.value.smtp_error[:5]) == (451, b"4.3.0")
        assert vault_items(front_home, raw) == []
        row = front_status(front_home, want=False, name="intake")
        assert (row.last_error or "").startswith("a message could not be kept (")
    finally:
        with front_home.engine.begin() as c:
            c.exec_driver_sql("DROP TRIGGER refuse")
    assert send(front, ABUSER, ["alice@example.org"], raw) == {}
    assert [i.action for i in vault_items(front_home, raw)] == ["quarantine"]
    assert mailbox(dovecot_clean, "alice") == []  # held mail is never relayed, even on error
    assert front_status(front_home, want=True, name="intake").ok


def test_lmtp_split_after_data_is_retried_for_the_failed_recipient_only(
    front: int, dovecot_clean: Dovecot
) -> None:
    """Dovecot answers each recipient after DATA (RFC 2033): Alice saved, Bob failing for now
    (his mail folder cannot be written). The sender is told to retry; the retry reaches Bob
    and does not give Alice a second copy."""
    raw = message("Friend <friend@example.com>", "for both of you")
    rcpts = ["alice@example.org", "bob@example.org"]
    os.chmod(dovecot_clean.maildir("bob"), 0o500)
    try:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send(front, "friend@example.com", rcpts, raw)
        assert refused.value.smtp_code == 451
        assert len(mailbox(dovecot_clean, "alice")) == 1
    finally:
        os.chmod(dovecot_clean.maildir("bob"), 0o700)
    assert send(front, "friend@example.com", rcpts, raw) == {}
    assert len(mailbox(dovecot_clean, "alice")) == 1
    [to_bob] = mailbox(dovecot_clean, "bob")
    assert to_bob.endswith(raw)


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_client_vanishing_mid_transaction_releases_the_downstream_connection(
    front: int, lmtp_link: Forwarder
) -> None:
    assert wait_for(lambda: lmtp_link.active == 0)
    client = smtplib.SMTP("127.0.0.1", front, timeout=20)
    client.ehlo()
    client.mail("friend@example.com")
    assert client.rcpt("alice@example.org")[0] == 250
    assert lmtp_link.active == 1  # the recipient was checked with the real server
    client.close()  # gone without QUIT, as a dropped connection
    assert wait_for(lambda: lmtp_link.active == 0)
