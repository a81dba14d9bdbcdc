"""Fixtures for the web app: a real uvicorn on loopback, one Chromium for the session,
held messages put through the real intake, and helpers for logging in and screenshots."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from playwright.sync_api import Browser, Locator, Page
from sqlmodel import select

from nocontact.config import NotifyConfig
from nocontact.db import transaction
from nocontact.intake import InboundMessage, Intake, IntakeResult
from nocontact.matching.facts import facts_from_email
from nocontact.models import LoginThrottle
from nocontact.people.service import add_person
from nocontact.runtime import Runtime
from nocontact.web.app import create_app
from tests.conftest import PASSPHRASE, make_home
from tests.servers.ports import free_port

SHOTS = Path(__file__).resolve().parents[1] / "screenshots"
REVIEWER_PASSPHRASE = "a long reviewer passphrase"


@dataclass
class Site:
    rt: Runtime
    url: str
    intake: Intake
    app: FastAPI
    _n: int = 0

    def hold_email(
        self,
        sender: str,
        subject: str,
        body: str,
        *,
        content_type: str = "text/plain; charset=utf-8",
    ) -> IntakeResult:
        """Put one message through the real intake (never rows directly)."""
        self._n += 1
        raw = (
            f"From: {sender}\r\nTo: me@example.org\r\nSubject: {subject}\r\n"
            f"Message-ID: <web-{self._n}-{time.monotonic_ns()}@test.invalid>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n{body}\r\n"
        ).encode()
        msg = InboundMessage("email", raw, f"test:{self._n}", facts_from_email(raw, None))
        result = self.intake.process(msg)
        assert result.kept
        return result


def configure(rt: Runtime, **web: Any) -> None:
    rt.config = rt.config.model_copy(update={"web": rt.config.web.model_copy(update=web)})


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A home with Jordan on the list, served by uvicorn on a loopback port.

    One for the session: creating a home costs seconds of deliberate key stretching, so the
    web tests share it; each adds its own users and messages and looks only at those.
    """
    rt = make_home(tmp_path_factory.mktemp("web"))
    with transaction(rt.engine) as s:
        add_person(
            s,
            rt.household_id,
            "Jordan",
            "abuser",
            emails=["jordan@example.net"],
            aliases=["Jordan Reed"],
        )
    configure(rt, quick_exit_url="about:blank#left")
    intake = Intake(rt)
    app = create_app(rt, intake)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield Site(rt, f"http://127.0.0.1:{port}", intake, app.pages)
    server.should_exit = True
    thread.join(timeout=10)
    rt.engine.dispose()


@pytest.fixture(autouse=True)
def _restore_config(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests may ``configure`` the shared site; undo it afterwards."""
    if "site" not in request.fixturenames:
        yield
        return
    site: Site = request.getfixturevalue("site")
    saved = site.rt.config
    yield
    site.rt.config = saved
    # failed logins from 127.0.0.1 add up across tests; each test starts with none counted
    with transaction(site.rt.engine) as s:
        for row in s.exec(select(LoginThrottle)).all():
            s.delete(row)


class Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 OK"


@pytest.fixture
def smtp(site: Site) -> Iterator[Inbox]:
    """A real SMTP server on loopback that keeps the notices the site sends."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    site.rt.config = site.rt.config.model_copy(
        update={"notify": NotifyConfig(smtp_url=f"smtp://127.0.0.1:{port}")}
    )
    yield inbox
    controller.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def login(page: Page, site: Site, name: str = "owner", passphrase: str = PASSPHRASE) -> None:
    page.goto(site.url + "/login")
    page.fill("#name", name)
    page.fill("#passphrase", passphrase)
    page.click("button[type=submit]:has-text('Log in')")
    page.wait_for_load_state()


def press(target: Locator) -> None:
    """Click a control below the message frame. In headless Chromium, a click right after
    Playwright scrolls the page can be delivered to the sandboxed (opaque-origin, out of
    process) frame the page just scrolled past; scrolling the control in first avoids it."""
    target.evaluate("e => e.scrollIntoView({block: 'center'})")
    target.click()


def shoot(page: Page, name: str) -> None:
    """Save the page at phone and desktop widths (tests/screenshots is git-ignored)."""
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(SHOTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@contextmanager
def http_login(
    site: Site, name: str = "owner", passphrase: str = PASSPHRASE
) -> Iterator[httpx.Client]:
    """A plain HTTP client logged in through the real form."""
    with httpx.Client(base_url=site.url, follow_redirects=True, timeout=30) as client:
        form = client.get("/login")
        r = client.post(
            "/login", data={"csrf": csrf_of(form.text), "name": name, "passphrase": passphrase}
        )
        assert r.status_code == 200 and r.url.path != "/login", r.text
        yield client
