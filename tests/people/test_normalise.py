"""Normalisation: the key we match on survives the ways people (and abusers) vary an address."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nocontact.people.normalise import (
    InvalidIdentifier,
    email_lookalike_key,
    normalise_alias,
    normalise_domain,
    normalise_email,
    normalise_phone,
)
from nocontact.people.skeleton import skeletons

SAME_MAILBOX = [
    ("jon.smith@gmail.com", "JonSmith@gmail.com"),
    ("jon.smith@gmail.com", "j.o.n.s.m.i.t.h@googlemail.com"),
    ("jon.smith@gmail.com", "jonsmith+kids@gmail.com"),
    ("jon@example.org", "JON@EXAMPLE.ORG"),
    ("jon@example.org", "jon+anything@example.org"),
    ("jon@bücher.de", "jon@xn--bcher-kva.de"),
    ("jon@bücher.de", "Jon@BÜCHER.DE"),
]


@pytest.mark.parametrize(("a", "b"), SAME_MAILBOX)
def test_forms_of_one_mailbox_normalise_alike(a: str, b: str) -> None:
    assert normalise_email(a) == normalise_email(b)


@pytest.mark.parametrize("space", [chr(c) for c in range(0x110000) if chr(c).isspace()])
def test_any_white_space_in_an_address_is_refused(space: str) -> None:
    with pytest.raises(InvalidIdentifier):
        normalise_email(f"jo{space}n@example.org")


def test_dots_matter_outside_gmail() -> None:
    assert normalise_email("jon.smith@example.org") != normalise_email("jonsmith@example.org")


@pytest.mark.parametrize("bad", ["", "jon", "@example.org", "jon@", "jon smith@example.org"])
def test_not_an_address_is_refused_clearly(bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        normalise_email(bad)


@pytest.mark.parametrize(
    ("number", "region", "e164"),
    [
        ("07700 900123", "GB", "+447700900123"),
        ("+44 (0)7700-900-123", "GB", "+447700900123"),
        ("0044 7700 900123", "GB", "+447700900123"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("+1 415 555 0100", "GB", "+14155550100"),
        ("415.555.0100", "US", "+14155550100"),
    ],
)
def test_phone_numbers_become_e164_with_the_household_region(
    number: str, region: str, e164: str
) -> None:
    assert normalise_phone(number, region) == e164


def test_alphanumeric_sender_ids_and_short_codes_are_kept() -> None:
    assert normalise_phone("JonMobile", "GB") == "jonmobile"
    assert normalise_phone("12345", "GB") == "12345"


def test_a_repeated_number_is_normalised_once_per_region() -> None:
    """Senders repeat, so the answer is cached: keyed on the text and the region both."""
    before = normalise_phone.cache_info()
    assert normalise_phone("020 7946 0999", "GB") == "+442079460999"
    assert normalise_phone("020 7946 0999", "GB") == "+442079460999"
    assert normalise_phone("020 7946 0999", "US") != "+442079460999"
    after = normalise_phone.cache_info()
    assert after.hits - before.hits == 1 and after.misses - before.misses == 2


def test_domains_fold_to_punycode() -> None:
    assert normalise_domain("@Bücher.DE.") == "xn--bcher-kva.de"


@pytest.mark.parametrize(
    ("listed", "variant"),
    [
        ("Jon Smith", "jon  SMITH"),
        ("Jon Smith", "Јоn Ѕmith"),  # Cyrillic Ј, о, Ѕ
        ("Jon Smith", "J0n Smith"),
        ("Bill", "BiII"),
        ("Jon Smith", "Jo\u200bn Smith"),  # zero-width space inside the name
        ("Jön", "Jon"),
    ],
)
def test_names_compare_by_confusable_skeleton(listed: str, variant: str) -> None:
    assert skeletons(listed) & skeletons(variant)


def test_lookalike_addresses_share_a_key() -> None:
    assert email_lookalike_key("jon@example.com") == email_lookalike_key("jon@examp1e.com")
    assert email_lookalike_key("jon@example.com") == email_lookalike_key("jon@ехample.com")
    assert email_lookalike_key("jon@example.com") != email_lookalike_key("ann@example.com")


local_parts = st.from_regex(r"[a-z][a-z0-9._-]{0,20}[a-z0-9]", fullmatch=True)
domains = st.from_regex(r"[a-z][a-z0-9-]{0,10}\.(org|com|net|de)", fullmatch=True)


@given(local_parts, domains)
def test_email_normalisation_is_idempotent(local: str, domain: str) -> None:
    once = normalise_email(f"{local}@{domain}")
    assert normalise_email(once) == once


@given(local_parts, domains, st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True))
def test_plus_tags_and_case_never_change_the_key(local: str, domain: str, tag: str) -> None:
    plain = normalise_email(f"{local}@{domain}")
    assert normalise_email(f"{local.upper()}+{tag}@{domain.upper()}") == plain


@given(local_parts)
def test_gmail_dots_never_change_the_key(local: str) -> None:
    dotted = ".".join(local.replace(".", ""))
    assert normalise_email(f"{dotted}@gmail.com") == normalise_email(f"{local}@googlemail.com")


@given(st.text(min_size=1, max_size=30).filter(lambda s: s.strip()))
def test_alias_normalisation_is_stable(name: str) -> None:
    try:
        once = normalise_alias(name)
    except InvalidIdentifier:
        return
    assert normalise_alias(once) == once


@given(st.from_regex(r"7[0-9]{9}", fullmatch=True))
def test_local_and_international_uk_mobiles_agree(digits: str) -> None:
    assert normalise_phone("0" + digits, "GB") == normalise_phone("+44" + digits, "GB")
