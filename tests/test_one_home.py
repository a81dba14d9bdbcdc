"""One home, one database, one running service (issue 19, point 6).

Two `nocontact run` on one home would each watch the same mailboxes and move the same message
twice; a second home pointed at a PostgreSQL database that already holds a household would join
it, run beside the first and sign its ledger with a second key. Each attack is made here for
real: real `nocontact` processes, a real PostgreSQL database.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from nocontact.config import parse_config
from nocontact.errors import ConfigError
from nocontact.runtime import Runtime
from nocontact.vault.signing import Signer
from tests.conftest import PASSPHRASE
from tests.servers import postgres
from tests.servers.ports import free_port, wait_port

START_TIMEOUT = 30.0  # a `nocontact run` is up well within this
REFUSE_TIMEOUT = 30.0  # a refused second start ends well within this


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOCONTACT_")}
    return {**env, **extra}


def _start(
    home: Path, config: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    args = ["--home", str(home)] + (["--config", str(config)] if config else []) + ["run"]
    return subprocess.Popen(
        [sys.executable, "-m", "nocontact", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env or _env(),
    )


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM, bounded; the exit code and stderr."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"nocontact run did not stop on SIGTERM: {err[-2000:]}")
    return proc.returncode, err


def _refused(proc: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=REFUSE_TIMEOUT)
    except subprocess.TimeoutExpired:
        _stop(proc)
        pytest.fail("a second nocontact run started beside the first")
    return proc.returncode, err


def _one_line(err: str) -> str:
    """A refusal is one line of its own (``nocontact: …``), not a traceback."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("nocontact: ")]
    assert len(lines) == 1, err
    return lines[0]


def _healthy(port: int) -> bool:
    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _config(home: Path, port: int, database: str = "", name: str = "nocontact.toml") -> Path:
    """A config of its own for ``home``: the web app on ``port``, then ``database`` lines."""
    path = home / name
    path.write_text(f'[household]\ndefault_region = "GB"\n\n[web]\nlisten = "127.0.0.1:{port}"\n')
    if database:
        path.write_text(path.read_text() + f"\n[database]\n{database}\n")
    return path


# --- one home, one running service ----------------------------------------------------------


def test_a_second_run_on_the_same_home_exits_1_naming_the_pid_that_holds_it(rt: Runtime) -> None:
    port, other_port = free_port(), free_port()
    _config(rt.home, port)
    # the second start even has a port of its own: only the home lock can stop it
    other = _config(rt.home, other_port, name="other.toml")
    first = _start(rt.home)
    try:
        wait_port(port, timeout=START_TIMEOUT)
        second = _start(rt.home, other)
        code, err = _refused(second)
        assert code == 1, err
        line = _one_line(err)
        assert f"process {first.pid}" in line
        assert str(rt.home.resolve()) in line
        assert not _listening(other_port)
        assert first.poll() is None and _healthy(port)  # the first runs on, undisturbed
        assert (rt.home / "run.lock").read_text().strip() == str(first.pid)
    finally:
        code, err = _stop(first)
    assert code == 0, err


def test_a_lock_left_by_a_killed_run_does_not_block_the_next(rt: Runtime) -> None:
    port = free_port()
    _config(rt.home, port)
    killed = _start(rt.home)
    try:
        wait_port(port, timeout=START_TIMEOUT)
    finally:
        killed.kill()  # SIGKILL: nothing of ours runs, the lock file stays with its pid
        killed.communicate(timeout=10)
    assert (rt.home / "run.lock").read_text().strip() == str(killed.pid)
    after = _start(rt.home)
    try:
        wait_port(port, timeout=START_TIMEOUT)
        assert _healthy(port)
        assert (rt.home / "run.lock").read_text().strip() == str(after.pid)
    finally:
        code, err = _stop(after)
    assert code == 0, err


# --- one household, one home ----------------------------------------------------------------


@pytest.fixture
def pg_home(tmp_path: Path, _template_pg: tuple[Path, str] | None) -> Iterator[tuple[Path, str]]:
    """A copy of the session's PostgreSQL home and its own copy of the database: (home, url)."""
    if _template_pg is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with postgres.temporary_database(_template_pg[1]) as url:
        home = tmp_path / "a"
        shutil.copytree(_template_pg[0], home)
        _config(home, free_port(), f'url = "{url}"')  # this copy of the database, not the template
        yield home, url


