"""The app factory. No import-time side effects: ``create_app(rt)`` builds everything.

``Front`` is what the server runs: the SMS webhooks are answered first, by plain ASGI, and
everything else goes to the FastAPI pages (see ``channels/sms/router.py`` for why).

No error reaches a person as a bare 500, a traceback or ``{"detail": …}``. An unexpected
exception anywhere in the pages becomes the calm error page (``error.html``, status 500) with a
short reference that is also in the log line, so the person who runs the service can find it.
Starlette hands an ``Exception`` handler to its outermost layer, ``ServerErrorMiddleware``, which
answers with it and then raises the exception again for the server to log; uvicorn would log
its message, and a message can quote what a held message said (a ``UnicodeEncodeError`` quotes
the text, a database error the row). So ``Front`` swallows what was already answered and
logged, and answers itself for anything that slipped past (a fault in the error page, or
outside the FastAPI stack). The log gets the exception's type and its traceback's frames,
never its message. Nothing is done to the session: the person is still logged in.
"""

from __future__ import annotations

import logging
import secrets
import traceback
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
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
from nocontact.web.security import SecurityHeaders, secure_headers

log = logging.getLogger(__name__)

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
        if scope["type"] != "http":
            await self._next(scope, receive, send)
            return
        gw = self.webhooks.gateway(scope)
        if gw is not None:  # answers every fault itself (a 500 or 503, never a page)
            await self.webhooks.answer(gw, scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._next(scope, receive, tracked)
        except Exception as exc:  # noqa: BLE001  (logged without its message, answered calmly)
            if ERROR_REFERENCE in scope:
                return  # the error page went out and the fault is logged with its reference
            reference = new_reference()
            log_fault(reference, exc, _route(scope))
            if not started:
                await plain_error(scope, reference)(scope, receive, send)


def create_app(rt: Runtime, intake: Intake | None = None) -> Front:
    app = FastAPI(
        title=rt.config.household.display_name, docs_url=None, redoc_url=None, openapi_url=None
    )
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
        if wants_json(request):
            return JSONResponse({"detail": exc.detail}, exc.status_code, exc.headers)
        text = CALM.get(exc.status_code, str(exc.detail))
        page = render(
            request, "message.html", None, exc.status_code, title="Sorry", text=text, back="/"
        )
        page.headers.update(exc.headers or {})  # a 405's Allow
        return page

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's own answer is JSON that repeats what was sent (``input``): a page instead,
        # and a path that does not parse (``/orders/abc``) is a page that is not here
        in_path = any(err.get("loc", ())[:1] == ("path",) for err in exc.errors())
        status = 404 if in_path else 422
        if wants_json(request):
            return JSONResponse({"detail": "not found" if in_path else "invalid"}, status)
        text = CALM[404] if in_path else CALM[422]
        return render(request, "message.html", None, status, title="Sorry", text=text, back="/")

    # applied by ServerErrorMiddleware, outside every other layer (see the module docstring)
    app.add_exception_handler(Exception, server_error)


# what the person reads for the errors Starlette and FastAPI raise themselves
CALM = {
    404: "This page is not here.",
    405: "This page cannot be used that way. Going back and trying again usually helps.",
    422: "Something in what was sent was missing or not as expected. "
    "Going back and trying again usually helps.",
}
JSON_PATHS = frozenset({"/healthz"})  # the one route a program reads
ERROR_REFERENCE = "nocontact.error_reference"  # in the ASGI scope once the error page is sent
ERROR_TITLE = "Something went wrong"
ERROR_TEXT = (
    "Something went wrong on our side. Nothing you have is lost: "
    "everything that was being kept is still kept safely."
)
# when even the template fails: the same words, no template, no database, no settings
FALLBACK_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="/static/app.css"></head>
<body><main><h1>{title}</h1><p>{text}</p>
<p>If it happens again, the person who helps you run this can look into it with this
reference: <strong class="reference">{reference}</strong></p>
<p><a class="button" href="/">Back to the start</a></p></main></body></html>
"""


def wants_json(request: Request) -> bool:
    """Whether the client is a program that reads JSON (the health check, or one that asks for
    JSON and not HTML): it gets JSON errors; browsers get pages."""
    if request.url.path in JSON_PATHS:
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def new_reference() -> str:
    return secrets.token_hex(4)


def log_fault(reference: str, exc: BaseException, where: str) -> None:
    log.error(
        "unexpected error (reference %s) in %s: %s\n%s",
        reference,
        where,
        type(exc).__name__,
        "".join(_frames(exc)),
    )


def _frames(exc: BaseException, depth: int = 0) -> list[str]:
    """The traceback as Python prints it, less every exception's message: for each exception
    in the chain (causes first, as Python does) its frames, then only its type's name."""
    if depth > 8:
        return []
    out: list[str] = []
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if cause is not None:
        out += _frames(cause, depth + 1)
        out.append("\nwhich led to:\n")
    out.append("Traceback (most recent call last):\n")
    out += traceback.format_list(traceback.extract_tb(exc.__traceback__))
    out.append(f"{type(exc).__module__}.{type(exc).__qualname__} (message not logged)\n")
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            out.append("\nin the group:\n")
            out += _frames(inner, depth + 1)
    return out


def _route(scope: Scope) -> str:
    """The route as declared (``/people/{name}/edit``): the path itself can hold a name."""
    route = scope.get("route")
    return f"{scope.get('method')} {getattr(route, 'path', '(no route)')}"


async def server_error(request: Request, exc: Exception) -> Response:
    reference = new_reference()
    request.scope[ERROR_REFERENCE] = reference
    log_fault(reference, exc, _route(request.scope))
    if wants_json(request):
        return _secured(JSONResponse({"error": "internal", "reference": reference}, 500))
    try:
        page = render(
            request,
            "error.html",
            None,
            500,
            title=ERROR_TITLE,
            text=ERROR_TEXT,
            reference=reference,
        )
    except Exception as e:  # noqa: BLE001  (the page must not fail; logged like the first)
        log_fault(reference, e, "the error page")
        return plain_error(request.scope, reference)
    return _secured(page)


def plain_error(scope: Scope, reference: str) -> Response:
    if Request(scope).url.path in JSON_PATHS:
        return _secured(JSONResponse({"error": "internal", "reference": reference}, 500))
    text = FALLBACK_PAGE.format(title=ERROR_TITLE, text=ERROR_TEXT, reference=reference)
    return _secured(HTMLResponse(text, 500))


def _secured(response: Response) -> Response:
    # ServerErrorMiddleware answers outside SecurityHeaders: the same headers, set here
    response.raw_headers = secure_headers(response.raw_headers)
    return response
