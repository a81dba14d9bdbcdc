"""The reasons of a held item in plain words (pure; the page itself is in test_gobetween)."""

from __future__ import annotations

import json

from nocontact.people.gobetween import sender_of
from nocontact.web.reasons import Listed, explain


def _reasons(*rows: tuple[str, str, str, int]) -> str:
    return json.dumps(
        [{"signal": s, "rule": r, "kind": k, "identifier": i, "person": 1} for s, r, k, i in rows]
    )


FOUND = {
    1: Listed("alias", "Jon Smith", "Jon"),
    2: Listed("phone", "07700 900123", "Jon"),
    3: Listed("email", "jon@example.org", "Jon"),
    4: Listed("domain", "example.org", "Jon"),
}


def test_mentions_of_one_person_read_as_one_sentence_names_first() -> None:
    got = explain(_reasons(("text", "mention", "phone", 2), ("text", "mention", "alias", 1)), FOUND)
    assert got == ["It mentions ‘Jon Smith’ and their number 07700 900123 (listed as Jon)."]


def test_look_alikes_and_exact_matches_say_what_looked_like_what() -> None:
    got = explain(
        _reasons(
            ("display_name", "name", "alias", 1),
            ("from", "lookalike", "email", 3),
            ("reply_to", "exact", "email", 3),
            ("from", "domain", "domain", 4),
            ("display_name", "hidden_address", "email", 3),
        ),
        FOUND,
    )
    assert got == [
        "The sender’s name looks like one on the list: ‘Jon Smith’ (listed as Jon).",
        "The sender’s address looks like jon@example.org (listed as Jon).",
        "Replies to it go to an address on the list: jon@example.org (listed as Jon).",
        "It was sent from an email domain on the list: example.org (listed as Jon).",
        "The sender’s name hides an address like one on the list (listed as Jon).",
    ]


def test_a_removed_list_entry_is_described_without_its_value() -> None:
    got = explain(
        _reasons(("text", "mention", "alias", 99), ("from", "lookalike", "email", 98)), {}
    )
    assert got == [
        "It mentions a listed name.",
        "The sender’s address looks like one on the list.",
    ]


def test_the_sender_is_the_visible_from_then_other_claims_then_the_text_sender() -> None:
    meta = {
        "parties": [
            {"signal": "from", "address": "not an address", "display_name": "x"},
            {"signal": "envelope_from", "address": "Bounce@Relay.example"},
        ]
    }
    sender = sender_of(meta, "GB")
    assert sender is not None and (sender.kind, sender.normalised) == (
        "email",
        "bounce@relay.example",
    )
    sms = sender_of({"channel": "sms", "from": "07700 900123", "parties": []}, "GB")
    assert sms is not None and (sms.kind, sms.normalised) == ("phone", "+447700900123")
    assert sender_of({"parties": "garbage"}, "GB") is None
