"""No bare 500: an unexpected exception in any page is the calm error page with a reference,
logged with that reference but without the exception's message, and the person stays logged
in. Unknown pages and wrong methods are calm pages too; programs asking for JSON get JSON."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
from starlette.responses import StreamingResponse
from starlette.types import Message

from nocontact.web import app as web_app
from nocontact.web.app import Front
from nocontact.web.deps import AnyUserDep
from tests.web.conftest import Site, http_login

# what a held message might say; it must reach neither the page nor the log
SECRET = "Ünless you answer I will come to the bridge at nine"
CALM = "Something went wrong on our side. Nothing you have is lost"
REFERENCE = re.compile(r'<strong class="reference">([0-9a-f]{8})</strong>')


def _fail() -> None:
    try:
        SECRET.encode("ascii")  # a UnicodeEncodeError carries the text it could not encode
    except UnicodeEncodeError as e:
        raise RuntimeError(f"could not file {SECRET!r}") from e


def broken_page(cur: AnyUserDep) -> None:
    _fail()


async def broken_async_page(cur: AnyUserDep) -> None:
    _fail()


def broken_stream(cur: AnyUserDep) -> StreamingResponse:
    def body() -> Iterator[bytes]:
        yield b"<p>the start of a page</p>"
        _fail()

    return StreamingResponse(body(), media_type="text/html")


@pytest.fixture
def broken(site: Site) -> Iterator[None]:
    """Routes that fail, added to the running app for one test."""
    before = list(site.app.router.routes)
    site.app.add_api_route("/test/broken", broken_page)
    site.app.add_api_route("/test/broken-async", broken_async_page)
    site.app.add_api_route("/test/broken-stream", broken_stream)
    yield
    site.app.router.routes[:] = before


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log line, uvicorn's included (its loggers do not propagate to the root)."""
    caplog.set_level(logging.DEBUG)
    uvicorn_loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error")]
    for lg in uvicorn_loggers:
        lg.addHandler(caplog.handler)
    yield caplog
    for lg in uvicorn_loggers:
        lg.removeHandler(caplog.handler)


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    assert all(r.exc_info is None for r in caplog.records), "a traceback with its message"
    return caplog.text


def _main(html: str) -> str:
    return html.split("<main>", 1)[1].split("</main>", 1)[0]


@pytest.mark.parametrize("path", ["/test/broken", "/test/broken-async"])
def test_an_unexpected_error_is_the_calm_page_and_the_session_stays(
    site: Site, broken: None, logs: pytest.LogCaptureFixture, path: str
) -> None:
    with http_login(site) as client:
        r = client.get(path)
        assert r.status_code == 500
        assert r.headers["content-type"].startswith("text/html")
        assert CALM in r.text
        assert "Internal Server Error" not in r.text and "Traceback" not in r.text
        assert "No Contact" not in _main(r.text)
        found = REFERENCE.search(r.text)
        assert found, r.text
        reference = found.group(1)
        # the same headers as every page, and nothing done to the cookies
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"
        assert "set-cookie" not in r.headers

        logged = _logged(logs)
        assert f"unexpected error (reference {reference}) in GET {path}" in logged
        for part in ("RuntimeError", "UnicodeEncodeError", "in _fail", "message not logged"):
            assert part in logged
        assert "Exception in ASGI application" not in logged
        assert SECRET not in r.text and SECRET not in logged
        assert "bridge" not in logged and "\\xdc" not in logged.lower()

        home = client.get("/")
        assert home.status_code == 200 and home.url.path == "/"
        assert "Log out" in home.text


def test_a_program_asking_for_json_gets_json(
    site: Site, broken: None, logs: pytest.LogCaptureFixture
) -> None:
    with http_login(site) as client:
        r = client.get("/test/broken", headers={"accept": "application/json"})
    assert r.status_code == 500
    body = r.json()
    assert body["error"] == "internal" and re.fullmatch(r"[0-9a-f]{8}", body["reference"])
    assert f"reference {body['reference']}" in _logged(logs)
    assert SECRET not in r.text and SECRET not in logs.text


def test_an_error_after_the_page_began_is_logged_without_its_text(
    site: Site, broken: None, logs: pytest.LogCaptureFixture
) -> None:
    """Too late for the error page (the status went out): the connection ends, and the log
    still has a reference and no message."""
    with http_login(site) as client:
        # cut short: what a browser shows as a page that failed to load
        with contextlib.suppress(httpx.TransportError):
            client.get("/test/broken-stream")
        assert client.get("/").status_code == 200
    logged = _logged(logs)
    assert "unexpected error (reference " in logged
    assert "Exception in ASGI application" not in logged
    assert SECRET not in logged


def test_when_the_error_page_itself_fails_a_plain_calm_page_answers(
    site: Site, broken: None, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_templates(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(SECRET)

    monkeypatch.setattr(web_app, "render", no_templates)
    with http_login(site) as client:
        r = client.get("/test/broken")
    assert r.status_code == 500 and CALM in r.text
    found = REFERENCE.search(r.text)
    assert found and f"reference {found.group(1)}" in _logged(logs)
    assert "in the error page" in logs.text
    assert SECRET not in r.text and SECRET not in logs.text


def test_a_fault_outside_the_pages_is_answered_by_the_front(
    logs: pytest.LogCaptureFixture,
) -> None:
    """Past ServerErrorMiddleware (a proxy-header layer, the ASGI front itself) nothing else
    would answer: uvicorn's plain "Internal Server Error" and a logged message."""

    async def failing(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError(SECRET)

    class NoWebhooks:
        def gateway(self, scope: Any) -> None:
            return None

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    front = Front(cast(Any, failing), cast(Any, NoWebhooks()))
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [],
        "server": ("127.0.0.1", 8080),
    }
    # its own thread: the session's Chromium (Playwright's sync API) runs a loop in this one
    runner = threading.Thread(target=asyncio.run, args=(front(scope, receive, send),))
    runner.start()
    runner.join(30)
    assert sent[0]["status"] == 500
    assert (b"x-frame-options", b"DENY") in sent[0]["headers"]
    page = sent[1]["body"].decode()
    assert CALM in page
    found = REFERENCE.search(page)
    assert found and f"reference {found.group(1)}" in _logged(logs)
    assert SECRET not in logs.text


def test_unknown_pages_and_wrong_methods_are_calm_pages(site: Site) -> None:
    with http_login(site) as client:
        missing = client.get("/no-such-page", headers={"accept": "text/html"})
        assert missing.status_code == 404
        assert "This page is not here." in missing.text and '"detail"' not in missing.text
        wrong = client.put("/")
        assert wrong.status_code == 405 and "cannot be used that way" in wrong.text
        assert wrong.headers["allow"] == "GET"
        # a path that does not parse is a page that is not here, not FastAPI's JSON
        unparsed = client.get("/orders/not-a-number")
        assert unparsed.status_code == 404 and "This page is not here." in unparsed.text
        assert "not-a-number" not in unparsed.text
    # a program still gets JSON
    api = httpx.get(site.url + "/no-such-page", headers={"accept": "application/json"})
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    health = httpx.post(site.url + "/healthz")
    assert health.status_code == 405 and health.json() == {"detail": "Method Not Allowed"}
    assert httpx.get(site.url + "/healthz").json() == {"status": "ok"}
