"""The same export and verification on PostgreSQL (the hosted setup, DESIGN §8)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from nocontact.export.bundle import export_bundle
from nocontact.export.scope import ExportFilters
from nocontact.export.verify import verify
from nocontact.runtime import Runtime
from tests.conftest import make_home
from tests.export.conftest import owner_key, seed
from tests.servers import postgres


@pytest.fixture
def pg_rt(tmp_path: Path) -> Iterator[Runtime]:
    """Only the PostgreSQL half of ``any_rt``: every other export test runs on SQLite."""
    if not postgres.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with postgres.temporary_database() as url:
        runtime = make_home(tmp_path, database_url=url)
        yield runtime
        runtime.engine.dispose()


def test_bundle_from_postgresql_verifies(pg_rt: Runtime, tmp_path: Path) -> None:
    any_rt = pg_rt
    seeded = seed(any_rt)
    rid, ident = owner_key(any_rt)
    out = tmp_path / "pg.zip"
    filters = ExportFilters(persons=("Jordan Reed",), channel="sms")
    export_bundle(any_rt, out, rid, ident, filters, "owner")
    summary = verify(out)
    assert (summary.items, summary.sms) == (1, 1)
    everything = tmp_path / "all.zip"
    export_bundle(any_rt, everything, rid, ident, ExportFilters(), "owner")
    assert verify(everything).items == len(seeded.item_ids)
