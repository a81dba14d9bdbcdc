"""The opened vault: a list without previews (date, kind, person), then one item at a time.

Both pages are reachable only while this session holds the owner's unlocked key and any
cool-down has passed; each view is a ledger entry.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session, col, select
from starlette.responses import RedirectResponse, Response

from nocontact.db import transaction
from nocontact.models import ReviewNote, VaultItem
from nocontact.vault.notes import NoteReader, scrub, seal_legacy
from nocontact.web.access import read_item, record, unlocked
from nocontact.web.deps import OwnerDep, render, rt_of
from nocontact.web.plain import CHANNEL, when
from nocontact.web.render import show
from nocontact.web.security import check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)])


def _to(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


@router.get("/vault/items")
def items(request: Request, cur: OwnerDep) -> Response:
    held = unlocked(request, cur)
    if held is None:
        return _to("/vault")
    rt = rt_of(request)
    with transaction(rt.engine) as s:
        # notes from before they were sealed: sealed now that her key is at hand
        sealed_now = seal_legacy(
            s, NoteReader(s, held.recipient_id, held.identity), rt.household_id
        )
    if sealed_now:
        scrub(rt.engine)
    with Session(rt.engine) as s:
        rows = s.exec(
            select(VaultItem)
            .where(VaultItem.household_id == rt.household_id)
            .order_by(col(VaultItem.received_at).desc())
        ).all()
        noted = set(s.exec(select(ReviewNote.item_id)).all())
        listed = [
            {
                "id": i.id,
                "when": when(i.received_at, rt.config.household.timezone),
                "channel": CHANNEL.get(i.channel, i.channel),
                "person": i.person_name or "not on your list (held to check)",
                "opened": i.status == "opened",
                "noted": i.id in noted,
            }
            for i in rows
        ]
    record(request, cur, "vault_list_viewed")
    return render(request, "vault_items.html", cur, items=listed)


@router.get("/vault/items/{item_id}")
def item(request: Request, cur: OwnerDep, item_id: int) -> Response:
    held = unlocked(request, cur)
    if held is None:
        return _to("/vault")
    it, raw, meta = read_item(request, cur, item_id, "item_opened")
    shown = show(it.channel, raw, meta, rt_of(request).config.limits.read())
    rt = rt_of(request)
    with transaction(rt.engine) as s:
        row = s.get(VaultItem, item_id)
        assert row is not None
        found = s.get(ReviewNote, item_id)
        note = NoteReader(s, held.recipient_id, held.identity).read(row, found) if found else None
        if row.status != "opened":
            row.status = "opened"
            s.add(row)
    return render(
        request,
        "item.html",
        cur,
        item=it,
        shown=shown,
        note=note,
        tags=note.tags if note else (),
        when=when(it.received_at, rt.config.household.timezone),
        channel=CHANNEL.get(it.channel, it.channel),
        back="/vault/items",
    )
