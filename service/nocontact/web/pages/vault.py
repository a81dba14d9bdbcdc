"""Opening the vault on purpose (DESIGN §5): explain → passphrase → optional cool-down →
a list without previews → one item at a time (those two in ``vault_items.py``). Each step is a
ledger entry the owner sees on the activity page. The owner can hand the whole thing to their
trusted person instead.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from nocontact.db import transaction
from nocontact.models import utcnow
from nocontact.vault import ledger
from nocontact.vault.store import rewrap_missing
from nocontact.web import notify
from nocontact.web.access import identity_for, record, unlocked
from nocontact.web.deps import OwnerDep, keyring_of, render, rt_of
from nocontact.web.models import WebSession
from nocontact.web.plain import minutes_until, when
from nocontact.web.security import check_csrf
from nocontact.web.sessions import Current, aware

router = APIRouter(dependencies=[Depends(check_csrf)])


def _to(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


def _set_opens(request: Request, cur: Current, opens_at: object) -> None:
    with transaction(rt_of(request).engine) as s:
        row = s.get(WebSession, cur.row.id)
        if row is not None:
            row.vault_opens_at = opens_at  # type: ignore[assignment]
            s.add(row)


@router.get("/vault")
def intro(request: Request, cur: OwnerDep) -> Response:
    if unlocked(request, cur):
        return _to("/vault/items")
    if keyring_of(request).get(cur.key):
        return _to("/vault/wait")
    cooldown = rt_of(request).config.web.vault_cooldown_minutes
    return render(request, "vault_intro.html", cur, cooldown=cooldown)


@router.post("/vault/start")
def start(request: Request, cur: OwnerDep) -> Response:
    record(request, cur, "vault_open_started")
    return _to("/vault/unlock")


@router.get("/vault/unlock")
def unlock_form(request: Request, cur: OwnerDep) -> Response:
    return render(request, "vault_unlock.html", cur, error="", action="/vault/unlock")


@router.post("/vault/unlock")
def unlock(request: Request, cur: OwnerDep, passphrase: Annotated[str, Form()]) -> Response:
    rt = rt_of(request)
    with transaction(rt.engine) as s:
        found = identity_for(s, request, cur, passphrase)
        if found is None:
            ledger.append(s, rt.household_id, "vault_unlock_failed", user=cur.user.id)
        else:
            user, identity = found
            # a reviewer added since the last unlock gets keys to what was sealed before
            added = rewrap_missing(s, rt.household_id, user.recipient_id, identity)
            cooldown = rt.config.web.vault_cooldown_minutes
            ledger.append(
                s,
                rt.household_id,
                "vault_unlocked",
                user=cur.user.id,
                cooldown_minutes=cooldown,
                keys_added=added,
            )
            row = s.get(WebSession, cur.row.id)
            assert row is not None
            row.vault_opens_at = utcnow() + timedelta(minutes=cooldown)
            s.add(row)
            keyring_of(request).put(cur.key, user.recipient_id, identity)
    if found is None:
        return render(
            request,
            "vault_unlock.html",
            cur,
            401,
            action="/vault/unlock",
            error="That passphrase did not open the vault. Nothing was opened.",
        )
    return _to("/vault/wait" if rt.config.web.vault_cooldown_minutes else "/vault/items")


@router.get("/vault/wait")
def wait(request: Request, cur: OwnerDep) -> Response:
    if unlocked(request, cur):
        return _to("/vault/items")
    if keyring_of(request).get(cur.key) is None or cur.row.vault_opens_at is None:
        return _to("/vault")
    opens = aware(cur.row.vault_opens_at)
    zone = rt_of(request).config.household.timezone
    return render(
        request, "vault_wait.html", cur, opens=when(opens, zone), minutes=minutes_until(opens)
    )


@router.post("/vault/cancel")
def cancel(request: Request, cur: OwnerDep) -> Response:
    keyring_of(request).drop(cur.key)
    _set_opens(request, cur, None)
    record(request, cur, "vault_open_cancelled")
    return render(
        request,
        "message.html",
        cur,
        title="Cancelled",
        text="Nothing was opened. Everything stays kept, in case you ever need it.",
        back="/",
    )


@router.post("/vault/close")
def close(request: Request, cur: OwnerDep) -> Response:
    keyring_of(request).drop(cur.key)
    _set_opens(request, cur, None)
    record(request, cur, "vault_closed")
    return _to("/")


@router.post("/vault/ask")
def ask_reviewer(request: Request, cur: OwnerDep) -> Response:
    record(request, cur, "vault_handed_to_reviewer")
    sent = notify.ask_reviewers(rt_of(request))
    return render(request, "vault_asked.html", cur, sent=sent)
