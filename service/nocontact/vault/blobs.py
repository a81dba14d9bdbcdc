"""Content-addressed files, written so a crash never leaves a half file under a real name.

Write to a temporary file in the same directory, fsync it, rename it into place, fsync the
directory (the rename is only durable once the directory entry is). Files are named by the
SHA-256 of what is stored (here: sealed bytes), two hex levels of fan-out.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from nocontact.errors import VaultError


def fsync_dir(path: Path) -> None:
    """A rename or a new entry is durable only once its directory is fsynced."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, address: str) -> Path:
        if len(address) != 64 or not all(c in "0123456789abcdef" for c in address):
            raise VaultError("bad blob address")
        return self.root / address[:2] / address[2:4] / address

    def put(self, data: bytes) -> str:
        address = hashlib.sha256(data).hexdigest()
        final = self.path(address)
        if final.exists() and final.stat().st_size == len(data):
            return address
        self._make_dirs(final.parent)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_dir(final.parent)
        return address

    def _make_dirs(self, leaf: Path) -> None:
        """Create the fan-out folders; a new folder's entry is durable only once its parent
        directory is fsynced, so each folder created is followed by an fsync of its parent."""
        if leaf.is_dir():
            return
        missing = []
        d = leaf
        while not d.is_dir():
            missing.append(d)
            d = d.parent
        for folder in reversed(missing):
            folder.mkdir(mode=0o700, exist_ok=True)
            fsync_dir(folder.parent)

    def get(self, address: str) -> bytes:
        try:
            data = self.path(address).read_bytes()
        except FileNotFoundError as e:
            raise VaultError(f"blob {address[:12]} is missing") from e
        if hashlib.sha256(data).hexdigest() != address:
            raise VaultError(f"blob {address[:12]} does not match its address")
        return data

    def discard(self, address: str) -> None:
        """Remove a blob nothing refers to (a sealing that lost a race)."""
        self.path(address).unlink(missing_ok=True)
