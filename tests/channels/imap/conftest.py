"""Fixtures for the IMAP channel: a home watching alice's mailbox on the real Dovecot."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import imapclient
import pytest
from sqlmodel import Session, col, select

from nocontact.db import transaction
from nocontact.intake import Intake
from nocontact.models import VaultItem
from nocontact.people.service import add_person
from nocontact.runtime import Runtime
from nocontact.users import find_user, unlock
from nocontact.vault.store import open_item
from tests.conftest import PASSPHRASE, make_home
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
        if v is None:
            continue
        if isinstance(v, str):
            lines.append(f'{k} = "{v}"')
        elif isinstance(v, list):
            lines.append(f"{k} = [" + ", ".join(f'"{x}"' for x in v) + "]")
        else:
            lines.append(f"{k} = {v}")
    return "\n".join(lines) + "\n\n"


_TEMPLATE: list[Path] = []


def imap_home(root: Path, dovecot: Dovecot, *accounts: str) -> Runtime:
    """A fresh initialised home watching the given accounts (default: alice's INBOX).

    Setting up a home costs seconds (argon2id, scrypt-wrapped keys); the first one made in a
    session is copied for the rest, each with its own settings file.
    """
    if not _TEMPLATE:
        first = make_home(root / "template")
        first.engine.dispose()
        _TEMPLATE.append(first.home)
    home = root / "home"
    shutil.copytree(_TEMPLATE[0], home)
    text = '[household]\ndefault_region = "GB"\n\n[web]\nlisten = "127.0.0.1:8080"\n\n'
    (home / "nocontact.toml").write_text(text + "".join(accounts or (account_toml(dovecot),)))
    return Runtime.open(home, home / "nocontact.toml")


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


def vault_items(rt: Runtime) -> list[VaultItem]:
    with Session(rt.engine) as s:
        return list(s.exec(select(VaultItem).order_by(col(VaultItem.id))).all())


def open_vault(rt: Runtime) -> list[bytes]:
    """Every kept original, opened with the owner's passphrase, in intake order."""
    with Session(rt.engine) as s:
        user = find_user(s, rt.household_id, "owner")
        assert user is not None
        identity = unlock(s, user, PASSPHRASE)
        items = s.exec(select(VaultItem).order_by(col(VaultItem.id))).all()
        return [open_item(s, rt.blobs, i, user.recipient_id, identity)[0] for i in items]


def flags_by_body(c: imapclient.IMAPClient, folder: str) -> dict[bytes, tuple[bytes, ...]]:
    """Each message's flags, keyed by its bytes (read with PEEK, so reading changes nothing)."""
    if not c.folder_exists(folder):
        return {}
    c.select_folder(folder, readonly=True)
    uids = c.search(["ALL"])
    got = c.fetch(uids, ["FLAGS", "BODY.PEEK[]"]) if uids else {}
    return {
        d[b"BODY[]"]: tuple(sorted(f for f in d[b"FLAGS"] if f != b"\\Recent"))
        for d in got.values()
    }
