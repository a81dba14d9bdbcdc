"""Settings: account health, notices, the second factor, and trusted people (owner only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session, select
from starlette.responses import RedirectResponse, Response

from nocontact import users
from nocontact.db import transaction
from nocontact.errors import UsageError
from nocontact.models import User
from nocontact.vault import ledger
from nocontact.web import sessions, totp
from nocontact.web.deps import AnyUserDep, SteppedUpDep, keyring_of, render, rt_of
from nocontact.web.models import NotifyPrefs
from nocontact.web.pages.home import health
from nocontact.web.security import check_csrf
from nocontact.web.sessions import Current

router = APIRouter(dependencies=[Depends(check_csrf)])
Text = Annotated[str, Form()]


def _page(request: Request, cur: Current, status: int = 200, **extra: object) -> Response:
    rt = rt_of(request)
    with Session(rt.engine) as s:
        prefs = s.get(NotifyPrefs, cur.user.id) or NotifyPrefs(user_id=cur.user.id or 0)
        reviewers = s.exec(
            select(User).where(User.household_id == rt.household_id, User.role == "reviewer")
        ).all()
        lines = health(s, rt.household_id, [a.name for a in rt.config.imap])
    ctx: dict[str, object] = {
        "prefs": prefs,
        "reviewers": reviewers,
        "lines": lines,
        "mail_ready": rt.config.notify is not None,
        "error": "",
        **extra,
    }
    return render(request, "settings.html", cur, status, **ctx)


@router.get("/settings")
def settings(request: Request, cur: AnyUserDep) -> Response:
    return _page(request, cur)


@router.post("/settings/notify")
def save_notify(
    request: Request,
    cur: AnyUserDep,
    email: Text = "",
    digest: Text = "daily",
    urgent: Text = "",
) -> Response:
    if digest not in ("never", "hourly", "daily"):
        digest = "daily"
    with transaction(rt_of(request).engine) as s:
        prefs = s.get(NotifyPrefs, cur.user.id) or NotifyPrefs(user_id=cur.user.id or 0)
        prefs.email, prefs.digest, prefs.urgent = email.strip(), digest, bool(urgent)
        s.add(prefs)
    return _page(request, cur, saved=True)


@router.post("/settings/totp/start")
def totp_start(request: Request, cur: AnyUserDep) -> Response:
    secret = totp.new_secret()
    return render(
        request,
        "totp.html",
        cur,
        secret=secret,
        uri=totp.uri(secret, cur.user.name),
        error="",
        codes=None,
    )


@router.post("/settings/totp/confirm")
def totp_confirm(request: Request, cur: AnyUserDep, secret: Text, code: Text) -> Response:
    if not totp.verify(secret, code):
        return render(
            request,
            "totp.html",
            cur,
            400,
            secret=secret,
            uri=totp.uri(secret, cur.user.name),
            codes=None,
            error="That code did not match. Codes change every 30 seconds.",
        )
    with transaction(rt_of(request).engine) as s:
        user = s.get(User, cur.user.id)
        assert user is not None
        codes = totp.enable(s, user, secret)
    return render(request, "totp.html", cur, secret=None, uri=None, codes=codes, error="")


@router.post("/settings/totp/off")
def totp_off(request: Request, cur: AnyUserDep, passphrase: Text) -> Response:
    with transaction(rt_of(request).engine) as s:
        user = s.get(User, cur.user.id)
        ok = user is not None and users.check_login(s, user, passphrase)
        if ok and user is not None:
            totp.disable(s, user)
    if not ok:
        return _page(request, cur, 401, error="That passphrase did not match.")
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/reviewers/add")
def add_reviewer(request: Request, cur: SteppedUpDep, name: Text, passphrase: Text) -> Response:
    rt = rt_of(request)
    try:
        with transaction(rt.engine) as s:
            user = users.add_user(s, rt.household_id, name.strip(), "reviewer", passphrase)
            ledger.append(s, rt.household_id, "reviewer_added", user=cur.user.id, reviewer=user.id)
    except UsageError as e:
        return _page(request, cur, 400, error=str(e))
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/reviewers/{user_id}/revoke")
def revoke_reviewer(request: Request, cur: SteppedUpDep, user_id: int) -> Response:
    rt = rt_of(request)
    with transaction(rt.engine) as s:
        user = s.get(User, user_id)
        if user is not None and user.household_id == rt.household_id and user.role == "reviewer":
            users.revoke(s, user)
            sessions.end_all_for(s, user_id)
            ledger.append(
                s, rt.household_id, "reviewer_revoked", user=cur.user.id, reviewer=user_id
            )
        live = sessions.sweep(s, rt.config.web)
    keyring_of(request).keep_only(live)
    return RedirectResponse("/settings", status_code=303)
