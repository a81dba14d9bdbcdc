"""Response headers on every route, and the CSRF check for every state-changing form.

The page CSP allows only our own files: no inline script or style, no remote anything, no
framing by others (OWASP ASVS 4.0.3 V14.4). Held-message bodies get a stricter policy of their
own (``default-src 'none'``) in ``pages/vault.py``.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nocontact.web import sessions

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


# Encoded once: the middleware runs on every page response (webhook answers are built once
# from ``secure_headers`` in channels/sms/router.py).
_FIXED_RAW = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in _FIXED.items()]
_FIXED_NAMES = frozenset(k for k, _ in _FIXED_RAW)
_CSP = (b"content-security-policy", PAGE_CSP.encode("latin-1"))
_XFO = (b"x-frame-options", b"DENY")


def secure_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The response's raw headers with ours set: the fixed ones replace any the route set; the
    CSP and frame policy are added only if the route did not choose its own (the body frame)."""
    out = [(k, v) for k, v in headers if k.lower() not in _FIXED_NAMES]
    names = {k.lower() for k, _ in out}
    out += _FIXED_RAW
    if _CSP[0] not in names:
        out.append(_CSP)
    if _XFO[0] not in names:
        out.append(_XFO)
    return out


class SecurityHeaders:
    """Pure ASGI (Starlette's ``BaseHTTPMiddleware`` runs every request through a task group
    and memory streams). Rewrites only the start message."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": secure_headers(message.get("headers", ()))}
            await send(message)

        await self.app(scope, receive, send_secured)


LOGIN_FORM = "/login"


async def check_csrf(request: Request) -> None:
    """Router dependency: every POST must carry the token of the cookie it came with: the
    session's, or on the login form only, the login cookie's."""
    if request.method != "POST":
        return
    form = await request.form()
    sent = str(form.get("csrf", ""))
    web = request.app.state.rt.config.web
    if request.url.path == LOGIN_FORM:
        ok = sessions.token_matches(sent, sessions.cookie(request, web, sessions.LOGIN), "login")
    else:
        ok = sessions.token_matches(
            sent, sessions.cookie(request, web, sessions.SESSION), "session"
        )
    if not ok:
        raise HTTPException(
            status_code=403, detail="This form has expired. Please go back and try again."
        )
