"""The SMTP front in front of real Dovecot LMTP, driven by the stdlib client."""

from __future__ import annotations

import json
import re
import smtplib
from concurrent.futures import ThreadPoolExecutor

from nocontact.runtime import Runtime
from tests.channels.smtp.conftest import (
    ABUSER,
    COPARENT,
    mailbox,
    message,
    original_part,
    vault_items,
)
from tests.servers.dovecot import Dovecot


def send(port: int, sender: str, rcpts: list[str], raw: bytes) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
        return client.sendmail(sender, rcpts, raw)


def test_listed_sender_is_accepted_sealed_and_not_delivered(
    front: int, front_home: Runtime, dovecot_clean: Dovecot
) -> None:
    raw = message(f"Jordan <{ABUSER}>", "We need to talk")
    refused = send(front, ABUSER, ["alice@example.org"], raw)
    assert refused == {}  # a plain 250: nothing tells the sender it was held
    items = vault_items(front_home, raw)
    assert [(i.action, i.channel, i.person_name) for i in items] == [
        ("quarantine", "email", "Jordan")
    ]
    assert items[0].size == len(raw)
    assert mailbox(dovecot_clean, "alice") == []
    assert mailbox(dovecot_clean, "bob") == []  # no bounce or notice went anywhere


def test_envelope_sender_alone_is_enough_to_hold(
    front: int, front_home: Runtime, dovecot_clean: Dovecot
) -> None:
    raw = message("Someone <someone@example.com>", "hello")
    assert send(front, ABUSER, ["alice@example.org"], raw) == {}
    items = vault_items(front_home, raw)
    assert len(items) == 1 and items[0].action == "quarantine"
    assert json.loads(items[0].reasons)[0]["signal"] == "envelope_from"
    assert mailbox(dovecot_clean, "alice") == []


def test_other_mail_is_relayed_byte_for_byte(
    front: int, front_home: Runtime, dovecot_clean: Dovecot
) -> None:
    raw = message("Library <news@library.example>", "Opening hours", "Open late.\r\n..dots\r\n")
    assert send(front, "news@library.example", ["alice@example.org"], raw) == {}
    [delivered] = mailbox(dovecot_clean, "alice")
    added = original_part(delivered, raw)
    assert re.search(rb"\tby [^ ]+ with ESMTP;", added)
    assert b"contact" not in added.lower()  # nothing a mailbox viewer sees names us
    assert vault_items(front_home, raw) == []


def test_coparent_mail_is_delivered_and_recorded(
    front: int, front_home: Runtime, dovecot_clean: Dovecot
) -> None:
    raw = message(f"Alex <{COPARENT}>", "Pick-up Friday")
    assert send(front, COPARENT, ["alice@example.org"], raw) == {}
    [delivered] = mailbox(dovecot_clean, "alice")
    original_part(delivered, raw)
    [item] = vault_items(front_home, raw)
    assert (item.action, item.person_name, item.delivery) == ("record", "Alex", "delivered")


def test_permanently_refused_recipient_is_refused_alone(
    front: int, front_home: Runtime, dovecot_clean: Dovecot
) -> None:
    raw = message("Friend <friend@example.com>", "hi both")
    rcpts = ["alice@example.org", "nobody@example.org", "bob@example.org"]
    refused = send(front, "friend@example.com", rcpts, raw)
    assert list(refused) == ["nobody@example.org"]
    assert refused["nobody@example.org"][0] == 550
    assert len(mailbox(dovecot_clean, "alice")) == 1
    assert len(mailbox(dovecot_clean, "bob")) == 1


def test_bounce_with_null_sender_is_relayed(front: int, dovecot_clean: Dovecot) -> None:
    raw = message("Mail Delivery System <mailer-daemon@example.com>", "Undelivered Mail")
    assert send(front, "<>", ["alice@example.org"], raw) == {}
    [delivered] = mailbox(dovecot_clean, "alice")
    original_part(delivered, raw)
    assert delivered.startswith(b"Return-Path: <>")


def test_mail_mentioning_a_listed_person_is_held_for_review(
    front: int, front_home: Runtime, dovecot_clean: Dovecot
) -> None:
    raw = message("Chris <chris@example.com>", "hi", f"Jordan asked me to write; {ABUSER}")
    assert send(front, "chris@example.com", ["alice@example.org"], raw) == {}
    assert [i.action for i in vault_items(front_home, raw)] == ["review"]
    assert mailbox(dovecot_clean, "alice") == []


def test_concurrent_senders_each_get_the_right_outcome(
    front: int, front_home: Runtime, dovecot_clean: Dovecot
) -> None:
    """Eight connections at once, held and relayed mixed: per-session state never crosses."""
    held = [message(f"Jordan <{ABUSER}>", f"held {n}") for n in range(4)]
    passed = [message("Friend <friend@example.com>", f"passed {n}") for n in range(4)]
    jobs = [(ABUSER, raw) for raw in held] + [("friend@example.com", raw) for raw in passed]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(lambda j: send(front, j[0], ["alice@example.org"], j[1]), jobs))
    assert results == [{}] * len(jobs)
    assert all([i.action for i in vault_items(front_home, raw)] == ["quarantine"] for raw in held)
    delivered = mailbox(dovecot_clean, "alice")
    assert len(delivered) == len(passed)
    assert all(any(d.endswith(raw) for d in delivered) for raw in passed)


def test_a_released_message_is_relayed_byte_exact_to_its_recipients(
    front: int, front_home: Runtime, dovecot_clean: Dovecot
) -> None:
    from sqlmodel import Session

    from nocontact.channels.release import release
    from nocontact.users import find_user, unlock
    from nocontact.vault.store import open_item
    from tests.conftest import PASSPHRASE

    lookalike = ABUSER.replace("example", "examp1e")  # held for review, not blocked
    raw = message(f"J <{lookalike}>", "about Friday")
    assert send(front, lookalike, ["alice@example.org"], raw) == {}
    [item] = vault_items(front_home, raw)
    assert item.action == "review"
    assert mailbox(dovecot_clean, "alice") == []
    with Session(front_home.engine) as s:
        owner = find_user(s, front_home.household_id, "owner")
        assert owner is not None
        original, meta = open_item(
            s, front_home.blobs, item, owner.recipient_id, unlock(s, owner, PASSPHRASE)
        )
    release(front_home, item, original, meta)
    [delivered] = mailbox(dovecot_clean, "alice")
    assert delivered.endswith(raw)
