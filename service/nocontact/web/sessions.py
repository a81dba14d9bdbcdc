"""Server-side sessions: a random cookie, its hash in a row, idle and absolute timeouts.

Cookie: HttpOnly, SameSite=Strict, and when the public URL is https also Secure with the
``__Host-`` prefix, so neither a sibling subdomain nor the network can plant one (ASVS 3.4).
The row stores only SHA-256 of the cookie, so a copy of the database does not hand out
sessions.

Form tokens (CSRF) are an HMAC keyed by the cookie's own value: bound to this session, never
stored, and unknowable without the cookie, which no page and no database row shows. The login
form, before there is a session, has its own cookie and a token that only the login form
accepts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request, Response
from sqlmodel import Session, col, delete, select

from nocontact.config import WebConfig
from nocontact.models import User, utcnow
from nocontact.web.models import WebSession

SESSION = "nc_session"
LOGIN = "nc_login"
_HOST_PREFIX = "__Host-"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def form_token(cookie_value: str, purpose: str) -> str:
    """The CSRF token for forms posted with this cookie; ``purpose`` keeps the login form's
    token from ever passing for a session's."""
    mac = hmac.new(cookie_value.encode(), b"nocontact-form:" + purpose.encode(), hashlib.sha256)
    return mac.hexdigest()


def token_matches(sent: str, cookie_value: str | None, purpose: str) -> bool:
    if not sent or not cookie_value:
        return False
    return hmac.compare_digest(sent, form_token(cookie_value, purpose))


def aware(ts: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return ts if ts.tzinfo else ts.replace(tzinfo=utcnow().tzinfo)


@dataclass
class Current:
    row: WebSession
    user: User
    key: str  # token hash: the keyring's key for this session
    csrf: str  # this session's form token


def secure_cookies(web: WebConfig) -> bool:
    return web.base_url().startswith("https://")


def cookie_name(web: WebConfig, name: str) -> str:
    """``__Host-`` over https: the browser then accepts the cookie only from this exact host,
    with Secure and Path=/ and no Domain, so nobody else can set it."""
    return _HOST_PREFIX + name if secure_cookies(web) else name


def cookie(request: Request, web: WebConfig, name: str) -> str | None:
    return request.cookies.get(cookie_name(web, name))


def set_cookie(response: Response, web: WebConfig, name: str, value: str) -> None:
    response.set_cookie(
        cookie_name(web, name),
        value,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(web),
        path="/",
    )


def delete_cookie(response: Response, web: WebConfig, name: str) -> None:
    response.delete_cookie(
        cookie_name(web, name),
        path="/",
        secure=secure_cookies(web),
        httponly=True,
        samesite="strict",
    )


def create(
    s: Session, user: User, *, mfa_pending: bool, device: str = ""
) -> tuple[str, WebSession]:
    assert user.id is not None
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=token_hash(token),
        household_id=user.household_id,
        user_id=user.id,
        device=device,
        mfa_pending=mfa_pending,
    )
    s.add(row)
    s.flush()
    return token, row


def expired(row: WebSession, web: WebConfig, now: datetime) -> bool:
    idle = timedelta(minutes=web.session_idle_minutes)
    absolute = timedelta(hours=web.session_absolute_hours)
    return now - aware(row.last_seen) > idle or now - aware(row.created_at) > absolute


def load(s: Session, request: Request, web: WebConfig) -> Current | None:
    """The live session of this request, touched; None if absent, expired or revoked."""
    token = cookie(request, web, SESSION)
    if not token:
        return None
    key = token_hash(token)
    row = s.exec(select(WebSession).where(WebSession.token_hash == key)).first()
    if row is None:
        return None
    now = utcnow()
    user = s.get(User, row.user_id)
    if user is None or not user.active or expired(row, web, now):
        s.delete(row)
        return None
    row.last_seen = now
    s.add(row)
    return Current(row, user, key, form_token(token, "session"))


def sweep(s: Session, web: WebConfig) -> set[str]:
    """Delete expired rows; returns the token hashes still alive (for the keyring)."""
    now = utcnow()
    live: set[str] = set()
    for row in s.exec(select(WebSession)).all():
        user = s.get(User, row.user_id)
        if user is None or not user.active or expired(row, web, now):
            s.delete(row)
        else:
            live.add(row.token_hash)
    return live


def end_all_for(s: Session, user_id: int) -> None:
    s.exec(delete(WebSession).where(col(WebSession.user_id) == user_id))
