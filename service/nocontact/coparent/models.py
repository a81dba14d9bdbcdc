"""The co-parent delivery table: one row per co-parent message waiting for its delivery time.

A row is created (idempotently: one per vault item) right after the item is committed and
before the channel holds the message back; the channel's delivery marks it ``delivered`` in the
same transaction as ``VaultItem.delivery``. So a restart finds every waiting delivery, and a
delivered one is never repeated. Rows hold ids, hashes and times; an SMS row also holds the
text to forward, sealed to the service's delivery key and wiped once forwarded.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from nocontact.models import utcnow


class CoparentDelivery(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("household_id", "item_id"),)
    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    item_id: int = Field(foreign_key="vaultitem.id", ondelete="CASCADE")
    channel: str  # email | sms
    account: str = ""  # email: the IMAP account whose holding folder has it
    due_at: datetime = Field(index=True)  # UTC
    state: str = Field(default="pending", index=True)  # pending | delivered | missing
    payload: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    attempts: int = 0
    last_error: str | None = None  # content-free
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None
