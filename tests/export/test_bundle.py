"""The bundle holds exactly what was received, says who and when, and records its own export."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from nocontact.db import transaction
from nocontact.errors import UsageError, VaultError
from nocontact.export.bundle import export_bundle
from nocontact.export.encrypt import BundleKey
from nocontact.export.scope import ExportFilters
from nocontact.export.verify import BundleFault, verify
from nocontact.models import Checkpoint, Household, LedgerEntry, SealedBlob, VaultItem
from nocontact.vault.crypto import new_identity
from tests.export.conftest import (
    DATA,
    NON_LATIN,
    Seeded,
    Shared,
    member_names,
    owner_key,
    read_member,
)


def manifest_of(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(read_member(path, "manifest.json"))


def test_items_are_byte_identical_to_what_was_received(shared: Shared) -> None:
    seeded, path = shared.seeded, shared.path
    m = manifest_of(path)
    by_id = {it["id"]: it for it in m["items"]}
    samples = {
        "direct": "export-direct.eml",
        "thirdparty": "export-thirdparty.eml",
        "review": "export-review.eml",
        "sms": "export-sms-twilio.json",
    }
    assert len(m["items"]) == len(samples)  # the allowed library mail was never kept
    for name, file in samples.items():
        it = by_id[seeded.item_ids[name]]
        original = (DATA / file).read_bytes()
        in_bundle = read_member(path, it["file"])
        assert in_bundle == original
        assert it["sha256"] == seeded.sha256[name] == hashlib.sha256(in_bundle).hexdigest()
    assert by_id[seeded.item_ids["sms"]]["file"].endswith(".json")
    assert by_id[seeded.item_ids["direct"]]["file"].endswith(".eml")


def test_manifest_names_sender_person_relation_and_contact_kind(
    shared: Shared,
) -> None:
    seeded, path = shared.seeded, shared.path
    m = manifest_of(path)
    assert m["format"] == "nocontact-evidence/1"
    by_id = {it["id"]: it for it in m["items"]}
    direct = by_id[seeded.item_ids["direct"]]
    assert (direct["sender"], direct["sender_name"]) == ("dmitri@example.ru", NON_LATIN)
    assert (direct["person"], direct["relation"], direct["contact"]) == (
        NON_LATIN,
        "abuser",
        "direct",
    )
    ally = by_id[seeded.item_ids["thirdparty"]]
    assert (ally["sender"], ally["relation"], ally["contact"]) == (
        "sam.reed@example.org",
        "ally",
        "third-party",
    )
    review = by_id[seeded.item_ids["review"]]
    assert (review["action"], review["contact"]) == ("review", "third-party")
    sms = by_id[seeded.item_ids["sms"]]
    assert (sms["channel"], sms["sender"], sms["contact"]) == ("sms", "+447700900123", "direct")
    assert direct["received_at"] == "2026-11-03T21:14:05Z"
    # oldest first, as on the timeline
    assert [it["received_at"] for it in m["items"]] == sorted(
        it["received_at"] for it in m["items"]
    )
    assert "BEGIN PUBLIC KEY" in m["public_key"]


def test_incident_log_has_one_row_per_contact_attempt(shared: Shared) -> None:
    path = shared.path
    rows = list(csv.DictReader(io.StringIO(read_member(path, "incidents.csv").decode())))
    m = manifest_of(path)
    assert len(rows) == len(m["items"])
    first = rows[0]
    assert (first["date_utc"], first["time_utc"]) == ("2026-11-03", "21:14:05")
    assert (first["channel"], first["sender_identifier"], first["person"]) == (
        "email",
        "dmitri@example.ru",
        NON_LATIN,
    )
    assert first["contact"] == "direct"
    assert [r["sha256"] for r in rows] == [it["sha256"] for it in m["items"]]
    sms = rows[-1]
    assert sms["sender_identifier"] == "+447700900123"  # not mangled into '+447…


def test_signature_verifies_with_the_openssl_command(shared: Shared, tmp_path: Path) -> None:
    path = shared.path
    with zipfile.ZipFile(path) as z:
        z.extractall(tmp_path)
    cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public-key.pem", "-rawin"]
    cmd += ["-in", "manifest.json", "-sigfile", "manifest.sig"]
    ok = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    assert "Signature Verified Successfully" in ok.stdout
    sums = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True
    )
    assert sums.returncode == 0 and "FAILED" not in sums.stdout
    digest = hashlib.sha256((tmp_path / "SHA256SUMS").read_bytes()).hexdigest()
    assert digest == manifest_of(path)["sha256sums"]
    # and OpenSSL notices a changed manifest
    (tmp_path / "manifest.json").write_bytes(
        (tmp_path / "manifest.json").read_bytes().replace(b'"owner"', b'"0wner"')
    )
    bad = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0


def test_export_is_a_ledger_entry_with_a_fresh_signed_checkpoint(
    shared: Shared,
) -> None:
    path = shared.path
    m = manifest_of(path)
    lines = read_member(path, "ledger.jsonl").decode().splitlines()
    last = json.loads(json.loads(lines[-1])["entry"])
    assert last["kind"] == "export" and last["items"] == 4 and last["by"] == "owner"
    assert last["items_sha256"] == m["items_sha256"]
    with Session(shared.rt.engine) as s:
        h = s.get(Household, shared.rt.household_id)
        assert h is not None
        entry = s.exec(select(LedgerEntry).where(LedgerEntry.seq == m["ledger"]["entries"])).one()
        cp = s.exec(select(Checkpoint).where(Checkpoint.seq == entry.seq)).first()
    assert entry.kind == "export" and entry.hash == m["ledger"]["head"]
    assert cp is not None and cp.seq == entry.seq and cp.signature == m["checkpoint"]["signature"]
    # entries hold ids and hashes only: no sender, subject or text of any item
    ledger_text = read_member(path, "ledger.jsonl").decode()
    for secret in ("dmitri@example.ru", "Answer your phone", "He wants you", NON_LATIN):
        assert secret not in ledger_text


def test_filters_choose_people_channel_and_dates(shared: Shared, tmp_path: Path) -> None:
    seeded, rt, rid, ident = shared.seeded, shared.rt, shared.recipient_id, shared.identity
    cases = {
        "jordan.zip": (ExportFilters(persons=("Jordan Reed",)), {"review", "sms"}),
        "sms.zip": (ExportFilters(channel="sms"), {"sms"}),
        "dates.zip": (
            ExportFilters(
                since=datetime(2026, 11, 4, tzinfo=UTC), until=datetime(2026, 11, 6, tzinfo=UTC)
            ),
            {"thirdparty", "review"},
        ),
    }
    for name, (filters, expected) in cases.items():
        out = tmp_path / name
        steps: list[tuple[int, int]] = []
        export_bundle(
            rt,
            out,
            rid,
            ident,
            filters,
            "owner",
            progress=lambda d, t, into=steps: into.append((d, t)),
        )
        assert steps == [(n, len(expected)) for n in range(1, len(expected) + 1)]
        got = {it["id"] for it in manifest_of(out)["items"]}
        assert got == {seeded.item_ids[k] for k in expected}, name
        summary = verify(out)
        assert summary.items == len(expected)
        # the whole chain travels with a partial disclosure
        assert summary.ledger_entries == manifest_of(out)["ledger"]["entries"]
    with pytest.raises(UsageError, match="nobody called"):
        export_bundle(rt, tmp_path / "x.zip", rid, ident, ExportFilters(persons=("Nobody",)), "o")
    assert not (tmp_path / "x.zip").exists()


def test_a_key_that_does_not_open_the_vault_exports_nothing(shared: Shared, tmp_path: Path) -> None:
    rt, rid = shared.rt, shared.recipient_id
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with Session(rt.engine) as s:
        before = s.get(Household, rt.household_id).ledger_seq  # type: ignore[union-attr]
    stranger, _ = new_identity()
    with pytest.raises(VaultError):
        export_bundle(rt, out_dir / "out.zip", rid, stranger, ExportFilters(), "owner")
    assert list(out_dir.iterdir()) == []  # no bundle, no temporary file
    with Session(rt.engine) as s:
        assert s.get(Household, rt.household_id).ledger_seq == before  # type: ignore[union-attr]


def test_an_existing_file_is_never_overwritten(shared: Shared, tmp_path: Path) -> None:
    rt, rid, ident = shared.rt, shared.recipient_id, shared.identity
    out = tmp_path / "evidence.zip"
    out.write_bytes(b"keep me")
    with pytest.raises(UsageError, match="already exists"):
        export_bundle(rt, out, rid, ident, ExportFilters(), "owner")
    assert out.read_bytes() == b"keep me"


def test_bundle_encrypted_to_an_age_key_opens_with_the_age_command(
    shared: Shared, tmp_path: Path
) -> None:
    rt, rid, ident = shared.rt, shared.recipient_id, shared.identity
    lawyer_secret, lawyer_public = new_identity()
    out = tmp_path / "evidence.zip.age"
    export_bundle(
        rt,
        out,
        rid,
        ident,
        ExportFilters(),
        "owner",
        encrypt_to=BundleKey((lawyer_public,)),
    )
    assert not zipfile.is_zipfile(out)
    with pytest.raises(VaultError, match="encrypted"):
        verify(out)
    assert verify(out, identity=lawyer_secret).items == 4
    key_file = tmp_path / "lawyer.key"
    key_file.write_text(lawyer_secret + "\n")
    plain = tmp_path / "opened.zip"
    subprocess.run(
        ["age", "-d", "-i", str(key_file), "-o", str(plain), str(out)], check=True, timeout=30
    )
    assert verify(plain).items == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "evidence.zip.age",
        "lawyer.key",
        "opened.zip",
    ]


def test_bundle_key_refuses_a_bad_recipient_or_both_kinds() -> None:
    _, public = new_identity()
    with pytest.raises(UsageError, match="not an age public key"):
        BundleKey(("age1notakey",))
    with pytest.raises(UsageError, match="not both"):
        BundleKey((public,), passphrase="and a passphrase")
    # the passphrase mode itself runs end to end in test_cli (scrypt costs seconds per use)


def test_unzipped_folder_verifies_like_the_zip(shared: Shared, tmp_path: Path) -> None:
    path = shared.path
    with zipfile.ZipFile(path) as z:
        z.extractall(tmp_path)
    (tmp_path / ".DS_Store").write_bytes(b"Finder was here")
    assert verify(tmp_path).items == 4
    item = next(n for n in member_names(path) if n.endswith(".eml"))
    (tmp_path / item).write_bytes((tmp_path / item).read_bytes() + b"\n")
    with pytest.raises(BundleFault, match=item):
        verify(tmp_path)


def test_a_damaged_original_stops_the_export_and_the_ledger_says_so(
    seeded: Seeded, tmp_path: Path
) -> None:
    rt = seeded.rt
    rid, ident = owner_key(rt)
    with transaction(rt.engine) as s:
        item = s.get(VaultItem, seeded.item_ids["review"])
        assert item is not None
        stored = s.get(SealedBlob, item.blob)
        if stored is None:
            blob = rt.blobs.path(item.blob)
            blob.write_bytes(flip_middle(blob.read_bytes()))
        else:  # kept in the database
            stored.data = flip_middle(stored.data)
            s.add(stored)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(VaultError, match="does not match its address"):
        export_bundle(rt, out_dir / "e.zip", rid, ident, ExportFilters(), "owner")
    assert list(out_dir.iterdir()) == []  # no bundle, no report, no temporary file
    with Session(rt.engine) as s:
        kinds = [e.kind for e in s.exec(select(LedgerEntry).order_by(col(LedgerEntry.seq))).all()]
    assert kinds[-2:] == ["export", "export_failed"]
    # the other items still export when chosen without it
    export_bundle(rt, out_dir / "sms.zip", rid, ident, ExportFilters(channel="sms"), "owner")
    assert verify(out_dir / "sms.zip").items == 1


def flip_middle(data: bytes) -> bytes:
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def _pdf_worker_pids() -> list[int]:
    """Our own PDF worker children (started by the export under test)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"nocontact.export.pdf_worker" in cmdline:
            pids.append(int(proc.name))
    return pids


def test_a_pdf_worker_that_dies_fails_the_export_and_leaves_nothing(
    shared: Shared, tmp_path: Path
) -> None:
    def kill_worker(done: int, total: int) -> None:
        if done == 1:
            pids = _pdf_worker_pids()
            assert len(pids) == 1
            os.kill(pids[0], signal.SIGKILL)

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(VaultError, match="PDF report"):
        export_bundle(
            shared.rt,
            out_dir / "e.zip",
            shared.recipient_id,
            shared.identity,
            ExportFilters(),
            "owner",
            progress=kill_worker,
        )
    assert list(out_dir.iterdir()) == []
    assert _pdf_worker_pids() == []
