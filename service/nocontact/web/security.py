"""Response headers on every route, and the CSRF check for every state-changing form.

The page CSP allows only our own files: no inline script or style, no remote anything, no
framing by others (OWASP ASVS 4.0.3 V14.4). Held-message bodies get a stricter policy of their
own (``default-src 'none'``) in ``pages/vault.py``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import Response

from nocontact.web.models import WebSession
from nocontact.web.sessions import COOKIE, LOGIN_COOKIE, token_hash

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
BODY_CSP = "default-src 'none'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"

_FIXED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


class SecurityHeaders(BaseHTTPMiddleware):
    """Sets the headers unless a route chose a stricter CSP itself (the message body frame)."""

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in _FIXED.items():
            response.headers[name] = value
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        if "X-Frame-Options" not in response.headers:
            response.headers["X-Frame-Options"] = "DENY"
        return response


def _session_csrf(request: Request, token: str) -> list[str]:
    with Session(request.app.state.rt.engine) as s:
        rows = s.exec(select(WebSession).where(WebSession.token_hash == token_hash(token)))
        return [r.csrf for r in rows]


async def check_csrf(request: Request) -> None:
    """Router dependency: every POST must carry the session's token (or the login token)."""
    if request.method != "POST":
        return
    form = await request.form()
    sent = str(form.get("csrf", ""))
    expected = [request.cookies.get(LOGIN_COOKIE, "")]
    token = request.cookies.get(COOKIE)
    if token:
        expected += await run_in_threadpool(_session_csrf, request, token)
    if not sent or not any(e and hmac.compare_digest(sent, e) for e in expected):
        raise HTTPException(
            status_code=403, detail="This form has expired. Please go back and try again."
        )
