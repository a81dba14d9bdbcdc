"""The list, indexed by normalised key so a decision costs the same with 10 or 10,000 entries."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from nocontact.people.normalise import InvalidIdentifier, email_lookalike_key
from nocontact.people.skeleton import skeletons

RELATION_RANK = {"abuser": 0, "ally": 1, "coparent": 2}
_WORD = re.compile(r"\w+")
_NUMBER_KEY = re.compile(r"\+?\d+")  # what normalise_phone makes of a number written in text


@dataclass(frozen=True)
class ListedPerson:
    id: int
    name: str
    relation: str


@dataclass(frozen=True)
class ListedIdentifier:
    id: int
    person: ListedPerson
    kind: str
    normalised: str
    original: str = ""


def alias_words(skeleton_text: str) -> str:
    return " ".join(_WORD.findall(skeleton_text))


@dataclass
class BlockList:
    region: str = "GB"
    email: dict[str, list[ListedIdentifier]] = field(default_factory=dict)
    domain: dict[str, list[ListedIdentifier]] = field(default_factory=dict)
    phone: dict[str, list[ListedIdentifier]] = field(default_factory=dict)
    alias: dict[str, list[ListedIdentifier]] = field(default_factory=dict)
    email_lookalike: dict[str, list[ListedIdentifier]] = field(default_factory=dict)
    max_alias_words: int = 0
    # what a go-between's text may mention: the abusers' identifiers only
    mention: dict[str, list[ListedIdentifier]] = field(default_factory=dict)
    mention_first_words: set[str] = field(default_factory=set)
    mention_numbers: bool = False  # any mention key a phone number in text could read as
    # relation "allow": senders always delivered unless explicitly blocked, and their aliases
    # are words that do not count as mentions (a friend who shares the abuser's first name)
    allow: dict[str, list[ListedIdentifier]] = field(default_factory=dict)
    allow_words: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, identifiers: Iterable[ListedIdentifier], *, region: str) -> BlockList:
        bl = cls(region=region)
        for ident in identifiers:
            if ident.person.relation == "allow":
                if ident.kind == "alias":
                    bl.allow_words |= {alias_words(v) for v in skeletons(ident.original)}
                    bl.allow_words.add(alias_words(ident.normalised))
                else:
                    bl.allow.setdefault(f"{ident.kind}:{ident.normalised}", []).append(ident)
                continue
            if ident.person.relation not in RELATION_RANK:
                continue
            if ident.kind == "alias":
                for variant in skeletons(ident.original) | {ident.normalised}:
                    key = alias_words(variant)
                    if key and ident not in bl.alias.get(key, ()):
                        bl.alias.setdefault(key, []).append(ident)
                        bl.max_alias_words = max(bl.max_alias_words, key.count(" ") + 1)
                continue
            table: dict[str, list[ListedIdentifier]] = getattr(bl, ident.kind)
            table.setdefault(ident.normalised, []).append(ident)
            if ident.kind == "email":
                try:
                    look = email_lookalike_key(ident.normalised)
                except InvalidIdentifier:
                    continue
                bl.email_lookalike.setdefault(look, []).append(ident)
        for table in (bl.email, bl.phone, bl.alias):
            for key, idents in table.items():
                abusers = [i for i in idents if i.person.relation == "abuser"]
                if abusers:
                    bl.mention.setdefault(key, []).extend(abusers)
                    if table is bl.alias:
                        bl.mention_first_words.add(key.split(" ", 1)[0])
        # scanning every text for phone numbers is most of a decision's cost; skip it when no
        # number could match
        bl.mention_numbers = any(_NUMBER_KEY.fullmatch(k) for k in bl.mention)
        return bl

    def __len__(self) -> int:
        tables = (self.email, self.domain, self.phone, self.alias)
        return sum(len(v) for t in tables for v in t.values())
