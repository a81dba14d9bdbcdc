"""Tables of the web app: sessions, TOTP recovery codes, notification preferences.

A session row holds only a hash of the cookie; the unwrapped age identity of someone who opened
the vault is never written here (it lives in server memory, see ``keyring.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from nocontact.models import utcnow


class WebSession(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True)  # SHA-256 of the cookie value
    household_id: int = Field(foreign_key="household.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    device: str = ""  # "Chrome on Android", from the browser's own description, for Settings
    mfa_pending: bool = False  # passphrase given, TOTP code still to come
    created_at: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)
    stepped_up_at: datetime | None = None  # passphrase asked again (list changes, reviewers)
    vault_opens_at: datetime | None = None  # set when unlocked; later than now during cool-down


class RecoveryCode(SQLModel, table=True):
    """One-time codes that stand in for a lost TOTP device; stored as argon2 hashes."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    code_hash: str
    used_at: datetime | None = None


class NotifyPrefs(SQLModel, table=True):
    """Where and how often content-free notices go for one person."""

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    email: str = ""
    digest: str = "daily"  # never | hourly | daily (reviewers)
    urgent: bool = True  # owner: a notice when the trusted person tags something urgent
    last_digest_at: datetime | None = None


class TotpUse(SQLModel, table=True):
    """The last time step whose code was accepted, so a seen code cannot be replayed."""

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    last_step: int = 0
