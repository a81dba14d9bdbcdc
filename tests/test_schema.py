"""Runtime.open skips Alembic only when the database is already at every head."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from nocontact.db import make_engine, sqlite_url
from nocontact.runtime import Runtime
from nocontact.schema import is_current, script_heads


def _alembic() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("nocontact") / "migrations"))
    return cfg


def test_script_heads_are_alembics_own() -> None:
    scripts = ScriptDirectory.from_config(_alembic())
    assert script_heads() == frozenset(scripts.get_heads())


def test_a_set_up_home_is_current(rt: Runtime) -> None:
    assert is_current(rt.engine)


def test_a_new_database_is_not_current(tmp_path: Path) -> None:
    assert not is_current(make_engine(sqlite_url(tmp_path)))


def test_an_older_database_is_upgraded_on_open(rt: Runtime) -> None:
    newest = set(inspect(rt.engine).get_table_names())
    rt.engine.dispose()
    older = make_engine(sqlite_url(rt.home))
    cfg = _alembic()
    with older.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010_coparent@0001")  # one branch back to its base
    assert not is_current(older)
    assert "coparentdelivery" not in inspect(older).get_table_names()
    older.dispose()
    reopened = Runtime.open(rt.home, rt.config_path)
    assert set(inspect(reopened.engine).get_table_names()) == newest
    assert is_current(reopened.engine)
