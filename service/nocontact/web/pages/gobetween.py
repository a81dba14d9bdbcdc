"""The reviewer's go-between steps (issue 8): add a sender to the list as someone passing
messages on, from one item or from several held messages of the same new sender.

This is the one change to the list a reviewer may make; it is narrow (relation ``ally``
only) and ledgered (``go_between_added``, shown on the owner's activity page). The sender is
read from the item's sealed metadata in this unlocked session, never from the form, so a
reviewer can add only a sender of a message sealed to them.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session, col, select
from starlette.responses import RedirectResponse, Response

from nocontact.db import transaction
from nocontact.errors import UsageError
from nocontact.models import Household, VaultItem
from nocontact.people.gobetween import Sender, add_go_between, allies, sender_of
from nocontact.vault import ledger
from nocontact.web.access import read_item, unlocked
from nocontact.web.deps import ReviewerDep, render, rt_of
from nocontact.web.pages.review_item import _item_page
from nocontact.web.plain import CHANNEL, when
from nocontact.web.security import check_csrf
from nocontact.web.senders import group_of

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(check_csrf)])
Text = Annotated[str, Form()]
GONE = "These messages are no longer waiting together, or their sender is already on the list."


def _region(s: Session, household_id: int) -> str:
    h = s.get(Household, household_id)
    return h.default_region if h else "GB"


def _add(
    request: Request,
    cur: ReviewerDep,
    sender: Sender,
    item_ids: list[int],
    name: str,
    ally: str,
    note: str,
) -> str:
    """Returns the name the sender is listed under; UsageError for a fixable clash."""
    rt = rt_of(request)
    try:
        ally_id = int(ally) if ally.strip() else None
    except ValueError as e:
        raise UsageError("Choose someone from the list, or give a name.") from e
    assert cur.user.id is not None
    with transaction(rt.engine) as s:
        person = add_go_between(
            s,
            rt.household_id,
            sender=sender,
            item_ids=item_ids,
            reviewer_id=cur.user.id,
            name=name,
            ally_id=ally_id,
            note=note,
        )
        listed = person.name
    log.info("reviewer %s added a go-between from %s held items", cur.user.id, len(item_ids))
    return listed


def _added(listed: str) -> str:
    return (
        f"The sender is on the list now as someone passing messages on ({listed}). "
        "Their next messages will be kept away."
    )


@router.post("/review/items/{item_id}/ally")
def add_from_item(
    request: Request,
    cur: ReviewerDep,
    item_id: int,
    name: Text = "",
    ally: Text = "",
    note: Text = "",
) -> Response:
    if unlocked(request, cur) is None:
        return RedirectResponse("/review/unlock", status_code=303)
    _it, _raw, meta = read_item(request, cur, item_id, "sender_read")
    with Session(rt_of(request).engine) as s:
        sender = sender_of(meta, _region(s, rt_of(request).household_id))
    if sender is None:
        return _item_page(request, cur, item_id, error="The sender could not be read.")
    try:
        listed = _add(request, cur, sender, [item_id], name, ally, note)
    except UsageError as e:
        return _item_page(request, cur, item_id, error=str(e))
    return _item_page(request, cur, item_id, notice=_added(listed))


@router.get("/review/senders/{item_id}")
def same_sender(request: Request, cur: ReviewerDep, item_id: int) -> Response:
    """Who sent several held messages, asked for from the suggestion on the list page."""
    held = unlocked(request, cur)
    if held is None:
        return RedirectResponse("/review/unlock", status_code=303)
    rt = rt_of(request)
    zone = rt.config.household.timezone
    with transaction(rt.engine) as s:
        group = group_of(s, rt.household_id, held, item_id)
        if group is None:
            return render(
                request, "message.html", cur, title="Nothing to add", text=GONE, back="/review"
            )
        ledger.append(
            s, rt.household_id, "review_sender_viewed", user=cur.user.id, items=list(group.item_ids)
        )
        rows = s.exec(select(VaultItem).where(col(VaultItem.id).in_(group.item_ids))).all()
        listed = [
            {"id": i.id, "when": when(i.received_at, zone), "channel": CHANNEL.get(i.channel, "")}
            for i in sorted(rows, key=lambda i: i.received_at, reverse=True)
        ]
        ally_rows = allies(s, rt.household_id)
    return render(
        request,
        "review_sender.html",
        cur,
        sender=group.sender,
        items=listed,
        allies=ally_rows,
        item_id=item_id,
        error="",
    )


@router.post("/review/senders/{item_id}/ally")
def add_from_group(
    request: Request,
    cur: ReviewerDep,
    item_id: int,
    name: Text = "",
    ally: Text = "",
    note: Text = "",
) -> Response:
    held = unlocked(request, cur)
    if held is None:
        return RedirectResponse("/review/unlock", status_code=303)
    rt = rt_of(request)
    with Session(rt.engine) as s:
        group = group_of(s, rt.household_id, held, item_id)  # recomputed: the form names no one
    if group is None:
        return render(
            request, "message.html", cur, title="Nothing to add", text=GONE, back="/review"
        )
    try:
        listed = _add(request, cur, group.sender, list(group.item_ids), name, ally, note)
    except UsageError as e:
        return render(
            request,
            "message.html",
            cur,
            400,
            title="Not added",
            text=str(e),
            back=f"/review/senders/{item_id}",
        )
    n = len(group.item_ids)
    text = _added(listed) + f" The {n} held messages from them are marked as passed on."
    return render(
        request, "message.html", cur, title="Added to the list", text=text, back="/review"
    )
