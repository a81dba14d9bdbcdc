"""Check a bundle end to end, as a careful reader would by hand (VERIFY.txt), and name the
first thing that is wrong.

Order: the manifest's signature (everything else is trusted through it), the set of files, each
file's SHA-256, the sums file, the items against their files, the ledger chain recomputed from
the genesis, each disclosed item's intake entry, the export's own entry, the signed checkpoint.
Works on the ZIP, on an unzipped folder, and on an age-encrypted bundle given its key.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from nocontact.errors import NoContactError
from nocontact.export import manifest as mf
from nocontact.export.encrypt import decrypt_file, is_encrypted
from nocontact.vault.ledger import ChainLine, canonical_json, first_fault
from nocontact.vault.signing import verify_signature


class BundleFault(NoContactError):
    """The bundle does not verify; the message names the first fault."""


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

    def open(self, name: str) -> IO[bytes]:
        raise NotImplementedError

    def read(self, name: str) -> bytes:
        with self.open(name) as f:
            return f.read()

    def sha256(self, name: str) -> str:
        h = hashlib.sha256()
        with self.open(name) as f:
            while chunk := f.read(1 << 16):
                h.update(chunk)
        return h.hexdigest()


class _ZipReader(_Reader):
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf

    def names(self) -> list[str]:
        return [n for n in self.zf.namelist() if not n.endswith("/")]

    def open(self, name: str) -> IO[bytes]:
        return self.zf.open(name)


class _DirReader(_Reader):
    def __init__(self, root: Path) -> None:
        self.root = root

    def names(self) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()
        )

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
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise BundleFault(f"{path} is not a readable ZIP file ({e})") from e
    with zf:
        yield _ZipReader(zf)


def verify(
    path: Path, *, identity: str | None = None, passphrase: str | None = None
) -> VerifySummary:
    """Return a summary when the bundle is intact; raise BundleFault naming the first fault."""
    with _reader(Path(path), identity, passphrase) as r:
        try:
            return _check(r)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            # only a manifest signed by the right key gets this far: a bug or a foreign format
            raise BundleFault(f"manifest.json is not in the expected form ({e!r})") from e
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
            # a damaged ZIP entry fails to inflate or fails its CRC-32 when read
            raise BundleFault(f"the ZIP file is damaged: {e}") from e


def _fault(message: str) -> BundleFault:
    return BundleFault(message)


def _check(r: _Reader) -> VerifySummary:
    names = {n for n in r.names() if not _litter(n)}
    for required in (mf.MANIFEST, mf.SIGNATURE):
        if required not in names:
            raise _fault(f"{required} is missing")
    data = r.read(mf.MANIFEST)
    try:
        m: dict[str, Any] = json.loads(data)
        public_pem = str(m["public_key"])
    except (ValueError, KeyError, TypeError) as e:
        raise _fault("manifest.json is not a readable manifest") from e
    try:
        signed = verify_signature(public_pem, r.read(mf.SIGNATURE), data)
    except ValueError:
        signed = False
    if not signed:
        raise _fault("manifest.sig does not match manifest.json: the manifest was changed")
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
    lines = _check_ledger(r.read(mf.LEDGER), m, items)
    _check_checkpoint(m, lines, public_pem)
    return VerifySummary(
        items=len(items),
        email=sum(1 for it in items if it["channel"] == "email"),
        sms=sum(1 for it in items if it["channel"] == "sms"),
        ledger_entries=len(lines),
        exported_at=str(m.get("exported_at")),
        exported_by=str(m.get("exported_by")),
        key_fingerprint=hashlib.sha256(public_pem.encode()).hexdigest(),
    )


def _check_files(r: _Reader, names: set[str], files: dict[str, str], m: dict[str, Any]) -> None:
    expected = set(files) | set(mf.UNLISTED)
    for name in sorted(names - expected):
        raise _fault(f"{name} was added: it is not listed in the manifest")
    for name in sorted(expected - names):
        raise _fault(f"{name} is missing from the bundle")
    for name in sorted(files):
        if r.sha256(name) != files[name]:
            raise _fault(f"{name} has changed: its SHA-256 differs from the manifest")
    sums = r.read(mf.SUMS)
    if hashlib.sha256(sums).hexdigest() != m["sha256sums"] or sums != mf.sums_text(files):
        raise _fault(f"{mf.SUMS} has changed: it differs from the manifest")
    if r.read(mf.PUBLIC_KEY).decode() != m["public_key"]:
        raise _fault(f"{mf.PUBLIC_KEY} differs from the key in the manifest")


def _parse_ledger(data: bytes) -> list[ChainLine]:
    lines: list[ChainLine] = []
    for n, text in enumerate(data.decode("utf-8").splitlines(), start=1):
        try:
            d = json.loads(text)
            lines.append(ChainLine(int(d["seq"]), str(d["prev"]), str(d["hash"]), str(d["entry"])))
        except (ValueError, KeyError, TypeError) as e:
            raise _fault(f"ledger.jsonl line {n} is not a ledger entry") from e
    return lines


def _check_ledger(data: bytes, m: dict[str, Any], items: list[dict[str, Any]]) -> list[ChainLine]:
    lines = _parse_ledger(data)
    fault = first_fault(lines)
    if fault:
        raise _fault(f"ledger.jsonl entry {fault[0]} {fault[1]}")
    ledger = m["ledger"]
    if not lines or len(lines) != ledger["entries"] or lines[-1].hash != ledger["head"]:
        raise _fault("ledger.jsonl does not end at the head named in the manifest")
    for it in items:
        seq = int(it["ledger_seq"])
        entry = json.loads(lines[seq - 1].body) if 0 < seq <= len(lines) else {}
        if entry.get("kind") != "intake" or entry.get("item") != it["id"]:
            raise _fault(f"item {it['id']}: ledger entry {seq} is not its intake")
        if entry.get("sha256") != it["sha256"]:
            raise _fault(f"item {it['id']}: ledger entry {seq} records another SHA-256")
    last = json.loads(lines[-1].body)
    if last.get("kind") != "export" or last.get("items_sha256") != m["items_sha256"]:
        raise _fault("the last ledger entry is not this export")
    return lines


def _check_checkpoint(m: dict[str, Any], lines: list[ChainLine], public_pem: str) -> None:
    cp = m["checkpoint"]
    statement = str(cp["statement"])
    if not verify_signature(public_pem, bytes.fromhex(cp["signature"]), statement.encode()):
        raise _fault("the checkpoint's signature does not match its statement")
    st = json.loads(statement)
    seq = int(st["seq"])
    if not 0 < seq <= len(lines) or lines[seq - 1].hash != st["head"]:
        raise _fault(f"the signed checkpoint (entry {seq}) does not match ledger.jsonl")
