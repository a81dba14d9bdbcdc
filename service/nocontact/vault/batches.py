"""Batch keys: one age encryption per recipient covers every item sealed in a short window.

The service holds only public keys. For a batch it makes a random AES-256 key, seals that key
with age to each active recipient (``BatchKey`` rows), and wraps each new item's data key under
it (``vault.envelope``). A batch key is dropped after ``MAX_AGE`` seconds or ``MAX_ITEMS``
items, whichever comes first, or as soon as the recipients change (a reviewer added or revoked).
While it lives it sits in memory beside the plaintexts it protects, which the service is holding
at that moment anyway: it opens nothing the process could not already read.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nocontact.errors import VaultError
from nocontact.vault import envelope
from nocontact.vault.crypto import seal

MAX_AGE = 1.0  # seconds
MAX_ITEMS = 4096


@dataclass(frozen=True)
class Batch:
    id: str  # 32 random hex digits: chosen before any row exists, so no round trip is needed
    household_id: int
    recipients: tuple[tuple[int, str], ...]  # (recipient id, age public key)
    wraps: tuple[tuple[int, bytes], ...]  # (recipient id, the batch key sealed with age to it)
    key: bytes = field(repr=False)

    def rows(self) -> list[dict[str, Any]]:
        """The ``BatchKey`` rows, inserted (if not there yet) with the first item that uses it."""
        return [
            {"batch": self.id, "recipient_id": rid, "household_id": self.household_id, "wrapped": w}
            for rid, w in self.wraps
        ]


def new_batch(household_id: int, recipients: Sequence[tuple[int, str]]) -> Batch:
    if not recipients:
        raise VaultError("the vault has no keys to seal to; run `nocontact init`")
    key = envelope.new_key()
    wraps = tuple((rid, seal(key, [pub])) for rid, pub in recipients)
    return Batch(secrets.token_hex(16), household_id, tuple(recipients), wraps, key)


class KeyRing:
    """The current batch per household, shared by the threads that seal."""

    def __init__(
        self,
        max_age: float = MAX_AGE,
        max_items: int = MAX_ITEMS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age = max_age
        self.max_items = max_items
        self._clock = clock
        self._lock = threading.Lock()
        self._current: dict[int, tuple[Batch, float, int]] = {}  # batch, born, items sealed
        self._stored: set[str] = set()  # batches whose BatchKey rows are committed

    def batch(self, household_id: int, recipients: Sequence[tuple[int, str]]) -> Batch:
        """The batch the next item is sealed in (counted as one of its items)."""
        wanted = tuple(recipients)
        now = self._clock()
        with self._lock:
            cur = self._current.get(household_id)
            if cur is not None:
                b, born, used = cur
                if b.recipients == wanted and now - born < self.max_age and used < self.max_items:
                    self._current[household_id] = (b, born, used + 1)
                    return b
        fresh = new_batch(household_id, wanted)  # age encryptions outside the lock
        with self._lock:
            self._current[household_id] = (fresh, now, 1)
        return fresh

    def stored(self, batch: Batch) -> bool:
        """Whether the batch's ``BatchKey`` rows are known to be committed already."""
        return batch.id in self._stored

    def mark_stored(self, batches: Iterable[Batch]) -> None:
        """After a commit that included these batches. A memo only: a batch missing here is
        inserted again, which ``ON CONFLICT DO NOTHING`` makes harmless."""
        with self._lock:
            if len(self._stored) > 64:
                self._stored.clear()
            self._stored.update(b.id for b in batches)
