"""The manifest: what the bundle holds, signed so anyone can check it with standard OpenSSL.

``manifest.json`` is written once, as UTF-8 bytes; ``manifest.sig`` is a raw Ed25519 signature
over exactly those bytes (RFC 8032), which ``openssl pkeyutl -verify -rawin`` checks. The
manifest lists the SHA-256 of every other file; ``SHA256SUMS`` repeats those lines in the
format ``sha256sum -c`` reads, and its own hash is in the manifest, so the signature covers it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from nocontact import decoding

FORMAT = "nocontact-evidence/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SUMS = "SHA256SUMS"
PUBLIC_KEY = "public-key.pem"
LEDGER = "ledger.jsonl"
INCIDENTS = "incidents.csv"
REPORT_PDF = "report.pdf"
REPORT_HTML = "report.html"
VERIFY = "VERIFY.txt"
ITEMS_DIR = "items/"
# the three files the manifest cannot list by hash (itself, its signature, and the sums file,
# whose hash it carries separately)
UNLISTED = (MANIFEST, SIGNATURE, SUMS)

DIRECT_RELATIONS = ("abuser", "coparent")


def contact_kind(relation: str | None, action: str) -> str:
    """Direct: the listed person wrote. Third-party: an ally, or someone held for review."""
    if action != "review" and relation in DIRECT_RELATIONS:
        return "direct"
    return "third-party"


@dataclass(frozen=True)
class ItemRecord:
    id: int
    channel: str
    received_at: str  # ISO 8601, UTC, from the server clock at intake
    sender: str  # the identifier as received: address or phone number
    sender_name: str  # the display name as received, or ""
    person: str  # the person on the list it matched, as named when it arrived
    relation: str  # abuser | ally | coparent | "" (held for review, not on the list)
    contact: str  # direct | third-party
    action: str  # quarantine | record | review
    sha256: str  # of the original, computed at intake
    size: int
    file: str  # path inside the bundle
    ledger_seq: int  # position of its intake entry in ledger.jsonl

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def shown(value: Any) -> str:
    """A sender's identifier or name as the report, CSVs and manifest show it: one line, no
    control or bidi characters, bounded (the sealed metadata keeps what was read)."""
    return decoding.line(value)


def sender_of(parties: list[dict[str, Any]]) -> tuple[str, str]:
    """(identifier, display name) of the first claimed sender in the sealed metadata."""
    for signal in ("from", "sms_from", "sender", "envelope_from", "return_path"):
        for p in parties:
            if p.get("signal") == signal:
                ident = p.get("address") or p.get("phone") or ""
                return shown(ident), shown(p.get("display_name"))
    return "", ""


def encode(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True) + "\n").encode()


def sums_text(files: dict[str, str]) -> bytes:
    # two spaces: sha256sum's text-mode separator; sorted for a stable file
    return "".join(f"{sha}  {name}\n" for name, sha in sorted(files.items())).encode()
