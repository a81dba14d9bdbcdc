"""Shared fixtures: an initialised home (SQLite or PostgreSQL), real Dovecot, ports."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from nocontact.initialise import initialise
from nocontact.runtime import Runtime
from tests.hypothesis_profiles import register as register_hypothesis_profiles
from tests.servers import postgres
from tests.servers.dovecot import Dovecot, start_dovecot

register_hypothesis_profiles()  # --hypothesis-profile=ci in `make test`: a fixed budget

PASSPHRASE = "correct horse battery staple"


def make_home(root: Path, *, database_url: str | None = None, extra_config: str = "") -> Runtime:
    """Create a home with the owner account; returns the opened Runtime."""
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "nocontact.toml"
    text = '[household]\ndefault_region = "GB"\n\n[web]\nlisten = "127.0.0.1:8080"\n'
    if database_url:
        text += f'\n[database]\nurl = "{database_url}"\n'
    cfg.write_text(text + extra_config)
    result = initialise(home, cfg, "owner", PASSPHRASE)
    rt = Runtime.open(home, cfg)
    rt.recovery_code = result.recovery_code  # type: ignore[attr-defined]
    return rt


@pytest.fixture(scope="session")
def _template_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str | None]:
    # scrypt and argon2 make a new home cost seconds; tests copy one made once per session
    runtime = make_home(tmp_path_factory.mktemp("template"))
    runtime.engine.dispose()
    return runtime.home, runtime.recovery_code  # type: ignore[attr-defined]


def _copied_home(tmp_path: Path, template: tuple[Path, str | None]) -> Runtime:
    home = tmp_path / "home"
    shutil.copytree(template[0], home)
    runtime = Runtime.open(home, home / "nocontact.toml")
    runtime.recovery_code = template[1]  # type: ignore[attr-defined]
    return runtime


@pytest.fixture
def rt(tmp_path: Path, _template_home: tuple[Path, str | None]) -> Iterator[Runtime]:
    """An initialised home on SQLite (owner passphrase PASSPHRASE; ``rt.recovery_code``)."""
    runtime = _copied_home(tmp_path, _template_home)
    yield runtime
    runtime.engine.dispose()


@pytest.fixture(scope="session")
def pg_available() -> bool:
    return postgres.available()


@pytest.fixture(scope="session")
def _template_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str] | None]:
    """An initialised home on PostgreSQL, once; tests get copies (CREATE DATABASE … TEMPLATE)."""
    if not postgres.available():
        yield None
        return
    with postgres.temporary_database() as url:
        runtime = make_home(tmp_path_factory.mktemp("template-pg"), database_url=url)
        runtime.engine.dispose()
        yield runtime.home, url.rsplit("/", 1)[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def any_rt(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    _template_home: tuple[Path, str | None],
    _template_pg: tuple[Path, str] | None,
) -> Iterator[Runtime]:
    """An initialised home on each engine: storage behaviour must hold on both."""
    if request.param == "sqlite":
        runtime = _copied_home(tmp_path, _template_home)
        yield runtime
        runtime.engine.dispose()
        return
    if _template_pg is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    template_home, template_db = _template_pg
    with postgres.temporary_database(template_db) as url:
        home = tmp_path / "home"
        shutil.copytree(template_home, home)
        cfg = home / "nocontact.toml"
        text = cfg.read_text()
        cfg.write_text(text[: text.index("[database]")] + f'[database]\nurl = "{url}"\n')
        runtime = Runtime.open(home, cfg)
        yield runtime
        runtime.engine.dispose()


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the whole run: Playwright's sync API allows one instance at a time."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    """One real Dovecot for the session; use ``dovecot_clean`` for empty mailboxes."""
    root = Path("/tmp") / f"nocontact-dovecot-{os.getpid()}"
    server = start_dovecot(root)
    yield server
    server.stop()


@pytest.fixture
def dovecot_clean(dovecot: Dovecot) -> Dovecot:
    dovecot.reset_mail()
    return dovecot


def stored_originals(rt: Runtime) -> list[str]:
    """Addresses of every sealed original kept, in blob files or in the database."""
    from sqlmodel import Session, select

    from nocontact.models import SealedBlob

    files = [p.name for p in rt.blobs.root.rglob("*") if p.is_file()]
    with Session(rt.engine) as s:
        rows = list(s.exec(select(SealedBlob.address)).all())
    return sorted(files + rows)
