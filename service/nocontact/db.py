"""Engines, transactions and migrations.

SQLite is the embedded default: WAL so readers never block the writer, ``synchronous=FULL`` so a
commit is on disk before a channel acknowledges its source, ``busy_timeout`` so concurrent
writers wait instead of failing, and ``BEGIN IMMEDIATE`` so a write transaction takes the write
lock up front (a deferred one can fail with SQLITE_BUSY half way through). PostgreSQL is the
scale path; the same code runs on both.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, create_engine

BUSY_TIMEOUT_MS = 10_000
# SQLite connections kept open: the web app runs sync routes on up to 40 worker threads. With
# SQLAlchemy's default (5 + 10 overflow) every burst opened and closed connections, and a new
# SQLite connection re-runs its PRAGMAs: a tenth of a webhook's cost went there.
POOL_SIZE, POOL_OVERFLOW = 24, 24
READ_ONLY = "nocontact_read_only"


def sqlite_url(home: Path) -> str:
    return f"sqlite:///{(home / 'nocontact.db').resolve()}"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
        )
        _sqlite_events(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        # statement journals (a multi-row insert that may fail half-way) in memory: as temp
        # files they cost a create, open and unlink per group commit
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Readers that opted in (``read_session``) take no lock: in WAL mode they read a
        # snapshot while the writer writes. Taking the write lock for them too made every
        # concurrent read queue behind each fsync and sleep in SQLite's busy handler.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def insert_new(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert the rows whose primary key is not there yet (``ON CONFLICT DO NOTHING``)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(table).on_conflict_do_nothing(), rows)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        conn.execute(sqlite_insert(table).on_conflict_do_nothing(), rows)


def read_engine(engine: Engine) -> Engine:
    """The engine for reads only: on SQLite its transactions do not take the write lock."""
    return engine.execution_options(**{READ_ONLY: True})


def read_session(engine: Engine) -> Session:
    """A session for reads only (see ``read_engine``). Never write in it."""
    return Session(read_engine(engine))


class HotReads:
    """Small reads made for every message (the list version, a dedupe look-up, the keys to seal
    to), without a pool checkout and a transaction each: SQLAlchemy's connection cycle costs 20x
    the query. On SQLite each thread keeps its own read-only connection in autocommit mode, so
    every SELECT is its own snapshot of the newest commit (WAL readers never block the writer).
    Elsewhere the statements go through the engine's pool. SQL here uses ``:name`` parameters,
    which both sqlite3 and SQLAlchemy's ``text`` accept."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        url = engine.url
        sqlite = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
        self._sqlite_path = url.database if sqlite else None
        self._local = threading.local()

    def rows(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        if self._sqlite_path is None:
            with read_engine(self.engine).connect() as c:
                return [tuple(r) for r in c.execute(text(sql), params).all()]
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            uri = Path(self._sqlite_path).resolve().as_uri() + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
            conn.isolation_level = None  # autocommit: no transaction held between reads
            self._local.conn = conn
        return conn.execute(sql, params).fetchall()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (every branch head)."""
    # Imported here: Alembic (with Mako and every SQLAlchemy dialect it knows) costs a short
    # command like ``nocontact poll`` about 0.14 s, and ``schema.is_current`` usually finds
    # nothing to do.
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("nocontact") / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
