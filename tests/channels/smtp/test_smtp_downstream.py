"""Relaying to an SMTP server (``smtp://``) with STARTTLS and AUTH, as to a Postfix behind us.

The downstream is a real aiosmtpd server on loopback that insists on STARTTLS and a login and
records what it receives.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from nocontact.channels.smtp.server import server_tls_context
from nocontact.config import SmtpConfig
from nocontact.runtime import Runtime
from tests.channels.smtp.conftest import (
    COPARENT,
    message,
    running_front,
    self_signed,
    vault_items,
)
from tests.servers.ports import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    login: bytes | None


@dataclass
class Recorder:
    messages: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 <nobody> User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if b"Subject: refuse for good" in envelope.original_content:
            return "554 5.6.0 Content refused"
        if b"Subject: not now" in envelope.original_content:
            return "452 4.3.1 Insufficient system storage"
        auth = session.auth_data
        self.messages.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content,
                session.ssl is not None,
                auth.login if isinstance(auth, LoginPassword) else None,
            )
        )
        return "250 2.0.0 queued as 1234"


def only_relay_user(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and data == (b"relay", b"s3cret-relay")
    return AuthResult(success=ok, auth_data=data)


@pytest.fixture(scope="module")
def downstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Recorder, Path, int]]:
    root = tmp_path_factory.mktemp("smtp-downstream")
    cert, key = self_signed(root)
    recorder = Recorder()
    tls = server_tls_context(SmtpConfig(tls_cert_file=str(cert), tls_key_file=str(key)), "-")
    port = free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        authenticator=only_relay_user,
    )
    controller.start()
    yield recorder, cert, port
    controller.stop()


@pytest.fixture(scope="module")
def smtp_front(
    front_home: Runtime, downstream: tuple[Recorder, Path, int]
) -> Iterator[tuple[Runtime, int]]:
    """A second front on the shared home (same list and vault), relaying over SMTP."""
    _, cert, port = downstream
    cfg = SmtpConfig(
        listen=f"127.0.0.1:{free_port()}",
        deliver_to=f"smtp://127.0.0.1:{port}",
        timeout_seconds=10,
        downstream_starttls=True,
        downstream_ca_file=str(cert),
        downstream_username="relay",
        downstream_password="s3cret-relay",
    )
    rt = replace(front_home, config=front_home.config.model_copy(update={"smtp": cfg}))
    with running_front(rt) as front_port:
        yield rt, front_port


def test_relay_over_smtp_uses_starttls_and_login_and_keeps_the_bytes(
    smtp_front: tuple[Runtime, int], downstream: tuple[Recorder, Path, int]
) -> None:
    recorder, _, _ = downstream
    _, port = smtp_front
    raw = message("Friend <friend@example.com>", "via smtp", "line\r\n.dot line\r\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
        assert client.sendmail("friend@example.com", ["alice@example.org"], raw) == {}
    got = recorder.messages[-1]
    assert (got.mail_from, got.rcpt_tos) == ("friend@example.com", ["alice@example.org"])
    assert got.tls and got.login == b"relay"
    assert got.content.startswith(b"Received: from ") and got.content.endswith(raw)
    assert got.content.count(b"\r\n\r\n") == raw.count(b"\r\n\r\n")  # one header block


def test_recipient_refused_by_smtp_downstream_is_refused_alone(
    smtp_front: tuple[Runtime, int], downstream: tuple[Recorder, Path, int]
) -> None:
    recorder, _, _ = downstream
    rt, port = smtp_front
    raw = message(f"Alex <{COPARENT}>", "kids")
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
        refused = client.sendmail(COPARENT, ["alice@example.org", "nobody@example.org"], raw)
    assert list(refused) == ["nobody@example.org"] and refused["nobody@example.org"][0] == 550
    assert recorder.messages[-1].rcpt_tos == ["alice@example.org"]
    [item] = vault_items(rt, raw)
    assert (item.action, item.delivery) == ("record", "delivered")


@pytest.mark.parametrize(
    ("subject", "code", "text"),
    [("refuse for good", 554, b"5.6.0 Content refused"), ("not now", 451, b"4.3.0")],
)
def test_downstream_data_refusal_is_passed_back_or_deferred(
    smtp_front: tuple[Runtime, int], subject: str, code: int, text: bytes
) -> None:
    """A permanent refusal of the message reaches the sender as it is; a temporary one becomes
    451 4.3.0 so the sender keeps the message and retries."""
    _, port = smtp_front
    raw = message("Friend <friend@example.com>", subject)
    with (
        smtplib.SMTP("127.0.0.1", port, timeout=20) as client,
        pytest.raises(smtplib.SMTPDataError) as refused,
    ):
        client.sendmail("friend@example.com", ["alice@example.org"], raw)
    assert refused.value.smtp_code == code
    assert refused.value.smtp_error.startswith(text)


@pytest.fixture(scope="module")
def plain_downstream() -> Iterator[tuple[Recorder, int]]:
    """A downstream with no STARTTLS and no login, as a Postfix re-injection port on loopback."""
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield recorder, port
    controller.stop()


def test_relay_over_plain_smtp(front_home: Runtime, plain_downstream: tuple[Recorder, int]) -> None:
    recorder, port = plain_downstream
    cfg = SmtpConfig(
        listen=f"127.0.0.1:{free_port()}", deliver_to=f"smtp://127.0.0.1:{port}", timeout_seconds=10
    )
    rt = replace(front_home, config=front_home.config.model_copy(update={"smtp": cfg}))
    raw = message("Friend <friend@example.com>", "plain", "8-bit: café")
    with running_front(rt) as front_port, smtplib.SMTP("127.0.0.1", front_port) as client:
        assert client.sendmail("friend@example.com", ["alice@example.org"], raw) == {}
    [got] = recorder.messages
    assert (got.rcpt_tos, got.tls, got.login) == (["alice@example.org"], False, None)
    assert got.content.endswith(raw)
