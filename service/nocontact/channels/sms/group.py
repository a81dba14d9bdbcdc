"""Group commit for webhook texts: concurrent deliveries share one database commit.

One writer thread takes whatever texts have queued up, prepares each (dedupe look-up, seal)
and commits them in a single transaction (``Intake.commit_many``). With SQLite's
``synchronous=FULL`` every commit is an fsync, and concurrent writers would otherwise queue on
the write lock and sleep in its busy handler; one writer with batches keeps the fsync count per
text below one under load and adds no wait when idle (a lone text is a batch of one).

Texts arrive two ways: ``submit`` from the event loop (the common case: no thread-pool hop;
the answer comes back through ``loop.call_soon_threadsafe``, once per batch) and ``process``
from a worker thread (texts that also need network IO: MMS media, forwarding). Either way the
caller answers only after its batch committed, so no 2xx goes out before the text is durably
stored; a failure is ``CommitFailed`` (the route answers 503, the provider retries, and the
dedupe on the message id makes the retry harmless).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from nocontact.errors import ChannelError
from nocontact.intake import InboundMessage, Intake, IntakeResult, Prepared
from nocontact.logging import origin
from nocontact.matching import Decision

log = logging.getLogger(__name__)
MAX_BATCH = 64
IDLE_SECONDS = 5.0  # the writer thread ends after this long without work
WAIT_SECONDS = 60.0  # a request never hangs; a commit landing later makes the retry a duplicate


class CommitFailed(ChannelError):
    """The text was not stored (or not in time); the message names only the error's type."""


Outcome = IntakeResult | CommitFailed
Waiter = Future[IntakeResult] | asyncio.Future[IntakeResult]


class Committer(Protocol):
    """What the webhooks hand texts to: ``GroupCommit`` (a thread, the default) or
    ``commit_process.ProcessGroupCommit`` (a child process, under ``nocontact run``)."""

    async def submit(self, msg: InboundMessage, decision: Decision) -> IntakeResult: ...

    def process(self, msg: InboundMessage, decision: Decision) -> IntakeResult: ...


@dataclass(frozen=True)
class _Job:
    msg: InboundMessage
    decision: Decision
    waiter: Waiter


class GroupCommit:
    def __init__(
        self,
        intake: Intake,
        max_batch: int = MAX_BATCH,
        idle_seconds: float = IDLE_SECONDS,
        wait_seconds: float = WAIT_SECONDS,
    ) -> None:
        self.intake = intake
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self.wait_seconds = wait_seconds
        self._jobs: deque[_Job] = deque()
        self._ready = threading.Condition(threading.Lock())
        self._writer: threading.Thread | None = None
        self._waiting = False  # the writer sleeps on ``_ready``: a new job must wake it

    async def submit(self, msg: InboundMessage, decision: Decision) -> IntakeResult:
        """From the event loop: the result once the text's batch committed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[IntakeResult] = loop.create_future()
        self._put(_Job(msg, decision, fut))
        return await outcome_of(fut, self.wait_seconds)

    def process(self, msg: InboundMessage, decision: Decision) -> IntakeResult:
        """From a worker thread: blocks until the text's batch committed."""
        done: Future[IntakeResult] = Future()
        self._put(_Job(msg, decision, done))
        try:
            return done.result(timeout=self.wait_seconds)
        except TimeoutError:
            raise CommitFailed("no commit in time") from None

    def _put(self, job: _Job) -> None:
        with self._ready:
            self._jobs.append(job)
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="sms-commit", daemon=True)
                self._writer.start()
            elif self._waiting:
                self._ready.notify()

    def _take(self) -> list[_Job]:
        """The next batch; empty when the writer has been idle long enough to leave. Leaving
        happens under the lock, so a job queued meanwhile either is taken here or finds no
        writer and starts a new one (``_put``)."""
        with self._ready:
            if not self._jobs:
                self._waiting = True
                self._ready.wait_for(lambda: bool(self._jobs), self.idle_seconds)
                self._waiting = False
                if not self._jobs:
                    self._writer = None
                    return []
            jobs = self._jobs
            return [jobs.popleft() for _ in range(min(len(jobs), self.max_batch))]

    def _run(self) -> None:
        try:
            while batch := self._take():
                try:
                    outcomes = self._commit(batch)
                except Exception as e:  # noqa: BLE001  (loop boundary: every waiter gets the failure)
                    outcomes = list(_failed(e, len(batch)))
                _settle(batch, outcomes)
        finally:  # if this thread dies anyway, the next text starts another
            with self._ready:
                if self._writer is threading.current_thread():
                    self._writer = None

    def _commit(self, batch: list[_Job]) -> list[Outcome]:
        return commit_batch(self.intake, [(job.msg, job.decision) for job in batch])


