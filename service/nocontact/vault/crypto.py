"""Sealing with age (pyrage). Pure: bytes in, bytes out; no home-made cryptography.

Every holder (owner, reviewers, recovery code) has an X25519 identity. What is sealed to them
with age: batch keys (``vault.batches``; items themselves are AES-256-GCM, ``vault.envelope``)
and, for items sealed before vault format 2, each item's own age identity. The running service
holds only public keys, so it can seal but never open. Giving a new reviewer access means
re-encrypting small keys, not the originals. Holders' identities are wrapped with their
passphrase in age's scrypt mode, so the ``age`` command line can unwrap them too.
"""

from __future__ import annotations

import base64
import secrets

import pyrage
from pyrage import passphrase as age_passphrase
from pyrage import x25519

from nocontact.errors import VaultError, WrongPassphrase


def new_identity() -> tuple[str, str]:
    """A fresh key pair: (secret identity ``AGE-SECRET-KEY-1…``, public recipient ``age1…``)."""
    ident = x25519.Identity.generate()
    return str(ident), str(ident.to_public())


def seal(data: bytes, recipients: list[str]) -> bytes:
    if not recipients:
        raise VaultError("no recipients to seal to")
    try:
        return bytes(pyrage.encrypt(data, [x25519.Recipient.from_str(r) for r in recipients]))
    except Exception as e:  # pyrage raises plain exceptions for bad keys
        raise VaultError("sealing failed") from e


def unseal(sealed: bytes, identity: str) -> bytes:
    try:
        return bytes(pyrage.decrypt(sealed, [x25519.Identity.from_str(identity)]))
    except pyrage.DecryptError as e:
        raise VaultError("this key does not open the item") from e


def wrap_identity(identity: str, passphrase: str) -> bytes:
    return bytes(age_passphrase.encrypt(identity.encode(), passphrase))


def unwrap_identity(wrapped: bytes, passphrase: str) -> str:
    try:
        return bytes(age_passphrase.decrypt(wrapped, passphrase)).decode()
    except pyrage.DecryptError as e:
        raise WrongPassphrase() from e


def new_recovery_code() -> str:
    """25 base32 characters (125 bits) in five groups, easy to write down."""
    raw = base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=")[:25]
    return "-".join(raw[i : i + 5] for i in range(0, 25, 5))


def normalise_recovery_code(code: str) -> str:
    raw = "".join(ch for ch in code.upper() if ch.isalnum())
    return "-".join(raw[i : i + 5] for i in range(0, len(raw), 5))
