"""Fixtures for the IMAP channel: a home watching alice's mailbox on the real Dovecot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import imapclient
import pytest

from nocontact.db import transaction
from nocontact.intake import Intake
from nocontact.people.service import add_person
from nocontact.runtime import Runtime
from tests.conftest import make_home
from tests.servers.dovecot import PASSWORD, Dovecot


def account_toml(dovecot: Dovecot, *, name: str = "personal", **over: object) -> str:
    values: dict[str, object] = {
        "name": name,
        "host": "127.0.0.1",
        "port": dovecot.imap_port,
        "security": "none",
        "username": "alice",
        "password": PASSWORD,
        "folders": ["INBOX"],
        "mode": "poll",
        "timeout_seconds": 10,
    }
    values.update(over)
    lines = ["[[imap]]"]
    for k, v in values.items():
        if isinstance(v, str):
            lines.append(f'{k} = "{v}"')
        elif isinstance(v, list):
            lines.append(f"{k} = [" + ", ".join(f'"{x}"' for x in v) + "]")
        else:
            lines.append(f"{k} = {v}")
    return "\n".join(lines) + "\n\n"


def imap_home(root: Path, dovecot: Dovecot, *accounts: str) -> Runtime:
    return make_home(root, extra_config="\n" + "".join(accounts or (account_toml(dovecot),)))


def mailbox(dovecot: Dovecot, user: str = "alice") -> imapclient.IMAPClient:
    c = imapclient.IMAPClient("127.0.0.1", port=dovecot.imap_port, ssl=False, timeout=10)
    c.login(user, PASSWORD)
    return c


def listed(rt: Runtime, name: str, relation: str = "abuser", **idents: list[str]) -> None:
    with transaction(rt.engine) as s:
        add_person(s, rt.household_id, name, relation, **idents)  # type: ignore[arg-type]


def message(
    sender: str = "Jon <jon@example.org>",
    subject: str = "hello",
    body: str = "Just checking in.",
    extra: str = "",
    msgid: str | None = None,
) -> bytes:
    mid = msgid or f"<{abs(hash((sender, subject, body, extra)))}@test.example>"
    return (
        f"From: {sender}\r\nTo: alice@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: {mid}\r\nDate: Thu, 26 Nov 2026 05:00:00 +0000\r\n{extra}"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def uids_and_flags(c: imapclient.IMAPClient, folder: str) -> dict[int, tuple[bytes, ...]]:
    if not c.folder_exists(folder):
        return {}
    c.select_folder(folder, readonly=True)
    uids = c.search(["ALL"])
    got = c.fetch(uids, ["FLAGS"]) if uids else {}
    # \Recent is session state the server sets, not a flag anyone changed
    return {u: tuple(f for f in d[b"FLAGS"] if f != b"\\Recent") for u, d in got.items()}


def bodies(c: imapclient.IMAPClient, folder: str) -> list[bytes]:
    if not c.folder_exists(folder):
        return []
    c.select_folder(folder, readonly=True)
    uids = c.search(["ALL"])
    got = c.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
    return [got[u][b"BODY[]"] for u in sorted(got)]


@pytest.fixture
def imap_rt(tmp_path: Path, dovecot_clean: Dovecot) -> Iterator[Runtime]:
    rt = imap_home(tmp_path, dovecot_clean)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def intake(imap_rt: Runtime) -> Intake:
    return Intake(imap_rt)


@pytest.fixture
def alice(dovecot_clean: Dovecot) -> Iterator[imapclient.IMAPClient]:
    c = mailbox(dovecot_clean)
    yield c
    c.logout()
