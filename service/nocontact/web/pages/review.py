"""The trusted person's pages: held items one at a time, tags and a summary, release.

A reviewer cannot delete, export or change the list; they read with their own key, which the
owner's unlock gave them for items sealed before they were added (``store.rewrap_missing``).
"""

from __future__ import annotations

import json
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session, col, select
from starlette.responses import RedirectResponse, Response

from nocontact import users
from nocontact.channels.release import release
from nocontact.db import transaction
from nocontact.errors import ChannelError, VaultError
from nocontact.models import ItemKey, ReviewNote, User, VaultItem, utcnow
from nocontact.vault import ledger
from nocontact.web import notify
from nocontact.web.access import read_item, unlocked
from nocontact.web.deps import ReviewerDep, keyring_of, render, rt_of
from nocontact.web.models import WebSession
from nocontact.web.plain import CHANNEL, when
from nocontact.web.render import show_email, show_sms
from nocontact.web.security import check_csrf

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(check_csrf)])
TAGS = ("children", "legal", "threat", "harmless", "urgent")
TAG_WORDS = {
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
        notes = {n.item_id: json.loads(n.tags) for n in s.exec(select(ReviewNote)).all()}
    listed = [
        {
            "id": i.id,
            "when": when(i.received_at),
            "channel": CHANNEL.get(i.channel, i.channel),
            "person": i.person_name or "not on the list; held to check",
            "held": i.action == "review" and i.delivery != "released",
            "released": i.delivery == "released",
            "tags": notes.get(i.id or 0),
        }
        for i in rows
    ]
    ready = unlocked(request, cur) is not None
    return render(request, "review_list.html", cur, items=listed, ready=ready, words=TAG_WORDS)


@router.get("/review/unlock")
def unlock_form(request: Request, cur: ReviewerDep) -> Response:
    return render(request, "vault_unlock.html", cur, error="", action="/review/unlock")


@router.post("/review/unlock")
def unlock(request: Request, cur: ReviewerDep, passphrase: Annotated[str, Form()]) -> Response:
    rt = rt_of(request)
    identity = None
    with transaction(rt.engine) as s:
        user = s.get(User, cur.user.id)
        if user is not None and users.check_login(s, user, passphrase):
            try:
                identity = users.unlock(s, user, passphrase)
            except VaultError:
                identity = None
        if identity is not None and user is not None:
            keyring_of(request).put(cur.key, user.recipient_id, identity)
            row = s.get(WebSession, cur.row.id)
            assert row is not None
            row.vault_opens_at = utcnow()
            s.add(row)
            ledger.append(s, rt.household_id, "review_unlocked", user=cur.user.id)
    if identity is None:
        return render(
            request,
            "vault_unlock.html",
            cur,
            401,
            action="/review/unlock",
            error="That passphrase did not unlock your key.",
        )
    return RedirectResponse("/review", status_code=303)


def _item_page(
    request: Request,
    cur: ReviewerDep,
    item_id: int,
    *,
    error: str = "",
    saved: bool = False,
    released: bool = False,
) -> Response:
    it, raw, meta = read_item(request, cur, item_id)
    shown = show_sms(raw, meta) if it.channel == "sms" else show_email(raw)
    rt = rt_of(request)
    first_look = not (error or saved or released)
    with transaction(rt.engine) as s:
        note = s.get(ReviewNote, item_id)
        if first_look:
            ledger.append(
                s, rt.household_id, "item_opened", item=item_id, user=cur.user.id, role="reviewer"
            )
    return render(
        request,
        "item.html",
        cur,
        item=it,
        shown=shown,
        note=note,
        tags=json.loads(note.tags) if note else [],
        all_tags=TAGS,
        words=TAG_WORDS,
        when=when(it.received_at),
        channel=CHANNEL.get(it.channel, it.channel),
        back="/review",
        can_release=it.action == "review" and it.delivery != "released",
        error=error,
        saved=saved,
        released=released,
    )


@router.get("/review/items/{item_id}")
def item(request: Request, cur: ReviewerDep, item_id: int) -> Response:
    if unlocked(request, cur) is None:
        return RedirectResponse("/review/unlock", status_code=303)
    return _item_page(request, cur, item_id)


@router.post("/review/items/{item_id}/note")
def note(
    request: Request,
    cur: ReviewerDep,
    item_id: int,
    tags: Annotated[list[str] | None, Form()] = None,
    summary: Annotated[str, Form()] = "",
) -> Response:
    rt = rt_of(request)
    chosen = [t for t in TAGS if t in (tags or [])]
    summary = summary.strip()[:2000]
    if unlocked(request, cur) is None:
        return RedirectResponse("/review/unlock", status_code=303)
    read_item(request, cur, item_id)  # only items sealed to this reviewer
    with transaction(rt.engine) as s:
        existing = s.get(ReviewNote, item_id)
        was_urgent = existing is not None and "urgent" in json.loads(existing.tags)
        n = existing or ReviewNote(item_id=item_id)
        n.tags, n.summary = json.dumps(chosen), summary
        n.reviewer_id, n.updated_at = cur.user.id, utcnow()
        s.add(n)
        ledger.append(
            s, rt.household_id, "review_note", item=item_id, user=cur.user.id, tags=chosen
        )
    if "urgent" in chosen and not was_urgent:
        notify.urgent_notice(rt)
    return _item_page(request, cur, item_id, saved=True)


@router.post("/review/items/{item_id}/release")
def release_item(request: Request, cur: ReviewerDep, item_id: int) -> Response:
    """Deliver a review-held message after all; the channel does it (IMAP move, SMS forward)."""
    rt = rt_of(request)
    if unlocked(request, cur) is None:
        return RedirectResponse("/review/unlock", status_code=303)
    it, raw, _meta = read_item(request, cur, item_id)
    if it.action != "review" or it.delivery == "released":
        return _item_page(request, cur, item_id, error="This message cannot be let through.")
    try:
        release(rt, it, raw)
    except ChannelError:
        log.warning("release of item %s failed", item_id)
        return _item_page(
            request,
            cur,
            item_id,
            error="It could not be delivered just now. Nothing was lost; it stays held. "
            "You can try again later.",
        )
    with transaction(rt.engine) as s:
        row = s.get(VaultItem, item_id)
        assert row is not None
        row.delivery = "released"
        s.add(row)
        ledger.append(s, rt.household_id, "item_released", item=item_id, user=cur.user.id)
    return _item_page(request, cur, item_id, released=True)
