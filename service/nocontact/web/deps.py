"""Request dependencies: who is asking, in which role, and what they have unlocked.

``Annotated`` aliases (``OwnerDep``, ``ReviewerDep``, ``AnyUserDep``) keep route signatures
short. A missing, expired or revoked session sends the person to the login page; because the
session is looked up on every request, revoking someone takes effect on their next click.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Engine
from starlette.responses import Response

from nocontact.db import transaction
from nocontact.models import utcnow
from nocontact.runtime import Runtime
from nocontact.web import sessions
from nocontact.web.keyring import Keyring
from nocontact.web.sessions import Current, aware

STEP_UP_FOR = timedelta(minutes=10)
SWEEP_SECONDS = 60.0
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


class LoginRequired(Exception):
    """Handled by the app: a calm redirect to the login page."""


class StepUpRequired(Exception):
    """Handled by the app: ask the passphrase again, then come back."""

    def __init__(self, back: str) -> None:
        self.back = back


class Forbidden(Exception):
    """This role may not do that (a reviewer on an owner page)."""


def rt_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


def client_of(request: Request) -> str:
    """The address the request came from (behind a proxy, what uvicorn's trusted
    ``--forwarded-allow-ips`` says it is): the unit failed logins are counted in."""
    return request.client.host if request.client else "unknown"


def engine_of(request: Request) -> Engine:
    return rt_of(request).engine


def keyring_of(request: Request) -> Keyring:
    kr: Keyring = request.app.state.keyring
    return kr


def _sweep(request: Request) -> None:
    """Now and then, forget identities whose sessions ended (timeout, revocation, restart)."""
    now = time.monotonic()
    if now - getattr(request.app.state, "last_sweep", 0.0) < SWEEP_SECONDS:
        return
    request.app.state.last_sweep = now
    rt = rt_of(request)
    with transaction(rt.engine) as s:
        live = sessions.sweep(s, rt.config.web)
    keyring_of(request).keep_only(live)


def current(request: Request) -> Current:
    rt = rt_of(request)
    _sweep(request)
    with transaction(rt.engine) as s:
        cur = sessions.load(s, request, rt.config.web)
    if cur is None:
        token = sessions.cookie(request, rt.config.web, sessions.SESSION)
        if token:
            keyring_of(request).drop(sessions.token_hash(token))
        raise LoginRequired()
    if cur.row.mfa_pending:
        raise LoginRequired()
    request.state.user = cur.user
    return cur


def owner(cur: Annotated[Current, Depends(current)]) -> Current:
    if cur.user.role != "owner":
        raise Forbidden()
    return cur


def reviewer(cur: Annotated[Current, Depends(current)]) -> Current:
    if cur.user.role != "reviewer":
        raise Forbidden()
    return cur


def stepped_up(request: Request, cur: Annotated[Current, Depends(owner)]) -> Current:
    """Owner who gave the passphrase again in the last few minutes (list and reviewer changes)."""
    at = cur.row.stepped_up_at
    if at is None or utcnow() - aware(at) > STEP_UP_FOR:
        # Referer is never sent (no-referrer), so a POST comes back to the home page.
        raise StepUpRequired(request.url.path if request.method == "GET" else "/")
    return cur


AnyUserDep = Annotated[Current, Depends(current)]
OwnerDep = Annotated[Current, Depends(owner)]
ReviewerDep = Annotated[Current, Depends(reviewer)]
SteppedUpDep = Annotated[Current, Depends(stepped_up)]


def render(
    request: Request, name: str, cur: Current | None, status_code: int = 200, **ctx: object
) -> Response:
    config = rt_of(request).config
    context = {
        "user": cur.user if cur else None,
        "csrf": cur.csrf if cur else "",
        "exit_url": config.web.quick_exit_url,
        "display_name": config.household.display_name,
        **ctx,
    }
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
