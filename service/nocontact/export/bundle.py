"""Write the evidence bundle: a ZIP anyone can check without our software (DESIGN §5).

Two passes over the chosen items. The first opens only each item's sealed metadata (who it
claims to be from) to build the manifest records, the timeline and the cover; a wrong key fails
here, before anything is written or recorded. Then the export is entered in the ledger with a
fresh signed checkpoint, and the second pass opens each original once, writes it to ``items/``
and adds its section to the reports. Originals are held one at a time, so 10,000 items keep
memory flat. The ZIP is written to a temporary file beside the destination and linked into
place only when complete: a failure leaves no file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlmodel import Session

from nocontact.db import transaction
from nocontact.errors import UsageError, VaultError
from nocontact.export import manifest as mf
from nocontact.export.content import readable
from nocontact.export.encrypt import BundleKey, encrypt_file
from nocontact.export.incidents import IncidentLog
from nocontact.export.instructions import verify_text
from nocontact.export.manifest import ItemRecord
from nocontact.export.pdf_worker import PdfWorker
from nocontact.export.report import Cover
from nocontact.export.report_html import HtmlReport
from nocontact.export.scope import ExportFilters, batches, item_ids
from nocontact.models import Household, VaultItem
from nocontact.vault import ledger
from nocontact.vault.crypto import unseal

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
EXTENSIONS = {"email": ".eml", "sms": ".json"}


@dataclass(frozen=True)
class ExportResult:
    path: Path
    items: int
    ledger_seq: int  # the export's own ledger entry
    manifest_sha256: str


@dataclass(frozen=True)
class _Pending:
    record: ItemRecord
    blob: str
    identity: str
    sms_text: str | None  # a gateway's text as given in the sealed metadata, if any


def _received(item: VaultItem) -> str:
    ts = item.received_at if item.received_at.tzinfo else item.received_at.replace(tzinfo=UTC)
    return ledger.iso(ts.astimezone(UTC).replace(microsecond=0))


def _file_name(n: int, item: VaultItem) -> str:
    stamp = _received(item).replace("-", "").replace(":", "")
    ext = EXTENSIONS.get(item.channel, ".bin")
    return f"{mf.ITEMS_DIR}{n:05d}-{stamp}-{item.channel}-{item.id}{ext}"


def _first_pass(
    session: Session, ids: list[int], recipient_id: int, identity: str
) -> list[_Pending]:
    pending: list[_Pending] = []
    for batch in batches(session, ids, recipient_id):
        for item, wrapped in batch:
            if wrapped is None:
                raise VaultError(f"item {item.id} is not sealed to this key")
            ident = unseal(wrapped, identity).decode()
            meta = json.loads(unseal(item.sealed_meta, ident))
            sender, name = mf.sender_of(list(meta.get("parties") or []))
            assert item.id is not None
            rec = ItemRecord(
                id=item.id,
                channel=item.channel,
                received_at=_received(item),
                sender=sender,
                sender_name=name,
                person=item.person_name or "",
                relation=item.relation or "",
                contact=mf.contact_kind(item.relation, item.action),
                action=item.action,
                sha256=item.sha256,
                size=item.size,
                file=_file_name(len(pending) + 1, item),
                ledger_seq=item.ledger_seq,
            )
            text = meta.get("text")
            pending.append(_Pending(rec, item.blob, ident, text if isinstance(text, str) else None))
    return pending


def _counts(records: list[ItemRecord]) -> dict[str, int]:
    c = {"items": len(records), "email": 0, "sms": 0, "direct": 0, "third-party": 0}
    for r in records:
        c[r.channel] = c.get(r.channel, 0) + 1
        c[r.contact] = c.get(r.contact, 0) + 1
    return c


class _Zip:
    """A ZIP being written, remembering the SHA-256 of every file put in it."""

    def __init__(self, fileobj: IO[bytes], when: datetime) -> None:
        self.zf = zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        self.stamp = when.timetuple()[:6]
        self.files: dict[str, str] = {}

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def put(self, name: str, data: bytes, *, listed: bool = True) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.zf.writestr(self._info(name), data)
        if listed:
            self.files[name] = sha
        return sha

    def put_stream(self, name: str, src: IO[bytes]) -> str:
        h = hashlib.sha256()
        with self.zf.open(self._info(name), "w", force_zip64=True) as dst:
            while chunk := src.read(1 << 16):
                h.update(chunk)
                dst.write(chunk)
        self.files[name] = h.hexdigest()
        return self.files[name]


def export_bundle(
    rt: Any,
    out_path: Path,
    recipient_id: int,
    identity: str,
    filters: ExportFilters,
    exported_by: str,
    *,
    encrypt_to: BundleKey | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the bundle to ``out_path``; the caller has already unlocked ``identity``.

    ``rt`` is a :class:`nocontact.runtime.Runtime`. Raises VaultError (wrong key, damaged item)
    or UsageError (bad filters, destination exists); on any error no file is left behind.
    """
    out_path = Path(out_path)
    if out_path.exists():
        raise UsageError(f"{out_path} already exists; choose another name")
    if not out_path.parent.is_dir():
        raise UsageError(f"the folder {out_path.parent} does not exist")
    hid = rt.household_id
    with Session(rt.engine) as s:
        ids = item_ids(s, hid, filters)
        pending = _first_pass(s, ids, recipient_id, identity)
        household = s.get(Household, hid)
        household_name = household.name if household else ""
    records = [p.record for p in pending]
    items_json = [r.as_dict() for r in records]
    items_sha = hashlib.sha256(ledger.canonical_json(items_json)).hexdigest()
    counts = _counts(records)

    with transaction(rt.engine) as s:
        entry = ledger.append(
            s,
            hid,
            "export",
            items=len(records),
            items_sha256=items_sha,
            by=exported_by,
            scope=filters.as_dict(),
        )
        cp = ledger.checkpoint(s, hid, rt.signer)
        export_seq, export_at = entry.seq, json.loads(entry.body)["at"]
        checkpoint = {
            "seq": cp.seq,
            "head": cp.head,
            "statement": cp.statement,
            "signature": cp.signature,
        }
    with Session(rt.engine) as s:
        lines = ledger.chain(s, hid, upto=export_seq)
    plan = _Plan(
        pending,
        lines,
        checkpoint,
        items_json,
        items_sha,
        counts,
        filters,
        exported_by,
        export_at,
        household_name,
    )
    log.info("export: ledger entry %s, %s items", export_seq, len(records))

    fd, tmp_name = tempfile.mkstemp(
        dir=out_path.parent, prefix=".nocontact-export-", suffix=".part"
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as f:
            z = _Zip(f, datetime.now(UTC))
            manifest_sha = _write(z, rt, plan, out_path.parent, progress)
            z.zf.close()
            f.flush()
            os.fsync(f.fileno())
        final = tmp
        if encrypt_to is not None:
            final = tmp.with_suffix(".age.part")
            encrypt_file(tmp, final, encrypt_to)
            tmp.unlink()
        os.link(final, out_path)  # fails if someone created out_path meanwhile: never overwrite
        final.unlink()
        _fsync_dir(out_path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        tmp.with_suffix(".age.part").unlink(missing_ok=True)
        raise
    return ExportResult(out_path, len(records), export_seq, manifest_sha)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class _Plan:
    """Everything decided before the second pass: what goes in and how it is described."""

    pending: list[_Pending]
    lines: list[ledger.ChainLine]
    checkpoint: dict[str, Any]
    items_json: list[dict[str, Any]]
    items_sha: str
    counts: dict[str, int]
    filters: ExportFilters
    exported_by: str
    export_at: str
    household: str

    def cover(self, public_pem: str) -> Cover:
        c = self.counts
        return Cover(
            household=self.household,
            exported_by=self.exported_by,
            exported_at=self.export_at,
            scope=self.filters.describe(),
            counts=[
                ("Items", str(c["items"])),
                ("Email / texts", f"{c['email']} / {c['sms']}"),
                ("Direct / third-party contact", f"{c['direct']} / {c['third-party']}"),
            ],
            items_sha256=self.items_sha,
            ledger_seq=self.lines[-1].seq if self.lines else 0,
            ledger_head=self.lines[-1].hash if self.lines else "",
            key_fingerprint=hashlib.sha256(public_pem.encode()).hexdigest(),
        )

    def manifest(self, files: dict[str, str], sums: bytes, public_pem: str) -> dict[str, Any]:
        head = self.lines[-1] if self.lines else None
        return {
            "format": mf.FORMAT,
            "household": self.household,
            "exported_by": self.exported_by,
            "exported_at": self.export_at,
            "scope": self.filters.as_dict(),
            "counts": self.counts,
            "items": self.items_json,
            "items_sha256": self.items_sha,
            "ledger": {
                "file": mf.LEDGER,
                "entries": head.seq if head else 0,
                "head": head.hash if head else "",
                "export_entry": head.seq if head else 0,
            },
            "checkpoint": self.checkpoint,
            "public_key": public_pem,
            "files": dict(sorted(files.items())),
            "sha256sums": hashlib.sha256(sums).hexdigest(),
            "signature": {
                "file": mf.SIGNATURE,
                "algorithm": "Ed25519 (RFC 8032) over manifest.json",
            },
        }


def _write(z: _Zip, rt: Any, plan: _Plan, workdir: Path, progress: Progress | None) -> str:
    """Fill the ZIP; returns the manifest's SHA-256. Temporary files go in ``workdir`` (the
    destination's folder: the person chose to put the evidence in the clear there)."""
    public_pem = rt.signer.public_pem()
    cover = plan.cover(public_pem)
    records = [p.record for p in plan.pending]
    incidents = IncidentLog()
    pdf = PdfWorker(cover, records, workdir / f".{os.getpid()}-{id(plan)}.pdf.part")
    try:
        with tempfile.TemporaryFile("w+", encoding="utf-8", dir=workdir) as html_tmp:
            report = HtmlReport(html_tmp, cover)
            report.timeline(records)
            for n, p in enumerate(plan.pending, start=1):
                raw = unseal(rt.blobs.get(p.blob), p.identity)
                if hashlib.sha256(raw).hexdigest() != p.record.sha256:
                    raise VaultError(f"item {p.record.id} does not match the hash taken at intake")
                z.put(p.record.file, raw)
                view = readable(p.record.channel, raw, p.record.sender, p.sms_text)
                pdf.item(n, p.record, view)
                report.item(n, p.record, view)
                incidents.add(p.record)
                if progress is not None:
                    progress(n, len(plan.pending))
            report.finish()
            html_tmp.flush()
            with open(html_tmp.fileno(), "rb", closefd=False) as raw_html:
                raw_html.seek(0)
                z.put_stream(mf.REPORT_HTML, raw_html)
        z.put(mf.REPORT_PDF, pdf.finish())
    finally:
        pdf.stop()
    z.put(mf.INCIDENTS, incidents.data())
    z.put(mf.LEDGER, "".join(line.as_json() + "\n" for line in plan.lines).encode())
    z.put(mf.PUBLIC_KEY, public_pem.encode())
    z.put(mf.VERIFY, verify_text().encode())
    sums = mf.sums_text(z.files)
    data = mf.encode(plan.manifest(z.files, sums, public_pem))
    z.put(mf.SUMS, sums, listed=False)
    z.put(mf.MANIFEST, data, listed=False)
    z.put(mf.SIGNATURE, rt.signer.sign(data), listed=False)
    return hashlib.sha256(data).hexdigest()
