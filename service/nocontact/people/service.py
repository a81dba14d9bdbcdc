"""The list in the database: add, list, remove people; build the matching index."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from nocontact.errors import UsageError
from nocontact.matching.blocklist import BlockList, ListedIdentifier, ListedPerson
from nocontact.models import Household, Identifier, Person
from nocontact.people.normalise import InvalidIdentifier, normalise
from nocontact.vault import ledger

RELATIONS = ("abuser", "ally", "coparent", "allow")


def _household(session: Session, household_id: int) -> Household:
    h = session.get(Household, household_id)
    if h is None:
        raise UsageError(f"no household {household_id}; run `nocontact init`")
    return h


def _bump(session: Session, h: Household) -> None:
    h.list_version += 1
    session.add(h)


def add_person(
    session: Session,
    household_id: int,
    name: str,
    relation: str,
    *,
    emails: list[str] = (),  # type: ignore[assignment]
    phones: list[str] = (),  # type: ignore[assignment]
    domains: list[str] = (),  # type: ignore[assignment]
    aliases: list[str] = (),  # type: ignore[assignment]
    note: str = "",
) -> Person:
    name = name.strip()
    if not name:
        raise UsageError("a person needs a name")
    if relation not in RELATIONS:
        raise UsageError(f"relation must be one of {', '.join(RELATIONS)}, not {relation!r}")
    h = _household(session, household_id)
    if session.exec(
        select(Person).where(Person.household_id == household_id, Person.name == name)
    ).first():
        raise UsageError(f"{name!r} is already on the list")
    given = [("email", e) for e in emails] + [("phone", p) for p in phones]
    given += [("domain", d) for d in domains] + [("alias", a) for a in aliases]
    if not given:
        raise UsageError("give at least one --email, --phone, --domain or --alias")
    normalised = _normalise_all(given, h.default_region)
    person = Person(household_id=household_id, name=name, relation=relation, note=note)
    session.add(person)
    session.flush()
    assert person.id is not None
    _add_identifiers(session, household_id, person.id, normalised)
    _bump(session, h)
    ledger.append(session, household_id, "list_add", person=person.id, relation=relation)
    session.flush()
    return person


def _normalise_all(given: list[tuple[str, str]], region: str) -> list[tuple[str, str, str]]:
    """(kind, original, normalised) for each identifier; the first invalid one is the error."""
    out: list[tuple[str, str, str]] = []
    for kind, value in given:
        try:
            out.append((kind, value, normalise(kind, value, region=region)))
        except InvalidIdentifier as e:
            raise UsageError(str(e)) from e
    return out


def _add_identifiers(
    session: Session, household_id: int, person_id: int, rows: list[tuple[str, str, str]]
) -> None:
    for kind, original, norm in rows:
        session.add(
            Identifier(
                household_id=household_id,
                person_id=person_id,
                kind=kind,
                original=original,
                normalised=norm,
            )
        )


def update_person(
    session: Session,
    household_id: int,
    person: Person,
    *,
    relation: str,
    given: list[tuple[str, str]],
    note: str,
) -> None:
    """Change a person in place, so items already kept stay linked to them."""
    if relation not in RELATIONS:
        raise UsageError(f"relation must be one of {', '.join(RELATIONS)}")
    if not given:
        raise UsageError("give at least one email address, phone number, domain or name")
    h = _household(session, household_id)
    assert person.id is not None
    rows = _normalise_all(given, h.default_region)
    for old in session.exec(select(Identifier).where(Identifier.person_id == person.id)).all():
        session.delete(old)
    _add_identifiers(session, household_id, person.id, rows)
    person.relation, person.note = relation, note
    session.add(person)
    _bump(session, h)
    ledger.append(session, household_id, "list_change", person=person.id, relation=relation)
    session.flush()


def remove_person(session: Session, household_id: int, name: str) -> None:
    person = session.exec(
        select(Person).where(Person.household_id == household_id, Person.name == name)
    ).first()
    if person is None:
        raise UsageError(f"{name!r} is not on the list")
    for ident in session.exec(select(Identifier).where(Identifier.person_id == person.id)).all():
        session.delete(ident)
    pid = person.id
    session.delete(person)
    _bump(session, _household(session, household_id))
    ledger.append(session, household_id, "list_remove", person=pid)
    session.flush()


def list_people(session: Session, household_id: int) -> list[dict[str, Any]]:
    people = session.exec(
        select(Person).where(Person.household_id == household_id).order_by(col(Person.name))
    ).all()
    out: list[dict[str, Any]] = []
    for p in people:
        idents = session.exec(
            select(Identifier).where(Identifier.person_id == p.id).order_by(col(Identifier.id))
        ).all()

        def of(kind: str, idents: Any = idents) -> list[str]:
            return [i.original for i in idents if i.kind == kind]

        out.append(
            {
                "name": p.name,
                "relation": p.relation,
                "emails": of("email"),
                "phones": of("phone"),
                "domains": of("domain"),
                "aliases": of("alias"),
                "note": p.note,
            }
        )
    return out


def load_blocklist(session: Session, household_id: int) -> BlockList:
    h = _household(session, household_id)
    rows = session.exec(
        select(Identifier, Person)
        .join(Person, col(Identifier.person_id) == col(Person.id))
        .where(Identifier.household_id == household_id)
    ).all()
    idents = []
    for ident, person in rows:
        assert ident.id is not None and person.id is not None
        lp = ListedPerson(person.id, person.name, person.relation)
        idents.append(ListedIdentifier(ident.id, lp, ident.kind, ident.normalised, ident.original))
    return BlockList.build(idents, region=h.default_region)
