"""The co-parent log: every recorded co-parent message in a date range, as a verifiable bundle
with coparent-log.csv, through `nocontact export --coparent-log`."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nocontact.cli import main
from nocontact.db import transaction
from nocontact.intake import InboundMessage, Intake
from nocontact.matching.facts import facts_from_email, facts_from_sms
from nocontact.people.service import add_person
from nocontact.runtime import Runtime
from tests.conftest import PASSPHRASE
from tests.export.conftest import DATA

SAM_PHONE = "+447700900777"


def mail(sender: str, subject: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: me@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <{abs(hash(subject))}@test.example>\r\n\r\n{subject}\r\n"
    ).encode()


def seed(rt: Runtime) -> dict[str, str]:
    """Co-parent mail before, inside and at the end of the range, a co-parent text, and an
    abuser's message inside it; returns sha256 by name."""
    with transaction(rt.engine) as s:
        add_person(
            s, rt.household_id, "Sam", "coparent", emails=["sam@example.org"], phones=[SAM_PHONE]
        )
        add_person(s, rt.household_id, "Jon", "abuser", emails=["jon@example.org"])
    intake = Intake(rt)
    shas: dict[str, str] = {}
    emails = [
        ("before", "sam@example.org", datetime(2026, 11, 2, 9, 0, tzinfo=UTC)),
        ("inside", "sam@example.org", datetime(2026, 11, 10, 17, 45, 12, tzinfo=UTC)),
        ("abuser", "jon@example.org", datetime(2026, 11, 11, 8, 0, tzinfo=UTC)),
        ("last", "sam@example.org", datetime(2026, 11, 30, 23, 59, tzinfo=UTC)),
    ]
    for name, sender, at in emails:
        raw = mail(sender, f"{name} message")
        msg = InboundMessage("email", raw, f"test:{name}", facts_from_email(raw), received_at=at)
        shas[name] = intake.process(msg).sha256
    raw = (DATA / "export-sms-twilio.json").read_bytes()
    text = InboundMessage(
        "sms",
        raw,
        "sms:twilio:SMcoparent",
        facts_from_sms(SAM_PHONE, "pick up at 5"),
        received_at=datetime(2026, 11, 12, 15, 0, tzinfo=UTC),
    )
    result = intake.process(text)
    assert result.decision.action == "record"
    shas["text"] = result.sha256
    return shas


def test_coparent_log_lists_only_coparent_messages_in_the_range_and_verifies(
    rt: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shas = seed(rt)
    monkeypatch.setenv("NOCONTACT_PASSPHRASE", PASSPHRASE)
    out = tmp_path / "coparent-log.zip"
    args = ["--home", str(rt.home), "export", "--coparent-log", "--out", str(out)]
    assert main([*args, "--since", "2026-11-05", "--until", "2026-11-30"]) == 0
    assert "3 items" in capsys.readouterr().out
    assert main(["verify", str(out)]) == 0
    assert capsys.readouterr().out.startswith("intact: 3 items (2 email, 1 texts)")

    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
        rows = list(csv.DictReader(io.StringIO(z.read("coparent-log.csv").decode())))
        names = z.namelist()
        for row in rows:  # each row points at its original, byte for byte
            assert hashlib.sha256(z.read(row["file"])).hexdigest() == row["sha256"]
    assert "report.pdf" in names and "coparent-log.csv" in manifest["files"]
    assert {i["relation"] for i in manifest["items"]} == {"coparent"}
    assert {i["action"] for i in manifest["items"]} == {"record"}
    assert [
        (r["date_utc"], r["time_utc"], r["channel"], r["person"], r["sha256"]) for r in rows
    ] == [
        ("2026-11-10", "17:45:12", "email", "Sam", shas["inside"]),
        ("2026-11-12", "15:00:00", "sms", "Sam", shas["text"]),
        ("2026-11-30", "23:59:00", "email", "Sam", shas["last"]),
    ]
    assert list(rows[0]) == ["date_utc", "time_utc", "channel", "person", "sha256", "file"]


def test_an_ordinary_export_has_no_coparent_log(
    rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(rt)
    monkeypatch.setenv("NOCONTACT_PASSPHRASE", PASSPHRASE)
    out = tmp_path / "evidence.zip"
    assert main(["--home", str(rt.home), "export", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as z:
        assert "coparent-log.csv" not in z.namelist()
        assert len(json.loads(z.read("manifest.json"))["items"]) == 5
