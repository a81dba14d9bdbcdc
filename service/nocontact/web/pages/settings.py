"""Settings: account health, notices, the second factor, and trusted people (owner only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session, col, select
from starlette.responses import RedirectResponse, Response

from nocontact import users
from nocontact.db import transaction
from nocontact.errors import UsageError
from nocontact.models import User
from nocontact.vault import ledger
from nocontact.web import notify, sessions, totp
from nocontact.web.auth import passphrase_ok
from nocontact.web.deps import AnyUserDep, SteppedUpDep, keyring_of, render, rt_of
from nocontact.web.models import NotifyPrefs, WebSession
from nocontact.web.pages.home import health
from nocontact.web.plain import when
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
        logins = _logins(s, cur, rt.config.household.timezone)
    ctx: dict[str, object] = {
        "prefs": prefs,
        "reviewers": reviewers,
        "lines": lines,
        "logins": logins,
        "mail_ready": rt.config.notify is not None,
        "error": "",
        **extra,
    }
    return render(request, "settings.html", cur, status, **ctx)


def _visible_sessions(s: Session, cur: Current) -> list[WebSession]:
    """The owner sees every login of her household (hers and her trusted people's); a
    trusted person sees their own."""
    q = select(WebSession).where(
        WebSession.household_id == cur.user.household_id, col(WebSession.mfa_pending).is_(False)
    )
    if cur.user.role != "owner":
        q = q.where(WebSession.user_id == cur.user.id)
    return list(s.exec(q.order_by(col(WebSession.last_seen).desc())).all())


def _logins(s: Session, cur: Current, zone: str) -> list[dict[str, object]]:
    names = {
        u.id: u.name
        for u in s.exec(select(User).where(User.household_id == cur.user.household_id)).all()
    }
    return [
        {
            "id": row.id,
            "who": "You" if row.user_id == cur.user.id else names.get(row.user_id, "Someone"),
            "device": row.device or "A browser",
            "seen": when(row.last_seen, zone),
            "this": row.id == cur.row.id,
        }
        for row in _visible_sessions(s, cur)
    ]


@router.post("/settings/sessions/{session_id}/end")
def end_session(request: Request, cur: AnyUserDep, session_id: int) -> Response:
    """End one login: it is asked to log in again on its next click, and anything it had
    unlocked is forgotten."""
    rt = rt_of(request)
    with transaction(rt.engine) as s:
        row = next((r for r in _visible_sessions(s, cur) if r.id == session_id), None)
        if row is not None:
            keyring_of(request).drop(row.token_hash)
            s.delete(row)
            ledger.append(
                s, rt.household_id, "session_ended", user=cur.user.id, account=row.user_id
            )
    if row is not None and row.id == cur.row.id:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/settings", status_code=303)


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


def _totp_page(
    request: Request, cur: Current, secret: str, status: int = 200, error: str = ""
) -> Response:
    issuer = rt_of(request).config.household.display_name
    return render(
        request,
        "totp.html",
        cur,
        status,
        secret=secret,
        uri=totp.uri(secret, cur.user.name, issuer),
        replacing=cur.user.totp_secret is not None,
        error=error,
        codes=None,
    )


def _second_factor_changed(s: Session, user: User, kind: str) -> None:
    ledger.append(s, user.household_id, kind, user=user.id, role=user.role)


@router.post("/settings/totp/start")
def totp_start(request: Request, cur: AnyUserDep) -> Response:
    return _totp_page(request, cur, totp.new_secret())


@router.post("/settings/totp/confirm")
def totp_confirm(
    request: Request, cur: AnyUserDep, secret: Text, code: Text, passphrase: Text = ""
) -> Response:
    """Switching the second factor on, or to a new phone, asks for the passphrase now: a
    session alone (someone at her unlocked phone) must not be able to lock her out."""
    rt = rt_of(request)
    with transaction(rt.engine) as s:
        user = s.get(User, cur.user.id)
        assert user is not None
        if not passphrase_ok(s, request, user, passphrase, "second factor"):
            error = "That passphrase did not match. Nothing was changed."
        elif not totp.verify(secret, code):
            error = "That code did not match. Codes change every 30 seconds."
        else:
            error = ""
            kind = "totp_replaced" if user.totp_secret else "totp_on"
            codes = totp.enable(s, user, secret)
            _second_factor_changed(s, user, kind)
    if error:
        return _totp_page(request, cur, secret, 400, error)
    notify.account_changed(rt, user.id)
    return render(request, "totp.html", cur, secret=None, uri=None, codes=codes, error="")


@router.post("/settings/totp/off")
def totp_off(request: Request, cur: AnyUserDep, passphrase: Text) -> Response:
    rt = rt_of(request)
    with transaction(rt.engine) as s:
        user = s.get(User, cur.user.id)
        assert user is not None
        ok = passphrase_ok(s, request, user, passphrase, "second factor")
        if ok and user.totp_secret:
            totp.disable(s, user)
            _second_factor_changed(s, user, "totp_off")
    if not ok:
        return _page(request, cur, 401, error="That passphrase did not match. Nothing was changed.")
    notify.account_changed(rt, user.id)
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
