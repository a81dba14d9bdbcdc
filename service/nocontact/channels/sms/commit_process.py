"""The commit process: a child of ``nocontact run`` that seals and commits webhook texts.

Why a process and not the commit thread (``group.GroupCommit``): the thread shares the web
process's interpreter lock with the event loop. Under load the two took about half a core each
and waited for each other: the thread for the lock after every SQLite call, the event loop
behind the thread's Python work. In its own process the commit runs on another core, and the
event loop's part of a batch is one pipe write and one read (issue 4, bench/webhook_load.py).

Protocol over the child's stdin and stdout, frames of a 4-byte big-endian length and a pickle:

    child -> parent   READY, once its runtime is open
    parent -> child   [(InboundMessage, Decision)]: each text as soon as it is decided
    child -> parent   once per commit: the outcomes of every text it took, in the order sent
                      (IntakeResult, or a failure's text: its type only)

The child commits whatever arrived while it committed the last batch, so batches form where
the commits are made, and the child never waits for the event loop between two of them.

Pickle is fine here: both ends are this program and the pipes belong to the two processes.

Durability is unchanged: a text's request is answered only after the child replied that its
batch committed. If the child dies, the batch in flight fails (503: the provider retries, and
the dedupe on its message id makes the retry of a batch that did commit harmless); the next
batch starts a new child, at most one start a second.

A child that answers nothing for ``wait_seconds`` after a text was sent to it (stopped, stuck
in a lock) is killed, and the next text starts another.

The child ignores SIGINT and SIGTERM (a Ctrl-C or a service manager's stop reaches the whole
process group, and the child must finish what the parent still waits for); it ends when its
stdin closes: the parent closing it at shutdown, or the parent gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import pickle
import select
import signal
import struct
import sys
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from nocontact.channels.sms.group import (
    WAIT_SECONDS,
    CommitFailed,
    commit_batch,
    outcome_of,
    settle,
)
from nocontact.errors import NoContactError
from nocontact.intake import InboundMessage, Intake, IntakeResult
from nocontact.matching import Decision
from nocontact.runtime import Runtime

log = logging.getLogger(__name__)
READY = "ready"
START_SECONDS = 60.0  # the child opens the runtime (imports, engine): about half a second
RESTART_SECONDS = 1.0  # between starts: a child that dies at once must not spin
_HEADER = struct.Struct(">I")
_CHILD_CODE = "from nocontact.channels.sms.commit_process import child; child()"


class CommitProcessGone(CommitFailed):
    """The child ended (or never started); the batch it held is answered 503."""


class _Child:
    """One running child, its two pipes, and the texts sent to it still waiting for their
    outcome, oldest first (it answers in the order it was sent)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc = proc
        self._in = proc.stdin
        self._out = proc.stdout
        self.waiting: deque[asyncio.Future[IntakeResult]] = deque()
        self.reader: asyncio.Task[None] | None = None
        self.answered = time.monotonic()  # when it last answered (or started)
        self.killed = False

    @property
    def running(self) -> bool:
        return not self.killed and self.proc.returncode is None

    def kill(self) -> None:
        """Not trusted any more: no text is sent to it from now on."""
        self.killed = True
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    def send(self, obj: object) -> None:
        """Queue one frame on the pipe; whole, so frames from concurrent requests never mix."""
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self._in.write(_HEADER.pack(len(data)) + data)

    async def drain(self) -> None:
        await self._in.drain()

    async def recv(self) -> Any:
        try:
            (size,) = _HEADER.unpack(await self._out.readexactly(_HEADER.size))
            return pickle.loads(await self._out.readexactly(size))  # noqa: S301  (our child)
        except asyncio.IncompleteReadError:
            code = await self.proc.wait()
            raise CommitProcessGone(f"the commit process ended (exit code {code})") from None

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
        wait_seconds: float = WAIT_SECONDS,
        restart_seconds: float = RESTART_SECONDS,
    ) -> None:
        self.home = rt.home
        self.config_path = rt.config_path
        self.wait_seconds = wait_seconds
        self.restart_seconds = restart_seconds
        self._child: _Child | None = None
        self._starting = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_start = -float("inf")
        self._start_failed: BaseException | None = None

    @property
    def pid(self) -> int | None:
        """The running child's, if any (for tests and the operator's log)."""
        child = self._child
        return child.proc.pid if child is not None and child.running else None

    async def start(self) -> None:
        """Start the child now, so the first text does not wait for it."""
        self._loop = asyncio.get_running_loop()
        await self._running_child()

    async def close(self, timeout: float = 20.0) -> None:
        """After the web server stopped: let the texts sent commit, then end the child."""
        child, self._child = self._child, None
        if child is None:
            return
        if child.waiting:
            await asyncio.wait(set(child.waiting), timeout=timeout)
        await child.close(timeout)
        if child.reader is not None:
            await asyncio.wait({child.reader}, timeout=timeout)

    async def submit(self, msg: InboundMessage, decision: Decision) -> IntakeResult:
        """From the event loop: the result once the text committed."""
        loop = asyncio.get_running_loop()
        self._loop = self._loop or loop
        child = self._child
        if child is None or not child.running:
            child = await self._running_child()  # a dead child held none of this text
        fut: asyncio.Future[IntakeResult] = loop.create_future()
        sent = time.monotonic()
        child.waiting.append(fut)
        child.send([(msg, decision)])
        with contextlib.suppress(ConnectionError):  # it died: its reader fails ``fut``
            await child.drain()
        try:
            return await outcome_of(fut, self.wait_seconds)
        except CommitFailed:
            if child.running and child.answered < sent:  # nothing at all since: it is stuck
                log.error(
                    "sms commit process %s answered nothing in %s s; ending it",
                    child.proc.pid,
                    self.wait_seconds,
                )
                child.kill()  # its reader fails the rest; the next text starts another
            raise

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

    async def _running_child(self) -> _Child:
        async with self._starting:  # one start, however many texts are waiting for it
            child = self._child
            if child is not None and child.running:
                return child
            if child is not None:
                if not child.killed:  # (one we ended was logged then)
                    code = child.proc.returncode
                    log.warning("sms commit process ended (exit code %s); starting another", code)
                self._child = None
            if self._start_failed is not None and self._in_restart_wait():
                raise CommitProcessGone("the commit process cannot start") from self._start_failed
            try:
                child = await self._spawn()
            except Exception as e:
                self._start_failed = e
                log.error("sms commit process did not start: %s", type(e).__name__)
                raise CommitProcessGone("the commit process cannot start") from e
            self._start_failed = None
            child.reader = asyncio.get_running_loop().create_task(self._read(child))
            self._child = child
            return child

    def _in_restart_wait(self) -> bool:
        return time.monotonic() < self._last_start + self.restart_seconds

    async def _read(self, child: _Child) -> None:
        """Hand each commit's outcomes to the texts' requests, in the order they were sent."""
        try:
            while True:
                replies: list[IntakeResult | str] = await child.recv()
                child.answered = time.monotonic()
                if len(replies) > len(child.waiting):
                    raise CommitProcessGone("the commit process answered texts never sent")
                for reply in replies:
                    outcome = CommitFailed(reply) if isinstance(reply, str) else reply
                    settle(child.waiting.popleft(), outcome)
        except Exception as e:  # noqa: BLE001  (its texts in flight get a 503 and are retried)
            if child.proc.returncode is None:
                child.kill()  # one that answered nonsense is not trusted again
            if child.waiting:
                log.error(
                    "sms commit process failed: %s (%s); %s texts in flight answered 503",
                    type(e).__name__,
                    e if isinstance(e, CommitProcessGone) else "-",
                    len(child.waiting),
                )
            while child.waiting:
                settle(
                    child.waiting.popleft(), CommitProcessGone(f"not stored: {type(e).__name__}")
                )

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
    frames_in = _Frames(os.dup(0))
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
    while (batch := frames_in.batch()) is not None:
        outcomes = commit_batch(intake, batch)  # one commit, one answer: in the order sent
        _write(frames_out, [str(o) if isinstance(o, CommitFailed) else o for o in outcomes])
    rt.engine.dispose()


class _Frames:
    """The parent's frames, each a list of (text, decision)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = bytearray()

    def batch(self) -> list[tuple[InboundMessage, Decision]] | None:
        """Blocks for one whole frame, then adds every whole frame already in the pipe: what
        arrived while the last batch committed. None at the end of input (the parent closed
        the pipe, or is gone)."""
        jobs = self._whole()
        while not jobs:
            if not self._fill():
                return None
            jobs = self._whole()
        while select.select([self.fd], [], [], 0)[0] and self._fill():
            jobs += self._whole()
        return jobs

    def _fill(self) -> bool:
        chunk = os.read(self.fd, 1 << 20)
        self.buf += chunk
        return bool(chunk)

    def _whole(self) -> list[tuple[InboundMessage, Decision]]:
        jobs: list[tuple[InboundMessage, Decision]] = []
        at = 0
        while len(self.buf) - at >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self.buf, at)
            end = at + _HEADER.size + size
            if len(self.buf) < end:
                break
            # our parent, over its private pipe
            jobs += pickle.loads(self.buf[at + _HEADER.size : end])  # noqa: S301
            at = end
        del self.buf[:at]
        return jobs


def _write(f: IO[bytes], obj: object) -> None:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        written = f.write(data)
        data = data[written or 0 :]
