"""One home, one running service. ``nocontact run`` holds, for as long as it runs:

- the home's lock file (``run.lock``, an ``flock`` with the holder's pid written in it): a
  second start on the same home stops at once, naming that pid. The kernel lets go of the lock
  when the process ends, however it ends, so a lock file left by a killed process blocks nothing.
- on PostgreSQL, an advisory lock for the household, on a connection of its own: a second home
  on another machine pointed at the same database stops too, naming what holds it.

Two services on one household would each watch the same mailboxes and move the same message.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from nocontact.errors import NoContactError, UsageError

log = logging.getLogger(__name__)

LOCK_NAME = "run.lock"
# what a lock file holds: "<pid>\n"; a starting holder writes it just after taking the lock
_PID_WAIT_SECONDS = 1.0


class AlreadyRunning(NoContactError):
    """Another ``nocontact run`` holds this home or this household (exit code 1)."""


def _read_pid(fd: int) -> int | None:
    deadline = time.monotonic() + _PID_WAIT_SECONDS
    while True:
        raw = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if raw.isdigit():
            return int(raw)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


@contextmanager
def hold_home(home: Path) -> Iterator[None]:
    """Hold the home's lock until the block ends; AlreadyRunning if another process holds it."""
    path = home.resolve() / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError as e:
        raise UsageError(f"{home} is not set up yet; run `nocontact init`") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            who = f"process {pid}" if pid is not None else "another process"
            raise AlreadyRunning(
                f"nocontact run is already running for {path.parent} ({who} holds {path}); "
                "stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # still held here: nobody reads a pid that has gone
    finally:
        os.close(fd)  # lets go of the lock


def advisory_key(household_id: int) -> int:
    """The household's advisory lock: a signed 64-bit number no other program is likely to use
    (advisory locks are per database, so the household id alone would do but for them)."""
    digest = hashlib.sha256(f"nocontact run: household {household_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# What holds the lock: pg_locks has the backend's pid; pg_stat_activity the name its client
# gave (``application_name``: this program's pid and host) and where it connects from.
_HOLDER = text(
    """
    SELECT l.pid, a.application_name, host(a.client_addr), a.client_hostname
    FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid::bigint = :hi AND l.objid::bigint = :lo
    """
)


def application_name() -> str:
    return f"nocontact run pid {os.getpid()} on {socket.gethostname()}"[:63]


@contextmanager
def hold_household(engine: Engine, household_id: int) -> Iterator[None]:
    """On PostgreSQL, hold the household's advisory lock until the block ends (SQLite: the
    database is a file in the home, which ``hold_home`` covers)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    key = advisory_key(household_id)
    # A connection of its own, in autocommit (never idle in a transaction), for the whole run:
    # a session-level advisory lock lasts until it is unlocked or the connection ends.
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        conn.execute(
            text("SELECT set_config('application_name', :n, false)"), {"n": application_name()}
        )
        if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            row = conn.execute(
                _HOLDER, {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF}
            ).first()
            raise AlreadyRunning(
                f"household {household_id} in this database is already run by "
                f"{_describe(row)}; one household, one running service: stop that one first"
            )
        log.debug("holding the household's lock (advisory %s)", key)
        yield
    finally:
        conn.invalidate()  # closed, not pooled: the lock ends with its connection
        conn.close()


def _describe(row: Sequence[Any] | None) -> str:
    if row is None:  # let go between our try and our look
        return "another nocontact run"
    backend, name, addr, client_host = row[0], row[1], row[2], row[3]
    where = client_host or addr
    via = f"PostgreSQL backend {backend}" + (f", connected from {where}" if where else "")
    if name and str(name).startswith("nocontact run"):
        return f"{name} ({via})"
    return f"another nocontact run ({via})"
