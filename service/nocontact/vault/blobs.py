"""Content-addressed files, written so a crash never leaves a half file under a real name.

A blob is first *staged*: written to ``.tmp-<address>`` in its final directory, not yet synced.
``make_durable`` then, for a whole batch at once, fsyncs every staged file, renames each into
place and fsyncs every directory involved (a rename, or a new folder, is durable only once its
directory is). Only after that may anything refer to the blob (the intake commits its row).
Batching matters: a channel receiving many messages pays for overlapped fsyncs, not one
file + directory + parent sync per message in a row. Files are named by the SHA-256 of what is
stored (here: sealed bytes), two hex levels of fan-out.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nocontact.errors import VaultError

# fsyncs in flight at once: concurrent fsyncs on one filesystem share its journal commits
SYNC_WORKERS = 16
TMP = ".tmp-"


def fsync_dir(path: Path) -> None:
    """A rename or a new entry is durable only once its directory is fsynced."""
    _fsync(path, os.O_RDONLY | os.O_DIRECTORY)


def _fsync(path: Path, flags: int = os.O_RDONLY) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _each(fn: Callable[[Path], None], paths: Iterable[Path]) -> None:
    """Run ``fn`` over ``paths`` on a shared pool of fsync threads (kept, not made per call)."""
    global _pool
    todo = list(paths)
    if len(todo) <= 2:
        for p in todo:
            fn(p)
        return
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(SYNC_WORKERS, thread_name_prefix="fsync")
    list(_pool.map(fn, todo))  # list(): re-raise the first error


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        # folders this process created whose entries in their parent are not yet synced
        self._fresh: set[Path] = set()
        self._lock = threading.Lock()

    def path(self, address: str) -> Path:
        if len(address) != 64 or not all(c in "0123456789abcdef" for c in address):
            raise VaultError("bad blob address")
        return self.root / address[:2] / address[2:4] / address

    def _staged(self, address: str) -> Path:
        final = self.path(address)
        return final.with_name(TMP + address)

    def stage(self, data: bytes) -> str:
        """Write the bytes beside their final name, unsynced; ``make_durable`` finishes."""
        address = hashlib.sha256(data).hexdigest()
        final = self.path(address)
        if final.exists() and final.stat().st_size == len(data):
            return address
        if not final.parent.is_dir():
            self._make_dirs(final.parent)
        staged = self._staged(address)
        try:
            with staged.open("wb") as f:
                f.write(data)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        return address

    def _make_dirs(self, leaf: Path) -> None:
        missing = []
        d = leaf
        while not d.is_dir():
            missing.append(d)
            d = d.parent
        for folder in reversed(missing):
            folder.mkdir(mode=0o700, exist_ok=True)
            with self._lock:
                self._fresh.add(folder)

    def make_durable(self, addresses: Collection[str]) -> None:
        """Sync the staged files, rename them into place, then sync each folder that got a
        new entry: the blob's own, and the parent of any folder made for it. Safe to repeat."""
        staged = [(self._staged(a), self.path(a)) for a in addresses]
        pending = [(tmp, final) for tmp, final in staged if tmp.exists()]
        for tmp, final in staged:
            if not tmp.exists() and not final.exists():
                raise VaultError(f"blob {final.name[:12]} was never staged")
        _each(_fsync, [tmp for tmp, _ in pending])
        for tmp, final in pending:
            os.replace(tmp, final)
        folders = {final.parent for _, final in staged}
        above = folders | {f.parent for f in folders} | {self.root}
        with self._lock:
            fresh = above & self._fresh
        _each(fsync_dir, sorted(folders | {d.parent for d in fresh}))
        with self._lock:  # only now: a batch racing this one syncs them too until then
            self._fresh -= fresh

    def get(self, address: str) -> bytes:
        try:
            data = self.path(address).read_bytes()
        except FileNotFoundError as e:
            raise VaultError(f"blob {address[:12]} is missing") from e
        if hashlib.sha256(data).hexdigest() != address:
            raise VaultError(f"blob {address[:12]} does not match its address")
        return data

    def discard(self, address: str) -> None:
        """Remove a blob nothing refers to (a sealing that lost a race), staged or in place."""
        self._staged(address).unlink(missing_ok=True)
        self.path(address).unlink(missing_ok=True)
