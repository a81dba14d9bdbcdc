"""The tables. Every row belongs to a household (one for a single install, many when hosted).

Nothing here holds message content, subjects or sender addresses in the clear: the originals
and their metadata are sealed (``VaultItem.sealed_meta``, blobs on disk); rows hold hashes,
ids, list-side names and decisions only.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, LargeBinary, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

GENESIS = "0" * 64


def utcnow() -> datetime:
    return datetime.now(UTC)


class Household(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    default_region: str = "GB"
    ledger_seq: int = 0  # length of the chain; the head hash below is entry ledger_seq's
    ledger_head: str = GENESIS
    list_version: int = 0  # bumped on every change to the list; channels sweep on change
    created_at: datetime = Field(default_factory=utcnow)


class Person(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("household_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    name: str
    relation: str  # abuser | ally | coparent | allow
    note: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class Identifier(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    kind: str  # email | domain | phone | alias
    original: str  # as the person typed it, kept for evidence
    normalised: str = Field(index=True)


class Recipient(SQLModel, table=True):
    """An age key pair that items are sealed to; the private half is wrapped by its holder."""

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    kind: str  # owner | reviewer | recovery
    public_key: str
    identity_wrapped: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class User(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("household_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    name: str
    role: str  # owner | reviewer
    password_hash: str  # argon2id
    recipient_id: int = Field(foreign_key="recipient.id")
    totp_secret: str | None = None
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins, counted per account *from one client address* and per client address.

    Counting per pair means a stranger who guesses wrong five times rests only themselves:
    the owner, from her own phone, can still log in (see ``throttle.py``).
    """

    key: str = Field(primary_key=True)  # "account:<user id>@<address>" | "client:<address>"
    failures: int = 0
    window_start: datetime = Field(default_factory=utcnow)
    locked_until: datetime | None = None


class VaultItem(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("household_id", "source_key"),
        UniqueConstraint("household_id", "sha256"),
    )
    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    channel: str  # email | sms
    source_key: str  # the channel's idempotency key
    sha256: str  # of the plaintext original, at intake
    size: int
    blob: str  # content address of the sealed original in the blob store
    sealed_meta: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: datetime  # server clock, UTC
    action: str  # quarantine | record | review
    person_id: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    person_name: str | None = None  # as listed when it arrived (the person may be removed later)
    relation: str | None = None
    reasons: str = "[]"  # JSON list of reason codes; no content
    status: str = "unopened"  # unopened | opened
    delivery: str = "none"  # none | pending | delivered | released (record/review deliveries)
    ledger_seq: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class SealedBlob(SQLModel, table=True):
    """A small sealed original, kept in the database instead of a blob file: written in the
    same commit as its item, so one database sync makes a whole batch durable (a file costs a
    file and a directory sync each). Addressed like a blob file: SHA-256 of the sealed bytes."""

    address: str = Field(primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ItemKey(SQLModel, table=True):
    """An item's key for one recipient (owner, reviewer or recovery): the row also says that
    this recipient may open the item.

    Format 2 (``batch`` set): ``wrapped`` is the item's AES-256-GCM data key wrapped under the
    batch key, which ``BatchKey`` seals to the recipient. Format 1 (``batch`` empty, items
    sealed before migration 0013): ``wrapped`` is the item's own age identity sealed to the
    recipient."""

    item_id: int = Field(foreign_key="vaultitem.id", primary_key=True, ondelete="CASCADE")
    recipient_id: int = Field(foreign_key="recipient.id", primary_key=True)
    wrapped: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    batch: str | None = None


class BatchKey(SQLModel, table=True):
    """A batch key sealed with age to one recipient (see ``vault.batches``)."""

    batch: str = Field(primary_key=True)
    recipient_id: int = Field(foreign_key="recipient.id", primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    wrapped: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LedgerEntry(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("household_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    seq: int
    kind: str
    body: str  # canonical JSON of the entry; ids and hashes only
    prev_hash: str
    hash: str
    created_at: datetime = Field(default_factory=utcnow)


class Checkpoint(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    seq: int
    head: str
    statement: str  # canonical JSON that was signed
    signature: str  # hex Ed25519
    created_at: datetime = Field(default_factory=utcnow)


class ReviewNote(SQLModel, table=True):
    """What the trusted person wrote about an item, kept apart from the original.

    The tags and summary are sealed with the item's own secret (``vault.notes``): only who can
    open the item can read them. In the clear: that there is a note, who wrote it and when,
    and ``go_between``, which the protective-order timeline reads without a key."""

    item_id: int = Field(foreign_key="vaultitem.id", primary_key=True, ondelete="CASCADE")
    sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    go_between: bool = False  # passed on for someone on the list (the reviewer said so)
    # a note from before migration 0015, in plaintext until a holder next reads it; then blank
    legacy_tags: str = "[]"
    legacy_summary: str = ""
    reviewer_id: int | None = Field(default=None, foreign_key="user.id")
    updated_at: datetime = Field(default_factory=utcnow)


class ChannelStatus(SQLModel, table=True):
    """The health of one account or gateway, for the home page; never content."""

    __table_args__ = (UniqueConstraint("household_id", "channel", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    channel: str  # imap | smtp | sms
    name: str
    ok: bool = True
    last_checked: datetime | None = None
    last_ok: datetime | None = None
    last_error: str | None = None
    failures: int = 0


class ImapCursor(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("household_id", "account", "folder"),)
    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    account: str
    folder: str
    uidvalidity: int = 0
    last_uid: int = 0
    list_version: int = 0  # the list version the whole folder was last swept for
    updated_at: datetime = Field(default_factory=utcnow)


def table(model: type[SQLModel]) -> Table:
    """A model's table, for Core statements on hot paths (bulk inserts skip the ORM)."""
    t = model.__table__  # type: ignore[attr-defined]
    assert isinstance(t, Table)
    return t
