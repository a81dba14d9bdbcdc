"""Any changed byte, removed or added item, edited manifest or ledger makes verify fail and say
what. Forgeries by someone holding the signing key are caught by the chain and the checkpoint."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from nocontact.export import manifest as mf
from nocontact.export.verify import BundleFault, verify
from nocontact.vault.ledger import ChainLine, canonical_json, chain_hash
from tests.export.conftest import Shared, member_names, read_member, rewrite_zip


def flip(data: bytes, at: int | None = None) -> bytes:
    i = len(data) // 2 if at is None else at
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def first(names: list[str], suffix: str) -> str:
    return next(n for n in names if n.endswith(suffix))


KINDS = [
    ("email item", ".eml"),
    ("sms item", ".json"),
    ("pdf report", "report.pdf"),
    ("html report", "report.html"),
    ("incident log", "incidents.csv"),
    ("ledger", "ledger.jsonl"),
    ("public key", "public-key.pem"),
    ("instructions", "VERIFY.txt"),
    ("checksums", "SHA256SUMS"),
]


def test_the_untouched_bundle_verifies(bundle: Path) -> None:
    summary = verify(bundle)
    assert (summary.items, summary.email, summary.sms) == (4, 3, 1)
    assert summary.line().startswith("intact: 4 items")


@pytest.mark.parametrize(("kind", "suffix"), KINDS, ids=[k for k, _ in KINDS])
def test_one_changed_byte_in_any_file_is_named(
    bundle: Path, tmp_path: Path, kind: str, suffix: str
) -> None:
    name = first(member_names(bundle), suffix)
    bad = tmp_path / "bad.zip"
    rewrite_zip(bundle, bad, change={name: flip(read_member(bundle, name))})
    with pytest.raises(BundleFault, match=re.escape(name)):
        verify(bad)


def test_one_changed_byte_in_the_manifest_breaks_the_signature(
    bundle: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.zip"
    rewrite_zip(bundle, bad, change={"manifest.json": flip(read_member(bundle, "manifest.json"))})
    with pytest.raises(BundleFault, match=re.escape("manifest.sig does not match manifest.json")):
        verify(bad)


def test_edited_manifest_field_breaks_the_signature(bundle: Path, tmp_path: Path) -> None:
    m = json.loads(read_member(bundle, "manifest.json"))
    m["items"][0]["person"] = "Someone Else"
    bad = tmp_path / "bad.zip"
    rewrite_zip(bundle, bad, change={"manifest.json": mf.encode(m)})
    with pytest.raises(BundleFault, match=re.escape("manifest was changed")):
        verify(bad)


def test_changed_signature_is_named(bundle: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    rewrite_zip(bundle, bad, change={"manifest.sig": flip(read_member(bundle, "manifest.sig"))})
    with pytest.raises(BundleFault, match=re.escape("manifest.sig")):
        verify(bad)


def test_removed_item_is_named(bundle: Path, tmp_path: Path) -> None:
    name = first(member_names(bundle), ".eml")
    bad = tmp_path / "bad.zip"
    rewrite_zip(bundle, bad, change={name: None})
    with pytest.raises(BundleFault, match=re.escape(f"{name} is missing")):
        verify(bad)


def test_added_item_is_named(bundle: Path, tmp_path: Path) -> None:
    extra = "items/00005-20261107T090000Z-email-99.eml"
    bad = tmp_path / "bad.zip"
    rewrite_zip(bundle, bad, add={extra: b"From: x@example.org\r\n\r\nforged\r\n"})
    with pytest.raises(BundleFault, match=re.escape(f"{extra} was added")):
        verify(bad)


def test_edited_ledger_line_is_named(bundle: Path, tmp_path: Path) -> None:
    lines = read_member(bundle, "ledger.jsonl").decode().splitlines(keepends=True)
    lines[2] = lines[2].replace('"kind\\":\\"', '"kind\\":\\"x')
    bad = tmp_path / "bad.zip"
    rewrite_zip(bundle, bad, change={"ledger.jsonl": "".join(lines).encode()})
    with pytest.raises(BundleFault, match=re.escape("ledger.jsonl has changed")):
        verify(bad)


def test_damaged_zip_bytes_are_reported(bundle: Path, tmp_path: Path) -> None:
    data = bundle.read_bytes()
    name = first(member_names(bundle), ".eml").encode()
    at = data.index(name) + len(name) + 20  # inside that member's compressed data
    bad = tmp_path / "bad.zip"
    bad.write_bytes(flip(data, at))
    with pytest.raises(BundleFault):
        verify(bad)


# Forgeries below are re-signed with the real service key, as if someone with access to the
# server edited history: the hash chain and the earlier signed checkpoint still catch them.


def _resign(shared: Shared, src: Path, dst: Path, change: dict[str, bytes]) -> None:
    m = json.loads(read_member(src, "manifest.json"))
    for name, data in change.items():
        m["files"][name] = hashlib.sha256(data).hexdigest()
    sums = mf.sums_text(m["files"])
    m["sha256sums"] = hashlib.sha256(sums).hexdigest()
    data = mf.encode(m)
    rewrite_zip(
        src,
        dst,
        change={
            **change,
            "SHA256SUMS": sums,
            "manifest.json": data,
            "manifest.sig": shared.rt.signer.sign(data),
        },
    )


def test_resigned_edit_of_one_ledger_entry_breaks_the_chain(
    shared: Shared, bundle: Path, tmp_path: Path
) -> None:
    raw = read_member(bundle, "ledger.jsonl").decode().splitlines()
    d = json.loads(raw[1])
    entry = json.loads(d["entry"])
    entry["kind"] = "list_change"
    d["entry"] = canonical_json(entry).decode()
    raw[1] = json.dumps(d, separators=(",", ":"), ensure_ascii=False)
    bad = tmp_path / "bad.zip"
    _resign(shared, bundle, bad, {"ledger.jsonl": ("\n".join(raw) + "\n").encode()})
    with pytest.raises(
        BundleFault, match=re.escape("ledger.jsonl entry 2 its hash does not match")
    ):
        verify(bad)


def test_resigned_swap_of_an_item_contradicts_its_ledger_entry(
    shared: Shared, bundle: Path, tmp_path: Path
) -> None:
    m = json.loads(read_member(bundle, "manifest.json"))
    item = m["items"][0]
    forged = b"From: someone@example.org\r\n\r\nA harmless note.\r\n"
    item["sha256"] = hashlib.sha256(forged).hexdigest()
    m["items_sha256"] = hashlib.sha256(canonical_json(m["items"])).hexdigest()
    # rewrite the manifest with the new items, then let _resign fix hashes and the signature
    staged = tmp_path / "staged.zip"
    rewrite_zip(bundle, staged, change={"manifest.json": mf.encode(m)})
    bad = tmp_path / "bad.zip"
    _resign(shared, staged, bad, {item["file"]: forged})
    with pytest.raises(BundleFault, match=f"item {item['id']}: ledger entry"):
        verify(bad)


def test_resigned_rewritten_history_contradicts_the_signed_checkpoint(
    shared: Shared, bundle: Path, tmp_path: Path
) -> None:
    """A chain recomputed after editing an old entry is self-consistent; the checkpoint
    signed at export still names the old head."""
    lines = [json.loads(x) for x in read_member(bundle, "ledger.jsonl").decode().splitlines()]
    bodies = [json.loads(x["entry"]) for x in lines]
    assert bodies[0]["kind"] != "intake"
    bodies[0]["rewritten"] = True  # e.g. hide that someone changed the list that day
    prev, out = "0" * 64, []
    for seq, body in enumerate(bodies, start=1):
        body["seq"] = seq
        text = canonical_json(body).decode()
        h = chain_hash(prev, text.encode())
        out.append(ChainLine(seq, prev, h, text).as_json())
        prev = h
    m = json.loads(read_member(bundle, "manifest.json"))
    m["ledger"].update(entries=len(out), head=prev, export_entry=len(out))
    staged = tmp_path / "staged.zip"
    rewrite_zip(bundle, staged, change={"manifest.json": mf.encode(m)})
    bad = tmp_path / "bad.zip"
    _resign(shared, staged, bad, {"ledger.jsonl": ("\n".join(out) + "\n").encode()})
    with pytest.raises(BundleFault, match=re.escape("checkpoint")):
        verify(bad)
