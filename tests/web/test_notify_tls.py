"""Notices by email over TLS that checks the server, from a sender that names no product.

The mail server is a real aiosmtpd on loopback with a certificate from a private CA (the
throwaway self-signed one of ``tests/servers/tls.py``, which is its own CA). Without
``ca_file`` the system's CAs do not vouch for it, so the notice must not be sent; with
``ca_file`` naming that CA it must be.
"""

from __future__ import annotations

import email
import logging
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

from nocontact.config import NotifyConfig
from nocontact.db import transaction
from nocontact.models import User
from nocontact.runtime import Runtime
from nocontact.users import add_user
from nocontact.web import notify
from nocontact.web.models import NotifyPrefs
from tests.servers.ports import free_port
from tests.servers.tls import self_signed

TO = "robin@example.org"
SUBJECT = "Please take a look when you can"
TEXT = "words of a notice 5e1f"


@dataclass
class Inbox:
    mails: list[tuple[list[str], bytes, bool]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # STARTTLS sets session.ssl; TLS from the first byte shows on the transport
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.mails.append((list(envelope.rcpt_tos), bytes(envelope.original_content), tls))
        return "250 OK"


@dataclass
class MailServer:
    inbox: Inbox
    port: int
    ca_file: Path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("notify-tls"))


def _server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return ctx


@pytest.fixture
def starttls_server(certificate: tuple[Path, Path]) -> Iterator[MailServer]:
    """Insists on STARTTLS before MAIL, as a mail provider does."""
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=_server_tls(certificate),
        require_starttls=True,
    )
    controller.start()
    yield MailServer(inbox, port, certificate[0])
    controller.stop()


@pytest.fixture
def smtps_server(certificate: tuple[Path, Path]) -> Iterator[MailServer]:
    """TLS from the first byte (what port 465 speaks)."""
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, ssl_context=_server_tls(certificate)
    )
    controller.start()
    yield MailServer(inbox, port, certificate[0])
    controller.stop()


def _use(rt: Runtime, **notify_cfg: Any) -> None:
    rt.config = rt.config.model_copy(update={"notify": NotifyConfig(**notify_cfg)})


def _ours(caplog: pytest.LogCaptureFixture) -> str:
    """What our code logged (the test mail server logs every line it receives)."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("nocontact"))


def _assert_log_is_content_free(caplog: pytest.LogCaptureFixture) -> None:
    for secret in (TO, SUBJECT, TEXT):
        assert secret not in _ours(caplog), f"{secret!r} was logged"


def test_starttls_to_a_server_the_system_does_not_trust_sends_nothing(
    rt: Runtime, starttls_server: MailServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _use(rt, smtp_url=f"smtp://127.0.0.1:{starttls_server.port}", starttls=True)
    assert notify.send(rt, TO, SUBJECT, TEXT) is False
    assert starttls_server.inbox.mails == [], "a notice went to an unverified server"
    assert "certificate was refused" in _ours(caplog)
    _assert_log_is_content_free(caplog)


def test_starttls_with_the_private_ca_sends_from_the_household_name(
    rt: Runtime, starttls_server: MailServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _use(
        rt,
        smtp_url=f"smtp://127.0.0.1:{starttls_server.port}",
        starttls=True,
        ca_file=str(starttls_server.ca_file),
    )
    assert notify.send(rt, TO, SUBJECT, TEXT) is True
    ((rcpt, raw, tls),) = starttls_server.inbox.mails
    assert rcpt == [TO] and tls
    mail = email.message_from_bytes(raw)
    assert mail["From"] == "Messages <messages@localhost>"
    assert mail["Subject"] == SUBJECT and TEXT.encode() in raw
    _assert_log_is_content_free(caplog)


def test_the_name_is_the_configured_display_name(rt: Runtime, starttls_server: MailServer) -> None:
    household = rt.config.household.model_copy(update={"display_name": "Post"})
    rt.config = rt.config.model_copy(update={"household": household})
    _use(
        rt,
        smtp_url=f"smtp://127.0.0.1:{starttls_server.port}",
        starttls=True,
        ca_file=str(starttls_server.ca_file),
        from_address="post@example.org",
    )
    assert notify.send(rt, TO, SUBJECT, TEXT)
    ((_, raw, _),) = starttls_server.inbox.mails
    assert email.message_from_bytes(raw)["From"] == "Post <post@example.org>"


def test_smtps_is_tls_at_once_and_checks_the_certificate_too(
    rt: Runtime, smtps_server: MailServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _use(rt, smtp_url=f"smtps://127.0.0.1:{smtps_server.port}")
    assert notify.send(rt, TO, SUBJECT, TEXT) is False
    assert smtps_server.inbox.mails == []
    assert "certificate was refused" in _ours(caplog)
    _use(rt, smtp_url=f"smtps://127.0.0.1:{smtps_server.port}", ca_file=str(smtps_server.ca_file))
    assert notify.send(rt, TO, SUBJECT, TEXT) is True
    ((rcpt, raw, tls),) = smtps_server.inbox.mails
    assert rcpt == [TO] and tls
    assert email.message_from_bytes(raw)["From"] == "Messages <messages@localhost>"
    _assert_log_is_content_free(caplog)


def test_no_notice_names_the_product(rt: Runtime, starttls_server: MailServer) -> None:
    """Each kind of notice as it is really sent: nothing in it says what protects her."""
    with transaction(rt.engine) as s:
        reviewer = add_user(s, rt.household_id, "robin", "reviewer", "a long reviewer passphrase")
        owner = s.exec(select(User).where(User.name == "owner")).one()
        s.add(NotifyPrefs(user_id=reviewer.id or 0, email=TO, digest="hourly"))
        s.add(NotifyPrefs(user_id=owner.id or 0, email="me@example.org", urgent=True))
    _use(
        rt,
        smtp_url=f"smtp://127.0.0.1:{starttls_server.port}",
        starttls=True,
        ca_file=str(starttls_server.ca_file),
    )
    assert notify.ask_reviewers(rt) == 1
    assert notify.urgent_notice(rt) == 1
    mails = starttls_server.inbox.mails
    assert len(mails) == 2
    for _, raw, _ in mails:
        text = raw.decode().lower()
        for name in ("nocontact", "no contact", "no-contact"):
            assert name not in text, f"a notice names the product: {raw!r}"
