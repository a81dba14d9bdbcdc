"""The trusted person with one item: read it, tag it, summarise it, or let it through.

Releasing hands the original to its channel (IMAP moves it back to the INBOX, SMS forwards
it); a failure leaves the item held and says so calmly.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from nocontact.channels.release import release
from nocontact.db import transaction
from nocontact.errors import ChannelError
from nocontact.models import ReviewNote, VaultItem
from nocontact.vault import ledger
from nocontact.vault.notes import NoteReader, NoteText, write_note
from nocontact.web import notify
from nocontact.web.access import read_item, sealed_to, unlocked
from nocontact.web.deps import ReviewerDep, render, rt_of
from nocontact.web.pages.review import TAG_WORDS, TAGS
from nocontact.web.plain import CHANNEL, when
from nocontact.web.reasons import reviewer_context
from nocontact.web.render import show
from nocontact.web.security import check_csrf

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(check_csrf)])


def _item_page(
    request: Request,
    cur: ReviewerDep,
    item_id: int,
    *,
    error: str = "",
    saved: bool = False,
    released: bool = False,
    notice: str = "",
) -> Response:
    it, raw, meta = read_item(request, cur, item_id, "item_opened")
    shown = show(it.channel, raw, meta, rt_of(request).config.limits.read())
    rt = rt_of(request)
    with transaction(rt.engine) as s:
        note = s.get(ReviewNote, item_id)
        text = _read(request, cur, s, it, note)
        why = reviewer_context(s, rt.household_id, it, meta)
    return render(
        request,
        "item.html",
        cur,
        item=it,
        shown=shown,
        note=text,
        tags=text.tags if text else (),
        all_tags=TAGS,
        words=TAG_WORDS,
        when=when(it.received_at, rt.config.household.timezone),
        channel=CHANNEL.get(it.channel, it.channel),
        back="/review",
        can_release=it.action == "review" and it.delivery != "released",
        error=error,
        saved=saved,
        released=released,
        notice=notice,
        **why,
    )


def _read(
    request: Request, cur: ReviewerDep, s: Session, it: VaultItem, note: ReviewNote | None
) -> NoteText | None:
    """The note on this item, opened with the reviewer's key (the page checked it is held)."""
    held = unlocked(request, cur)
    if note is None or held is None:
        return None
    return NoteReader(s, held.recipient_id, held.identity).read(it, note)


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
    held = unlocked(request, cur)
    if held is None:
        return RedirectResponse("/review/unlock", status_code=303)
    sealed_to(request, cur, item_id)  # only items sealed to this reviewer
    with transaction(rt.engine) as s:
        it = s.get(VaultItem, item_id)
        assert it is not None
        reader = NoteReader(s, held.recipient_id, held.identity)
        existing = s.get(ReviewNote, item_id)
        before = reader.read(it, existing) if existing is not None else None
        was_urgent = before is not None and "urgent" in before.tags
        # sealed with the item's own secret: the words and tags are not in the database
        n = existing or ReviewNote(item_id=item_id)
        s.add(write_note(n, reader.secret(it), chosen, summary, cur.user.id))
        # ids only: the tags are the note's words, sealed with it
        ledger.append(s, rt.household_id, "review_note", item=item_id, user=cur.user.id)
    if "urgent" in chosen and not was_urgent:
        notify.urgent_notice(rt)
    return _item_page(request, cur, item_id, saved=True)


@router.post("/review/items/{item_id}/release")
def release_item(request: Request, cur: ReviewerDep, item_id: int) -> Response:
    """Deliver a review-held message after all; the channel does it (IMAP move, SMS forward)."""
    rt = rt_of(request)
    if unlocked(request, cur) is None:
        return RedirectResponse("/review/unlock", status_code=303)
    it, raw, meta = read_item(request, cur, item_id, "release_read")
    if it.action != "review" or it.delivery == "released":
        return _item_page(request, cur, item_id, error="This message cannot be let through.")
    try:
        release(rt, it, raw, meta)
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
