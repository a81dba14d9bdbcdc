"""The protective orders a survivor records (court, case, dates, third-party terms)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from nocontact.models import utcnow


class ProtectiveOrder(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    court: str
    case_number: str
    issued: date
    expires: date | None = None
    third_party_prohibited: bool = True  # most orders forbid contact "directly or indirectly"
    note: str = ""
    created_at: datetime = Field(default_factory=utcnow)
