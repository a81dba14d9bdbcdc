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

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from nocontact.db import read_session, transaction
from nocontact.errors import UsageError, VaultError
from nocontact.export import manifest as mf
from nocontact.export.content import not_laid_out, readable
from nocontact.export.coparent_log import COPARENT_LOG, CoparentLog
from nocontact.export.encrypt import BundleKey, encrypt_file
from nocontact.export.incidents import IncidentLog
from nocontact.export.instructions import verify_text
from nocontact.export.pdf_worker import PdfWorker
from nocontact.export.plan import Plan, counts_of, first_pass
from nocontact.export.report_html import HtmlReport
from nocontact.export.scope import ExportFilters, item_ids
from nocontact.export.zipwriter import ZipWriter
from nocontact.models import Household
from nocontact.orders.timeline import bundle_violations, bundle_violations_text
from nocontact.runtime import Runtime
from nocontact.vault import envelope, ledger
from nocontact.vault.blobs import fsync_dir
from nocontact.vault.store import open_part, sealed_original

log = logging.getLogger(__name__)
VIOLATIONS = "violations.csv"  # present when a protective order is recorded

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportResult:
    path: Path
    items: int
    ledger_seq: int  # the export's own ledger entry
    manifest_sha256: str


def export_bundle(
    rt: Runtime,
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

    Raises VaultError (wrong key, damaged item) or UsageError (bad filters, the destination
    exists); on any error no file is left behind. The web app calls this too.
    """
    out_path = Path(out_path)
    if out_path.exists():
        raise UsageError(f"{out_path} already exists; choose another name")
    if not out_path.parent.is_dir():
        raise UsageError(f"the folder {out_path.parent} does not exist")
    hid = rt.household_id
    with Session(rt.engine) as s:
        ids = item_ids(s, hid, filters)
        pending = first_pass(s, ids, recipient_id, identity)
        household = s.get(Household, hid)
        household_name = household.name if household else ""
    records = [p.record for p in pending]
    items_json = [r.as_dict() for r in records]
    items_sha = hashlib.sha256(ledger.canonical_json(items_json)).hexdigest()
    counts = counts_of(records)

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
    plan = Plan(
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
            z = ZipWriter(f, datetime.now(UTC))
            try:
                manifest_sha = _write(z, rt, plan, out_path.parent, progress)
            except BaseException:
                with contextlib.suppress(Exception):  # the half file is removed below anyway
                    z.zf.close()
                raise
            z.zf.close()
            f.flush()
            os.fsync(f.fileno())
        final = tmp
        if encrypt_to is not None:
            final = tmp.with_suffix(".age.part")
            encrypt_file(tmp, final, encrypt_to)
            tmp.unlink()
        _place(final, out_path)
        fsync_dir(out_path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        tmp.with_suffix(".age.part").unlink(missing_ok=True)
        _record_failure(rt, export_seq)
        raise
    return ExportResult(out_path, len(records), export_seq, manifest_sha)


def _place(part: Path, out_path: Path) -> None:
    """Give the finished file its name, never replacing a file that appeared meanwhile."""
    try:
        os.link(part, out_path)  # atomic and fails if the name exists
    except FileExistsError as e:
        raise UsageError(f"{out_path} appeared while exporting; nothing was overwritten") from e
    except OSError as e:
        # no hard links here (a FAT-formatted USB stick): rename, after one last check
        if out_path.exists():
            raise UsageError(f"{out_path} appeared while exporting; nothing was overwritten") from e
        part.rename(out_path)
        return
    part.unlink()


def _record_failure(rt: Runtime, export_seq: int) -> None:
    """The ledger already says an export began; say that it produced no file."""
    try:
        with transaction(rt.engine) as s:
            ledger.append(s, rt.household_id, "export_failed", export=export_seq)
    except SQLAlchemyError:
        log.exception("could not record that export %s failed", export_seq)


def _write(z: ZipWriter, rt: Runtime, plan: Plan, workdir: Path, progress: Progress | None) -> str:
    """Fill the ZIP; returns the manifest's SHA-256. Temporary files go in ``workdir`` (the
    destination's folder: the person chose to put the evidence in the clear there)."""
    public_pem = rt.signer.public_pem()
    cover = plan.cover(public_pem)
    records = [p.record for p in plan.pending]
    incidents = IncidentLog()
    coparent = CoparentLog() if plan.filters.action == "record" else None
    pdf = PdfWorker(cover, records, workdir / f".{os.getpid()}-{id(plan)}.pdf.part")
    limits = rt.config.limits.read()
    try:
        # one read snapshot for every original (items are never rewritten, only added)
        with (
            tempfile.TemporaryFile("w+", encoding="utf-8", dir=workdir) as html_tmp,
            read_session(rt.engine) as rs,
        ):
            report = HtmlReport(html_tmp, cover)
            report.timeline(records)
            for n, p in enumerate(plan.pending, start=1):
                raw = open_part(p.secret, sealed_original(rs, rt.blobs, p.blob), envelope.ORIGINAL)
                if hashlib.sha256(raw).hexdigest() != p.record.sha256:
                    raise VaultError(f"item {p.record.id} does not match the hash taken at intake")
                z.put(p.record.file, raw)
                view = readable(p.record.channel, raw, p.record.sender, p.sms_text, limits)
                pdf.item(n, p.record, view)
                try:
                    report.item(n, p.record, view)
                except Exception as e:  # noqa: BLE001  (one item never stops an export)
                    log.error("report.html: item %s not laid out (%s)", n, type(e).__name__)
                    report.item(n, p.record, not_laid_out())
                incidents.add(p.record)
                if coparent is not None:
                    coparent.add(p.record)
                if progress is not None:
                    progress(n, len(plan.pending))
            report.finish()
            html_tmp.flush()
            with open(html_tmp.fileno(), "rb", closefd=False) as raw_html:
                raw_html.seek(0)
                z.put_stream(mf.REPORT_HTML, raw_html)
        disclosed = {p.record.id for p in plan.pending}
        with Session(rt.engine) as s:
            violations = bundle_violations(s, rt.household_id, disclosed)
            if violations is not None:
                lines = bundle_violations_text(s, rt.household_id, disclosed)
                pdf.section("Protective orders", lines)
        z.put(mf.REPORT_PDF, pdf.finish())
    finally:
        pdf.stop()
    z.put(mf.INCIDENTS, incidents.data())
    if coparent is not None:
        z.put(COPARENT_LOG, coparent.data())
    if violations is not None:
        z.put(VIOLATIONS, violations.encode())
    z.put(mf.LEDGER, "".join(line.as_json() + "\n" for line in plan.lines).encode())
    z.put(mf.PUBLIC_KEY, public_pem.encode())
    z.put(mf.VERIFY, verify_text().encode())
    sums = mf.sums_text(z.files)
    data = mf.encode(plan.manifest(z.files, sums, public_pem))
    z.put(mf.SUMS, sums, listed=False)
    z.put(mf.MANIFEST, data, listed=False)
    z.put(mf.SIGNATURE, rt.signer.sign(data), listed=False)
    return hashlib.sha256(data).hexdigest()
