"""The blob store: content-addressed, atomic, verified on read."""

from __future__ import annotations

from pathlib import Path

import pytest

from nocontact.errors import VaultError
from nocontact.vault.blobs import BlobStore


def test_put_is_idempotent_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    a = store.stage(b"sealed bytes")
    store.make_durable([a])
    assert store.stage(b"sealed bytes") == a  # already in place: nothing staged again
    store.make_durable([a])
    assert store.get(a) == b"sealed bytes"
    files = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert files == [store.path(a)]
    assert oct(store.path(a).parent.stat().st_mode & 0o777) == "0o700"


def test_a_changed_blob_is_refused_on_read(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    a = store.stage(b"sealed bytes")
    store.make_durable([a])
    store.path(a).write_bytes(b"sealed bytez")
    with pytest.raises(VaultError, match="does not match"):
        store.get(a)
    store.discard(a)
    with pytest.raises(VaultError, match="missing"):
        store.get(a)


def test_a_staged_blob_has_no_real_name_until_it_is_made_durable(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    staged = [store.stage(b"first"), store.stage(b"second"), store.stage(b"third")]
    # a crash now leaves only temporary files: nothing under a real name, nothing readable
    for a in staged:
        assert not store.path(a).exists()
        with pytest.raises(VaultError, match="missing"):
            store.get(a)
    store.make_durable(staged)
    assert [store.get(a) for a in staged] == [b"first", b"second", b"third"]
    assert not [p for p in (tmp_path / "blobs").rglob(".tmp-*")]
    store.make_durable(staged)  # repeating is harmless


def test_a_discarded_staged_blob_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    a = store.stage(b"lost a race")
    store.discard(a)
    assert not [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    with pytest.raises(VaultError, match="never staged"):
        store.make_durable([a])
