"""The commit process: a child of ``nocontact run`` that seals and commits webhook texts.

Why a process and not the commit thread (``group.GroupCommit``): the thread shares the web
process's interpreter lock with the event loop. Under load the two took about half a core each
and waited for each other: the thread for the lock after every SQLite call, the event loop
behind the thread's Python work. In its own process the commit runs on another core, and the
event loop's part of a batch is one pipe write and one read (issue 4, bench/webhook_load.py).

Protocol over the child's stdin and stdout, frames of a 4-byte big-endian length and a pickle:

    child -> parent   READY, once its runtime is open
    parent -> child   a batch: [(InboundMessage, Decision), ...]
    child -> parent   the outcomes, in order: IntakeResult, or a failure's text (type only)

Pickle is fine here: both ends are this program and the pipes belong to the two processes.

Durability is unchanged: a text's request is answered only after the child replied that its
batch committed. If the child dies, the batch in flight fails (503: the provider retries, and
the dedupe on its message id makes the retry of a batch that did commit harmless); the next
batch starts a new child, at most one start a second.

The child ignores SIGINT and SIGTERM (a Ctrl-C or a service manager's stop reaches the whole
process group, and the child must finish what the parent still waits for); it ends when its
stdin closes: the parent closing it at shutdown, or the parent gone.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import pickle
import signal
import struct
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from nocontact.channels.sms.group import (
    WAIT_SECONDS,
    CommitFailed,
    Outcome,
    commit_batch,
    outcome_of,
    settle,
)
from nocontact.errors import NoContactError
from nocontact.intake import InboundMessage, Intake, IntakeResult
from nocontact.matching import Decision
from nocontact.runtime import Runtime

log = logging.getLogger(__name__)
MAX_BATCH = 256  # texts per frame; a batch is what queued while the one before committed
READY = "ready"
START_SECONDS = 60.0  # the child opens the runtime (imports, engine): about half a second
RESTART_SECONDS = 1.0  # between starts: a child that dies at once must not spin
_HEADER = struct.Struct(">I")
_CHILD_CODE = "from nocontact.channels.sms.commit_process import child; child()"


class CommitProcessGone(CommitFailed):
    """The child ended (or never started); the batch it held is answered 503."""


@dataclass(frozen=True)
class _Job:
    msg: InboundMessage
    decision: Decision
    waiter: asyncio.Future[IntakeResult]


class _Child:
    """One running child and its two pipes (the event loop's side)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc = proc
        self._in = proc.stdin
        self._out = proc.stdout

    async def send(self, obj: object) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self._in.write(_HEADER.pack(len(data)) + data)
        await self._in.drain()

    async def recv(self) -> Any:
        try:
            (size,) = _HEADER.unpack(await self._out.readexactly(_HEADER.size))
            return pickle.loads(await self._out.readexactly(size))  # noqa: S301  (our child)
        except asyncio.IncompleteReadError:
            code = await self.proc.wait()
            raise CommitProcessGone(f"the commit process ended (exit code {code})") from None

    async def commit(self, batch: Sequence[tuple[InboundMessage, Decision]]) -> list[Outcome]:
        await self.send(list(batch))
        replies: list[IntakeResult | str] = await self.recv()
        if len(replies) != len(batch):
            raise CommitProcessGone("the commit process answered the wrong number of texts")
        return [CommitFailed(r) if isinstance(r, str) else r for r in replies]

    async def close(self, timeout: float) -> None:
        if self.proc.returncode is None:
            self._in.close()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


class ProcessGroupCommit:
    """``GroupCommit``'s interface (``submit`` from the event loop, ``process`` from a worker
    thread), committing in the child. Runs in one event loop: ``start`` there first."""

    def __init__(
        self,
        rt: Runtime,
        max_batch: int = MAX_BATCH,
        wait_seconds: float = WAIT_SECONDS,
        restart_seconds: float = RESTART_SECONDS,
    ) -> None:
        self.home = rt.home
        self.config_path = rt.config_path
        self.max_batch = max_batch
        self.wait_seconds = wait_seconds
        self.restart_seconds = restart_seconds
        self._jobs: deque[_Job] = deque()
        self._child: _Child | None = None
        self._pump: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_start = -float("inf")

    @property
    def pid(self) -> int | None:
        """The running child's, if any (for tests and the operator's log)."""
        return self._child.proc.pid if self._child is not None else None

    async def start(self) -> None:
        """Start the child now, so the first text does not wait for it."""
        self._loop = asyncio.get_running_loop()
        self._child = await self._spawn()

    async def close(self, timeout: float = 20.0) -> None:
        """After the web server stopped: let queued texts commit, then end the child."""
        if self._pump is not None:
            await asyncio.wait({self._pump}, timeout=timeout)
        if self._child is not None:
            await self._child.close(timeout)
            self._child = None

    async def submit(self, msg: InboundMessage, decision: Decision) -> IntakeResult:
        """From the event loop: the result once the text's batch committed."""
        loop = asyncio.get_running_loop()
        self._loop = self._loop or loop
        fut: asyncio.Future[IntakeResult] = loop.create_future()
        self._jobs.append(_Job(msg, decision, fut))
        if self._pump is None:
            self._pump = loop.create_task(self._run())
        return await outcome_of(fut, self.wait_seconds)

    def process(self, msg: InboundMessage, decision: Decision) -> IntakeResult:
        """From a worker thread (texts with MMS media or forwarding): blocks until committed."""
        if self._loop is None:
            raise CommitFailed("the commit process was not started")
        done = asyncio.run_coroutine_threadsafe(self.submit(msg, decision), self._loop)
        try:
            return done.result(timeout=self.wait_seconds + 1)
        except TimeoutError:
            done.cancel()
            raise CommitFailed("no commit in time") from None

    async def _run(self) -> None:
        """Send what queued, wait for its outcomes, repeat while texts are waiting."""
        try:
            while self._jobs:
                jobs = self._jobs
                batch = [jobs.popleft() for _ in range(min(len(jobs), self.max_batch))]
                batch = [job for job in batch if not job.waiter.done()]  # gave up: 503 already
                if batch:
                    outcomes = await self._commit(batch)
                    for job, outcome in zip(batch, outcomes, strict=True):
                        settle(job.waiter, outcome)
        finally:
            self._pump = None

    async def _commit(self, batch: list[_Job]) -> list[Outcome]:
        try:
            if self._child is not None and self._child.proc.returncode is not None:
                self._forget("ended while idle (exit code %s)", self._child.proc.returncode)
            if self._child is None:  # dead before this batch was sent: it holds none of it
                self._child = await self._spawn()
            return await self._child.commit([(job.msg, job.decision) for job in batch])
        except Exception as e:  # noqa: BLE001  (loop boundary: each text in the batch gets a 503)
            child, self._child = self._child, None
            if child is not None and child.proc.returncode is None:
                child.proc.kill()  # one that answered nonsense or too late is not trusted again
            log.error(
                "sms commit process failed: %s (%s); %s texts in flight answered 503",
                type(e).__name__,
                e if isinstance(e, CommitProcessGone) else "-",
                len(batch),
            )
            return [CommitProcessGone(f"not stored: {type(e).__name__}") for _ in batch]

    def _forget(self, why: str, *args: object) -> None:
        self._child = None
        log.warning("sms commit process " + why + "; starting another", *args)

    async def _spawn(self) -> _Child:
        wait = self._last_start + self.restart_seconds - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_start = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _CHILD_CODE,
            str(self.home),
            str(self.config_path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        child = _Child(proc)
        try:
            hello = await asyncio.wait_for(child.recv(), START_SECONDS)
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        if hello != READY:
            proc.kill()
            await proc.wait()
            raise CommitProcessGone("the commit process did not start")
        log.info("sms commit process %s started", proc.pid)
        return child


# --- the child ----------------------------------------------------------------------------


def child(argv: Sequence[str] | None = None) -> None:
    """The child's main: ``python -c <_CHILD_CODE> HOME CONFIG``."""
    home, config = argv or sys.argv[1:]
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    gc.disable()  # start-up objects live as long as the process (see ``cli.start_up_done``)
    # frames go over private copies of fds 0 and 1; fd 1 becomes stderr and fd 0 /dev/null, so
    # a stray print or read elsewhere cannot break a frame
    frames_in = os.fdopen(os.dup(0), "rb", buffering=0)
    frames_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    from nocontact.logging import setup_logging

    setup_logging()
    try:
        rt = Runtime.open(Path(home), Path(config), upgrade=False)  # the parent migrated
    except NoContactError as e:  # the parent logs the failed start and answers 503
        print(f"nocontact commit process: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    intake = Intake(rt)
    gc.freeze()
    gc.enable()
    _write(frames_out, READY)
    while (batch := _read(frames_in)) is not None:
        outcomes = commit_batch(intake, batch)
        _write(frames_out, [str(o) if isinstance(o, CommitFailed) else o for o in outcomes])
    rt.engine.dispose()


def _read(f: IO[bytes]) -> Any:
    """The next frame, or None at the end of input (the parent closed it, or is gone)."""
    header = _exactly(f, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    data = _exactly(f, size)
    if data is None:
        return None
    return pickle.loads(data)  # noqa: S301  (our parent, over its private pipe)


def _exactly(f: IO[bytes], size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = f.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _write(f: IO[bytes], obj: object) -> None:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        written = f.write(data)
        data = data[written or 0 :]
