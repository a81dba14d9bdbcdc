"""Check a bundle end to end, as a careful reader would by hand (VERIFY.txt), and name the
first thing that is wrong.

Order: the ZIP's directory (``container``: nothing is inflated from a ZIP that is not plainly a
bundle), the manifest's signature (everything else is trusted through it), the set of files,
each file's SHA-256, the sums file, the items against their files, the ledger chain recomputed
from the genesis, each disclosed item's intake entry, the export's own entry, the signed
checkpoint. Works on the ZIP, on an unzipped folder, and on an age-encrypted bundle given its
key.

A bundle may come from anyone, so nothing is read whole except the few small files that must
be (each with a limit checked before and while reading): files are hashed and the ledger is
walked as streams, and the manifest's signature is checked against ``public-key.pem`` before
the manifest is parsed (parsing JSON takes several times its size in memory; only a manifest
its key signed is worth it).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import UnsupportedAlgorithm

from nocontact.export import manifest as mf
from nocontact.export.container import BundleFault as BundleFault
from nocontact.export.container import Zip, size_text
from nocontact.export.encrypt import decrypt_file, is_encrypted
from nocontact.vault.ledger import ChainLine, canonical_json, first_fault
from nocontact.vault.signing import verify_signature

# ~600 bytes a disclosed item: about 110,000 items (see container.py for the other limits)
MAX_MANIFEST_BYTES = 64 << 20
MAX_SIGNATURE_BYTES = 1 << 10  # an Ed25519 signature is 64 bytes
MAX_KEY_BYTES = 16 << 10  # an Ed25519 public key in PEM is 113
MAX_LEDGER_LINE = 1 << 20  # an entry holds ids and hashes: a few hundred bytes


@dataclass(frozen=True)
class VerifySummary:
    items: int
    email: int
    sms: int
    ledger_entries: int
    exported_at: str
    exported_by: str
    key_fingerprint: str

    def line(self) -> str:
        return (
            f"intact: {self.items} items ({self.email} email, {self.sms} texts), "
            f"{self.ledger_entries} ledger entries unbroken, signature valid "
            f"(key {self.key_fingerprint[:16]}), exported {self.exported_at} by {self.exported_by}"
        )


# files an operating system adds when someone merely opens the folder (Finder, Explorer) or
# re-zips it on a Mac; they are not evidence and must not make an intact bundle "fail"
OS_LITTER = {".DS_Store", "Thumbs.db", "desktop.ini"}


def _litter(name: str) -> bool:
    return name.startswith("__MACOSX/") or name.rsplit("/", 1)[-1] in OS_LITTER


class _Reader:
    def names(self) -> list[str]:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def open(self, name: str) -> IO[bytes]:
        raise NotImplementedError

    def read(self, name: str, limit: int) -> bytes:
        """The whole file, which must be at most ``limit`` bytes (checked before reading, and
        while reading: the size a ZIP declares is not trusted)."""
        size = self.size(name)
        if size > limit:
            raise _fault(
                f"{name} is {size_text(size)}; it is never more than {size_text(limit)}, "
                "so it was not read"
            )
        with self.open(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise _fault(f"{name} is larger than {size_text(limit)}, so it was not read")
        return data

    def sha256(self, name: str) -> str:
        h = hashlib.sha256()
        with self.open(name) as f:
            while chunk := f.read(1 << 16):
                h.update(chunk)
        return h.hexdigest()


class _ZipReader(_Reader):
    def __init__(self, zf: Zip) -> None:
        self.zf = zf

    def names(self) -> list[str]:
        return self.zf.names()

    def size(self, name: str) -> int:
        return self.zf.size(name)

    def open(self, name: str) -> IO[bytes]:
        return self.zf.open(name)


class _DirReader(_Reader):
    def __init__(self, root: Path) -> None:
        self.root = root

    def names(self) -> list[str]:
        names = []
        for p in self.root.rglob("*"):
            name = p.relative_to(self.root).as_posix()
            if p.is_symlink():
                raise _fault(f"{name} is a symbolic link, not a file; a bundle holds only files")
            if p.is_file():
                names.append(name)
        return sorted(names)

    def size(self, name: str) -> int:
        return (self.root / name).stat().st_size

    def open(self, name: str) -> IO[bytes]:
        return open(self.root / name, "rb")


@contextmanager
def _reader(path: Path, identity: str | None, passphrase: str | None) -> Iterator[_Reader]:
    if path.is_dir():
        yield _DirReader(path)
        return
    if not path.is_file():
        raise BundleFault(f"{path} does not exist")
    if is_encrypted(path):
        with tempfile.TemporaryDirectory(prefix="nocontact-verify-") as tmp:
            plain = Path(tmp) / "bundle.zip"
            decrypt_file(path, plain, identity=identity, passphrase=passphrase)
            with _reader(plain, None, None) as r:
                yield r
        return
    try:
        zf = Zip(path)
    except OSError as e:
        raise BundleFault(f"{path} is not a readable ZIP file ({e})") from e
    yield _ZipReader(zf)


def verify(
    path: Path, *, identity: str | None = None, passphrase: str | None = None
) -> VerifySummary:
    """Return a summary when the bundle is intact; raise BundleFault naming the first fault."""
    with _reader(Path(path), identity, passphrase) as r:
        try:
            return _check(r)
        except (KeyError, TypeError, ValueError, IndexError, RecursionError) as e:
            # only a manifest signed by its key gets this far: a bug or a foreign format
            raise BundleFault(f"manifest.json is not in the expected form ({e!r})") from e
        except OSError as e:
            raise BundleFault(f"the bundle cannot be read: {e}") from e
        except MemoryError as e:
            raise BundleFault("this computer has not enough memory to check the bundle") from e


def _fault(message: str) -> BundleFault:
    return BundleFault(message)


def _check(r: _Reader) -> VerifySummary:
    names = {n for n in r.names() if not _litter(n)}
    for required in (mf.MANIFEST, mf.SIGNATURE, mf.PUBLIC_KEY):
        if required not in names:
            raise _fault(f"{required} is missing")
    data = r.read(mf.MANIFEST, MAX_MANIFEST_BYTES)
    public_pem = _signed_key(r, data)
    try:
        m: dict[str, Any] = json.loads(data)
        manifest_key = str(m["public_key"])
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise _fault("manifest.json is not a readable manifest") from e
    if manifest_key != public_pem:
        raise _fault(f"{mf.PUBLIC_KEY} differs from the key in the manifest")
    if m.get("format") != mf.FORMAT:
        raise _fault(f"manifest.json is not in the format {mf.FORMAT}")
    files: dict[str, str] = m["files"]
    _check_files(r, names, files, m)
    items: list[dict[str, Any]] = m["items"]
    if hashlib.sha256(canonical_json(items)).hexdigest() != m["items_sha256"]:
        raise _fault("manifest.json: the items list does not match items_sha256")
    listed = {it["file"] for it in items}
    for name in sorted(files):
        if name.startswith(mf.ITEMS_DIR) and name not in listed:
            raise _fault(f"{name} is in the bundle but is not one of the exported items")
    for it in items:
        if files.get(it["file"]) != it["sha256"]:
            raise _fault(f"item {it['id']}: {it['file']} differs from the hash taken at intake")
    ledger = _check_ledger(r, m, items)
    _check_checkpoint(m, ledger, public_pem)
    return VerifySummary(
        items=len(items),
        email=sum(1 for it in items if it["channel"] == "email"),
        sms=sum(1 for it in items if it["channel"] == "sms"),
        ledger_entries=ledger.count,
        exported_at=str(m.get("exported_at")),
        exported_by=str(m.get("exported_by")),
        key_fingerprint=hashlib.sha256(public_pem.encode()).hexdigest(),
    )


def _signed_key(r: _Reader, data: bytes) -> str:
    """The bundle's public key, once it is shown to sign ``data``: before the manifest is
    parsed. Which fault to name when it does not: if the key file's text is not in the
    manifest (as its "public_key"), the key file was changed; otherwise the manifest was."""
    signature = r.read(mf.SIGNATURE, MAX_SIGNATURE_BYTES)
    try:
        pem = r.read(mf.PUBLIC_KEY, MAX_KEY_BYTES).decode()
        if verify_signature(pem, signature, data):
            return pem
    except (ValueError, UnsupportedAlgorithm):  # not UTF-8, not a PEM key
        pass
    else:
        if json.dumps(pem, ensure_ascii=False).encode() in data:
            raise _fault("manifest.sig does not match manifest.json: the manifest was changed")
    raise _fault(f"{mf.PUBLIC_KEY} differs from the key in the manifest")


def _check_files(r: _Reader, names: set[str], files: dict[str, str], m: dict[str, Any]) -> None:
    expected = set(files) | set(mf.UNLISTED)
    for name in sorted(names - expected):
        raise _fault(f"{name} was added: it is not listed in the manifest")
    for name in sorted(expected - names):
        raise _fault(f"{name} is missing from the bundle")
    for name in sorted(files):
        if r.sha256(name) != files[name]:
            raise _fault(f"{name} has changed: its SHA-256 differs from the manifest")
    # equal hashes are equal bytes: the sums file is compared without holding it
    expected_sums = hashlib.sha256(mf.sums_text(files)).hexdigest()
    if r.sha256(mf.SUMS) != m["sha256sums"] or expected_sums != m["sha256sums"]:
        raise _fault(f"{mf.SUMS} has changed: it differs from the manifest")


@dataclass
class _Ledger:
    """What the checks need from ledger.jsonl, read as a stream: its length, its last line and
    the lines the manifest points at (the items' intakes, the checkpoint)."""

    count: int
    last: ChainLine | None
    wanted: dict[int, ChainLine]


def _ledger_lines(f: IO[bytes]) -> Iterator[ChainLine]:
    n = 0
    while raw := f.readline(MAX_LEDGER_LINE + 1):
        n += 1
        if len(raw) > MAX_LEDGER_LINE:
            raise _fault(f"ledger.jsonl line {n} is longer than any ledger entry")
        try:
            d = json.loads(raw.decode("utf-8"))
            yield ChainLine(int(d["seq"]), str(d["prev"]), str(d["hash"]), str(d["entry"]))
        except (ValueError, KeyError, TypeError, RecursionError) as e:
            raise _fault(f"ledger.jsonl line {n} is not a ledger entry") from e


def _read_ledger(r: _Reader, wanted: set[int]) -> _Ledger:
    ledger = _Ledger(0, None, {})

    def walk(lines: Iterator[ChainLine]) -> Iterator[ChainLine]:
        for line in lines:
            ledger.count += 1
            ledger.last = line
            if ledger.count in wanted:
                ledger.wanted[ledger.count] = line
            yield line

    with r.open(mf.LEDGER) as f:
        fault = first_fault(walk(_ledger_lines(f)))
    if fault:
        raise _fault(f"ledger.jsonl entry {fault[0]} {fault[1]}")
    return ledger


def _checkpoint_seq(m: dict[str, Any]) -> int | None:
    try:
        return int(json.loads(str(m["checkpoint"]["statement"]))["seq"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return None  # named by _check_checkpoint


def _check_ledger(r: _Reader, m: dict[str, Any], items: list[dict[str, Any]]) -> _Ledger:
    wanted = {int(it["ledger_seq"]) for it in items}
    cp_seq = _checkpoint_seq(m)
    if cp_seq is not None:
        wanted.add(cp_seq)
    ledger = _read_ledger(r, wanted)
    head = m["ledger"]
    last = ledger.last
    if last is None or ledger.count != head["entries"] or last.hash != head["head"]:
        raise _fault("ledger.jsonl does not end at the head named in the manifest")
    for it in items:
        seq = int(it["ledger_seq"])
        line = ledger.wanted.get(seq)
        entry = json.loads(line.body) if line is not None else {}
        if entry.get("kind") != "intake" or entry.get("item") != it["id"]:
            raise _fault(f"item {it['id']}: ledger entry {seq} is not its intake")
        if entry.get("sha256") != it["sha256"]:
            raise _fault(f"item {it['id']}: ledger entry {seq} records another SHA-256")
    final = json.loads(last.body)
    if final.get("kind") != "export" or final.get("items_sha256") != m["items_sha256"]:
        raise _fault("the last ledger entry is not this export")
    return ledger


def _check_checkpoint(m: dict[str, Any], ledger: _Ledger, public_pem: str) -> None:
    cp = m["checkpoint"]
    statement = str(cp["statement"])
    if not verify_signature(public_pem, bytes.fromhex(cp["signature"]), statement.encode()):
        raise _fault("the checkpoint's signature does not match its statement")
    st = json.loads(statement)
    seq = int(st["seq"])
    line = ledger.wanted.get(seq)
    if line is None or line.hash != st["head"]:
        raise _fault(f"the signed checkpoint (entry {seq}) does not match ledger.jsonl")
