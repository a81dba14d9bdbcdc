"""Go-betweens (issue 8): a sender not on the list who passes messages on for someone who is.

A trusted reviewer may add such a sender to the list as an ally in one step, even though they
cannot otherwise change the list: the step is narrow (relation ``ally`` only, a new person or
one more address for an ally already listed), tags the held items ``go-between`` (so the
protective-order timeline counts them as third-party contact) and is one ledger entry of its
own, which the owner sees on the activity page.

The sender comes from the item's sealed metadata, so only someone who unlocked the item can
name it; it is normalised in memory and never stored in the clear except as the new list entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from nocontact import decoding
from nocontact.errors import UsageError
from nocontact.models import Household, Identifier, Person, ReviewNote, utcnow
from nocontact.people.normalise import InvalidIdentifier, normalise
from nocontact.people.service import add_person
from nocontact.vault import ledger

GO_BETWEEN = "go-between"
# the visible sender first; the others are claims a forger controls just as easily
_EMAIL_SIGNALS = ("from", "sender", "envelope_from", "return_path")


@dataclass(frozen=True)
class Sender:
    kind: str  # email | phone
    original: str  # as the message gave it, kept for evidence on the list entry
    normalised: str
    display_name: str = ""


def _parties(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    parties = meta.get("parties")
    return [p for p in parties if isinstance(p, dict)] if isinstance(parties, list) else []


def sender_of(meta: Mapping[str, Any], region: str) -> Sender | None:
    """Who sent an item, from its sealed metadata (``parties``; an SMS's ``from``)."""
    parties = _parties(meta)
    phones = [str(p["phone"]) for p in parties if p.get("signal") == "sms_from" and p.get("phone")]
    if meta.get("channel") == "sms" and meta.get("from"):
        phones.append(str(meta["from"]))
    for phone in phones:
        found = _sender("phone", phone, "", region)
        if found is not None:
            return found
    for signal in _EMAIL_SIGNALS:
        for p in parties:
            if p.get("signal") == signal and p.get("address"):
                found = _sender(
                    "email", str(p["address"]), str(p.get("display_name") or ""), region
                )
                if found is not None:
                    return found
    return None


def _sender(kind: str, original: str, display_name: str, region: str) -> Sender | None:
    try:
        shown = decoding.line(display_name, limit=200)
        return Sender(kind, original, normalise(kind, original, region=region), shown)
    except InvalidIdentifier:
        return None


def listed_as(s: Session, household_id: int, sender: Sender) -> Person | None:
    """The person on the list (any relation, allow included) who has this exact identifier."""
    q = (
        select(Person)
        .join(Identifier, col(Identifier.person_id) == col(Person.id))
        .where(
            Identifier.household_id == household_id,
            Identifier.kind == sender.kind,
            Identifier.normalised == sender.normalised,
        )
    )
    return s.exec(q).first()


def allies(s: Session, household_id: int) -> list[Person]:
    q = select(Person).where(Person.household_id == household_id, Person.relation == "ally")
    return list(s.exec(q.order_by(col(Person.name))).all())


def _tag(s: Session, item_id: int, reviewer_id: int) -> None:
    """Mark the item passed on: the note's one mark kept in the clear (the sender is on the
    list now anyway), so it needs no key and leaves the sealed words as they are."""
    note = s.get(ReviewNote, item_id) or ReviewNote(item_id=item_id, reviewer_id=reviewer_id)
    note.go_between = True
    note.updated_at = utcnow()
    s.add(note)


def _add_identifier(s: Session, household_id: int, person: Person, sender: Sender) -> None:
    assert person.id is not None
    s.add(
        Identifier(
            household_id=household_id,
            person_id=person.id,
            kind=sender.kind,
            original=sender.original,
            normalised=sender.normalised,
        )
    )
    h = s.get(Household, household_id)
    assert h is not None
    h.list_version += 1  # channels and the intake's cached list see the change
    s.add(h)
    ledger.append(s, household_id, "list_change", person=person.id, relation=person.relation)


def add_go_between(
    s: Session,
    household_id: int,
    *,
    sender: Sender,
    item_ids: Sequence[int],
    reviewer_id: int,
    name: str = "",
    ally_id: int | None = None,
    note: str = "",
) -> Person:
    """Put the sender on the list as an ally (new, or added to ally ``ally_id``) and mark the
    items as passed on. Raises UsageError for a clash the reviewer can fix on the form."""
    if listed_as(s, household_id, sender) is not None:
        raise UsageError("This sender is already on the list.")
    note = note.strip()[:500]
    if ally_id is not None:
        person = s.get(Person, ally_id)
        if person is None or person.household_id != household_id or person.relation != "ally":
            raise UsageError("Choose someone who is on the list as passing messages on.")
        _add_identifier(s, household_id, person, sender)
        if note:
            person.note = f"{person.note}; {note}" if person.note else note
            s.add(person)
    else:
        name = " ".join(name.split())[:100] or sender.display_name.strip() or sender.original
        emails, phones = (
            ([sender.original], []) if sender.kind == "email" else ([], [sender.original])
        )
        taken = select(Person).where(Person.household_id == household_id, Person.name == name)
        if s.exec(taken).first() is not None:
            raise UsageError(
                f"There is already someone called “{name}” on the list. "
                "Choose another name, or add this sender to someone already listed."
            )
        person = add_person(s, household_id, name, "ally", emails=emails, phones=phones, note=note)
    for item_id in item_ids:
        _tag(s, item_id, reviewer_id)
    ledger.append(
        s,
        household_id,
        "go_between_added",
        user=reviewer_id,
        person=person.id,
        items=list(item_ids),
    )
    s.flush()
    return person
