"""Protocol edges: SMTP smuggling, the size limit, STARTTLS, and what reaches the logs."""

from __future__ import annotations

import base64
import logging
import smtplib
import socket
import ssl

import pytest

from nocontact.runtime import Runtime
from tests.channels.smtp.conftest import ABUSER, MAX_BYTES, mailbox, message, vault_items
from tests.servers.dovecot import Dovecot


class Conversation:
    """A raw SMTP client that sends exactly the bytes it is given."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.file = self.sock.makefile("rb")
        assert self.reply().startswith(b"220")

    def reply(self) -> bytes:
        lines = []
        while True:
            line = self.file.readline()
            assert line, "the server closed the connection"
            lines.append(line)
            if line[3:4] != b"-":
                return b"".join(lines)

    def send(self, data: bytes) -> bytes:
        self.sock.sendall(data)
        return self.reply()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


SMUGGLED = (
    # Each of these ends DATA on some lenient server; none may end it here or downstream.
    b"\n.\nMAIL FROM:<mallory@example.net>\nRCPT TO:<bob@example.org>\nDATA\n"
    b"Subject: smuggled-lf\n\nsmuggled one\n.\n"
    b"\r.\rMAIL FROM:<mallory@example.net>\rRCPT TO:<bob@example.org>\rDATA\r"
    b"Subject: smuggled-cr\r\rsmuggled two\r.\r"
    b"\r\n.\nMAIL FROM:<mallory@example.net>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"
    b"Subject: smuggled-crlf-lf\r\n\r\nsmuggled three\r\n"
)


def test_bare_lf_and_lone_cr_dots_do_not_end_the_message_or_inject_another(
    front: int, dovecot_clean: Dovecot
) -> None:
    c = Conversation(front)
    try:
        assert c.send(b"EHLO client.example\r\n").startswith(b"250")
        assert c.send(b"MAIL FROM:<friend@example.com>\r\n").startswith(b"250")
        assert c.send(b"RCPT TO:<alice@example.org>\r\n").startswith(b"250")
        assert c.send(b"DATA\r\n").startswith(b"354")
        head = b"From: friend@example.com\r\nTo: alice@example.org\r\nSubject: one\r\n\r\nfirst"
        assert c.send(head + SMUGGLED + b"last line\r\n.\r\n").startswith(b"250")
        # the smuggled commands were message text, so the server now waits for a new command
        assert c.send(b"NOOP\r\n").startswith(b"250")
        assert c.send(b"QUIT\r\n").startswith(b"221")
    finally:
        c.close()
    [delivered] = mailbox(dovecot_clean, "alice")
    for text in (b"smuggled one", b"smuggled two", b"smuggled three", b"last line"):
        assert text in delivered
    assert mailbox(dovecot_clean, "bob") == []


def test_message_over_the_size_limit_is_refused_and_not_kept(
    front: int, front_home: Runtime, dovecot_clean: Dovecot
) -> None:
    raw = message(f"Jordan <{ABUSER}>", "big", "x" * 76 + "\r\n") + (b"y" * 76 + b"\r\n") * (
        MAX_BYTES // 78 + 10
    )
    with smtplib.SMTP("127.0.0.1", front, timeout=20) as client:
        client.ehlo()
        assert client.has_extn("size")
        assert int(client.esmtp_features["size"]) == MAX_BYTES
        # a client that does not declare SIZE is stopped at the end of DATA
        assert client.mail(ABUSER)[0] == 250
        assert client.rcpt("alice@example.org")[0] == 250
        code, _ = client.data(raw)
        assert code == 552
    assert vault_items(front_home, raw) == []
    assert mailbox(dovecot_clean, "alice") == []


def test_starttls_is_offered_and_used_when_a_certificate_is_configured(
    front: int, dovecot_clean: Dovecot
) -> None:
    raw = message("Friend <friend@example.com>", "over tls")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the test's own throwaway certificate
    with smtplib.SMTP("127.0.0.1", front, timeout=20) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        client.starttls(context=ctx)
        assert client.sendmail("friend@example.com", ["alice@example.org"], raw) == {}
    [delivered] = mailbox(dovecot_clean, "alice")
    assert delivered.endswith(raw)
    assert b" with ESMTPS;" in delivered and b"contact" not in delivered[: -len(raw)].lower()


def test_auth_lines_addresses_and_content_never_reach_the_logs(
    front: int, front_home: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="mail.log")
    secret = base64.b64encode(b"\0alice\0hunter2-secret").decode()
    raw = message(f"Jordan <{ABUSER}>", "Subject-That-Must-Not-Leak", "Body-That-Must-Not-Leak")
    with smtplib.SMTP("127.0.0.1", front, timeout=20) as client:
        client.ehlo()
        code, _ = client.docmd("AUTH", f"PLAIN {secret}")
        assert code >= 500  # the front takes no logins
        assert client.sendmail(ABUSER, ["alice@example.org"], raw) == {}
    assert len(vault_items(front_home, raw)) == 1
    text = caplog.text
    for leak in (secret, "hunter2", ABUSER, "Jordan", "Must-Not-Leak", "alice@example.org"):
        assert leak not in text


def test_the_greeting_reads_like_any_mail_server(front: int) -> None:
    """The abuser's mail server logs the greeting: it must not say what protects her."""
    client = smtplib.SMTP(timeout=20)
    try:
        code, greeting = client.connect("127.0.0.1", front)
        ehlo_code, ehlo = client.ehlo("sender.example")
    finally:
        client.quit()
    assert code == 220 and greeting.endswith(b" ESMTP")
    assert ehlo_code == 250
    for said in (greeting, ehlo):
        assert b"contact" not in said.lower()
