"""The SMTP front's health as a row the web pages show (never content, never addresses)."""

from __future__ import annotations

from nocontact.channels.status import OnChange
from nocontact.runtime import Runtime


class FrontStatus(OnChange):
    """Writes only when the state changes, off the event loop."""

    def __init__(self, rt: Runtime, name: str) -> None:
        super().__init__(rt, "smtp", name)
