"""The commit process (``nocontact run``'s child that seals and commits webhook texts): texts
are kept once each, a killed child loses nothing and is replaced, and it never outlives its
parent. A real child process on the real database, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlmodel import Session, select

from nocontact.channels.sms.commit_process import CommitProcessGone, ProcessGroupCommit
from nocontact.channels.sms.group import CommitFailed
from nocontact.intake import InboundMessage, Intake, IntakeResult
from nocontact.matching.facts import facts_from_sms
from nocontact.models import VaultItem
from nocontact.runtime import Runtime
from nocontact.users import find_user, unlock
from nocontact.vault import ledger
from nocontact.vault.store import open_item
from tests.channels.sms.conftest import ABUSER, STRANGER, open_home
from tests.channels.sms.test_group_commit import listed_rt  # noqa: F401  (fixture)
from tests.conftest import PASSPHRASE, stored_originals


def text(name: str, sender: str = ABUSER) -> InboundMessage:
    return InboundMessage(
        "sms", f"raw request {name}".encode(), f"sms:test:{name}", facts_from_sms(sender, "hi")
    )


def items(rt: Runtime) -> list[VaultItem]:
    with Session(rt.engine) as s:
        found = list(s.exec(select(VaultItem).order_by(VaultItem.id)).all())  # type: ignore[arg-type]
        assert ledger.first_fault(ledger.chain(s, rt.household_id)) is None
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) is gone for our purposes
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"


def test_texts_committed_in_the_child_are_kept_once_each_and_open_for_the_owner(
    listed_rt: Runtime,  # noqa: F811
) -> None:
    intake = Intake(listed_rt)
    held = intake.decide(facts_from_sms(ABUSER, "hi"))
    allowed = intake.decide(facts_from_sms(STRANGER, "hi"))
    assert held.action == "quarantine" and allowed.action == "deliver"

    async def deliver() -> tuple[list[IntakeResult], list[IntakeResult]]:
        commits = ProcessGroupCommit(listed_rt)
        await commits.start()
        try:
            # 12 listed texts, each delivered 4 times at once, and 6 unlisted ones
            listed = [commits.submit(text(f"L{n % 12}"), held) for n in range(48)]
            unlisted = [commits.submit(text(f"U{n}", STRANGER), allowed) for n in range(6)]
            got = await asyncio.gather(*listed, *unlisted)
            return got[:48], got[48:]
        finally:
            await commits.close()

    listed, unlisted = asyncio.run(deliver())
    by_name: dict[int, set[int | None]] = {}
    for n, result in enumerate(listed):
        by_name.setdefault(n % 12, set()).add(result.item_id)
    assert all(len(ids) == 1 and None not in ids for ids in by_name.values())
    assert sum(not r.duplicate for r in listed) == 12
    assert all(r.item_id is None and r.action == "deliver" for r in unlisted)
    kept = items(listed_rt)
    assert sorted(i.source_key for i in kept) == sorted(f"sms:test:L{n}" for n in range(12))
    assert stored_originals(listed_rt) == sorted(i.blob for i in kept)
    # sealed to the owner's key in the child: the owner opens each one
    with Session(listed_rt.engine) as s:
        owner = find_user(s, listed_rt.household_id, "owner")
        assert owner is not None
        identity = unlock(s, owner, PASSPHRASE)
        for item in kept:
            original, meta = open_item(s, listed_rt.blobs, item, owner.recipient_id, identity)
            assert original == f"raw request {item.source_key[9:]}".encode()
            assert meta["source_key"] == item.source_key


def test_a_child_killed_with_a_batch_in_flight_loses_nothing_and_is_replaced(
    sms_template: Path, tmp_path: Path
) -> None:
    """Stopped, sent a batch, then killed: the batch is refused (503), the next batch starts a
    new child, and the provider's retry keeps each text once. Then kills at random moments of
    live batches: whatever was answered 2xx is kept, and after the retries every text is kept
    exactly once."""
    rt = open_home(sms_template, tmp_path, "")
    decision = Intake(rt).decide(facts_from_sms(ABUSER, "hi"))

    async def until_kept(commits: ProcessGroupCommit, names: list[str]) -> list[IntakeResult]:
        """What a provider does: deliver, and deliver again what was not answered 2xx."""
        results: dict[str, IntakeResult] = {}
        for _ in range(5):
            left = [m for m in names if m not in results]
            got = await asyncio.gather(
                *(commits.submit(text(m), decision) for m in left), return_exceptions=True
            )
            for name, result in zip(left, got, strict=True):
                if isinstance(result, IntakeResult):
                    results[name] = result
                else:
                    assert isinstance(result, CommitFailed), result
        return [results[m] for m in names]

    async def run() -> tuple[list[object], list[IntakeResult], list[int]]:
        commits = ProcessGroupCommit(rt, restart_seconds=0.0)
        await commits.start()
        pids: list[int] = []
        try:
            first = commits.pid
            assert first is not None
            pids.append(first)
            os.kill(first, signal.SIGSTOP)  # it holds the batch unread
            names = [f"A{n}" for n in range(5)]
            pending = [asyncio.ensure_future(commits.submit(text(m), decision)) for m in names]
            await asyncio.sleep(0.2)
            os.kill(first, signal.SIGKILL)
            refused = await asyncio.gather(*pending, return_exceptions=True)
            retried = await asyncio.gather(*(commits.submit(text(m), decision) for m in names))
            second = commits.pid
            assert second is not None and second != first
            pids.append(second)
            # kills at moments from just after the batch went to while it commits
            answered: dict[str, int | None] = {}
            every: list[str] = []
            for round_ in range(6):
                names = [f"R{round_}-{n}" for n in range(20)]
                every += names
                tasks = [asyncio.ensure_future(commits.submit(text(m), decision)) for m in names]
                await asyncio.sleep(0.002 + 0.004 * round_)
                pid = commits.pid
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    pids.append(pid)
                got = await asyncio.gather(*tasks, return_exceptions=True)
                for name, result in zip(names, got, strict=True):
                    if isinstance(result, IntakeResult):
                        answered[name] = result.item_id
                    else:
                        assert isinstance(result, CommitFailed), result
            # the provider retries what got no 2xx, and may repeat one that did
            for name, result in zip(every, await until_kept(commits, every), strict=True):
                if name in answered:
                    assert result.duplicate and result.item_id == answered[name]
            return list(refused), list(retried), pids
        finally:
            await commits.close()

    refused, retried, pids = asyncio.run(run())
    assert all(isinstance(r, CommitProcessGone) for r in refused)
    assert all(r.item_id is not None and not r.duplicate for r in retried)
    kept = items(rt)
    names = [i.source_key for i in kept]
    assert len(names) == len(set(names)) == 5 + 6 * 20
    assert stored_originals(rt) == sorted(i.blob for i in kept)
    for pid in pids:
        assert not alive(pid)
    rt.engine.dispose()


CHILD_OF_DEAD_PARENT = """
import asyncio, sys
from pathlib import Path
from nocontact.channels.sms.commit_process import ProcessGroupCommit
from nocontact.runtime import Runtime
from nocontact.users import find_user, unlock

