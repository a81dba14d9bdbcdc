"""The hostile corpus (tests/data/hostile) is what its script makes, and is complete."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HOSTILE = Path(__file__).parent / "data" / "hostile"


def test_corpus_is_what_the_script_makes() -> None:
    done = subprocess.run(
        [sys.executable, str(HOSTILE / "make_corpus.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_index_lists_every_file_and_only_those() -> None:
    index = json.loads((HOSTILE / "index.json").read_text())
    listed = [e["file"] for e in index]
    assert listed == sorted(listed)
    assert len(set(listed)) == len(listed)
    on_disk = sorted(
        f"{p.parent.name}/{p.name}" for d in ("email", "sms") for p in (HOSTILE / d).iterdir()
    )
    assert listed == on_disk
    for e in index:
        assert e["kind"] == e["file"].split("/")[0]
        assert e["expect"] in ("kept", "refused", "not_kept")
        assert e["note"]
        if e["kind"] == "email":
            assert e["expect"] == "kept"


def test_every_email_names_jordan() -> None:
    emails = sorted((HOSTILE / "email").glob("*.eml"))
    assert len(emails) >= 50
    for path in emails:
        assert b"jordan@example.org" in path.read_bytes(), path.name


def test_sms_items_are_well_formed() -> None:
    gateways = {"twilio", "telnyx", "android_gateway", "httpsms", "generic"}
    items = sorted((HOSTILE / "sms").glob("*.json"))
    assert len(items) >= 25
    for path in items:
        doc = json.loads(path.read_text())
        assert set(doc) == {"gateway", "content_type", "body_base64", "expect", "note"}
        assert doc["gateway"] in gateways, path.name
