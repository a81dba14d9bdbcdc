"""`nocontact export` and `nocontact verify`: exit codes and what they print."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from sqlmodel import Session

from nocontact.cli import main
from nocontact.models import Household
from nocontact.runtime import Runtime
from tests.conftest import PASSPHRASE
from tests.export.conftest import Shared, rewrite_zip


def ledger_length(rt: Runtime) -> int:
    with Session(rt.engine) as s:
        h = s.get(Household, rt.household_id)
        assert h is not None
        return h.ledger_seq


def test_export_then_verify_exit_zero(
    shared: Shared,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = str(shared.rt.home)
    monkeypatch.setenv("NOCONTACT_PASSPHRASE", PASSPHRASE)
    out = tmp_path / "evidence.zip"
    code = main(
        [
            "--home",
            home,
            "export",
            "--out",
            str(out),
            "--channel",
            "email",
            "--since",
            "2026-11-04",
            "--until",
            "2026-11-05",
        ]
    )
    assert code == 0
    assert "2 items" in capsys.readouterr().out
    assert main(["verify", str(out)]) == 0
    assert capsys.readouterr().out.startswith("intact: 2 items (2 email, 0 texts)")


def test_verify_exit_one_names_the_fault(
    shared: Shared, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.zip"
    rewrite_zip(shared.path, bad, change={"incidents.csv": b"date\r\n"})
    assert main(["verify", str(bad)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAILED: incidents.csv has changed")
    assert main(["verify", str(tmp_path / "missing.zip")]) == 1
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert main(["verify", str(tmp_path / "junk.zip")]) == 1


def test_wrong_passphrase_exports_nothing_and_leaves_no_file(
    shared: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = ledger_length(shared.rt)
    monkeypatch.setenv("NOCONTACT_PASSPHRASE", "not the passphrase at all")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code = main(["--home", str(shared.rt.home), "export", "--out", str(out_dir / "e.zip")])
    assert code == 1
    assert list(out_dir.iterdir()) == []
    assert ledger_length(shared.rt) == before


def test_recovery_code_exports_too(
    shared: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code_text = shared.rt.recovery_code  # type: ignore[attr-defined]
    monkeypatch.setenv("NOCONTACT_PASSPHRASE", code_text)
    out = tmp_path / "e.zip"
    assert main(["--home", str(shared.rt.home), "export", "--recovery", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as z:
        assert b'"exported_by": "recovery code"' in z.read("manifest.json")


def test_bad_usage_exits_two(
    shared: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOCONTACT_PASSPHRASE", PASSPHRASE)
    home = str(shared.rt.home)
    with pytest.raises(SystemExit) as e:
        main(["--home", home, "export", "--out", str(tmp_path / "a.zip"), "--since", "last week"])
    assert e.value.code == 2
    backwards = ["--since", "2026-11-05", "--until", "2026-11-04"]
    assert main(["--home", home, "export", "--out", str(tmp_path / "e.zip"), *backwards]) == 2
    args = ["--home", home, "export", "--out", str(tmp_path / "b.zip"), "--person", "Nobody"]
    assert main(args) == 2
    assert (
        main(["--home", home, "export", "--out", str(tmp_path / "c.zip"), "--to", "age1bad"]) == 2
    )
    existing = tmp_path / "d.zip"
    existing.write_bytes(b"x")
    assert main(["--home", home, "export", "--out", str(existing)]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.zip"]


def test_encrypted_export_and_verify_with_a_passphrase(
    shared: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOCONTACT_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("NOCONTACT_BUNDLE_PASSPHRASE", "for the advocate only")
    out = tmp_path / "e.zip.age"
    home = str(shared.rt.home)
    assert (
        main(
            [
                "--home",
                home,
                "export",
                "--out",
                str(out),
                "--encrypt-passphrase",
                "--channel",
                "sms",
            ]
        )
        == 0
    )
    assert main(["verify", str(out)]) == 0
    monkeypatch.setenv("NOCONTACT_BUNDLE_PASSPHRASE", "a wrong guess")
    assert main(["verify", str(out)]) == 1
