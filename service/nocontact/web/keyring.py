"""Unwrapped age identities, held only in this process's memory and only for a session.

The vault's whole promise rests on the service being unable to read what it sealed; an
identity written to disk or the database would break it. So an identity lives here, keyed by
the session's token hash, and is dropped on logout, timeout, cancel or close. A restart forgets
every one of them (people are asked for their passphrase again).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Unlocked:
    recipient_id: int
    identity: str


class Keyring:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, Unlocked] = {}

    def put(self, session_key: str, recipient_id: int, identity: str) -> None:
        with self._lock:
            self._held[session_key] = Unlocked(recipient_id, identity)

    def get(self, session_key: str) -> Unlocked | None:
        with self._lock:
            return self._held.get(session_key)

    def drop(self, session_key: str) -> None:
        with self._lock:
            self._held.pop(session_key, None)

    def keep_only(self, live: set[str]) -> None:
        with self._lock:
            for key in [k for k in self._held if k not in live]:
                del self._held[key]
