"""The statements that store a batch of kept items, through one of two drivers.

``Intake`` writes items, keys, sealed originals and ledger entries with the few operations
below, so the logic exists once. ``CoreWriter`` runs them through SQLAlchemy Core on the
caller's session (any database, and the path that can share a transaction with a channel's
cursor). ``SqliteWriter`` runs the same statements straight through the sqlite3 driver on a
pooled connection: on the embedded default, SQLAlchemy's per-statement machinery cost more than
the inserts, and a group commit of webhook texts is half of what the process does under load.
Values go through SQLAlchemy's own bind processors either way, so the stored forms (datetimes
on SQLite) are identical.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Table
from sqlalchemy import insert as sa_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from nocontact.db import insert_new
from nocontact.models import Household, LedgerEntry, VaultItem, table
from nocontact.vault import ledger

_ITEMS = table(VaultItem)
_INSERT_ITEMS = sa_insert(_ITEMS).returning(_ITEMS.c.id, sort_by_parameter_order=True)
_ROWS_PER_STATEMENT = 500  # well under SQLite's 32,766 host parameters at 17 columns a row


class Writer(Protocol):
    def head(self, household_id: int) -> tuple[int, str]:
        """Lock the household's ledger head for this transaction: (length, head hash)."""
        ...

    def insert_items(self, rows: list[dict[str, Any]]) -> list[int]:
        """Insert ``VaultItem`` rows (one household, distinct source keys); ids in row order."""
        ...

    def insert(self, t: Table, rows: list[dict[str, Any]], *, skip_existing: bool = False) -> None:
        """Insert rows; with ``skip_existing``, rows whose primary key exists are left alone."""
        ...

    def move_head(self, household_id: int, seq: int, head: str) -> None: ...


class CoreWriter:
    """SQLAlchemy Core in the caller's ORM session (its pending changes are flushed first)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def head(self, household_id: int) -> tuple[int, str]:
        return ledger.lock_head(self.session, household_id)

    def insert_items(self, rows: list[dict[str, Any]]) -> list[int]:
        result = self.session.connection().execute(_INSERT_ITEMS, rows)
        return [int(i) for i in result.scalars()]

    def insert(self, t: Table, rows: list[dict[str, Any]], *, skip_existing: bool = False) -> None:
        if not rows:
            return
        if skip_existing:
            insert_new(self.session.connection(), t, rows)
        else:
            self.session.connection().execute(sa_insert(t), rows)

    def move_head(self, household_id: int, seq: int, head: str) -> None:
        params = {"hid": household_id, "new_seq": seq, "new_head": head}
        self.session.connection().execute(ledger.MOVE_HEAD, params)
        h = self.session.identity_map.get(self.session.identity_key(Household, household_id))
        if h is not None:
            self.session.expire(h)  # the session's copy reloads the new head when next read


class _Shape:
    """One table as plain SQL: its columns and the bind processor of each (or None)."""

    def __init__(self, t: Table, engine: Engine) -> None:
        self.name = t.name
        auto = t.autoincrement_column  # the id the database assigns (None for composite keys)
        self.columns = [c.name for c in t.columns if c is not auto]
        dialect = engine.dialect
        self.process: list[tuple[str, Callable[[Any], Any]]] = []
        for name in self.columns:
            proc = t.c[name].type.bind_processor(dialect)
            if proc is not None:
                self.process.append((name, proc))
        cols = ", ".join(self.columns)
        marks = ", ".join("?" for _ in self.columns)
        self.row_sql = f"({marks})"
        self.insert_sql = f"INSERT INTO {t.name} ({cols}) VALUES {self.row_sql}"

    def values(self, row: dict[str, Any]) -> list[Any]:
        if self.process:
            row = dict(row)
            for name, proc in self.process:
                row[name] = proc(row[name])
        return [row[c] for c in self.columns]  # every column given: no silent NULLs


class SqliteWriter:
    """The same operations on a raw sqlite3 connection from the engine's pool, inside
    ``BEGIN IMMEDIATE`` … ``COMMIT`` (the pool's connections run in autocommit mode, so the
    transaction is exactly what is written here)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._shapes: dict[str, _Shape] = {}
        self._db: sqlite3.Connection | None = None

    @staticmethod
    def usable(engine: Engine) -> bool:
        return engine.dialect.name == "sqlite" and engine.dialect.driver == "pysqlite"

    @contextmanager
    def transaction(self) -> Iterator[SqliteWriter]:
        pooled = self.engine.raw_connection()
        try:
            db = pooled.driver_connection
            assert isinstance(db, sqlite3.Connection)
            db.execute("BEGIN IMMEDIATE")
            self._db = db
            try:
                yield self
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            finally:
                self._db = None
        finally:
            pooled.close()

    def _shape(self, t: Table) -> _Shape:
        shape = self._shapes.get(t.name)
        if shape is None:
            shape = self._shapes[t.name] = _Shape(t, self.engine)
        return shape

    @property
    def db(self) -> sqlite3.Connection:
        assert self._db is not None, "outside a transaction"
        return self._db

    def head(self, household_id: int) -> tuple[int, str]:
        # BEGIN IMMEDIATE already holds SQLite's one write lock: nobody else can move the head
        row = self.db.execute(
            "SELECT ledger_seq, ledger_head FROM household WHERE id = ?", (household_id,)
        ).fetchone()
        if row is None:
            raise LookupError(f"household {household_id} does not exist")
        return int(row[0]), str(row[1])

    def insert_items(self, rows: list[dict[str, Any]]) -> list[int]:
        shape = self._shape(_ITEMS)
        ids: dict[str, int] = {}
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[start : start + _ROWS_PER_STATEMENT]
            # one statement for the chunk; RETURNING's order is not promised, so the ids are
            # matched back by source key (unique per household, and one household per batch)
            sql = (
                f"INSERT INTO {shape.name} ({', '.join(shape.columns)}) VALUES "
                + ", ".join(shape.row_sql for _ in chunk)
                + " RETURNING id, source_key"
            )
            params = [v for row in chunk for v in shape.values(row)]
            ids.update((str(key), int(i)) for i, key in self.db.execute(sql, params))
        return [ids[row["source_key"]] for row in rows]

    def insert(self, t: Table, rows: list[dict[str, Any]], *, skip_existing: bool = False) -> None:
        if not rows:
            return
        shape = self._shape(t)
        sql = shape.insert_sql + (" ON CONFLICT DO NOTHING" if skip_existing else "")
        self.db.executemany(sql, [shape.values(r) for r in rows])

    def move_head(self, household_id: int, seq: int, head: str) -> None:
        self.db.execute(
            "UPDATE household SET ledger_seq = ?, ledger_head = ? WHERE id = ?",
            (seq, head, household_id),
        )


def append_entries(
    w: Writer,
    household_id: int,
    kind: str,
    entries: Sequence[dict[str, Any]],
    locked: tuple[int, str],
) -> list[dict[str, Any]]:
    """Ledger entries through a writer, the head already locked: the rows written."""
    rows = ledger.chain_rows(household_id, kind, entries, *locked)
    if rows:
        w.insert(table(LedgerEntry), rows)
        w.move_head(household_id, rows[-1]["seq"], rows[-1]["hash"])
    return rows
