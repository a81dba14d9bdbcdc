"""Is the database already at the newest schema? Answered without running Alembic.

Every command opens the runtime, and ``db.migrate`` (Alembic loading its scripts and
environment) costs a short command like ``nocontact poll`` about a quarter of a second even
when there is nothing to do. The revision files name their revision and parent(s) on one line
each; the heads are the revisions nobody names as a parent. When the ``alembic_version`` rows
are exactly those heads, an upgrade would change nothing. Anything unreadable or unexpected
answers "not current", and the caller runs the real upgrade.
"""

from __future__ import annotations

import re
from importlib import resources

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from nocontact.db import read_engine

_REVISION = re.compile(r"^revision(?:\s*:[^=\n]*)?\s*=\s*[\"']([^\"']+)[\"']\s*$", re.M)
_PARENTS = re.compile(r"^down_revision(?:\s*:[^=\n]*)?\s*=\s*(.*)$", re.M)
_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")


def script_heads() -> frozenset[str] | None:
    """The revisions no other revision builds on; None when a file cannot be read this way."""
    revisions: set[str] = set()
    parents: set[str] = set()
    versions = resources.files("nocontact") / "migrations" / "versions"
    for entry in versions.iterdir():
        if not entry.name.endswith(".py"):
            continue
        source = entry.read_text(encoding="utf-8")
        rev, down = _REVISION.findall(source), _PARENTS.findall(source)
        if len(rev) != 1 or len(down) != 1:
            return None
        revisions.add(rev[0])
        parents.update(_QUOTED.findall(down[0]))
    heads = revisions - parents
    return frozenset(heads) if heads else None


def is_current(engine: Engine) -> bool:
    heads = script_heads()
    if heads is None:
        return False
    try:
        with read_engine(engine).connect() as conn:  # a read: no write lock on SQLite
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except SQLAlchemyError:
        return False  # no version table yet: a new database
    return frozenset(rows) == heads and len(rows) == len(heads)