async def main():
    home = Path(sys.argv[1])
    commits = ProcessGroupCommit(Runtime.open(home, home / "nocontact.toml"))
    await commits.start()
    print(commits.pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_the_child_ends_when_its_parent_is_killed(sms_template: Path, tmp_path: Path) -> None:
    rt = open_home(sms_template, tmp_path, "")
    rt.engine.dispose()
    parent = subprocess.Popen(
        [sys.executable, "-c", CHILD_OF_DEAD_PARENT, str(rt.home)], stdout=subprocess.PIPE
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert alive(pid)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), "the commit process outlived its parent"


def test_a_child_that_cannot_start_fails_the_text_with_a_retry_not_a_hang(
    sms_template: Path, tmp_path: Path
) -> None:
    rt = open_home(sms_template, tmp_path, "")
    decision = Intake(rt).decide(facts_from_sms(ABUSER, "hi"))
    rt.engine.dispose()

    async def run() -> BaseException | IntakeResult:
        commits = ProcessGroupCommit(rt)
        await commits.start()
        try:
            pid = commits.pid
            assert pid is not None
            (rt.home / "nocontact.toml").write_text("[web\n")  # a new child cannot read it
            os.kill(pid, signal.SIGKILL)
            started = time.monotonic()
            got = (
                await asyncio.gather(commits.submit(text("X"), decision), return_exceptions=True)
            )[0]
            assert time.monotonic() - started < 30
            return got
        finally:
            await commits.close()

    got = asyncio.run(run())
    assert isinstance(got, CommitFailed)


def test_texts_from_worker_threads_and_the_event_loop_share_the_child(
    sms_template: Path, tmp_path: Path
) -> None:
    """Texts with MMS media or forwarding come from the thread pool (``process``), the rest
    from the event loop (``submit``); twins across both are kept once."""
    rt = open_home(sms_template, tmp_path, "")
    decision = Intake(rt).decide(facts_from_sms(ABUSER, "hi"))

    async def deliver_all() -> list[IntakeResult]:
        commits = ProcessGroupCommit(rt)
        await commits.start()
        loop = asyncio.get_running_loop()
        try:
            with ThreadPoolExecutor(max_workers=10) as pool:
                threaded = [
                    loop.run_in_executor(pool, commits.process, text(f"T{n % 10}"), decision)
                    for n in range(20)
                ]
                looped = [commits.submit(text(f"T{n % 10}"), decision) for n in range(20)]
                return list(await asyncio.gather(*threaded, *looped))
        finally:
            await commits.close()

    results = asyncio.run(deliver_all())
    by_name: dict[int, set[int | None]] = {}
    for n, result in enumerate(results):
        by_name.setdefault(n % 10, set()).add(result.item_id)
    assert all(len(ids) == 1 and None not in ids for ids in by_name.values())
    assert sum(not r.duplicate for r in results) == 10
    assert len(items(rt)) == 10
    rt.engine.dispose()


def test_a_child_that_answers_nothing_is_ended_and_replaced(
    sms_template: Path, tmp_path: Path
) -> None:
    """Stopped (stuck): the text waits its time and fails (503), the child is ended, and the
    provider's retry is kept by a new one."""
    rt = open_home(sms_template, tmp_path, "")
    decision = Intake(rt).decide(facts_from_sms(ABUSER, "hi"))

    async def run() -> tuple[int, BaseException | IntakeResult, IntakeResult, int | None]:
        commits = ProcessGroupCommit(rt, wait_seconds=1.0, restart_seconds=0.0)
        await commits.start()
        try:
            stuck = commits.pid
            assert stuck is not None
            os.kill(stuck, signal.SIGSTOP)
            (first,) = await asyncio.gather(
                commits.submit(text("S"), decision), return_exceptions=True
            )
            retry = await commits.submit(text("S"), decision)
            return stuck, first, retry, commits.pid
        finally:
            await commits.close()

    stuck, first, retry, now = asyncio.run(run())
    assert isinstance(first, CommitFailed)
    assert not alive(stuck)
    assert now is not None and now != stuck
    assert retry.item_id is not None and not retry.duplicate
    assert [i.source_key for i in items(rt)] == ["sms:test:S"]
    rt.engine.dispose()