def commit_batch(intake: Intake, batch: Sequence[tuple[InboundMessage, Decision]]) -> list[Outcome]:
    """Prepare each text (a failure fails that text alone), then commit the rest at once (a
    failure there fails them all: the transaction rolled back, nothing is stored). Also what
    the commit process (``commit_process``) runs for each batch it is sent."""
    outcomes: list[Outcome | None] = [None] * len(batch)
    prepared: list[Prepared] = []
    at: list[int] = []
    looked = None
    with contextlib.suppress(Exception):  # then each text reads for itself (and may fail)
        looked = intake.look_ahead([msg for msg, _ in batch])
    for i, (msg, decision) in enumerate(batch):
        try:
            p = intake.prepare(msg, decision=decision, looked=looked)
        except Exception as e:  # noqa: BLE001  (logged; that text's request gets a 503)
            (outcomes[i],) = _failed(e, 1)
            continue
        if isinstance(p, IntakeResult):  # not kept, or already in the vault
            outcomes[i] = p
        else:
            prepared.append(p)
            at.append(i)
    if prepared:
        try:
            results: list[Outcome] = list(intake.commit_many(prepared))
        except Exception as e:  # noqa: BLE001  (logged; the batch's requests get a 503)
            results = list(_failed(e, len(prepared)))
        for i, result in zip(at, results, strict=True):
            outcomes[i] = result
    assert all(o is not None for o in outcomes)
    return [o for o in outcomes if o is not None]


def _failed(e: Exception, count: int) -> list[CommitFailed]:
    """One logged line, and a failure for each of the ``count`` waiters."""
    # the type and place only: a database error's text can carry the row's values
    log.error("sms texts not stored: %s of them, %s at %s", count, type(e).__name__, origin(e))
    failures = [CommitFailed(f"not stored: {type(e).__name__}") for _ in range(count)]
    for f in failures:
        f.__cause__ = e
    return failures


def _settle(batch: list[_Job], outcomes: list[Outcome]) -> None:
    """Hand each outcome to its waiter: thread futures directly; event-loop futures in one
    callback per loop (each ``call_soon_threadsafe`` wakes the loop with a write)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[IntakeResult], Outcome]]]
    by_loop = {}
    for job, outcome in zip(batch, outcomes, strict=True):
        w = job.waiter
        if isinstance(w, asyncio.Future):
            by_loop.setdefault(w.get_loop(), []).append((w, outcome))
        elif isinstance(outcome, CommitFailed):
            w.set_exception(outcome)
        else:
            w.set_result(outcome)
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(_settle_in_loop, settled)


async def outcome_of(fut: asyncio.Future[IntakeResult], seconds: float) -> IntakeResult:
    """What ``fut`` is settled with, or ``CommitFailed`` after ``seconds``."""
    # a plain timer, not ``asyncio.timeout``: no cancelling, a tenth of the cost
    timer = fut.get_loop().call_later(seconds, _expire, fut)
    try:
        return await fut
    finally:
        timer.cancel()


def _expire(fut: asyncio.Future[IntakeResult]) -> None:
    if not fut.done():
        fut.set_exception(CommitFailed("no commit in time"))


def settle(fut: asyncio.Future[IntakeResult], outcome: Outcome) -> None:
    """In the future's loop: hand it its outcome, unless the request gave up already."""
    if fut.done():  # timed out, or cancelled
        return
    if isinstance(outcome, CommitFailed):
        fut.set_exception(outcome)
    else:
        fut.set_result(outcome)


def _settle_in_loop(settled: list[tuple[asyncio.Future[IntakeResult], Outcome]]) -> None:
    for fut, outcome in settled:
        settle(fut, outcome)
