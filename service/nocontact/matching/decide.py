"""decide(): message facts + the list -> Decision(action, person, reasons). Pure.

Order, strongest first:
1. an exact identifier of a listed person on any sender signal (From, Sender, Reply-To,
   Return-Path, envelope sender, SMS sender): abuser or ally -> quarantine, co-parent -> record;
   when several people match, the strictest relation wins (abuser > ally > co-parent);
2. not on the list, but a look-alike of a listed address, a display name that reads as a listed
   alias, or an address hidden in a display name -> review;
3. the text mentions a listed abuser by alias, phone number or address -> review;
4. otherwise deliver.

An "allow" entry (a sender to always deliver, or a word that does not count) beats rules 2
and 3, never rule 1: an explicit block always wins.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from nocontact.matching.blocklist import RELATION_RANK, BlockList, ListedIdentifier, alias_words
from nocontact.matching.facts import Facts, Party
from nocontact.people.normalise import (
    InvalidIdentifier,
    email_domain,
    email_lookalike_key,
    normalise_email,
    normalise_phone,
)
from nocontact.people.skeleton import skeleton, skeletons

_EMAIL_IN_TEXT = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_IN_TEXT = re.compile(r"\+?\(?\d[\d\s().-]{5,18}\d")

ACTIONS = ("quarantine", "record", "review", "deliver")


@dataclass(frozen=True)
class Reason:
    signal: str  # which part of the message: from, reply_to, sms_from, display_name, text …
    rule: str  # exact | domain | lookalike | name | hidden_address | mention
    kind: str  # identifier kind that matched: email | domain | phone | alias
    identifier_id: int
    person_id: int

    def as_dict(self) -> dict[str, str | int]:
        return {
            "signal": self.signal,
            "rule": self.rule,
            "kind": self.kind,
            "identifier": self.identifier_id,
            "person": self.person_id,
        }


@dataclass(frozen=True)
class Decision:
    action: str
    person_id: int | None = None
    person_name: str | None = None
    relation: str | None = None
    reasons: tuple[Reason, ...] = ()


DELIVER = Decision("deliver")


def _hit(signal: str, rule: str, ident: ListedIdentifier) -> Reason:
    return Reason(signal, rule, ident.kind, ident.id, ident.person.id)


def _domains(domain: str) -> list[str]:
    parts = domain.split(".")
    return [".".join(parts[i:]) for i in range(len(parts) - 1)]


def _exact(party: Party, bl: BlockList) -> list[tuple[ListedIdentifier, Reason]]:
    out: list[tuple[ListedIdentifier, Reason]] = []
    if party.address:
        try:
            email = normalise_email(party.address)
        except InvalidIdentifier:
            email = None
        if email:
            out += [(i, _hit(party.signal, "exact", i)) for i in bl.email.get(email, ())]
            for d in _domains(email_domain(email)) if bl.domain else ():
                out += [(i, _hit(party.signal, "domain", i)) for i in bl.domain.get(d, ())]
    if party.phone:
        try:
            phone = normalise_phone(party.phone, bl.region)
        except InvalidIdentifier:
            phone = None
        if phone:
            out += [(i, _hit(party.signal, "exact", i)) for i in bl.phone.get(phone, ())]
    return out


def _suspicious(party: Party, bl: BlockList) -> list[tuple[ListedIdentifier, Reason]]:
    out: list[tuple[ListedIdentifier, Reason]] = []
    if party.address and bl.email_lookalike:
        try:
            key = email_lookalike_key(party.address)
        except InvalidIdentifier:
            key = ""
        out += [(i, _hit(party.signal, "lookalike", i)) for i in bl.email_lookalike.get(key, ())]
    if party.display_name:
        for variant in skeletons(party.display_name) if bl.alias else ():
            name = alias_words(variant)
            out += [(i, _hit("display_name", "name", i)) for i in bl.alias.get(name, ())]
        for hidden in _EMAIL_IN_TEXT.findall(party.display_name):
            probe = Party(party.signal, address=hidden)
            found = _exact(probe, bl) + _suspicious(probe, bl)
            out += [(i, _hit("display_name", "hidden_address", i)) for i, _ in found]
    return out


def _mentions(text: str, bl: BlockList) -> list[tuple[ListedIdentifier, Reason]]:
    if not text or not bl.mention:
        return []
    found: list[ListedIdentifier] = []
    for addr in _EMAIL_IN_TEXT.findall(text) if "@" in text else ():
        with contextlib.suppress(InvalidIdentifier):
            found += bl.mention.get(normalise_email(addr), ())
    for candidate in _PHONE_IN_TEXT.findall(text) if bl.mention_numbers else ():
        with contextlib.suppress(InvalidIdentifier):
            found += bl.mention.get(normalise_phone(candidate, bl.region), ())
    if bl.mention_first_words:
        words = alias_words(skeleton(text)).split(" ")
        # only n-grams that start with the first word of some abuser's alias can match
        for start, word in enumerate(words):
            if word not in bl.mention_first_words:
                continue
            for n in range(1, bl.max_alias_words + 1):
                gram = " ".join(words[start : start + n])
                if gram not in bl.allow_words:
                    found += bl.mention.get(gram, ())
    return [(i, _hit("text", "mention", i)) for i in found if i.kind != "domain"]


def _allowed(party: Party, bl: BlockList) -> bool:
    if party.signal not in ("from", "sms_from"):
        return False  # only the visible sender can be trusted this far
    keys: list[str] = []
    if party.address:
        with contextlib.suppress(InvalidIdentifier):
            email = normalise_email(party.address)
            keys.append(f"email:{email}")
            keys += [f"domain:{d}" for d in _domains(email_domain(email))]
    if party.phone:
        with contextlib.suppress(InvalidIdentifier):
            keys.append(f"phone:{normalise_phone(party.phone, bl.region)}")
    return any(k in bl.allow for k in keys)


def _pick(
    hits: list[tuple[ListedIdentifier, Reason]],
) -> tuple[ListedIdentifier, tuple[Reason, ...]]:
    best = min(hits, key=lambda h: (RELATION_RANK[h[0].person.relation], h[0].person.id))
    seen: list[Reason] = []
    for _, r in hits:
        if r not in seen:
            seen.append(r)
    return best[0], tuple(seen)


def decide(facts: Facts, bl: BlockList) -> Decision:
    exact = [h for p in facts.parties for h in _exact(p, bl)]
    if exact:
        ident, reasons = _pick(exact)
        p = ident.person
        action = "record" if p.relation == "coparent" else "quarantine"
        return Decision(action, p.id, p.name, p.relation, reasons)
    if bl.allow and any(_allowed(p, bl) for p in facts.parties):
        return DELIVER
    review = [h for p in facts.parties for h in _suspicious(p, bl)]
    review += _mentions(facts.text, bl)
    if review:
        ident, reasons = _pick(review)
        p = ident.person
        return Decision("review", p.id, p.name, p.relation, reasons)
    return DELIVER
