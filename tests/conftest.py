"""Shared fixtures: an initialised home (SQLite or PostgreSQL), real Dovecot, ports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from nocontact.initialise import initialise
from nocontact.runtime import Runtime
from tests.servers import postgres
from tests.servers.dovecot import Dovecot, start_dovecot

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


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    """An initialised home on SQLite."""
    runtime = make_home(tmp_path)
    yield runtime
    runtime.engine.dispose()


@pytest.fixture(scope="session")
def pg_available() -> bool:
    return postgres.available()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_rt(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    """An initialised home on each engine: storage behaviour must hold on both."""
    if request.param == "sqlite":
        runtime = make_home(tmp_path)
        yield runtime
        runtime.engine.dispose()
        return
    if not postgres.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with postgres.temporary_database() as url:
        runtime = make_home(tmp_path, database_url=url)
        yield runtime
        runtime.engine.dispose()


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
