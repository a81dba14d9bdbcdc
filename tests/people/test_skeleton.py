"""The confusable skeleton and folding read ASCII text without the table or NFKC, alike."""

from __future__ import annotations

import subprocess
import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from nocontact.people import skeleton


def test_the_ascii_entries_are_exactly_the_tables() -> None:
    table = skeleton._table()
    assert {k: v for k, v in table.items() if k.isascii()} == skeleton.ASCII
    assert all(v.isascii() for k, v in table.items() if k.isascii())


def test_ascii_names_and_addresses_do_not_load_the_table_and_still_fold_lookalikes() -> None:
    code = (
        "from nocontact.people import skeleton as s; "
        "from nocontact.people.normalise import email_lookalike_key as k; "
        "same = s.skeletons('J0hn |ewis') & s.skeletons('john lewis'); "
        "key = k('bill@examp1e.com') == k('bi1|@example.com'); "
        "print(bool(same), key, s._table.cache_info().currsize)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True", "0"]


def test_non_ascii_text_is_read_with_the_whole_table() -> None:
    assert skeleton.skeleton("Јоhn") == skeleton.skeleton("john")  # Cyrillic Je and o


@given(st.text(st.characters(max_codepoint=127)))
def test_folding_ascii_is_the_same_as_the_general_reading(text: str) -> None:
    assert skeleton.fold(text) == " ".join(unicodedata.normalize("NFKC", text).casefold().split())
