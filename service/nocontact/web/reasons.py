"""Why an item was held, in plain words for the reviewer who opened it (issue 8).

The item row keeps reasons as codes and identifier ids only; the words come from the list
entries they point at ("mentions ‘Jon Smith’ and their number 07700 900123"). Only the item
page, which the reviewer opened on purpose, shows them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from sqlmodel import Session, col, select

from nocontact.models import Household, Identifier, Person, VaultItem
from nocontact.people.gobetween import Sender, allies, listed_as, sender_of


@dataclass(frozen=True)
class Listed:
    kind: str  # email | phone | domain | alias
    original: str
    person: str


_MENTION = {"alias": "‘{v}’", "phone": "their number {v}", "email": "their address {v}"}
_WHERE = {
    "from": "It was sent from",
    "sms_from": "It was sent from",
    "sender": "It was sent on behalf of",
    "reply_to": "Replies to it go to",
    "return_path": "Its return address is",
    "envelope_from": "Its envelope sender is",
}
_KIND = {"email": "an address", "phone": "a number", "domain": "an email domain"}


def listed(s: Session, reasons: list[dict[str, object]]) -> dict[int, Listed]:
    ids = [int(str(r["identifier"])) for r in reasons if "identifier" in r]
    rows = s.exec(
        select(Identifier, Person)
        .join(Person, col(Identifier.person_id) == col(Person.id))
        .where(col(Identifier.id).in_(ids))
    ).all()
    return {i.id: Listed(i.kind, i.original, p.name) for i, p in rows if i.id is not None}


def _rank(part: str, order: list[str]) -> int:
    return next((n for n, f in enumerate(order) if part.startswith(f.split("{")[0])), len(order))


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def explain(reasons_json: str, found: Mapping[int, Listed]) -> list[str]:
    """One sentence per reason (mentions of one person joined into one); removed list entries
    are described without their value."""
    reasons: list[dict[str, object]] = json.loads(reasons_json or "[]")
    mentions: dict[str, list[str]] = {}
    lines: list[str] = []
    for r in reasons:
        ident = found.get(int(str(r.get("identifier", 0))))
        rule, kind = str(r.get("rule", "")), str(r.get("kind", ""))
        who = f" (listed as {ident.person})" if ident else ""
        value = ident.original if ident else ""
        if rule == "mention":
            key = ident.person if ident else ""
            part = _MENTION.get(kind, "{v}").format(v=value).strip() if value else "a listed name"
            if part not in mentions.setdefault(key, []):
                mentions[key].append(part)
            continue
        if rule == "name":
            line = f"The sender’s name looks like one on the list: ‘{value}’{who}."
        elif rule == "lookalike":
            line = f"The sender’s address looks like {value or 'one on the list'}{who}."
        elif rule == "hidden_address":
            line = f"The sender’s name hides an address like one on the list{who}."
        elif rule in ("exact", "domain"):
            where = _WHERE.get(str(r.get("signal", "")), "It came from")
            line = f"{where} {_KIND.get(kind, 'something')} on the list: {value}{who}."
        else:
            line = "It looked like someone on the list."
        if line not in lines:
            lines.append(line)
    order = list(_MENTION.values())  # names first, then numbers, then addresses
    said = [
        f"It mentions {_and(sorted(parts, key=lambda p: _rank(p, order)))}"
        + (f" (listed as {person})." if person else ".")
        for person, parts in mentions.items()
    ]
    return said + lines


class ReviewerView(TypedDict):
    reasons: list[str]
    sender: Sender | None
    sender_listed: Person | None
    allies: list[Person]


def reviewer_context(
    s: Session, household_id: int, item: VaultItem, meta: Mapping[str, Any]
) -> ReviewerView:
    """What the reviewer's item page adds: the reasons, the sender and whether they are listed,
    and the allies the sender could be added to."""
    h = s.get(Household, household_id)
    sender = sender_of(meta, h.default_region if h else "GB")
    person = listed_as(s, household_id, sender) if sender else None
    return {
        "reasons": explain(item.reasons, listed(s, json.loads(item.reasons or "[]"))),
        "sender": sender,
        "sender_listed": person,
        "allies": allies(s, household_id) if sender and person is None else [],
    }