def _snapshot(url: str) -> dict[str, object]:
    """What a second home could add to the database: rows of every table that init writes."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        out: dict[str, object] = {}
        for table in ("household", "ledgerentry", "checkpoint", '"user"', "recipient"):
            out[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        out["head"] = conn.execute("SELECT ledger_seq, ledger_head FROM household").fetchall()
        out["tables"] = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    return out


def _init(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nocontact", "--home", str(home), "init"],
        capture_output=True,
        text=True,
        env=_env(NOCONTACT_PASSPHRASE=PASSPHRASE),
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


@pytest.mark.parametrize("second_home", ["new", "with_a_key_of_its_own"])
def test_init_refuses_a_database_that_holds_another_homes_household(
    pg_home: tuple[Path, str], tmp_path: Path, second_home: str
) -> None:
    home_a, url = pg_home
    home_b = tmp_path / "b"
    home_b.mkdir()
    _config(home_b, free_port(), f'url = "{url}"')
    if second_home == "with_a_key_of_its_own":
        Signer.load_or_create(home_b / "keys" / "signing.pem")
    before = _snapshot(url)
    refused = _init(home_b)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    line = _one_line(refused.stderr)
    assert "already holds the household" in line and "Nothing was written" in line
    assert str(home_b / "nocontact.toml") in line
    assert _snapshot(url) == before  # not a row, not a checkpoint signed by the second key
    if second_home == "new":
        assert not (home_b / "keys").exists()  # no key made for a household it may not join
    # the home that set the database up may finish itself as before
    again = _init(home_a)
    assert again.returncode == 0, again.stderr
    assert "already set up" in again.stdout


def test_two_homes_on_one_postgresql_database_cannot_both_run(
    pg_home: tuple[Path, str], tmp_path: Path
) -> None:
    """Home B is a copy of home A (the same key: a restored backup on another machine), so
    init would not stop it and its lock file is another file: only the database can."""
    home_a, url = pg_home
    home_b = tmp_path / "b"
    shutil.copytree(home_a, home_b)
    port_a, port_b = free_port(), free_port()
    _config(home_a, port_a, f'url = "{url}"')
    _config(home_b, port_b, f'url = "{url}"')
    first = _start(home_a)
    try:
        wait_port(port_a, timeout=START_TIMEOUT)
        code, err = _refused(_start(home_b))
        assert code == 1, err
        line = _one_line(err)
        assert "already run by" in line
        assert f"nocontact run pid {first.pid} on {socket.gethostname()}" in line
        assert not _listening(port_b)
        assert first.poll() is None and _healthy(port_a)
    finally:
        code, err = _stop(first)
    assert code == 0, err
    # Once A has stopped, B may run: the lock ended with A's connection. B's URL now comes
    # from the environment, and A's from a file: no password in either TOML.
    _config(home_b, port_b, 'url_env = "NC_TEST_DATABASE_URL"')
    after = _start(home_b, env=_env(NC_TEST_DATABASE_URL=url))
    try:
        wait_port(port_b, timeout=START_TIMEOUT)
        assert _healthy(port_b)
        (tmp_path / "database-url").write_text(url + "\n")
        _config(home_a, port_a, f'url_file = "{tmp_path / "database-url"}"')
        refused = subprocess.run(
            [sys.executable, "-m", "nocontact", "--home", str(home_a), "run"],
            capture_output=True,
            text=True,
            env=_env(),
            stdin=subprocess.DEVNULL,
            timeout=REFUSE_TIMEOUT,
        )
        assert refused.returncode == 1, refused.stderr
        assert f"nocontact run pid {after.pid}" in refused.stderr
    finally:
        code, err = _stop(after)
    assert code == 0, err


# --- no password in the TOML ----------------------------------------------------------------


def test_the_database_url_may_come_from_the_environment_or_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql+psycopg://nocontact:secret@127.0.0.1/nocontact"
    monkeypatch.setenv("NC_TEST_DATABASE_URL", url)
    (tmp_path / "url").write_text(url + "\n")
    from_env = parse_config('[database]\nurl_env = "NC_TEST_DATABASE_URL"\n', file="c.toml")
    from_file = parse_config(f'[database]\nurl_file = "{tmp_path / "url"}"\n', file="c.toml")
    assert from_env.database.url == from_file.database.url == url
    assert "secret" not in repr(from_env) + repr(from_file)


@pytest.mark.parametrize(
    ("database", "key", "problem"),
    [
        ('url_env = "NC_TEST_UNSET"', "database.url_env", "NC_TEST_UNSET is not set"),
        ('url_env = "NC_TEST_EMPTY"', "database.url_env", "is empty"),
        ('url_file = "{missing}"', "database.url_file", "cannot be read"),
        ('url_file = "{empty}"', "database.url_file", "is empty"),
        ('url_file = "{not_url}"', "database.url_file", "does not hold a database URL"),
        ('url = "sqlite://"\nurl_env = "NC_TEST_SET"', "database.url", "exactly one of"),
        ('url_env = "NC_TEST_SET"\nurl_file = "{not_url}"', "database.url_file", "database URL"),
    ],
)
def test_a_bad_database_url_source_names_the_config_file_and_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: str, key: str, problem: str
) -> None:
    monkeypatch.delenv("NC_TEST_UNSET", raising=False)
    monkeypatch.setenv("NC_TEST_EMPTY", "")
    monkeypatch.setenv("NC_TEST_SET", "postgresql+psycopg://u:hunter2@h/db")
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "not_url").write_text("hunter2\n")
    paths = {k: tmp_path / k for k in ("missing", "empty", "not_url")}
    cfg = tmp_path / "nocontact.toml"
    cfg.write_text("[database]\n" + database.format(**paths) + "\n")
    with pytest.raises(ConfigError) as e:
        parse_config(cfg.read_text(), file=str(cfg))
    assert (e.value.file, e.value.key) == (str(cfg), key)
    assert problem in e.value.problem
    assert "hunter2" not in str(e.value)  # the URL's password is never echoed
