"""The trusted person's list and the unlocking of their key.

A reviewer cannot delete, export or change the list (except adding a go-between, in
``gobetween.py``); they read with their own key, which the
owner's unlock gave them for items sealed before they were added (``store.rewrap_missing``).
One item at a time, notes and release are in ``review_item.py``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session, col, select
from starlette.responses import RedirectResponse, Response

from nocontact.db import transaction
from nocontact.models import ItemKey, ReviewNote, User, VaultItem, utcnow
from nocontact.vault import ledger
from nocontact.vault.notes import NoteReader, scrub, seal_legacy
from nocontact.web.access import identity_for, unlocked
from nocontact.web.deps import ReviewerDep, keyring_of, render, rt_of
from nocontact.web.models import WebSession
from nocontact.web.plain import CHANNEL, when
from nocontact.web.security import check_csrf
from nocontact.web.senders import new_sender_groups

router = APIRouter(dependencies=[Depends(check_csrf)])
SUGGESTIONS_SHOWN = 3
TAGS = ("children", "legal", "threat", "harmless", "urgent", "go-between")
TAG_WORDS = {
    "go-between": "passed on for someone on the list (counts as contact through others)",
    "children": "about the children",
    "legal": "matters for legal steps",
    "threat": "a threat",
    "harmless": "harmless",
    "urgent": "urgent",
}


@router.get("/review")
def review_list(request: Request, cur: ReviewerDep) -> Response:
    rt = rt_of(request)
    with Session(rt.engine) as s:
        user = s.get(User, cur.user.id)
        assert user is not None
        rows = s.exec(
            select(VaultItem)
            .join(ItemKey, col(ItemKey.item_id) == col(VaultItem.id))
            .where(
                VaultItem.household_id == rt.household_id, ItemKey.recipient_id == user.recipient_id
            )
            .order_by(col(VaultItem.received_at).desc())
        ).all()
        noted = set(s.exec(select(ReviewNote.item_id)).all())
    listed = [
        {
            "id": i.id,
            "when": when(i.received_at, rt.config.household.timezone),
            "channel": CHANNEL.get(i.channel, i.channel),
            "person": i.person_name or "not on the list; held to check",
            "held": i.action == "review" and i.delivery != "released",
            "released": i.delivery == "released",
            "noted": i.id in noted,
        }
        for i in rows
    ]
    held = unlocked(request, cur)
    suggestions = []
    if held is not None:  # senders are sealed: grouped only in an unlocked session, in memory
        with transaction(rt.engine) as s:  # notes from before they were sealed: sealed now
            reader = NoteReader(s, held.recipient_id, held.identity)
            sealed_now = seal_legacy(s, reader, rt.household_id)
        if sealed_now:
            scrub(rt.engine)
        with Session(rt.engine) as s:
            groups = new_sender_groups(s, rt.household_id, held)
        suggestions = [{"count": len(g.item_ids), "item_id": g.item_ids[0]} for g in groups]
    return render(
        request,
        "review_list.html",
        cur,
        items=listed,
        ready=held is not None,
        words=TAG_WORDS,
        suggestions=suggestions[:SUGGESTIONS_SHOWN],  # calm: a few at a time, largest first
        more_suggestions=max(0, len(suggestions) - SUGGESTIONS_SHOWN),
    )


@router.get("/review/unlock")
def unlock_form(request: Request, cur: ReviewerDep) -> Response:
    return render(request, "vault_unlock.html", cur, error="", action="/review/unlock")


@router.post("/review/unlock")
def unlock(request: Request, cur: ReviewerDep, passphrase: Annotated[str, Form()]) -> Response:
    rt = rt_of(request)
    with transaction(rt.engine) as s:
        found = identity_for(s, request, cur, passphrase)
        if found is not None:
            user, identity = found
            keyring_of(request).put(cur.key, user.recipient_id, identity)
            row = s.get(WebSession, cur.row.id)
            assert row is not None
            row.vault_opens_at = utcnow()
            s.add(row)
            ledger.append(s, rt.household_id, "review_unlocked", user=cur.user.id)
    if found is None:
        return render(
            request,
            "vault_unlock.html",
            cur,
            401,
            action="/review/unlock",
            error="That passphrase did not unlock your key.",
        )
    return RedirectResponse("/review", status_code=303)
