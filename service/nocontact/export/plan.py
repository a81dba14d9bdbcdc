"""What an export will contain, decided before anything is written.

The first pass opens only each item's sealed metadata (who the item claims to be from) to build
the manifest records, the timeline and the cover; a key that does not fit fails here, before
the export is recorded or any file exists. Item keys are kept for the second pass, which opens
the originals one at a time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlmodel import Session

from nocontact.export import manifest as mf
from nocontact.export.manifest import ItemRecord
from nocontact.export.report import Cover
from nocontact.export.scope import ExportFilters, batches
from nocontact.models import VaultItem
from nocontact.vault import ledger
from nocontact.vault.store import ItemSecret, Opener, open_meta

EXTENSIONS = {"email": ".eml", "sms": ".json"}


@dataclass(frozen=True)
class Pending:
    record: ItemRecord
    blob: str
    secret: ItemSecret
    sms_text: str | None  # a gateway's text as given in the sealed metadata, if any


def _received(item: VaultItem) -> str:
    ts = item.received_at if item.received_at.tzinfo else item.received_at.replace(tzinfo=UTC)
    return ledger.iso(ts.astimezone(UTC).replace(microsecond=0))


def _file_name(n: int, item: VaultItem) -> str:
    stamp = _received(item).replace("-", "").replace(":", "")
    ext = EXTENSIONS.get(item.channel, ".bin")
    return f"{mf.ITEMS_DIR}{n:05d}-{stamp}-{item.channel}-{item.id}{ext}"


def first_pass(session: Session, ids: list[int], recipient_id: int, identity: str) -> list[Pending]:
    pending: list[Pending] = []
    opener = Opener(session, recipient_id, identity)  # each batch key opened once
    for batch in batches(session, ids, recipient_id):
        for item, key in batch:
            secret = opener.secret(item, key)
            meta = open_meta(secret, item)
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
            pending.append(Pending(rec, item.blob, secret, text if isinstance(text, str) else None))
    return pending


def counts_of(records: list[ItemRecord]) -> dict[str, int]:
    c = {"items": len(records), "email": 0, "sms": 0, "direct": 0, "third-party": 0}
    for r in records:
        c[r.channel] = c.get(r.channel, 0) + 1
        c[r.contact] = c.get(r.contact, 0) + 1
    return c


@dataclass(frozen=True)
class Plan:
    """Everything decided before the second pass: what goes in and how it is described."""

    pending: list[Pending]
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
