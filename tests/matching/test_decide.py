"""decide(): a table of the ways a listed person tries to get through, and what must happen."""

from __future__ import annotations

import pytest

from nocontact.matching import BlockList, ListedIdentifier, ListedPerson, decide, facts_from_email
from nocontact.matching.facts import facts_from_sms
from nocontact.people.normalise import normalise

JON = ListedPerson(1, "Jon", "abuser")
ANN = ListedPerson(2, "Ann", "ally")
KIM = ListedPerson(3, "Kim", "coparent")

LIST = [
    (JON, "email", "jon.smith@gmail.com"),
    (JON, "email", "jon@bücher.de"),
    (JON, "domain", "jons-firm.example"),
    (JON, "phone", "+44 7700 900123"),
    (JON, "alias", "Jon Smith"),
    (JON, "alias", "Jonny"),
    (ANN, "email", "ann@example.org"),
    (KIM, "email", "kim@example.net"),
    (KIM, "phone", "07700 900456"),
]


def blocklist() -> BlockList:
    idents = [
        ListedIdentifier(n, person, kind, normalise(kind, value, region="GB"), value)
        for n, (person, kind, value) in enumerate(LIST, start=1)
    ]
    return BlockList.build(idents, region="GB")


def eml(headers: str, body: str = "Hello.") -> bytes:
    return (headers.strip() + "\r\nSubject: hi\r\n\r\n" + body + "\r\n").encode()


CASES = [
    # (description, headers, envelope sender, action, person)
    ("exact From", "From: jon.smith@gmail.com", None, "quarantine", 1),
    ("upper case", "From: JON.SMITH@GMAIL.COM", None, "quarantine", 1),
    ("plus tag", "From: jon.smith+new@gmail.com", None, "quarantine", 1),
    ("gmail dots", "From: j.o.n.smith@gmail.com", None, "quarantine", 1),
    ("googlemail", "From: jonsmith@googlemail.com", None, "quarantine", 1),
    ("IDN as punycode", "From: jon@xn--bcher-kva.de", None, "quarantine", 1),
    ("IDN as unicode", "From: =?utf-8?q?x?= <jon@BÜCHER.de>", None, "quarantine", 1),
    ("listed domain", "From: someone@jons-firm.example", None, "quarantine", 1),
    ("listed subdomain", "From: a@mail.jons-firm.example", None, "quarantine", 1),
    (
        "Sender header",
        "From: friend@example.com\r\nSender: jon.smith@gmail.com",
        None,
        "quarantine",
        1,
    ),
    (
        "Reply-To trick",
        "From: newsletter@example.com\r\nReply-To: jon.smith@gmail.com",
        None,
        "quarantine",
        1,
    ),
    ("envelope sender", "From: friend@example.com", "jon.smith@gmail.com", "quarantine", 1),
    ("several From", "From: friend@example.com, jon.smith@gmail.com", None, "quarantine", 1),
    ("ally", "From: Ann <ann@example.org>", None, "quarantine", 2),
    ("co-parent", "From: Kim <kim@example.net>", None, "record", 3),
    (
        "abuser beats co-parent",
        "From: kim@example.net\r\nReply-To: jon.smith@gmail.com",
        None,
        "quarantine",
        1,
    ),
    ("homoglyph display name", "From: Јоn Ѕmith <new.address@example.com>", None, "review", 1),
    ("case trick display name", "From: JONNY <x@example.com>", None, "review", 1),
    (
        "address hidden in display name",
        'From: "jon.smith@gmail.com" <random@example.com>',
        None,
        "review",
        1,
    ),
    ("look-alike address", "From: jon@bucher.de", None, "review", 1),
    ("look-alike digits", "From: jonsmith@gmai1.com", None, "review", 1),
    ("stranger", "From: Pat <pat@example.com>", None, "deliver", None),
    ("CVE-2023-27043 form", "From: alice@example.org<jon.smith@gmail.com>", None, "quarantine", 1),
]


