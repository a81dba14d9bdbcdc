"""The app factory. No import-time side effects: ``create_app(rt)`` builds everything.

``Front`` is what the server runs: the SMS webhooks are answered first, by plain ASGI, and
everything else goes to the FastAPI pages (see ``channels/sms/router.py`` for why).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from nocontact.channels.sms.router import SmsWebhooks, gateways_for
from nocontact.intake import Intake
from nocontact.runtime import Runtime
from nocontact.web import auth
from nocontact.web.deps import Forbidden, LoginRequired, StepUpRequired, render
from nocontact.web.keyring import Keyring
from nocontact.web.pages import (
    activity,
    export,
    gobetween,
    home,
    items,
    orders,
    people,
    review,
    review_item,
    settings,
    vault,
    vault_items,
)
from nocontact.web.security import SecurityHeaders

PAGES = (
    auth,
    home,
    people,
    vault,
    vault_items,
    items,
    activity,
    settings,
    review,
    review_item,
    export,
    gobetween,
    orders,
)


class Front:
    """The ASGI app: configured webhooks to ``SmsWebhooks``, the rest to the pages."""

    def __init__(self, pages: FastAPI, webhooks: SmsWebhooks) -> None:
        self.pages = pages
        self.webhooks = webhooks
        self._next: ASGIApp = pages

    def trust_proxies(self, hosts: list[str] | str) -> None:
        """Let the pages read ``X-Forwarded-For``/``-Proto`` from these hosts: uvicorn's
        ``proxy_headers``, applied to the pages only (a webhook's signature covers the public
        URL from the config, never the connection's)."""
        # uvicorn types ASGI apps more narrowly than Starlette; the protocol is the same
        proxied = ProxyHeadersMiddleware(cast(Any, self.pages), trusted_hosts=hosts)
        self._next = cast(ASGIApp, proxied)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            gw = self.webhooks.gateway(scope)
            if gw is not None:
                await self.webhooks.answer(gw, scope, receive, send)
                return
        await self._next(scope, receive, send)


def create_app(rt: Runtime, intake: Intake | None = None) -> Front:
    app = FastAPI(title="No Contact", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.rt = rt
    app.state.intake = intake or Intake(rt)
    app.state.keyring = Keyring()
    gateways = gateways_for(rt)  # a bad [sms.*] section fails here, not at the first request

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    add_pages(app)
    return Front(app, SmsWebhooks(rt, app.state.intake, gateways))


def add_pages(app: FastAPI) -> None:
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for module in PAGES:
        app.include_router(module.router)

    @app.exception_handler(LoginRequired)
    def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(StepUpRequired)
    def _step_up(request: Request, exc: StepUpRequired) -> Response:
        return RedirectResponse(f"/confirm?back={quote(exc.back)}", status_code=303)

    @app.exception_handler(Forbidden)
    def _forbidden(request: Request, exc: Forbidden) -> Response:
        return render(
            request,
            "message.html",
            None,
            403,
            title="Not for this account",
            text="This page belongs to another account.",
            back="/",
        )

    @app.exception_handler(HTTPException)
    def _http(request: Request, exc: HTTPException) -> Response:
        text = "This page is not here." if exc.status_code == 404 else str(exc.detail)
        return render(
            request, "message.html", None, exc.status_code, title="Sorry", text=text, back="/"
        )
