"""Confusable skeletons (in the spirit of Unicode TS #39): "Јоn" (Cyrillic) and "Jon" agree.

The confusables table comes from the ``confusable_homoglyphs`` package (Unicode's
confusables.txt as JSON). Characters that are confusable with one another are joined into one
class; each class is represented by its ASCII member where it has one. The skeleton is then
case- and space-folded, so "J0N  smith" and "jon smith" compare equal.
"""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from importlib import resources

# Sequences that read as one letter; UTS #39 maps these too.
_DIGRAPHS = (("rn", "m"), ("vv", "w"), ("cl", "d"))
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff", "\u00ad"}


def _rank(ch: str) -> tuple[int, int]:
    # prefer ASCII letters (lower case first), then other ASCII, then the lowest code point
    if ch.isascii() and ch.isalpha():
        return (0 if ch.islower() else 1, ord(ch))
    if ch.isascii():
        return (2, ord(ch))
    return (3, ord(ch))


@lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    raw = json.loads((resources.files("confusable_homoglyphs") / "confusables.json").read_text())
    parent: dict[str, str] = {}

    def find(c: str) -> str:
        while parent.get(c, c) != c:
            parent[c] = parent.get(parent[c], parent[c])
            c = parent[c]
        return c

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            lo, hi = sorted((ra, rb), key=_rank)
            parent[hi] = lo
            parent.setdefault(lo, lo)

    for key, entries in raw.items():
        if len(key) != 1:
            continue
        for entry in entries:
            c = "".join(ch for ch in entry["c"] if ch not in _INVISIBLE)
            if len(c) == 1:
                union(key, c)
    return {c: find(c) for c in parent if find(c) != c}


def fold(text: str) -> str:
    """Case and space folding with compatibility normalisation (NFKC)."""
    if text.isascii():  # nothing invisible, and NFKC leaves ASCII as it is
        return " ".join(text.casefold().split())
    text = "".join(ch for ch in text if ch not in _INVISIBLE)
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@lru_cache(maxsize=1)
def _translation() -> dict[int, str]:
    return str.maketrans(_table())


# The table's entries for ASCII characters (each maps to ASCII: a class with an ASCII member is
# represented by one). ASCII text, most addresses and names, is read with these alone, so it
# never builds the table (25 ms); tests/people/test_skeleton.py holds them to the table.
ASCII = {"`": "'", "|": "l", "1": "l", "I": "l", "0": "O"}
_ASCII_TRANSLATION = str.maketrans(ASCII)


def _skeleton(text: str, *, fold_case_first: bool) -> str:
    if text.isascii():  # and stays so below: case folding and these entries keep it ASCII
        trans = _ASCII_TRANSLATION
    else:
        trans = _translation()
        text = unicodedata.normalize("NFKC", "".join(ch for ch in text if ch not in _INVISIBLE))
    if fold_case_first:
        text = text.casefold()
    mapped = text.translate(trans).casefold()
    if not mapped.isascii():
        # strip accents so "Jön" and "Jon" agree; then map again what case folding produced
        decomposed = unicodedata.normalize("NFD", mapped)
        mapped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    out = mapped.translate(trans).casefold()
    for seq, letter in _DIGRAPHS:
        out = out.replace(seq, letter)
    return " ".join(out.split())


def skeleton(text: str) -> str:
    """The matching key: case folded first (UTS #39's skeleton(NFKC_Casefold(x)))."""
    return _skeleton(text, fold_case_first=True)


@lru_cache(maxsize=16384)
def skeletons(text: str) -> frozenset[str]:
    """Both readings of a name: case-folded first, and as written ("BiII" reads as "Bill")."""
    return frozenset(
        (_skeleton(text, fold_case_first=True), _skeleton(text, fold_case_first=False))
    )