@pytest.mark.parametrize(
    ("headers", "envelope", "action", "person"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_sender_forms(headers: str, envelope: str | None, action: str, person: int | None) -> None:
    d = decide(facts_from_email(eml(headers), envelope), blocklist())
    assert (d.action, d.person_id) == (action, person)
    if action != "deliver":
        assert d.reasons


@pytest.mark.parametrize(
    "body",
    [
        "Jon Smith wants you to call him.",
        "jonny says hi",
        "Call him on 07700 900123 tonight",
        "his number is +44 7700-900-123",
        "write to jon.smith@gmail.com please",
        "JОN SMITH (Cyrillic O) asked about you",
    ],
)
def test_a_go_between_mentioning_the_abuser_is_held_for_review(body: str) -> None:
    d = decide(facts_from_email(eml("From: cousin@example.com", body)), blocklist())
    assert d.action == "review"
    assert d.person_id == 1
    assert any(r.rule == "mention" for r in d.reasons)


def test_mentioning_an_ally_or_coparent_is_not_a_reason() -> None:
    body = "Ann and Kim (kim@example.net, 07700 900456) said hello"
    d = decide(facts_from_email(eml("From: cousin@example.com", body)), blocklist())
    assert d.action == "deliver"


def test_a_word_inside_another_word_is_not_a_mention() -> None:
    d = decide(facts_from_email(eml("From: a@example.com", "Jonnyboy and Smithson")), blocklist())
    assert d.action == "deliver"


@pytest.mark.parametrize(
    ("sender", "action"),
    [
        ("07700 900123", "quarantine"),
        ("+447700900123", "quarantine"),
        ("0044 7700 900123", "quarantine"),
        ("07700900456", "record"),
        ("07700 900999", "deliver"),
    ],
)
def test_sms_senders_match_in_any_format(sender: str, action: str) -> None:
    assert decide(facts_from_sms(sender, "hi"), blocklist()).action == action


def test_garbage_never_raises_and_still_decides() -> None:
    raw = b"From: \xff\xfe<<<@@@>>>\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n--\r\n\x00"
    d = decide(facts_from_email(raw), blocklist())
    assert d.action == "deliver"
    raw2 = b"From: jon.smith@gmail.com\r\nContent-Type: multipart/mixed\r\n\r\n\xff\xff"
    assert decide(facts_from_email(raw2), blocklist()).action == "quarantine"


def with_allow(*entries: tuple[str, str]) -> BlockList:
    friend = ListedPerson(9, "Jon Baker (friend)", "allow")
    idents = [
        ListedIdentifier(n, person, kind, normalise(kind, value, region="GB"), value)
        for n, (person, kind, value) in enumerate(LIST, start=1)
    ]
    idents += [
        ListedIdentifier(100 + n, friend, kind, normalise(kind, value, region="GB"), value)
        for n, (kind, value) in enumerate(entries)
    ]
    return BlockList.build(idents, region="GB")


def test_an_allowed_sender_mentioning_the_abuser_is_delivered() -> None:
    bl = with_allow(("email", "mum@example.com"))
    msg = facts_from_email(eml("From: Mum <mum@example.com>", "Jon Smith called me again."))
    assert decide(msg, bl).action == "deliver"
    stranger = facts_from_email(eml("From: x@example.com", "Jon Smith called me again."))
    assert decide(stranger, bl).action == "review"


def test_an_allow_entry_never_beats_an_explicit_block() -> None:
    bl = with_allow(("email", "mum@example.com"), ("domain", "gmail.com"))
    blocked = facts_from_email(eml("From: mum@example.com\r\nReply-To: jon.smith@gmail.com"))
    assert decide(blocked, bl).action == "quarantine"
    assert decide(facts_from_email(eml("From: jon.smith@gmail.com")), bl).action == "quarantine"


def test_an_allowed_reply_to_does_not_whitelist_a_stranger() -> None:
    bl = with_allow(("email", "mum@example.com"))
    msg = facts_from_email(eml("From: x@example.com\r\nReply-To: mum@example.com", "Jonny says hi"))
    assert decide(msg, bl).action == "review"


def test_a_word_that_does_not_count_is_not_a_mention() -> None:
    bl = with_allow(("alias", "Jonny"))
    msg = facts_from_email(eml("From: x@example.com", "Jonny from work says hi"))
    assert decide(msg, bl).action == "deliver"
    still = facts_from_email(eml("From: x@example.com", "Jon Smith says hi"))
    assert decide(still, bl).action == "review"
