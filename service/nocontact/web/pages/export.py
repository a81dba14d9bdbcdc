"""The evidence file, from the web app: owner only, passphrase asked again, then a download.

The passphrase on this form is the deliberate step (and it unlocks the key the export needs);
a wrong one exports nothing and counts towards the lockout like a wrong login.

An evidence file holds every kept message in the clear, so it is no way round the vault's
cool-down: with ``[web] vault_cooldown_minutes`` set, the owner makes one only in a session
whose vault has opened (asked, waited, not cancelled), exactly as she would read a message.

The file is never written to the shared temporary folder (``/tmp``, which other programs and
users of the machine can see). It is built in a private folder inside the home
(``export-work/``, which the home's own ``0700`` already keeps to the service), and the moment it
is finished it is opened and its name removed: what is sent is read from that open file, and
the disk space goes back as soon as the download ends or is abandoned, even if the service dies
in between. Whatever a crash mid-build left there is removed when the export page is next
opened.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import BinaryIO

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session, col, select
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from nocontact.db import transaction
from nocontact.errors import NoContactError
from nocontact.export.bundle import export_bundle
from nocontact.export.scope import ExportFilters
from nocontact.models import Person
from nocontact.runtime import Runtime
from nocontact.web.access import identity_for, unlocked
from nocontact.web.deps import OwnerDep, keyring_of, render, rt_of
from nocontact.web.plain import minutes_until, when
from nocontact.web.security import check_csrf
from nocontact.web.sessions import Current, aware

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(check_csrf)])

WORK = "export-work"  # inside the home; nothing in it outlives the export that made it
CHUNK = 256 * 1024
_BUSY: set[Path] = set()  # work folders of exports running in this process
_BUSY_LOCK = threading.Lock()


def _people(request: Request) -> list[str]:
    rt = rt_of(request)
    with Session(rt.engine) as s:
        q = select(Person.name).where(Person.household_id == rt.household_id)
        return list(s.exec(q.order_by(col(Person.name))).all())


def _waiting(request: Request, cur: Current) -> dict[str, object] | None:
    """What the page says instead of the form while the cool-down keeps the vault shut;
    None when an evidence file may be made (no cool-down set, or the vault has opened)."""
    cooldown = rt_of(request).config.web.vault_cooldown_minutes
    if not cooldown or unlocked(request, cur) is not None:
        return None
    opens = cur.row.vault_opens_at
    if keyring_of(request).get(cur.key) is None or opens is None:
        return {"cooldown": cooldown, "opens": "", "minutes": 0}
    zone = rt_of(request).config.household.timezone
    return {
        "cooldown": cooldown,
        "opens": when(aware(opens), zone),
        "minutes": minutes_until(opens),
    }


def _page(request: Request, cur: Current, error: str = "", status: int = 200) -> Response:
    waiting = _waiting(request, cur)
    return render(
        request,
        "export.html",
        cur,
        status,
        people=_people(request),
        error=error,
        waiting=waiting,
    )


def _day(text: str, *, end: bool = False) -> datetime | None:
    if not text.strip():
        return None
    d = date.fromisoformat(text.strip())
    if end:
        d += timedelta(days=1)  # "until" a day includes that whole day
    return datetime.combine(d, time.min, tzinfo=UTC)


def _sweep(rt: Runtime) -> Path:
    """``HOME/export-work``, emptied of anything no export of this process is building: what a
    crash or a kill mid-export left behind never waits for a later one to be noticed."""
    root = rt.home / WORK
    root.mkdir(mode=0o700, exist_ok=True)
    with _BUSY_LOCK:
        for old in root.iterdir():
            if old in _BUSY:
                continue
            with contextlib.suppress(OSError):
                if old.is_dir() and not old.is_symlink():
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    old.unlink()
    return root


def _work_folder(rt: Runtime) -> Path:
    """A new private folder (``0700``) under ``HOME/export-work`` for one export."""
    root = _sweep(rt)
    with _BUSY_LOCK:
        folder = Path(tempfile.mkdtemp(dir=root, prefix="export-"))
        _BUSY.add(folder)
    return folder


def _wipe(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    with _BUSY_LOCK:
        _BUSY.discard(folder)


class _OpenFileResponse(StreamingResponse):
    """Sends a file that has no name any more, from its open handle, and always closes it
    (download finished, cancelled or cut off), which frees its space."""

    def __init__(self, f: BinaryIO, filename: str) -> None:
        self._file = f
        size = os.fstat(f.fileno()).st_size
        super().__init__(
            iter(lambda: f.read(CHUNK), b""),
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Content-Length": str(size),
            },
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._file.close()


@router.get("/export")
def export_form(request: Request, cur: OwnerDep) -> Response:
    _sweep(rt_of(request))
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
    if _waiting(request, cur) is not None:
        # the passphrase is not even checked: the cool-down applies before anything else
        return _page(request, cur, "The vault has not opened yet. Nothing was made.", 403)
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
        found = identity_for(s, request, cur, passphrase)
        if found is not None:
            recipient_id, name, identity = found[0].recipient_id, found[0].name, found[1]
    if found is None:
        return _page(request, cur, "That passphrase did not work. Nothing was made.", 403)
    folder = _work_folder(rt)
    out = folder / f"evidence-{datetime.now(UTC):%Y%m%d-%H%M%S}.zip"
    try:
        export_bundle(rt, out, recipient_id, identity, filters, exported_by=name)
        f = out.open("rb")
    except NoContactError as e:
        log.warning("web export failed: %s", type(e).__name__)
        return _page(request, cur, "The evidence file could not be made. Nothing was lost.", 500)
    finally:
        _wipe(folder)  # an open file stays readable without a name
    return _OpenFileResponse(f, out.name)
