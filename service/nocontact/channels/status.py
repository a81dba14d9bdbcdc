"""A channel's health as the row the home page shows (``ChannelStatus``): never content, never
an address or a number, only whether it works and, if not, a reason in plain words."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from nocontact.db import transaction
from nocontact.models import ChannelStatus, utcnow
from nocontact.runtime import Runtime

log = logging.getLogger(__name__)


def record(rt: Runtime, channel: str, name: str, error: str | None) -> None:
    """Working (``error`` None) or not, now."""
    try:
        _record(rt, channel, name, error)
    except IntegrityError:  # two first-ever updates raced to create the row; the second updates
        _record(rt, channel, name, error)


def _record(rt: Runtime, channel: str, name: str, error: str | None) -> None:
    now = utcnow()
    with transaction(rt.engine) as s:
        q = select(ChannelStatus).where(
            ChannelStatus.household_id == rt.household_id,
            ChannelStatus.channel == channel,
            ChannelStatus.name == name,
        )
        row = s.exec(q).first() or ChannelStatus(
            household_id=rt.household_id, channel=channel, name=name
        )
        row.last_checked = now
        row.ok = error is None
        if error is None:
            row.last_ok, row.failures, row.last_error = now, 0, None
        else:
            row.failures += 1
            row.last_error = error[:300]
        s.add(row)


class OnChange:
    """For an event loop: writes the row only when the state changes (the first time too),
    in a worker thread; a status row must never hold up or break the channel itself."""

    def __init__(self, rt: Runtime, channel: str, name: str) -> None:
        self.rt = rt
        self.channel = channel
        self.name = name
        self._last: bool | None = None

    def ok(self) -> None:
        self._set(None)

    def failed(self, problem: str) -> None:
        self._set(problem)

    def _set(self, problem: str | None) -> None:
        ok = problem is None
        if self._last is ok:
            return
        self._last = ok
        asyncio.get_running_loop().run_in_executor(None, self.write, problem)

    def write(self, problem: str | None) -> None:
        try:
            record(self.rt, self.channel, self.name, problem)
        except Exception:  # noqa: BLE001  (logged without its text: it may name a row's values)
            self._last = None  # try again at the next change of state
            log.error("%s %s: could not record its status", self.channel, self.name)
