"""Background jobs on APScheduler 3: ledger checkpoints now; channel polls register here too.

APScheduler 3 cannot share a job store between processes, so each process schedules only its
own work (DESIGN §8).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from nocontact.coparent.deliver import delivery_job
from nocontact.db import transaction
from nocontact.runtime import Runtime
from nocontact.vault import ledger
from nocontact.web.notify import digest_job

log = logging.getLogger(__name__)


def checkpoint_job(rt: Runtime) -> None:
    try:
        with transaction(rt.engine) as s:
            cp = ledger.checkpoint(s, rt.household_id, rt.signer)
        log.info("ledger checkpoint at entry %s", cp.seq)
    except Exception:  # loop boundary: a failed checkpoint must not stop the scheduler
        log.exception("ledger checkpoint failed")


def make_scheduler(rt: Runtime) -> BackgroundScheduler:
    sched = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    sched.add_job(
        checkpoint_job,
        "interval",
        minutes=rt.config.checkpoint_minutes,
        args=[rt],
        id="checkpoint",
    )
    # every minute: a window missed while the service was down is delivered at the next run
    sched.add_job(delivery_job, "interval", minutes=1, args=[rt], id="coparent-delivery")
    if rt.config.notify is not None:
        # hourly: each reviewer's own "hourly" or "daily" choice is applied inside the job
        sched.add_job(digest_job, "interval", hours=1, args=[rt], id="reviewer-digest")
    twilio = rt.config.sms.twilio
    if twilio is not None and twilio.catches_up:
        # imported only then: it brings httpx, forwarding and co-parent holding into every
        # `nocontact run`, objects made after start-up's gc.freeze that the collector scans
        from nocontact.channels.sms.catch_up import catch_up_job

        # Twilio never retries a failed message webhook: read back what it could not deliver,
        # first at start (the service may have been down) and then every few minutes
        sched.add_job(
            catch_up_job,
            "interval",
            minutes=twilio.catch_up_minutes,
            args=[rt],
            id="twilio-catch-up",
            next_run_time=datetime.now(UTC),
        )
    return sched
