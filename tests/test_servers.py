"""The test servers themselves work: Dovecot answers IMAP and LMTP on loopback."""

import imaplib
import smtplib

from tests.servers.dovecot import PASSWORD, Dovecot


def test_dovecot_accepts_lmtp_and_serves_imap(dovecot_clean: Dovecot) -> None:
    msg = b"From: a@example.org\r\nTo: alice@example.org\r\nSubject: x\r\n\r\nhello\r\n"
    with smtplib.LMTP("127.0.0.1", dovecot_clean.lmtp_port) as lmtp:
        lmtp.sendmail("a@example.org", ["alice@example.org"], msg)
    imap = imaplib.IMAP4("127.0.0.1", dovecot_clean.imap_port)
    imap.login("alice", PASSWORD)
    typ, data = imap.select("INBOX")
    assert typ == "OK" and data[0] == b"1"
    imap.logout()
