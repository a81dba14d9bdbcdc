"""`nocontact run`: everything configured, until SIGINT/SIGTERM: one process, and a child that
commits webhook texts when an SMS gateway is configured (``channels/sms/commit_process.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator

import uvicorn

from nocontact.config import split_listen
from nocontact.intake import Intake
from nocontact.jobs import make_scheduler
from nocontact.runtime import Runtime
from nocontact.web.app import create_app

log = logging.getLogger(__name__)

# A channel starter gets the runtime and the shared intake and returns an async "stop".
Stop = Callable[[], Awaitable[None]]
Starter = Callable[[Runtime, Intake], Awaitable[Stop | None]]


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process stops channels first."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def channel_starters() -> list[Starter]:
    """Channels register here (SMTP front, IMAP watchers); each starts only if configured."""
    from nocontact.channels.imap.watcher import start_imap
    from nocontact.channels.smtp.server import start_front

    return [start_front, start_imap]


async def serve(rt: Runtime) -> None:
    intake = Intake(rt)
    app = create_app(rt, intake)
    host, port = split_listen(rt.config.web.listen)
    server = _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            server_header=False,
            date_header=False,
            proxy_headers=False,  # the pages get them (``Front.trust_proxies``), webhooks need none
        )
    )
    app.trust_proxies(server.config.forwarded_allow_ips)
    commits = None
    if app.webhooks.gateways:  # texts are sealed and committed in a child process
        from nocontact.channels.sms.commit_process import ProcessGroupCommit

        commits = ProcessGroupCommit(rt)
        await commits.start()
        app.webhooks.group = commits
    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_event.set)

    scheduler = make_scheduler(rt)
    scheduler.start()
    stops: list[Stop] = []
    for start in channel_starters():
        stop = await start(rt, intake)
        if stop is not None:
            stops.append(stop)

    web = asyncio.create_task(server.serve())
    log.info("No Contact is running; web on %s:%s", host, port)
    waiter = asyncio.create_task(stop_event.wait())
    await asyncio.wait({web, waiter}, return_when=asyncio.FIRST_COMPLETED)
    log.info("stopping")
    server.should_exit = True
    for stop in reversed(stops):
        await stop()
    scheduler.shutdown(wait=False)
    await web
    if commits is not None:  # the server answered its last request: nothing more will queue
        await commits.close()


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (not on Windows): the event loop's own CPU per webhook is
    about halved. uvicorn picks uvloop only when it creates the loop itself, and here the loop
    is ours (the SMTP front and the IMAP watchers share it)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


# The commit writer (and each IMAP watcher) lets go of the interpreter for every SQLite call and
# fsync; while the event loop is busy it then waits up to the switch interval to get it back,
# several times per group commit. Python's default of 5 ms made commits, not CPU, the limit on
# webhook throughput; 1 ms measured 0.24 -> 0.26 of the bare app's rate (bench/webhook_load.py).
SWITCH_INTERVAL = 0.001


def run(rt: Runtime) -> None:
    """Serve until stopped. The caller holds the home's lock (``home_lock.hold_home``, taken
    before the runtime opens); on PostgreSQL this holds the household's as well, so a second
    home pointed at the same database does not start."""
    from nocontact.home_lock import hold_household

    sys.setswitchinterval(SWITCH_INTERVAL)
    with (
        hold_household(rt.engine, rt.household_id),
        asyncio.Runner(loop_factory=loop_factory()) as runner,
    ):
        runner.run(serve(rt))
