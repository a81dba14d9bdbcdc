"""Plain words for times, channels and account health (VOICE.md: no jargon on survivor pages)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nocontact.models import ChannelStatus, utcnow
from nocontact.web.sessions import aware

CHANNEL = {"email": "Email", "sms": "Text message", "imap": "mail account", "smtp": "mail relay"}
RELATION = {
    "abuser": "on your list",
    "ally": "carries messages for someone on your list",
    "coparent": "co-parent: delivered, with a copy kept",
}


def ago(ts: datetime | None, now: datetime | None = None) -> str:
    if ts is None:
        return "not yet"
    seconds = int(((now or utcnow()) - aware(ts)).total_seconds())
    if seconds < 90:
        return "just now"
    minutes = seconds // 60
    if minutes < 90:
        return f"{minutes} minutes ago"
    hours = minutes // 60
    if hours < 36:
        return f"{hours} hours ago"
    return f"{hours // 24} days ago"


def when(ts: datetime, zone: str = "UTC") -> str:
    """A date and time in the household's time zone (config ``household.timezone``)."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz, zone = ZoneInfo("UTC"), "UTC"
    local = aware(ts).astimezone(tz)
    return local.strftime("%d %b %Y, %H:%M ") + (local.tzname() or zone)


def minutes_until(ts: datetime, now: datetime | None = None) -> int:
    seconds = (aware(ts) - (now or utcnow())).total_seconds()
    return max(1, int(seconds + 59) // 60)


def health_line(st: ChannelStatus) -> tuple[str, str, bool]:
    """(what, how it is, ok) for one account or gateway, in plain words."""
    if (st.channel, st.name) == ("sms", "texts"):
        return _texts_line(st)
    if st.channel == "imap":
        what = f"Your mail account “{st.name}”"
    elif st.channel == "sms":
        what = f"Text messages through “{st.name}”"
    else:
        what = f"Incoming mail relay “{st.name}”"
    if st.ok:
        return what, f"checked {ago(st.last_checked)}", True
    since = ago(st.last_ok) if st.last_ok else "it was set up"
    return (
        what,
        f"could not be checked since {since}. Messages there are not being looked at "
        "until this is fixed. Check the password or ask the person who set this up.",
        False,
    )


def _texts_line(st: ChannelStatus) -> tuple[str, str, bool]:
    """Whether texts from the gateways can be stored (``channels/sms/router``)."""
    if st.ok:
        return "Text messages", "kept safely as they arrive", True
    since = ago(st.last_ok) if st.last_ok else "the first one"
    return (
        "Text messages",
        f"could not be stored since {since}. The gateways are asked to send them again, but "
        "some try only once more. Ask the person who set this up to look at the service.",
        False,
    )
