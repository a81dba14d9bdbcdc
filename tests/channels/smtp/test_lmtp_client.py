"""Our LMTP client against aiosmtpd's real LMTP server: what Dovecot in the tests does not do.

- a server that dies after answering the first recipient (RFC 2033 §4.2 replies come one by
  one): the answered recipient counts as delivered, the rest are retried, nobody twice;
- a server that insists on STARTTLS and a login.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import AuthResult, LoginPassword

from nocontact.channels.smtp.server import server_tls_context
from nocontact.config import SmtpConfig
from nocontact.runtime import Runtime
from tests.channels.smtp.conftest import message, running_front, self_signed
from tests.servers.ports import free_port


class DropsAfterFirstReply:
    def __init__(self) -> None:
        self.deliveries: list[list[str]] = []
        self.crash = True

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        rcpts = list(envelope.rcpt_tos)
        if self.crash and len(rcpts) > 1:
            self.crash = False
            self.deliveries.append(rcpts[:1])
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
            return f"250 2.0.0 <{rcpts[0]}> Saved"
        self.deliveries.append(rcpts)
        return "\r\n".join(f"250 2.0.0 <{r}> Saved" for r in rcpts)


class LmtpController(Controller):
    def factory(self) -> LMTP:
        return LMTP(self.handler, **self.SMTP_kwargs)


@pytest.fixture
def crashing_lmtp() -> Iterator[tuple[DropsAfterFirstReply, int]]:
    handler = DropsAfterFirstReply()
    port = free_port()
    controller = LmtpController(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def test_recipients_answered_before_a_drop_are_not_delivered_again(
    front_home: Runtime, crashing_lmtp: tuple[DropsAfterFirstReply, int]
) -> None:
    handler, port = crashing_lmtp
    cfg = SmtpConfig(
        listen=f"127.0.0.1:{free_port()}", deliver_to=f"lmtp://127.0.0.1:{port}", timeout_seconds=5
    )
    rt = replace(front_home, config=front_home.config.model_copy(update={"smtp": cfg}))
    raw = message("Friend <friend@example.com>", "to both")
    rcpts = ["alice@example.org", "bob@example.org"]
    with running_front(rt) as front_port:
        with (
            pytest.raises(smtplib.SMTPDataError) as refused,
            smtplib.SMTP("127.0.0.1", front_port, timeout=20) as client,
        ):
            client.sendmail("friend@example.com", rcpts, raw)
        assert refused.value.smtp_code == 451
        with smtplib.SMTP("127.0.0.1", front_port, timeout=20) as client:
            assert client.sendmail("friend@example.com", rcpts, raw) == {}
    assert handler.deliveries == [["alice@example.org"], ["bob@example.org"]]


class Records:
    def __init__(self) -> None:
        self.sessions: list[tuple[bool, bytes | None, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        auth = session.auth_data
        login = auth.login if isinstance(auth, LoginPassword) else None
        self.sessions.append((session.ssl is not None, login, list(envelope.rcpt_tos)))
        return "\r\n".join(f"250 2.0.0 <{r}> Saved" for r in envelope.rcpt_tos)


def test_lmtp_with_starttls_and_login(front_home: Runtime, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    tls = server_tls_context(SmtpConfig(tls_cert_file=str(cert), tls_key_file=str(key)), "-")
    records, port = Records(), free_port()

    def only_relay(server: Any, session: Any, envelope: Any, mech: str, data: Any) -> Any:
        return AuthResult(success=data == (b"relay", b"pw"), auth_data=data)

    controller = LmtpController(
        records,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,  # offered, not required: aiosmtpd refuses LHLO before STARTTLS then
        auth_required=True,
        authenticator=only_relay,
    )
    controller.start()
    try:
        cfg = SmtpConfig(
            listen=f"127.0.0.1:{free_port()}",
            deliver_to=f"lmtp://127.0.0.1:{port}",
            timeout_seconds=5,
            downstream_starttls=True,
            downstream_ca_file=str(cert),
            downstream_username="relay",
            downstream_password="pw",
        )
        rt = replace(front_home, config=front_home.config.model_copy(update={"smtp": cfg}))
        raw = message("Friend <friend@example.com>", "lmtp over tls")
        rcpts = ["alice@example.org", "bob@example.org"]
        with running_front(rt) as front_port, smtplib.SMTP("127.0.0.1", front_port) as client:
            assert client.sendmail("friend@example.com", rcpts, raw) == {}
    finally:
        controller.stop()
    assert records.sessions == [(True, b"relay", rcpts)]
