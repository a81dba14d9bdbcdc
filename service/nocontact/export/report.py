"""What report.pdf and report.html say: the same content for a reader who will not open the
originals. A cover page (who exported, when, the scope, counts, the digests that tie the report
to the signed manifest), a timeline table, then one section per item with its headers, text and
hashes. The renderers are ``report_pdf`` and ``report_html``.
"""

from __future__ import annotations

from dataclasses import dataclass

from nocontact.export.manifest import ItemRecord

INTRO = (
    "This report is a readable copy. The evidence is the original files in items/, byte for "
    "byte as received. manifest.json lists every file with its SHA-256 and is signed "
    "(manifest.sig); VERIFY.txt explains how to check all of it with sha256sum and openssl."
)
NOT_LAID_OUT = (
    "This item could not be laid out in this report. Its original file is in the evidence "
    "file, named above with its SHA-256, exactly as it was received."
)
TIMELINE = ("#", "Received (UTC)", "Channel", "Sender", "Person", "Contact")


@dataclass(frozen=True)
class Cover:
    household: str
    exported_by: str
    exported_at: str
    scope: str
    counts: list[tuple[str, str]]
    items_sha256: str
    ledger_seq: int
    ledger_head: str
    key_fingerprint: str

    def facts(self) -> list[tuple[str, str]]:
        return [
            ("Household", self.household),
            ("Exported by", self.exported_by),
            ("Exported at (UTC)", self.exported_at),
            ("Scope", self.scope),
            *self.counts,
            # the manifest lists this report's hash, so the report cannot carry the manifest's;
            # it carries the digest of the manifest's item list instead (checked by verify)
            ("Items digest (items_sha256 in manifest.json)", self.items_sha256),
            ("Ledger entries up to this export", str(self.ledger_seq)),
            ("Ledger head", self.ledger_head),
            ("Signing key (SHA-256 of public-key.pem)", self.key_fingerprint),
        ]


def timeline_row(n: int, r: ItemRecord) -> tuple[str, ...]:
    return (str(n), r.received_at, r.channel, r.sender or "—", r.person or "—", r.contact)


def item_title(n: int, rec: ItemRecord) -> str:
    return f"Item {n}: {rec.channel}, {rec.received_at}"


def item_facts(rec: ItemRecord) -> list[tuple[str, str]]:
    sender = f"{rec.sender_name} <{rec.sender}>" if rec.sender_name else rec.sender
    return [
        ("Sender", sender or "—"),
        ("Person", _person(rec)),
        ("Contact", rec.contact),
        ("File", rec.file),
        ("SHA-256", rec.sha256),
        ("Ledger entry", str(rec.ledger_seq)),
        ("Item id", str(rec.id)),
    ]


def _person(rec: ItemRecord) -> str:
    if rec.action == "review":  # the sender is not on the list; the message points at someone
        about = f" (it concerns {rec.person}, {rec.relation})" if rec.person else ""
        return f"sender not on the list; held for review{about}"
    return f"{rec.person} ({rec.relation})" if rec.person else "not on the list"


def compact_facts(rec: ItemRecord) -> list[str]:
    """The same facts in four lines, for the PDF (each line drawn costs time at 10,000 items)."""
    f = dict(item_facts(rec))
    return [
        f"Sender: {f['Sender']}",
        f"Person: {f['Person']} · Contact: {f['Contact']} · Ledger entry: {f['Ledger entry']}"
        f" · Item id: {f['Item id']}",
        f"File: {f['File']}",
        f"SHA-256: {f['SHA-256']}",
    ]
