"""The owner's calm home page and the trusted person's notes.

The home page never shows a sender, a subject or (unless ``web.show_counts``) a count: it says
the service is on, what it watches and whether each account can be checked.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session, col, func, select
from starlette.responses import RedirectResponse, Response

from nocontact.db import transaction
from nocontact.models import ChannelStatus, ReviewNote, VaultItem
from nocontact.vault.notes import NoteReader, scrub, seal_legacy
from nocontact.web.access import identity_for, unlocked
from nocontact.web.deps import AnyUserDep, OwnerDep, render, rt_of
from nocontact.web.plain import CHANNEL, health_line, when
from nocontact.web.security import check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)])


def health(s: Session, household_id: int, configured: list[str]) -> list[tuple[str, str, bool]]:
    rows = s.exec(
        select(ChannelStatus)
        .where(ChannelStatus.household_id == household_id)
        .order_by(col(ChannelStatus.channel), col(ChannelStatus.name))
    ).all()
    lines = [health_line(r) for r in rows]
    seen = {r.name for r in rows if r.channel == "imap"}
    for name in configured:
        if name not in seen:
            lines.append((f"Your mail account “{name}”", "starting; not checked yet", True))
    return lines


@router.get("/")
def home(request: Request, cur: AnyUserDep) -> Response:
    if cur.user.role != "owner":
        return RedirectResponse("/review", status_code=303)
    rt = rt_of(request)
    with Session(rt.engine) as s:
        lines = health(s, rt.household_id, [a.name for a in rt.config.imap])
        counts = None
        if rt.config.web.show_counts:
            q = select(func.count()).select_from(VaultItem)
            total = s.exec(q.where(VaultItem.household_id == rt.household_id)).one()
            unopened = s.exec(
                q.where(VaultItem.household_id == rt.household_id, VaultItem.status == "unopened")
            ).one()
            counts = (total, unopened)
        has_notes = (
            s.exec(
                select(ReviewNote.item_id)
                .join(VaultItem, col(VaultItem.id) == col(ReviewNote.item_id))
                .where(VaultItem.household_id == rt.household_id)
            ).first()
            is not None
        )
    return render(request, "home.html", cur, lines=lines, counts=counts, has_notes=has_notes)


def _notes(s: Session, request: Request, reader: NoteReader) -> list[dict[str, object]]:
    """Every note of the household, opened with one holder's key; never the originals."""
    rt = rt_of(request)
    if seal_legacy(s, reader, rt.household_id):  # notes from before they were sealed
        s.commit()
        scrub(rt.engine)
    rows = s.exec(
        select(ReviewNote, VaultItem)
        .join(VaultItem, col(VaultItem.id) == col(ReviewNote.item_id))
        .where(VaultItem.household_id == rt.household_id)
        .order_by(col(ReviewNote.updated_at).desc())
    ).all()
    shown: list[dict[str, object]] = []
    for note, item in rows:
        text = reader.read(item, note)
        shown.append(
            {
                "when": when(item.received_at, rt.config.household.timezone),
                "channel": CHANNEL.get(item.channel, item.channel),
                "tags": text.tags if text else (),
                "summary": text.summary if text else "",
                "unreadable": text is None,
            }
        )
    return shown


@router.get("/notes")
def notes(request: Request, cur: OwnerDep) -> Response:
    """What the trusted person wrote: tags and summaries, never the originals. They are sealed
    like the messages, so this asks for her passphrase first (unless the vault is open)."""
    rt = rt_of(request)
    held = unlocked(request, cur)
    with transaction(rt.engine) as s:
        q = select(ReviewNote.item_id).join(VaultItem, col(VaultItem.id) == col(ReviewNote.item_id))
        if s.exec(q.where(VaultItem.household_id == rt.household_id)).first() is None:
            return render(request, "notes.html", cur, notes=[], locked=False, error="")
        if held is None:
            return render(request, "notes.html", cur, notes=[], locked=True, error="")
        shown = _notes(s, request, NoteReader(s, held.recipient_id, held.identity))
    return render(request, "notes.html", cur, notes=shown, locked=False, error="")


@router.post("/notes")
def notes_unlocked(request: Request, cur: OwnerDep, passphrase: Annotated[str, Form()]) -> Response:
    """The notes for this one response: her key is used and forgotten, the vault stays shut."""
    rt = rt_of(request)
    with transaction(rt.engine) as s:
        found = identity_for(s, request, cur, passphrase)
        if found is not None:
            user, identity = found
            shown = _notes(s, request, NoteReader(s, user.recipient_id, identity))
    if found is None:
        error = "That passphrase did not match. Nothing was shown."
        return render(request, "notes.html", cur, 401, notes=[], locked=True, error=error)
    return render(request, "notes.html", cur, notes=shown, locked=False, error="", once=True)
