"""The FastAPI app factory. No import-time side effects: ``create_app(rt)`` builds everything."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

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


def create_app(rt: Runtime, intake: Intake | None = None) -> FastAPI:
    app = FastAPI(title="No Contact", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.rt = rt
    app.state.intake = intake or Intake(rt)
    app.state.keyring = Keyring()
    # Webhooks are answered in front of the pages (no sessions, CSRF or page routing); added
    # before ``add_pages`` so its SecurityHeaders, added last, is the outer layer for both.
    gateways = gateways_for(rt)  # a bad [sms.*] section fails here, not at the first request
    app.add_middleware(SmsWebhooks, rt=rt, intake=app.state.intake, gateways=gateways)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    add_pages(app)
    return app


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
