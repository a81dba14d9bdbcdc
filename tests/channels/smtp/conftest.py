"""The SMTP front running for real on loopback, in front of the real Dovecot LMTP."""

from __future__ import annotations

import asyncio
import hashlib
import imaplib
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlmodel import Session, select

from nocontact.channels.smtp.server import start_front
from nocontact.db import transaction
from nocontact.intake import Intake
from nocontact.models import VaultItem
from nocontact.people.service import add_person
from nocontact.runtime import Runtime
from tests.channels.smtp.forwarder import Forwarder
from tests.conftest import make_home
from tests.servers.dovecot import PASSWORD, Dovecot
from tests.servers.ports import free_port
from tests.servers.tls import self_signed

ABUSER = "jordan.reed@example.net"
COPARENT = "alex.parent@example.com"


def smtp_config(port: int, deliver_to: str, extra: str = "") -> str:
    return (
        f'\n[smtp]\nlisten = "127.0.0.1:{port}"\ndeliver_to = "{deliver_to}"\n'
        f"timeout_seconds = 10\n{extra}"
    )


def home_with_list(root: Path, config: str) -> Runtime:
    rt = make_home(root, extra_config=config)
    with transaction(rt.engine) as s:
        add_person(s, rt.household_id, "Jordan", "abuser", emails=[ABUSER])
        add_person(s, rt.household_id, "Alex", "coparent", emails=[COPARENT])
    return rt


@contextmanager
def running_front(rt: Runtime) -> Iterator[int]:
    """Start the front in its own event loop thread, as `nocontact run` would; yield its port."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    stop = asyncio.run_coroutine_threadsafe(start_front(rt, Intake(rt)), loop).result(10)
    assert stop is not None and rt.config.smtp is not None
    try:
        yield int(rt.config.smtp.listen.rsplit(":", 1)[1])
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


MAX_BYTES = 64 * 1024


@pytest.fixture(scope="session")
def lmtp_link(dovecot: Dovecot) -> Iterator[Forwarder]:
    """The way from the front to Dovecot's LMTP; a test can cut it to make the server 'down'."""
    link = Forwarder(dovecot.lmtp_port)
    link.start()
    yield link
    link.stop()


@pytest.fixture(scope="session")
def front_home(tmp_path_factory: pytest.TempPathFactory, lmtp_link: Forwarder) -> Iterator[Runtime]:
    """One home for these tests (making a home costs seconds of key wrapping): the front relays
    to Dovecot's LMTP, offers STARTTLS, takes at most 64 KiB; Jordan (abuser), Alex (co-parent)."""
    root = tmp_path_factory.mktemp("smtp-front")
    cert, key = self_signed(root)
    extra = f'max_message_bytes = {MAX_BYTES}\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
    rt = home_with_list(root, smtp_config(free_port(), f"lmtp://127.0.0.1:{lmtp_link.port}", extra))
    yield rt
    rt.engine.dispose()


@pytest.fixture(scope="session")
def front(front_home: Runtime) -> Iterator[int]:
    with running_front(front_home) as port:
        yield port


def mailbox(dovecot: Dovecot, user: str) -> list[bytes]:
    """Every message in the user's INBOX, read with BODY.PEEK[] (never marks anything seen)."""
    imap = imaplib.IMAP4("127.0.0.1", dovecot.imap_port, timeout=10)
    try:
        imap.login(user, PASSWORD)
        imap.select("INBOX", readonly=True)
        _, data = imap.uid("SEARCH", "ALL")
        out: list[bytes] = []
        for uid in data[0].split():
            _, fetched = imap.uid("FETCH", uid, "(BODY.PEEK[])")
            out.append(bytes(fetched[0][1]))
        return out
    finally:
        imap.logout()


def vault_items(rt: Runtime, raw: bytes) -> list[VaultItem]:
    """The vault rows holding exactly these bytes."""
    sha = hashlib.sha256(raw).hexdigest()
    with Session(rt.engine) as s:
        return list(s.exec(select(VaultItem).where(VaultItem.sha256 == sha)).all())


def message(
    sender: str, subject: str, body: str = "Hello.", to: str = "alice@example.org"
) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        "Date: Mon, 02 Nov 2026 09:00:00 +0000\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@test.invalid>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def original_part(delivered: bytes, sent: bytes) -> bytes:
    """What follows the trace headers Dovecot and the front put on top (Return-Path,
    Delivered-To, Received); asserts nothing else was added."""
    assert delivered.endswith(sent), "the relayed message is not the received one, byte for byte"
    added = delivered[: len(delivered) - len(sent)]
    names = [
        line.split(b":", 1)[0] for line in added.split(b"\r\n") if line and not line[:1].isspace()
    ]
    assert set(names) <= {b"Return-Path", b"Delivered-To", b"Received"}, names
    return added
