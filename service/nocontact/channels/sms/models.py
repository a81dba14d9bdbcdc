"""The SMS channel's own table: which texts were forwarded to the survivor's phone.

A row claims a forward before it is sent, so 50 concurrent deliveries of one allowed text
forward it once, and a provider's retry after a success forwards nothing. Rows hold the source
key (provider and message id) only, never content.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from nocontact.models import utcnow


class SmsForward(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("household_id", "source_key"),)
    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    source_key: str
    state: str = "sending"  # sending | sent
    claimed_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
