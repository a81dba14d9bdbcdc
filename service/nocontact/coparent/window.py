"""When the next delivery window is: pure, so the clock is always the caller's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from nocontact.config import Config


def batching(config: Config) -> bool:
    return bool(config.household.coparent_delivery_times)


def next_window(after: datetime, times: Sequence[str], zone: str) -> datetime:
    """The first delivery time strictly after ``after`` (aware), in UTC; ``after`` itself when
    no times are set (deliver at once). Times are wall-clock times in ``zone``: 18:00 stays
    18:00 across a daylight-saving change."""
    if not times:
        return after.astimezone(UTC)
    tz = ZoneInfo(zone)
    local = after.astimezone(tz)
    found = []
    for day in (local.date(), local.date() + timedelta(days=1)):
        for t in times:
            at = datetime.combine(day, time.fromisoformat(t), tz)
            if at.astimezone(UTC) > after.astimezone(UTC):
                found.append(at.astimezone(UTC))
    return min(found)
