"""STARTTLS against a real Dovecot with its own certificate authority: the certificate is
checked (a server the account does not trust is refused before the password is sent), and
``ca_file`` is how a private authority is trusted."""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from nocontact.channels.imap.poller import poll_all
from nocontact.intake import Intake
from tests.channels.imap.conftest import account_toml, bodies, imap_home, listed, mailbox, message
from tests.servers.dovecot import Dovecot, start_dovecot


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nocontact test imap")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture(scope="module")
def tls_dovecot() -> Iterator[tuple[Dovecot, Path]]:
    root = Path("/tmp") / f"nocontact-dovecot-tls-{os.getpid()}"
    root.mkdir(parents=True, exist_ok=True)
    cert, key = _certificate(root)
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
