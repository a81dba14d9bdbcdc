"""Item envelopes (vault format 2): AES-256-GCM under a per-item data key.

An item's original and its metadata are each sealed with AES-256-GCM under the item's own random
data key. The data key is wrapped, also with AES-256-GCM, under a *batch key*, and the batch key
is sealed with age to every recipient (``vault.batches``). Opening an item takes one age
decryption per batch, then two AES-GCM operations. Sealing costs a few microseconds per item;
the age encryptions (about 80 µs each, one per recipient) are paid once per batch instead of
four times per item as in format 1, where every item had its own age identity.

Standard parts only (DESIGN §5 allows "each item's AES-256-GCM data key encrypted to the
recipients"): AES-256-GCM from ``cryptography`` with random 96-bit nonces (keys are fresh per
item, so a nonce is never reused under one key), and age for everything a holder's key opens.
"""

from __future__ import annotations

import os
import threading
from functools import cache
from typing import TYPE_CHECKING

from nocontact.errors import VaultError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Format-1 items are age files ("age-encryption.org/v1..."); this prefix cannot be mistaken for one.
MAGIC = b"nc-gcm1\n"
KEY_BYTES = 32
_NONCE = 12

# What a sealed part is, bound into its authentication tag: a sealed original cannot be passed
# off as metadata, nor one item's wrapped key as another's (the wrap is bound to the item's
# SHA-256 and its batch).
ORIGINAL = b"original"
META = b"meta"


@cache
def _aesgcm() -> type[AESGCM]:
    # loaded on first use: a poll that keeps nothing never pays for the import
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM


class _Random:
    """The kernel's CSPRNG (``os.urandom``), drawn 4 KiB at a time and handed out in slices.

    Each ``os.urandom`` call releases the interpreter lock, and under load a thread that lets
    go waits its turn to get it back: four draws per sealed item cost more than the sealing.
    Every byte is still the kernel's and is used once; a process that forks starts afresh, so
    parent and child never share a byte (a shared nonce under one key would break AES-GCM).
    """

    SIZE = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buf = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._buf, self._at = b"", 0

    def take(self, n: int) -> bytes:
        with self._lock:
            if self._at + n > len(self._buf):
                self._buf, self._at = os.urandom(max(self.SIZE, n)), 0
            out = self._buf[self._at : self._at + n]
            self._at += n
            return out


_random = _Random()


def new_key() -> bytes:
    return _random.take(KEY_BYTES)


def is_enveloped(sealed: bytes) -> bool:
    return sealed[: len(MAGIC)] == MAGIC


def seal(key: bytes, data: bytes, label: bytes) -> bytes:
    nonce = _random.take(_NONCE)
    return MAGIC + nonce + _aesgcm()(key).encrypt(nonce, data, MAGIC + label)


def open_sealed(key: bytes, sealed: bytes, label: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag

    if not is_enveloped(sealed) or len(sealed) < len(MAGIC) + _NONCE + 16:
        raise VaultError("not a sealed item part")
    nonce = sealed[len(MAGIC) : len(MAGIC) + _NONCE]
    try:
        return _aesgcm()(key).decrypt(nonce, sealed[len(MAGIC) + _NONCE :], MAGIC + label)
    except InvalidTag as e:
        raise VaultError("this key does not open the item") from e


def key_label(batch: str, sha256: str) -> bytes:
    """What a wrapped data key is bound to: its batch and the SHA-256 of its item's original."""
    return f"key:{batch}:{sha256}".encode()


def wrap_key(batch_key: bytes, data_key: bytes, batch: str, sha256: str) -> bytes:
    return seal(batch_key, data_key, key_label(batch, sha256))


def unwrap_key(batch_key: bytes, wrapped: bytes, batch: str, sha256: str) -> bytes:
    key = open_sealed(batch_key, wrapped, key_label(batch, sha256))
    if len(key) != KEY_BYTES:
        raise VaultError("a wrapped item key has the wrong length")
    return key
