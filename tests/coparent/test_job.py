"""The delivery window runs from the scheduler, every minute (a missed window is caught up)."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.triggers.interval import IntervalTrigger

from nocontact.coparent.deliver import delivery_job
from nocontact.jobs import make_scheduler
from nocontact.runtime import Runtime


def test_delivery_window_job_is_scheduled_every_minute(rt: Runtime) -> None:
    job = make_scheduler(rt).get_job("coparent-delivery")
    assert job is not None and job.func is delivery_job and job.args == (rt,)
    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval == timedelta(minutes=1)
    delivery_job(rt)  # nothing waiting: a run is harmless
