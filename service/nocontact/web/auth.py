"""Logging in and out, the TOTP second step, and asking the passphrase again (step-up).

Throttling comes from ``throttle.py`` through ``users.check_login``: five wrong tries rest that
account *from that address* for 15 minutes, twenty rest the address (ASVS 2.2.1); an unknown
name costs the same argon2 work as a known one, so the answer time does not reveal who has an
account. Every failed try at a real account is a ledger entry, so the owner sees it on
Activity. Login forms carry a token bound to the login cookie because there is no session yet.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session, select
from starlette.responses import RedirectResponse, Response

from nocontact import throttle, users
from nocontact.db import transaction
from nocontact.models import User, utcnow
from nocontact.vault import ledger
from nocontact.web import devices, sessions, totp
from nocontact.web.deps import AnyUserDep, client_of, keyring_of, render, rt_of
from nocontact.web.models import WebSession
from nocontact.web.security import check_csrf

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(check_csrf)])
TRY_AGAIN = (
    "That did not work. Check the name and passphrase and try again. "
    "After several tries the account rests for 15 minutes."
)


def _note_failure(s: Session, request: Request, user: User, step: str, before: bool) -> None:
    """A wrong passphrase or code on the ledger, unless the account (from here) was already
    resting: tries it refused unheard are not written, so nobody can fill the ledger."""
    client = client_of(request)
    if before:
        log.info("sign-in refused while resting, user %s", user.id)
        return
    log.info("sign-in refused for user %s (%s)", user.id, step)
    rests = throttle.resting(s, user.id, client)
    ledger.append(
        s, user.household_id, "login_failed", account=user.id, step=step, client=client, rests=rests
    )


def passphrase_ok(s: Session, request: Request, user: User, passphrase: str, step: str) -> bool:
    """Check a passphrase given at this moment, with the throttle; a wrong one is on the
    ledger (Activity). The caller commits."""
    client = client_of(request)
    before = throttle.resting(s, user.id, client)
    if users.check_login(s, user, passphrase, client=client):
        return True
    _note_failure(s, request, user, step, before)
    return False


def code_ok(s: Session, request: Request, user: User, code: str) -> bool:
    client = client_of(request)
    before = throttle.resting(s, user.id, client)
    if totp.check(s, user, code, client=client):
        return True
    _note_failure(s, request, user, "code", before)
    return False


def _check(s: Session, request: Request, name: str, passphrase: str) -> User | None:
    rt = rt_of(request)
    user = users.find_user(s, rt.household_id, name.strip())
    if user is None:
        users.refuse_unknown(s, passphrase, client=client_of(request))
        log.info("login refused: unknown name")
        return None
    return user if passphrase_ok(s, request, user, passphrase, "login") else None


def _login_page(request: Request, error: str = "", status: int = 200) -> Response:
    web = rt_of(request).config.web
    cookie = sessions.cookie(request, web, sessions.LOGIN) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        None,
        status,
        error=error,
        login_csrf=sessions.form_token(cookie, "login"),
    )
    sessions.set_cookie(response, web, sessions.LOGIN, cookie)
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
def login(
    request: Request, name: Annotated[str, Form()], passphrase: Annotated[str, Form()]
) -> Response:
    rt = rt_of(request)
    _end_session(request)  # a fresh session id on every login (no fixation, ASVS 3.2.1)
    with transaction(rt.engine) as s:
        user = _check(s, request, name, passphrase)
        token = None
        if user is not None:
            token, _ = sessions.create(
                s,
                user,
                mfa_pending=user.totp_secret is not None,
                device=devices.label(request.headers.get("user-agent", "")),
            )
    if user is None or token is None:
        return _login_page(request, TRY_AGAIN, 401)
    response = RedirectResponse("/login/code" if user.totp_secret else "/", status_code=303)
    sessions.set_cookie(response, rt.config.web, sessions.SESSION, token)
    sessions.delete_cookie(response, rt.config.web, sessions.LOGIN)
    return response


def _pending(request: Request, s: Session) -> sessions.Current | None:
    cur = sessions.load(s, request, rt_of(request).config.web)
    return cur if cur is not None and cur.row.mfa_pending else None


@router.get("/login/code")
def code_form(request: Request) -> Response:
    with transaction(rt_of(request).engine) as s:
        cur = _pending(request, s)
    if cur is None:
        return RedirectResponse("/login", status_code=303)
    return render(request, "login_code.html", None, csrf=cur.csrf, error="")


@router.post("/login/code")
def code(request: Request, code: Annotated[str, Form()]) -> Response:
    with transaction(rt_of(request).engine) as s:
        cur = _pending(request, s)
        if cur is None:
            return RedirectResponse("/login", status_code=303)
        ok = code_ok(s, request, cur.user, code)
        if ok:
            cur.row.mfa_pending = False
            s.add(cur.row)
        elif throttle.resting(s, cur.user.id, client_of(request)):
            s.delete(cur.row)
    if ok:
        return RedirectResponse("/", status_code=303)
    return render(
        request,
        "login_code.html",
        None,
        401,
        csrf=cur.csrf,
        error="That code did not work. Codes change every 30 seconds; try the newest one.",
    )


def _end_session(request: Request) -> None:
    token = sessions.cookie(request, rt_of(request).config.web, sessions.SESSION)
    if token:
        key = sessions.token_hash(token)
        keyring_of(request).drop(key)
        with transaction(rt_of(request).engine) as s:
            row = s.exec(select(WebSession).where(WebSession.token_hash == key)).first()
            if row is not None:
                s.delete(row)


@router.post("/logout")
def logout(request: Request) -> Response:
    _end_session(request)
    response = RedirectResponse("/login", status_code=303)
    sessions.delete_cookie(response, rt_of(request).config.web, sessions.SESSION)
    return response


def _safe_back(back: str) -> str:
    # only our own paths: never an open redirect
    return back if back.startswith("/") and not back.startswith("//") else "/"


@router.get("/confirm")
def confirm_form(request: Request, cur: AnyUserDep, back: str = "/") -> Response:
    return render(request, "confirm.html", cur, back=_safe_back(back), error="")


@router.post("/confirm")
def confirm(
    request: Request,
    cur: AnyUserDep,
    passphrase: Annotated[str, Form()],
    back: Annotated[str, Form()] = "/",
) -> Response:
    with transaction(rt_of(request).engine) as s:
        user = s.get(User, cur.user.id)
        ok = user is not None and passphrase_ok(s, request, user, passphrase, "step-up")
        if ok:
            row = s.get(WebSession, cur.row.id)
            if row is not None:
                row.stepped_up_at = utcnow()
                s.add(row)
    if not ok:
        return render(request, "confirm.html", cur, 401, back=_safe_back(back), error=TRY_AGAIN)
    return RedirectResponse(_safe_back(back), status_code=303)
