"""The evidence file, from the web app: owner only, passphrase asked again, then a download.

The passphrase on this form is the deliberate step (and it unlocks the key the export needs);
a wrong one exports nothing and counts towards the lockout like a wrong login. The file is
built in a private temporary folder and removed once it has been sent.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session, col, select
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, Response

from nocontact.db import transaction
from nocontact.errors import NoContactError, WrongPassphrase
from nocontact.export.bundle import export_bundle
from nocontact.export.scope import ExportFilters
from nocontact.models import Person, User
from nocontact.users import check_login, unlock
from nocontact.web.deps import OwnerDep, render, rt_of
from nocontact.web.security import check_csrf
from nocontact.web.sessions import Current

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(check_csrf)])


def _people(request: Request) -> list[str]:
    rt = rt_of(request)
    with Session(rt.engine) as s:
        q = select(Person.name).where(Person.household_id == rt.household_id)
        return list(s.exec(q.order_by(col(Person.name))).all())


def _page(request: Request, cur: Current, error: str = "", status: int = 200) -> Response:
    return render(request, "export.html", cur, status, people=_people(request), error=error)


def _day(text: str, *, end: bool = False) -> datetime | None:
    if not text.strip():
        return None
    d = date.fromisoformat(text.strip())
    if end:
        d += timedelta(days=1)  # "until" a day includes that whole day
    return datetime.combine(d, time.min, tzinfo=UTC)


@router.get("/export")
def export_form(request: Request, cur: OwnerDep) -> Response:
    return _page(request, cur)


@router.post("/export")
def export_make(
    request: Request,
    cur: OwnerDep,
    passphrase: str = Form(""),
    person: list[str] = Form(default_factory=list),  # noqa: B008
    since: str = Form(""),
    until: str = Form(""),
    channel: str = Form(""),
    coparent_log: str = Form(""),
) -> Response:
    rt = rt_of(request)
    try:
        filters = ExportFilters(
            persons=tuple(person),
            since=_day(since),
            until=_day(until, end=True),
            channel=channel if channel in ("email", "sms") else None,
            action="record" if coparent_log else None,
        )
    except ValueError:
        return _page(request, cur, "Please give dates like 2026-03-31.", 400)
    with transaction(rt.engine) as s:
        user = s.get(User, cur.user.id)
        assert user is not None
        ok = check_login(s, user, passphrase)
    if not ok:
        return _page(request, cur, "That passphrase did not work. Nothing was made.", 403)
    folder = Path(tempfile.mkdtemp(prefix="nocontact-export-"))
    out = folder / f"evidence-{datetime.now(UTC):%Y%m%d-%H%M%S}.zip"
    try:
        with Session(rt.engine) as s:
            user = s.get(User, cur.user.id)
            assert user is not None
            identity = unlock(s, user, passphrase)
        export_bundle(rt, out, user.recipient_id, identity, filters, exported_by=user.name)
    except WrongPassphrase:
        shutil.rmtree(folder, ignore_errors=True)
        return _page(request, cur, "That passphrase did not work. Nothing was made.", 403)
    except NoContactError as e:
        shutil.rmtree(folder, ignore_errors=True)
        log.warning("web export failed: %s", type(e).__name__)
        return _page(request, cur, "The evidence file could not be made. Nothing was lost.", 500)
    return FileResponse(
        out,
        media_type="application/zip",
        filename=out.name,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
