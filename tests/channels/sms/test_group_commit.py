"""Group commit: concurrent texts share commits, duplicates stay single, nothing is orphaned,
and the ledger chain holds; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlmodel import Session, select

from nocontact.channels.sms.group import CommitFailed, GroupCommit
from nocontact.db import transaction
from nocontact.intake import InboundMessage, Intake, IntakeResult, Prepared
from nocontact.matching.facts import facts_from_sms
from nocontact.models import VaultItem
from nocontact.people.service import add_person
from nocontact.runtime import Runtime
from nocontact.vault import ledger
from tests.channels.sms.conftest import ABUSER, open_home
from tests.conftest import make_home, stored_originals
from tests.servers import postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def listed_rt(
    request: pytest.FixtureRequest, sms_template: Path, tmp_path: Path
) -> Iterator[Runtime]:
    """A home with ABUSER listed: SQLite copied from the template (fast), PostgreSQL fresh."""
    if request.param == "sqlite":
        rt = open_home(sms_template, tmp_path, "")
        yield rt
        rt.engine.dispose()
        return
    if not postgres.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with postgres.temporary_database() as url:
        rt = make_home(tmp_path, database_url=url)
        with transaction(rt.engine) as s:
            add_person(s, rt.household_id, "Mark", "abuser", phones=[ABUSER])
        yield rt
        rt.engine.dispose()


def test_concurrent_texts_and_their_duplicates_are_kept_once_each(listed_rt: Runtime) -> None:
    intake = Intake(listed_rt)
    group = GroupCommit(intake, max_batch=8)

    def deliver(n: int) -> tuple[int, int | None, bool]:
        key = n % 12  # 12 distinct texts, each delivered 4 times, all at once
        msg = InboundMessage(
            "sms", f"raw text {key}".encode(), f"sms:test:{key}", facts_from_sms(ABUSER, "hi")
        )
        result = group.process(msg, intake.decide(msg.facts))
        return key, result.item_id, result.duplicate

    with ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(deliver, range(48)))

    by_key: dict[int, set[int | None]] = {}
    for key, item_id, _ in results:
        by_key.setdefault(key, set()).add(item_id)
    assert all(len(ids) == 1 and None not in ids for ids in by_key.values())
    assert sum(not dup for _, _, dup in results) == 12
    with Session(listed_rt.engine) as s:
        items = s.exec(select(VaultItem)).all()
        assert len(items) == 12
        assert ledger.first_fault(ledger.chain(s, listed_rt.household_id)) is None
        assert sorted(i.ledger_seq for i in items) == sorted(set(i.ledger_seq for i in items))
    assert stored_originals(listed_rt) == sorted(i.blob for i in items)

    # deterministic: twins inside one batch, and a twin of an item committed by an earlier batch
    def prepared(key: str) -> Prepared:
        msg = InboundMessage("sms", key.encode(), f"sms:test:{key}", facts_from_sms(ABUSER, "hi"))
        p = intake.prepare(msg, decision=intake.decide(msg.facts))
        assert isinstance(p, Prepared)
        return p

    a, a_twin = prepared("a"), prepared("a")
    first, twin = intake.commit_many([a, a_twin])
    assert not first.duplicate and twin.duplicate and twin.item_id == first.item_id
    late_twin, c = prepared("b"), prepared("c")
    intake.commit_many([prepared("b")])
    # the unique constraint trips; the batch falls back to one commit each
    again, fresh = intake.commit_many([late_twin, c])
    assert again.duplicate and not fresh.duplicate
    with Session(listed_rt.engine) as s:
        assert len(s.exec(select(VaultItem)).all()) == 15
        assert ledger.first_fault(ledger.chain(s, listed_rt.household_id)) is None
    kept = stored_originals(listed_rt)
    for gone in (a_twin, late_twin):
        assert gone.sealed.blob not in kept


def test_texts_from_the_event_loop_and_from_threads_share_batches_and_stay_single(
    listed_rt: Runtime,
) -> None:
    """The route hands most texts over from the event loop (``submit``) and those needing
    network IO from worker threads (``process``); twins across both are kept once."""
    intake = Intake(listed_rt)
    group = GroupCommit(intake, max_batch=8)

    def text(n: int) -> InboundMessage:
        key = n % 10  # 10 distinct texts, each delivered 4 times, two ways at once
        return InboundMessage(
            "sms", f"raw {key}".encode(), f"sms:mixed:{key}", facts_from_sms(ABUSER, "hi")
        )

    decision = intake.decide(facts_from_sms(ABUSER, "hi"))

    async def deliver_all() -> list[IntakeResult]:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=20) as pool:
            threaded = [
                loop.run_in_executor(pool, group.process, text(n), decision) for n in range(20)
            ]
            looped = [group.submit(text(n), decision) for n in range(20, 40)]
            return list(await asyncio.gather(*threaded, *looped))

    results = asyncio.run(deliver_all())
    by_key: dict[int, set[int | None]] = {}
    for n, result in enumerate(results):
        by_key.setdefault(n % 10, set()).add(result.item_id)
    assert all(len(ids) == 1 and None not in ids for ids in by_key.values())
    assert sum(not r.duplicate for r in results) == 10
    with Session(listed_rt.engine) as s:
        assert len(s.exec(select(VaultItem)).all()) == 10
        assert ledger.first_fault(ledger.chain(s, listed_rt.household_id)) is None


def test_a_commit_later_than_the_wait_is_a_failure_now_and_a_duplicate_on_retry(
    sms_template: Path, tmp_path: Path
) -> None:
    """Another writer holds SQLite's write lock: both ways of waiting give up in time (the
    route answers 503), the commit lands when the lock is free, the retry finds the item."""
    rt = open_home(sms_template, tmp_path, "")
    intake = Intake(rt)
    group = GroupCommit(intake, wait_seconds=0.3)
    texts = [
        InboundMessage("sms", k.encode(), f"sms:test:{k}", facts_from_sms(ABUSER, "x"))
        for k in ("late-1", "late-2")
    ]
    decision = intake.decide(texts[0].facts)
    blocker = sqlite3.connect(rt.home / "nocontact.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(CommitFailed):
            group.process(texts[0], decision)
        with pytest.raises(CommitFailed):
            asyncio.run(group.submit(texts[1], decision))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    deadline = time.monotonic() + 10
    while len(_items(rt)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    first = {i.source_key: i.id for i in _items(rt)}
    assert sorted(first) == ["sms:test:late-1", "sms:test:late-2"]
    again = group.process(texts[0], decision)
    assert again.duplicate and again.item_id == first["sms:test:late-1"]
    rt.engine.dispose()


def _items(rt: Runtime) -> list[VaultItem]:
    with Session(rt.engine) as s:
        return list(s.exec(select(VaultItem)).all())


def test_the_writer_leaves_when_idle_and_comes_back_for_the_next_text(
    sms_template: Path, tmp_path: Path
) -> None:
    rt = open_home(sms_template, tmp_path, "")
    intake = Intake(rt)
    group = GroupCommit(intake, idle_seconds=0.05)

    def deliver(key: str) -> int | None:
        msg = InboundMessage("sms", key.encode(), f"sms:test:{key}", facts_from_sms(ABUSER, "x"))
        return group.process(msg, intake.decide(msg.facts)).item_id

    assert deliver("one") is not None
    deadline = time.monotonic() + 5
    while group._writer is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert group._writer is None
    assert deliver("two") is not None
    rt.engine.dispose()
