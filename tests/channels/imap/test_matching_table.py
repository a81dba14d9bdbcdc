"""Every sender form of the matching table, through a real mailbox: where each message ends
up, what the vault holds, and that nothing is ever marked read."""

from __future__ import annotations

import logging

import imapclient
import pytest

from nocontact.channels.imap.poller import poll_all
from nocontact.intake import Intake
from nocontact.runtime import Runtime
from tests.channels.imap.conftest import bodies, flags_by_body, listed, message, vault_items

# (case, raw message, expected action); From is someone harmless unless the case says otherwise
OTHER = "Sam <sam@neighbour.example>"
CASES = [
    ("from_exact", message("Jon <jon@example.org>"), "quarantine"),
    ("from_case", message("JON <JON@Example.ORG>"), "quarantine"),
    ("from_plus_tag", message("jon+kids@example.org"), "quarantine"),
    ("sender_header", message(OTHER, extra="Sender: jon@example.org\r\n"), "quarantine"),
    ("reply_to_trick", message(OTHER, extra="Reply-To: <jon@example.org>\r\n"), "quarantine"),
    ("return_path", message(OTHER, extra="Return-Path: <jon@example.org>\r\n"), "quarantine"),
    ("gmail_dots", message("j.o.n.smith+x@googlemail.com"), "quarantine"),
    ("idn_domain", message("jon@xn--bcher-kva.example"), "quarantine"),
    ("idn_unicode", message("Jon <jon@bücher.example>"), "quarantine"),
    ("ally_domain", message("Aunt <aunt@family.example>"), "quarantine"),
    ("ally_subdomain", message("cousin@mail.family.example"), "quarantine"),
    ("coparent", message("Pat <pat@school.example>"), "record"),
    ("homoglyph_name", message("Јоn Ѕmіth <new@elsewhere.example>"), "review"),
    ("lookalike_address", message("jon@examp1e.org"), "review"),
    ("hidden_address", message('"jon@example.org" <x@elsewhere.example>'), "review"),
    ("mention_in_body", message(OTHER, body="Jon Smith asked me to write."), "review"),
    ("unrelated", message(OTHER, body="Dinner on Friday?"), "deliver"),
]
FLAGS = [(), (b"\\Seen",), (b"\\Flagged",), (b"\\Answered", b"$Label1")]


@pytest.fixture
def listed_people(imap_rt: Runtime) -> Runtime:
    listed(
        imap_rt,
        "Jon",
        emails=["jon@example.org", "jonsmith@gmail.com", "jon@bücher.example"],
        aliases=["Jon Smith"],
    )
    listed(imap_rt, "Aunt", "ally", domains=["family.example"])
    listed(imap_rt, "Pat", "coparent", emails=["pat@school.example"])
    return imap_rt


def test_every_sender_form_is_matched(
    listed_people: Runtime,
    intake: Intake,
    alice: imapclient.IMAPClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="nocontact")
    flags_of: dict[bytes, tuple[bytes, ...]] = {}
    for i, (_, raw, _) in enumerate(CASES):
        flags_of[raw] = FLAGS[i % len(FLAGS)]
        alice.append("INBOX", raw, flags=flags_of[raw])
    [report] = poll_all(intake)

    want = [a for _, _, a in CASES]
    assert report.errors == []
    in_inbox, held = bodies(alice, "INBOX"), bodies(alice, "Held")
    outcome = {
        case: ("Held" if raw in held else "") + ("INBOX" if raw in in_inbox else "")
        for case, raw, _ in CASES
    }
    wanted = {case: "Held" if a in ("quarantine", "review") else "INBOX" for case, _, a in CASES}
    assert outcome == wanted
    assert report.scanned == len(CASES)
    assert report.quarantined == want.count("quarantine")
    assert report.recorded == want.count("record")
    assert report.review == want.count("review")
    assert report.delivered == want.count("deliver")
    items = vault_items(listed_people)
    assert sorted(i.action for i in items) == sorted(a for a in want if a != "deliver")
    for item in items:
        assert item.status == "unopened"
    # Every message keeps exactly the flags it had, wherever it went: nothing marked read.
    after = flags_by_body(alice, "INBOX") | flags_by_body(alice, "Held")
    assert after == {raw: tuple(sorted(f)) for raw, f in flags_of.items()}
    # The log names ids and accounts, never who wrote or what about.
    logged = "\n".join(r.getMessage() for r in caplog.records).lower()
    assert "kept item" in logged
    for word in ("jon@", "example.org", "family.example", "smith", "hello", "dinner"):
        assert word not in logged
