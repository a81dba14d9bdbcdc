"""Optional encryption of the whole bundle with age, for sending it over email or a cloud drive.

To a recipient's age public key (``age1…``), or with a passphrase (age's scrypt mode). The
result is a standard age file: ``age -d -i key.txt bundle.zip.age > bundle.zip`` or
``age -d bundle.zip.age > bundle.zip`` (passphrase) opens it without our software.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyrage
from pyrage import passphrase as age_passphrase
from pyrage import x25519

from nocontact.errors import UsageError, VaultError

MAGIC = b"age-encryption.org/v1"


@dataclass(frozen=True)
class BundleKey:
    recipients: tuple[str, ...] = ()
    passphrase: str | None = None

    def __post_init__(self) -> None:
        if bool(self.recipients) == (self.passphrase is not None):
            raise UsageError("encrypt either to age recipients or with a passphrase, not both")
        for r in self.recipients:
            try:
                x25519.Recipient.from_str(r)
            except Exception as e:  # pyrage raises plain exceptions for bad keys
                raise UsageError(f"{r!r} is not an age public key (age1…)") from e


def encrypt_file(src: Path, dst: Path, key: BundleKey) -> None:
    try:
        if key.passphrase is not None:
            # pyrage's passphrase mode works on bytes only; the bundle is read once
            dst.write_bytes(bytes(age_passphrase.encrypt(src.read_bytes(), key.passphrase)))
        else:
            recipients = [x25519.Recipient.from_str(r) for r in key.recipients]
            pyrage.encrypt_file(str(src), str(dst), recipients)
    except (pyrage.EncryptError, pyrage.RecipientError) as e:
        raise VaultError("the bundle could not be encrypted") from e
    fd = os.open(dst, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_encrypted(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def decrypt_file(
    src: Path, dst: Path, *, identity: str | None = None, passphrase: str | None = None
) -> None:
    """Open an encrypted bundle into ``dst``; VaultError when the key does not fit."""
    try:
        if passphrase is not None:
            dst.write_bytes(bytes(age_passphrase.decrypt(src.read_bytes(), passphrase)))
        elif identity is not None:
            pyrage.decrypt_file(str(src), str(dst), [x25519.Identity.from_str(identity)])
        else:
            raise VaultError("this bundle is encrypted: give its key or passphrase")
    except (pyrage.DecryptError, pyrage.IdentityError) as e:
        raise VaultError("this key or passphrase does not open the bundle") from e
