"""People on the list: add, change, remove. Every change asks the passphrase again first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session, select
from starlette.responses import RedirectResponse, Response

from nocontact.db import transaction
from nocontact.errors import UsageError
from nocontact.models import Person
from nocontact.people.service import add_person, list_people, remove_person, update_person
from nocontact.web.deps import OwnerDep, SteppedUpDep, render, rt_of
from nocontact.web.security import check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)])
Text = Annotated[str, Form()]


def _lines(text: str) -> list[str]:
    return [x.strip() for x in text.replace(",", "\n").splitlines() if x.strip()]


def _given(emails: str, phones: str, domains: str, aliases: str) -> list[tuple[str, str]]:
    out = [("email", e) for e in _lines(emails)] + [("phone", p) for p in _lines(phones)]
    return out + [("domain", d) for d in _lines(domains)] + [("alias", a) for a in _lines(aliases)]


@router.get("/people")
def people(request: Request, cur: OwnerDep) -> Response:
    rt = rt_of(request)
    with Session(rt.engine) as s:
        listed = list_people(s, rt.household_id)
    return render(request, "people.html", cur, people=listed)


@router.get("/people/new")
def new_form(request: Request, cur: SteppedUpDep) -> Response:
    return render(request, "person_form.html", cur, person=None, error="")


@router.post("/people/new")
def new(
    request: Request,
    cur: SteppedUpDep,
    name: Text,
    relation: Text,
    emails: Text = "",
    phones: Text = "",
    domains: Text = "",
    aliases: Text = "",
    note: Text = "",
) -> Response:
    rt = rt_of(request)
    try:
        with transaction(rt.engine) as s:
            add_person(
                s,
                rt.household_id,
                name,
                relation,
                emails=_lines(emails),
                phones=_lines(phones),
                domains=_lines(domains),
                aliases=_lines(aliases),
                note=note.strip(),
            )
    except UsageError as e:
        form = {
            "name": name,
            "relation": relation,
            "emails": _lines(emails),
            "phones": _lines(phones),
            "domains": _lines(domains),
            "aliases": _lines(aliases),
            "note": note,
        }
        return render(request, "person_form.html", cur, 400, person=form, error=str(e), new=True)
    return RedirectResponse("/people", status_code=303)


def _find(s: Session, household_id: int, name: str) -> Person | None:
    q = select(Person).where(Person.household_id == household_id, Person.name == name)
    return s.exec(q).first()


@router.get("/people/{name}/edit")
def edit_form(request: Request, cur: SteppedUpDep, name: str) -> Response:
    rt = rt_of(request)
    with Session(rt.engine) as s:
        person = next((p for p in list_people(s, rt.household_id) if p["name"] == name), None)
    if person is None:
        return RedirectResponse("/people", status_code=303)
    return render(request, "person_form.html", cur, person=person, error="")


@router.post("/people/{name}/edit")
def edit(
    request: Request,
    cur: SteppedUpDep,
    name: str,
    relation: Text,
    emails: Text = "",
    phones: Text = "",
    domains: Text = "",
    aliases: Text = "",
    note: Text = "",
) -> Response:
    rt = rt_of(request)
    try:
        with transaction(rt.engine) as s:
            person = _find(s, rt.household_id, name)
            if person is None:
                raise UsageError(f"{name!r} is not on the list")
            given = _given(emails, phones, domains, aliases)
            update_person(
                s, rt.household_id, person, relation=relation, given=given, note=note.strip()
            )
    except UsageError as e:
        form = {
            "name": name,
            "relation": relation,
            "emails": _lines(emails),
            "phones": _lines(phones),
            "domains": _lines(domains),
            "aliases": _lines(aliases),
            "note": note,
        }
        return render(request, "person_form.html", cur, 400, person=form, error=str(e))
    return RedirectResponse("/people", status_code=303)


@router.post("/people/{name}/remove")
def remove(request: Request, cur: SteppedUpDep, name: str) -> Response:
    rt = rt_of(request)
    try:
        with transaction(rt.engine) as s:
            remove_person(s, rt.household_id, name)
    except UsageError:
        pass  # already gone: the list page shows the truth
    return RedirectResponse("/people", status_code=303)
