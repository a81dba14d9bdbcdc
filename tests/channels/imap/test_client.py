"""The triage fetch: its own parsing of the plain response shape gives exactly what imapclient's
parser gives, and anything else still comes out right; no protocol data is logged."""

from __future__ import annotations

import logging

import imapclient
import pytest

from nocontact.channels.imap.batch import PREFIX, START
from nocontact.channels.imap.client import session
from nocontact.runtime import Runtime
from tests.channels.imap.conftest import message

ITEMS = ["RFC822.SIZE", START]


def _tricky() -> list[bytes]:
    """Bodies that look like IMAP syntax, 8-bit bytes, an empty body and one over the prefix."""
    fake = ")\r\n* 2 FETCH (UID 9 RFC822.SIZE 1 BODY[]<0> {1}\r\nx)\r\nA1 OK done\r\n"
    raws = [
        message("jon@example.org", subject="syntax", body=fake),
        message("jon@example.org", subject="braces", body='{5}\r\n(((\r\n\\\r\n"')
        + b"\xff\xfe 8-bit \x80 bytes\r\n",
        message("jon@example.org", subject="empty", body=""),
        message("jon@example.org", subject="big", body="y" * (PREFIX + 10)),
    ]
    return raws


def test_triage_fetch_matches_imapclient_exactly(
    imap_rt: Runtime, alice: imapclient.IMAPClient
) -> None:
    raws = _tricky()
    for raw in raws:
        alice.append("INBOX", raw)
    alice.select_folder("INBOX", readonly=True)
    uids = sorted(alice.search(["ALL"]))
    reference = alice.fetch(uids, ITEMS)
    with session(imap_rt.config.imap[0]) as conn:
        conn.select("INBOX")
        got = conn.fetch(uids, ITEMS)
        conn.fetch_ahead(uids[1:], ITEMS)
        ahead = conn.fetch(uids[1:], ITEMS)
    assert got == reference
    assert ahead == {u: reference[u] for u in uids[1:]}
    for uid, raw in zip(uids, raws, strict=True):
        assert got[uid][b"BODY[]<0>"] == raw[:PREFIX]
        assert got[uid][b"RFC822.SIZE"] == len(raw)


def test_triage_fetch_with_an_unsolicited_flag_change_still_reads_right(
    imap_rt: Runtime, alice: imapclient.IMAPClient
) -> None:
    raws = [message(f"s{i}@example.org", subject=f"m{i}") for i in range(3)]
    for raw in raws:
        alice.append("INBOX", raw)
    with session(imap_rt.config.imap[0]) as conn:
        conn.select("INBOX")
        alice.select_folder("INBOX")
        alice.add_flags([2], [b"\\Flagged"])  # reported to conn with its next command
        got = conn.fetch([1, 2, 3], ITEMS)
        flags = conn.client.fetch([2], ["FLAGS"])[2][b"FLAGS"]
    assert b"\\Seen" not in flags and b"\\Flagged" in flags
    assert sorted(got) == [1, 2, 3]
    for uid, raw in zip([1, 2, 3], raws, strict=True):
        assert got[uid][b"BODY[]<0>"] == raw
        assert got[uid][b"RFC822.SIZE"] == len(raw)


def test_no_protocol_line_reaches_a_logger_even_at_debug(
    imap_rt: Runtime, alice: imapclient.IMAPClient, caplog: pytest.LogCaptureFixture
) -> None:
    # imapclient hands every line imaplib reads (message text included) to a logger; the
    # connection switches that off, so nothing is formatted for it nor logged, whatever the level
    alice.append("INBOX", message("jon@example.org", subject="s", body="marker-7f3a in the text"))
    caplog.set_level(logging.DEBUG)
    with session(imap_rt.config.imap[0]) as conn:
        conn.select("INBOX")
        got = conn.fetch([1], ITEMS)
        conn.client.fetch([1], ["BODY.PEEK[]"])
    assert b"marker-7f3a" in got[1][b"BODY[]<0>"]
    assert "marker-7f3a" not in caplog.text
    assert not [r for r in caplog.records if r.name.startswith("imapclient.imaplib")]
