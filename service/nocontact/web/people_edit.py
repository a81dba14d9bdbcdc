"""Changing a person on the list in place, so items already kept stay linked to them.

Validation is the CLI's (``people.normalise``); the change is one ledger entry (ids only).
"""

from __future__ import annotations

from sqlmodel import Session, select

from nocontact.errors import UsageError
from nocontact.models import Household, Identifier, Person
from nocontact.people.normalise import InvalidIdentifier, normalise
from nocontact.people.service import RELATIONS
from nocontact.vault import ledger


def update_person(
    s: Session,
    household_id: int,
    person: Person,
    *,
    relation: str,
    given: list[tuple[str, str]],
    note: str,
) -> None:
    if relation not in RELATIONS:
        raise UsageError(f"relation must be one of {', '.join(RELATIONS)}")
    if not given:
        raise UsageError("give at least one email address, phone number, domain or name")
    h = s.get(Household, household_id)
    assert h is not None and person.id is not None
    rows = []
    for kind, value in given:
        try:
            rows.append((kind, value, normalise(kind, value, region=h.default_region)))
        except InvalidIdentifier as e:
            raise UsageError(str(e)) from e
    for old in s.exec(select(Identifier).where(Identifier.person_id == person.id)).all():
        s.delete(old)
    for kind, original, norm in rows:
        s.add(
            Identifier(
                household_id=household_id,
                person_id=person.id,
                kind=kind,
                original=original,
                normalised=norm,
            )
        )
    person.relation, person.note = relation, note
    s.add(person)
    h.list_version += 1
    s.add(h)
    ledger.append(s, household_id, "list_change", person=person.id, relation=relation)
    s.flush()
