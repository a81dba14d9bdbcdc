"""The SMTP front's health as a row the web pages show (never content, never addresses)."""

from __future__ import annotations

import asyncio
import logging

from sqlmodel import select

from nocontact.db import transaction
from nocontact.models import ChannelStatus, utcnow
from nocontact.runtime import Runtime

log = logging.getLogger(__name__)


class FrontStatus:
    """Writes only when the state changes, off the event loop."""

    def __init__(self, rt: Runtime, name: str) -> None:
        self.rt = rt
        self.name = name
        self._last: bool | None = None

    def ok(self) -> None:
        self._set(True, None)

    def failed(self, problem: str) -> None:
        self._set(False, problem[:300])

    def _set(self, ok: bool, problem: str | None) -> None:
        if self._last is ok:
            return
        self._last = ok
        asyncio.get_running_loop().run_in_executor(None, self.write, ok, problem)

    def write(self, ok: bool, problem: str | None) -> None:
        try:
            with transaction(self.rt.engine) as s:
                row = s.exec(
                    select(ChannelStatus).where(
                        ChannelStatus.household_id == self.rt.household_id,
                        ChannelStatus.channel == "smtp",
                        ChannelStatus.name == self.name,
                    )
                ).first() or ChannelStatus(
                    household_id=self.rt.household_id, channel="smtp", name=self.name
                )
                now = utcnow()
                row.ok = ok
                row.last_checked = now
                if ok:
                    row.last_ok = now
                    row.failures = 0
                else:
                    row.last_error = problem
                    row.failures += 1
                s.add(row)
        except Exception:  # (a status row must never break mail handling)
            log.exception("smtp front: could not record its status")
