"""Committed mail waiting to leave a folder, and how far the folder's cursor may move once it has.

A first pass over a big mailbox commits a group of held messages every fetch batch; one
``UID MOVE`` per batch made Dovecot open, copy and expunge twenty times for 5,000 messages.
Here the moves of several batches go as one command. Only committed UIDs are ever added, so
the order stays fetch, seal + commit, move, then the cursor (a crash before the move: the
next pass finds those messages in the vault by source key and only moves them).

A flush is due at ``FLUSH_UIDS`` UIDs or ``FLUSH_SECONDS`` after the oldest pending one,
whichever comes first, and always at the end of a folder's pass: a message found by IDLE
(a pass of one batch) still leaves the INBOX as soon as it is committed, and during a long
first pass held mail stays visible at most about a second longer than it did.
"""

from __future__ import annotations

import time
from contextlib import suppress

from imapclient.exceptions import IMAPClientError

from nocontact.channels.imap import cursors
from nocontact.channels.imap.client import Connection
from nocontact.config import ImapAccount
from nocontact.db import transaction
from nocontact.errors import ChannelError
from nocontact.runtime import Runtime

FLUSH_UIDS = 1000  # also bounds the length of one MOVE command line (about 6 bytes a UID)
FLUSH_SECONDS = 1.0


class Outbox:
    """One folder's pending removals (move to the holding folder, or delete) and cursor."""

    def __init__(self, rt: Runtime, conn: Connection, account: ImapAccount, folder: str) -> None:
        self.rt = rt
        self.conn = conn
        self.account = account
        self.folder = folder
        self._uids: list[int] = []
        self._cursor: tuple[int, int] | None = None  # (UIDVALIDITY, last UID) once moved
        self._since: float | None = None  # when the oldest pending thing was added

    def add(self, uids: list[int]) -> None:
        """UIDs whose originals are committed: they may leave the folder now."""
        if uids:
            self._uids.extend(uids)
            self._start()

    def handled(self, uidvalidity: int, last_uid: int) -> None:
        """Everything up to ``last_uid`` is decided and committed; the cursor may move past it
        once the pending removals are done."""
        self._cursor = (uidvalidity, last_uid)
        self._start()

    def _start(self) -> None:
        if self._since is None:
            self._since = time.monotonic()

    def due(self) -> bool:
        if self._since is None:
            return False
        return len(self._uids) >= FLUSH_UIDS or time.monotonic() - self._since >= FLUSH_SECONDS

    def flush_if_due(self) -> None:
        if self.due():
            self.flush()

    def flush(self) -> None:
        """Remove the pending UIDs, then move the cursor (never the other way round)."""
        uids, self._uids = self._uids, []
        if uids:
            self._remove(uids)
        if self._cursor is not None:
            uidvalidity, last_uid = self._cursor
            with transaction(self.rt.engine) as s:
                cursors.advance(
                    s,
                    self.rt.household_id,
                    self.account.name,
                    self.folder,
                    uidvalidity=uidvalidity,
                    last_uid=last_uid,
                )
            self._cursor = None
        self._since = None

    def flush_after_error(self) -> None:
        """The pass failed part way: still try to take out what is committed (the session
        may be gone; then the next pass finds it in the vault and moves it). The cursor stays."""
        uids, self._uids, self._cursor, self._since = self._uids, [], None, None
        if uids:
            with suppress(IMAPClientError, ChannelError, OSError):
                self._remove(uids)

    def _remove(self, uids: list[int]) -> None:
        if self.account.after_quarantine == "delete" and self.conn.has(b"UIDPLUS"):
            self.conn.delete(uids)
            return
        # Without UIDPLUS a delete could only be a bare EXPUNGE; hold in the folder instead.
        self.conn.ensure_folder(self.account.quarantine_folder)
        self.conn.move(uids, self.account.quarantine_folder)
