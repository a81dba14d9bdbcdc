"""STARTTLS against a real Dovecot with its own certificate authority: the certificate is
checked (a server the account does not trust is refused before the password is sent), and
``ca_file`` is how a private authority is trusted."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from nocontact.channels.imap.poller import poll_all
from nocontact.intake import Intake
from tests.channels.imap.conftest import account_toml, bodies, imap_home, listed, mailbox, message
from tests.servers.dovecot import Dovecot, start_dovecot
from tests.servers.tls import self_signed


@pytest.fixture(scope="module")
def tls_dovecot() -> Iterator[tuple[Dovecot, Path]]:
    root = Path("/tmp") / f"nocontact-dovecot-tls-{os.getpid()}"
    root.mkdir(parents=True, exist_ok=True)
    cert, key = self_signed(root)
    server = start_dovecot(root, f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}\n")
    yield server, cert
    server.stop()


def test_starttls_checks_the_certificate(tmp_path: Path, tls_dovecot: tuple[Dovecot, Path]) -> None:
    dovecot, cert = tls_dovecot
    dovecot.reset_mail()
    trusted = account_toml(dovecot, name="trusted", security="starttls", ca_file=str(cert))
    untrusted = account_toml(dovecot, name="untrusted", security="starttls")
    rt = imap_home(tmp_path, dovecot, trusted, untrusted)
    listed(rt, "Jon", emails=["jon@example.org"])
    alice = mailbox(dovecot)
    raw = message("jon@example.org")
    alice.append("INBOX", raw)
    reports = {r.name: r for r in poll_all(Intake(rt))}
    assert (reports["trusted"].quarantined, reports["trusted"].errors) == (1, [])
    assert "TLS failed" in reports["untrusted"].errors[0]
    assert reports["untrusted"].scanned == 0
    assert bodies(alice, "Held") == [raw]
    alice.logout()
