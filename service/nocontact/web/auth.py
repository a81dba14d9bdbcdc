"""Logging in and out, the TOTP second step, and asking the passphrase again (step-up).

Throttling and lockout come from ``users.check_login`` (5 failures lock the account for 15
minutes, ASVS 2.2.1); an unknown name costs the same argon2 work as a known one so the answer
time does not reveal who has an account. Login forms carry a double-submit token (cookie +
field) because there is no session yet to hold one.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import secrets
from typing import Annotated

from argon2.exceptions import VerificationError
from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session, select
from starlette.responses import RedirectResponse, Response

from nocontact import users
from nocontact.db import transaction
from nocontact.models import User, utcnow
from nocontact.web import sessions, totp
from nocontact.web.deps import AnyUserDep, keyring_of, render, rt_of
from nocontact.web.models import WebSession
from nocontact.web.security import check_csrf

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(check_csrf)])
TRY_AGAIN = (
    "That did not work. Check the name and passphrase and try again. "
    "After several tries the account rests for 15 minutes."
)


@functools.cache
def _dummy_hash() -> str:
    return users._hasher.hash(secrets.token_urlsafe(16))


def _check(s: Session, household_id: int, name: str, passphrase: str) -> User | None:
    user = users.find_user(s, household_id, name.strip())
    if user is None:
        with contextlib.suppress(VerificationError):
            users._hasher.verify(_dummy_hash(), passphrase)
        log.info("login refused: unknown name")
        return None
    if not users.check_login(s, user, passphrase):
        log.info("login refused for user %s (failures %s)", user.id, user.failed_logins)
        return None
    return user


def _login_page(request: Request, error: str = "", status: int = 200) -> Response:
    token = request.cookies.get(sessions.LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = render(request, "login.html", None, status, error=error, login_csrf=token)
    sessions.set_cookie(response, rt_of(request).config.web, sessions.LOGIN_COOKIE, token)
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
        user = _check(s, rt.household_id, name, passphrase)
        token = None
        if user is not None:
            token, _ = sessions.create(s, user, mfa_pending=user.totp_secret is not None)
    if user is None or token is None:
        return _login_page(request, TRY_AGAIN, 401)
    response = RedirectResponse("/login/code" if user.totp_secret else "/", status_code=303)
    sessions.set_cookie(response, rt.config.web, sessions.COOKIE, token)
    response.delete_cookie(sessions.LOGIN_COOKIE, path="/")
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
    return render(request, "login_code.html", None, csrf=cur.row.csrf, error="")


@router.post("/login/code")
def code(request: Request, code: Annotated[str, Form()]) -> Response:
    with transaction(rt_of(request).engine) as s:
        cur = _pending(request, s)
        if cur is None:
            return RedirectResponse("/login", status_code=303)
        ok = totp.check(s, cur.user, code)
        if ok:
            cur.row.mfa_pending = False
            s.add(cur.row)
        elif cur.user.locked_until is not None and cur.user.locked_until > utcnow():
            s.delete(cur.row)
    if ok:
        return RedirectResponse("/", status_code=303)
    return render(
        request,
        "login_code.html",
        None,
        401,
        csrf=cur.row.csrf,
        error="That code did not work. Codes change every 30 seconds; try the newest one.",
    )


def _end_session(request: Request) -> None:
    token = request.cookies.get(sessions.COOKIE)
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
    response.delete_cookie(sessions.COOKIE, path="/")
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
        ok = user is not None and users.check_login(s, user, passphrase)
        if ok:
            row = s.get(WebSession, cur.row.id)
            if row is not None:
                row.stepped_up_at = utcnow()
                s.add(row)
    if not ok:
        return render(request, "confirm.html", cur, 401, back=_safe_back(back), error=TRY_AGAIN)
    return RedirectResponse(_safe_back(back), status_code=303)
