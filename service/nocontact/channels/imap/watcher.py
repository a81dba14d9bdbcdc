"""Keeping watch: IDLE where the server offers it, scheduled passes otherwise.

``mode = "idle"``: one thread per account holds an IDLE session on its first folder and runs a
pass as soon as the server reports new mail; IDLE is re-issued every few minutes (RFC 2177: the
server may drop an IDLE after 29 minutes; NAT boxes often sooner) and every ``poll_seconds`` a
full pass covers the other folders. A dropped connection reconnects with capped backoff.
``mode = "poll"`` (or a server without IDLE): an APScheduler interval job per account.
A failing account backs off on its own; it never holds up another.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from imapclient.exceptions import IMAPClientError

from nocontact.channels.imap import cursors
from nocontact.channels.imap.client import Connection, ImapError, connect
from nocontact.channels.imap.poller import poll_account
from nocontact.config import ImapAccount
from nocontact.errors import ChannelError, ConfigError
from nocontact.intake import Intake
from nocontact.runtime import Runtime

log = logging.getLogger(__name__)

# Well under RFC 2177's 29 minutes, and short on purpose: each renewal is DONE + NOOP + IDLE,
# which makes the server look at the folder again. Without it a message that landed while no
# IDLE was running could wait unseen until the next full pass (seen with Dovecot on maildir).
IDLE_RENEW_SECONDS = 10.0
IDLE_SLICE_SECONDS = 1.0  # how often a waiting IDLE checks for shutdown


class Watcher:
    """One account's watch: passes in order, never two at once for the same account."""

    def __init__(self, intake: Intake, account: ImapAccount) -> None:
        self.intake = intake
        self.account = account
        self.stopping = threading.Event()
        self._pass_lock = threading.Lock()
        self._failures = 0  # passes in a row that failed
        self._drops = 0  # watching sessions in a row that were lost
        self._next_try = 0.0

    def run_pass(self) -> None:
        """A pass now, unless the account is backing off after failures; again at once while
        a pass took something (mail comes in bursts, and the next message may have arrived
        after this pass searched)."""
        for _ in range(10):
            if not self._one_pass():
                return

    def _one_pass(self) -> bool:
        if time.monotonic() < self._next_try or not self._pass_lock.acquire(blocking=False):
            return False
        try:
            report = poll_account(self.intake, self.account)
        except Exception:  # loop boundary: a bug in one pass must not end the watch
            log.exception("account %s: the pass failed", self.account.name)
            report = None
        finally:
            self._pass_lock.release()
        self._failures = 0 if report is not None and not report.errors else self._failures + 1
        delay = cursors.backoff_seconds(self.account.poll_seconds, self._failures)
        self._next_try = time.monotonic() + (delay if self._failures else 0)
        took = report is not None and report.quarantined + report.review > 0
        return took and not self._failures

    def idle_forever(self) -> None:
        """The IDLE loop; returns when ``stopping`` is set."""
        while not self.stopping.is_set():
            self.run_pass()
            try:
                self._idle_session()
            except (ImapError, ChannelError, ConfigError, IMAPClientError, OSError) as e:
                self._drops += 1
                # a drop is usually a server restart or a NAT timeout: try again soon, then slower
                wait = cursors.backoff_seconds(1, self._drops - 1)
                log.warning(
                    "account %s: watch lost (%s); again in %.0fs",
                    self.account.name,
                    e.__class__.__name__,
                    wait,
                )
                self.stopping.wait(wait)

    def _idle_session(self) -> None:
        conn = connect(self.account)
        try:
            if not conn.has(b"IDLE"):
                log.info("account %s: no IDLE on this server; polling", self.account.name)
                while not self.stopping.wait(self.account.poll_seconds):
                    self.run_pass()
                return
            conn.select(self.account.folders[0])
            self._drops = 0
            if self._failures:
                # Reachable again (a server restart, a password put right): the passes' backoff
                # (up to poll_seconds x 2^n) would leave new mail in the INBOX for minutes, and
                # what came meanwhile is not news to this session. Take it now.
                self._failures, self._next_try = 0, 0.0
                self.run_pass()
            self._idle(conn)
        finally:
            conn.logout()

    def _idle(self, conn: Connection) -> None:
        last_pass = time.monotonic()
        while not self.stopping.is_set():
            # Mail that arrived during the last pass is reported on the next command, not
            # pushed later: ask once (NOOP) before idling, and run another pass if there is some.
            if _exists(conn.client.noop()[1]):
                self.run_pass()
                last_pass = time.monotonic()
                continue
            conn.client.idle()
            # an EXISTS sent before the server's "+ idling" lands in imaplib's untagged store
            news = bool(conn.client._imap.untagged_responses.pop("EXISTS", None))
            started = time.monotonic()
            while not news and not self.stopping.is_set():
                if time.monotonic() - started >= IDLE_RENEW_SECONDS:
                    break
                news = _new_mail(conn)
                if time.monotonic() - last_pass >= self.account.poll_seconds:
                    news = True  # the other folders, and a safety net for missed events
            news = _exists(conn.client.idle_done()[1]) or news
            if news:
                self.run_pass()
                last_pass = time.monotonic()


def _exists(responses: list[Any]) -> bool:
    # EXISTS means new mail; EXPUNGE and FETCH are our own moves and flag changes
    return any(isinstance(r, tuple) and b"EXISTS" in r for r in responses)


def _new_mail(conn: Connection) -> bool:
    """Wait up to one slice for IDLE news. imapclient's idle_check swallows an EOF and returns
    nothing at once, so an early empty return or a BYE means the session is gone."""
    began = time.monotonic()
    responses = conn.client.idle_check(IDLE_SLICE_SECONDS)
    if any(r and r[0] == b"BYE" for r in responses) or (
        not responses and time.monotonic() - began < IDLE_SLICE_SECONDS / 2
    ):
        raise ImapError("the server closed the watching session")
    return _exists(responses)


Stop = Callable[[], Awaitable[None]]


def start_watchers(
    intake: Intake,
) -> tuple[list[Watcher], list[threading.Thread], BackgroundScheduler]:
    """Start every configured account's watch; returns what ``stop_watchers`` needs."""
    watchers = [Watcher(intake, a) for a in intake.rt.config.imap]
    scheduler = BackgroundScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1}
    )
    threads: list[threading.Thread] = []
    for w in watchers:
        name = w.account.name
        if w.account.mode == "idle":
            threads.append(
                threading.Thread(target=w.idle_forever, name=f"imap-{name}", daemon=True)
            )
        else:
            scheduler.add_job(
                w.run_pass,
                "interval",
                seconds=w.account.poll_seconds,
                id=f"imap-{name}",
                next_run_time=datetime.now(UTC),
            )
    scheduler.start()
    for t in threads:
        t.start()
    log.info("watching %s mail account(s)", len(watchers))
    return watchers, threads, scheduler


def stop_watchers(
    watchers: list[Watcher], threads: list[threading.Thread], scheduler: BackgroundScheduler
) -> None:
    for w in watchers:
        w.stopping.set()
    scheduler.shutdown(wait=True)  # lets a pass in progress finish: it is safe to stop after
    for t in threads:
        t.join(timeout=60)


async def start_imap(rt: Runtime, intake: Intake) -> Stop | None:
    """The `nocontact run` starter: nothing to do without [[imap]] accounts."""
    if not rt.config.imap:
        return None
    started = start_watchers(intake)

    async def stop() -> None:
        await asyncio.to_thread(stop_watchers, *started)

    return stop
