"""Group commit for webhook texts: concurrent deliveries share one database commit.

Each request thread decides and seals its own text (the sealed blob is fsynced in parallel),
then hands it to one writer thread that commits whatever has queued up in a single
transaction (``Intake.commit_many``). With SQLite's ``synchronous=FULL`` every commit is an
fsync, and concurrent writers would otherwise queue on the write lock and sleep in its busy
handler; one writer with batches keeps the fsync count per text below one under load and adds
no wait when idle (a lone text is a batch of one). A request answers only after its batch
committed, so the promise holds: no 2xx before the text is durably stored.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future

from nocontact.intake import InboundMessage, Intake, IntakeResult, Prepared
from nocontact.matching import Decision

log = logging.getLogger(__name__)
MAX_BATCH = 64
IDLE_SECONDS = 5.0  # the writer thread ends after this long without work
WAIT_SECONDS = 60.0


class GroupCommit:
    def __init__(
        self, intake: Intake, max_batch: int = MAX_BATCH, idle_seconds: float = IDLE_SECONDS
    ) -> None:
        self.intake = intake
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self._queue: queue.Queue[tuple[Prepared, Future[IntakeResult]]] = queue.Queue()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None

    def process(self, msg: InboundMessage, decision: Decision) -> IntakeResult:
        prepared = self.intake.prepare(msg, decision=decision)
        if isinstance(prepared, IntakeResult):
            return prepared  # not kept, or already in the vault: nothing to commit
        done: Future[IntakeResult] = Future()
        self._queue.put((prepared, done))
        self._start()
        # bounded: a request never hangs; if the commit lands after this, the provider's
        # retry finds the item and is answered as a duplicate
        return done.result(timeout=WAIT_SECONDS)

    def _start(self) -> None:
        with self._lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._run, name="sms-commit", daemon=True)
                self._writer.start()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.idle_seconds)
            except queue.Empty:
                # Leave when idle. Under the lock so a text queued meanwhile is either seen
                # here or finds no writer and starts a new one (``_start`` takes the lock).
                with self._lock:
                    if self._queue.empty():
                        self._writer = None
                        return
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                results = self.intake.commit_many([p for p, _ in batch])
            except Exception as e:  # loop boundary: every waiter gets the error
                log.exception("sms group commit of %s texts failed", len(batch))
                for _, done in batch:
                    done.set_exception(e)
                continue
            for (_, done), result in zip(batch, results, strict=True):
                done.set_result(result)
