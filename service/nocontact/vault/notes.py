"""The trusted person's notes, sealed with the item they describe.

A note's tags and summary are one small JSON document sealed with the item's own secret:
AES-256-GCM under the item's data key with its own label (format 2), or age to the item's own
identity (format 1). So whoever can open the item can open its note, and nobody else: re-keying
(a reviewer added, ``give_access``, ``reset_with_recovery``) hands on the item's secret and the
note with it, with nothing to re-seal. A stolen database holds only that a note exists, who
wrote it and when, and the ``go_between`` flag, which the protective-order timeline needs
without a key and which the list already shows (the reviewer put the sender on it).

Notes written before migration 0015 kept their tags and summary in plaintext columns
(``legacy_tags``, ``legacy_summary``). They are read as they are until a holder of the item
next has their key at hand (``seal_legacy``), then sealed and blanked.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pyrage import x25519
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, or_, select

from nocontact.errors import VaultError
from nocontact.models import ReviewNote, VaultItem, utcnow
from nocontact.vault import envelope
from nocontact.vault.crypto import seal as age_seal
from nocontact.vault.store import ItemSecret, Opener, open_part

GO_BETWEEN = "go-between"
# bound into the AES-GCM tag: a note cannot be passed off as the item's metadata or original
NOTE = b"note"
# the sealed document is padded to a multiple of this, so its size says little about the summary
PAD = 256
EMPTY_TAGS = "[]"


@dataclass(frozen=True)
class NoteText:
    tags: tuple[str, ...]  # go-between included when marked
    summary: str


def _document(tags: Iterable[str], summary: str) -> bytes:
    kept = [t for t in tags if t != GO_BETWEEN]
    doc = json.dumps({"v": 1, "tags": kept, "summary": summary}, ensure_ascii=False).encode()
    return doc + b" " * (-len(doc) % PAD)  # JSON allows trailing white space


def seal_note(secret: ItemSecret, tags: Iterable[str], summary: str) -> bytes:
    """The note sealed with its item's secret (``go-between`` is kept in the clear instead)."""
    doc = _document(tags, summary)
    if isinstance(secret, str):  # format 1: the item's own age identity
        public = str(x25519.Identity.from_str(secret).to_public())
        return age_seal(doc, [public])
    return envelope.seal(secret, doc, NOTE)


def open_sealed_note(secret: ItemSecret, sealed: bytes) -> tuple[list[str], str]:
    try:
        doc = json.loads(open_part(secret, sealed, NOTE))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise VaultError("a note could not be read") from e
    tags, summary = (doc.get("tags"), doc.get("summary")) if isinstance(doc, dict) else (0, 0)
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise VaultError("a note could not be read")
    if not isinstance(summary, str):
        raise VaultError("a note could not be read")
    return tags, summary


def _legacy(note: ReviewNote) -> tuple[list[str], str]:
    try:
        tags = json.loads(note.legacy_tags or EMPTY_TAGS)
    except json.JSONDecodeError:
        tags = []
    kept = [str(t) for t in tags] if isinstance(tags, list) else []
    return kept, note.legacy_summary


def read_note(secret: ItemSecret, note: ReviewNote) -> NoteText:
    """Tags and summary of a note on an item whose secret the caller holds."""
    if note.sealed is not None:
        tags, summary = open_sealed_note(secret, note.sealed)
    else:
        tags, summary = _legacy(note)
    tags = [t for t in tags if t != GO_BETWEEN]
    if note.go_between:
        tags.append(GO_BETWEEN)
    return NoteText(tuple(dict.fromkeys(tags)), summary)


def write_note(
    note: ReviewNote, secret: ItemSecret, tags: Sequence[str], summary: str, reviewer_id: int | None
) -> ReviewNote:
    """Replace what ``note`` says; the plaintext of an older note is blanked. The caller adds
    the row and commits."""
    note.sealed = seal_note(secret, tags, summary)
    note.go_between = GO_BETWEEN in tags
    note.legacy_tags, note.legacy_summary = EMPTY_TAGS, ""
    note.reviewer_id, note.updated_at = reviewer_id, utcnow()
    return note


class NoteReader:
    """Opens notes for one holder, each batch key once (a list of notes is one page)."""

    def __init__(self, session: Session, recipient_id: int, identity: str) -> None:
        self.opener = Opener(session, recipient_id, identity)

    def secret(self, item: VaultItem) -> ItemSecret:
        return self.opener.item_secret(item)

    def read(self, item: VaultItem, note: ReviewNote) -> NoteText | None:
        """The note, or None when this holder cannot open its item (or it is damaged)."""
        try:
            return read_note(self.secret(item), note)
        except VaultError:
            return None


def seal_legacy(session: Session, reader: NoteReader, household_id: int) -> int:
    """Seal every plaintext note (from before migration 0015) whose item this holder can open,
    and blank its plaintext. Returns how many; the caller commits, then calls ``scrub``."""
    rows = session.exec(
        select(ReviewNote, VaultItem)
        .join(VaultItem, col(VaultItem.id) == col(ReviewNote.item_id))
        .where(
            VaultItem.household_id == household_id,
            col(ReviewNote.sealed).is_(None),
            or_(ReviewNote.legacy_tags != EMPTY_TAGS, ReviewNote.legacy_summary != ""),
        )
    ).all()
    if not rows:
        return 0
    conn = session.connection()
    was = None
    if conn.dialect.name == "sqlite":
        # the blanked plaintext is overwritten with zeros, not left in the page's free space
        was = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
        conn.exec_driver_sql("PRAGMA secure_delete = ON")
    sealed = 0
    for note, item in rows:
        try:
            secret = reader.secret(item)
        except VaultError:
            continue  # not sealed to this holder; another holder will seal it
        tags, summary = _legacy(note)
        note.sealed = seal_note(secret, tags, summary)
        note.go_between = note.go_between or GO_BETWEEN in tags
        note.legacy_tags, note.legacy_summary = EMPTY_TAGS, ""
        session.add(note)
        sealed += 1
    session.flush()
    if was is not None:
        conn.exec_driver_sql(f"PRAGMA secure_delete = {int(was)}")
    return sealed


def scrub(engine: Engine) -> None:
    """After ``seal_legacy`` committed: copy SQLite's write-ahead log into the main file and
    empty it, so the pages that held the plaintext are overwritten now rather than at the next
    automatic checkpoint. Best effort: on a busy database that checkpoint does it later.
    (PostgreSQL keeps the old row versions until autovacuum; a ``pg_dump`` never has them.)"""
    if engine.dialect.name != "sqlite":
        return
    try:
        raw = engine.raw_connection()  # outside any transaction: a checkpoint cannot run in one
    except SQLAlchemyError:
        return
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    except sqlite3.Error:
        pass
    finally:
        raw.close()
