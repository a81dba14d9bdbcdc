"""The `nocontact` command as a person (or a script) uses it: shapes, messages, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from nocontact.runtime import Runtime
from tests.conftest import PASSPHRASE
from tests.servers.ports import free_port, wait_port


def nc(home: Path, *args: str, passphrase: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NOCONTACT_PASSPHRASE"}
    if passphrase is not None:
        env["NOCONTACT_PASSPHRASE"] = passphrase
    return subprocess.run(
        [sys.executable, "-m", "nocontact", "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_init_creates_a_home_prints_the_code_once_and_never_overwrites_keys(tmp_path: Path) -> None:
    home = tmp_path / "var"
    first = nc(home, "init", passphrase=PASSPHRASE)
    assert first.returncode == 0, first.stderr
    assert "recovery code" in first.stdout
    key = (home / "keys" / "signing.pem").read_bytes()
    assert oct((home / "keys" / "signing.pem").stat().st_mode & 0o777) == "0o600"
    again = nc(home, "init", passphrase="another passphrase entirely")
    assert again.returncode == 0
    assert "already set up" in again.stdout and "recovery code" not in again.stdout
    assert (home / "keys" / "signing.pem").read_bytes() == key


def test_init_refuses_a_short_passphrase_and_a_missing_one(tmp_path: Path) -> None:
    short = nc(tmp_path / "a", "init", passphrase="short")
    assert short.returncode == 2 and "at least 12" in short.stderr
    missing = nc(tmp_path / "b", "init")
    assert missing.returncode == 2 and "NOCONTACT_PASSPHRASE" in missing.stderr


def test_people_add_list_remove_with_the_json_shape(rt: Runtime) -> None:
    added = nc(
        rt.home,
        "people",
        "add",
        "Jon",
        "--relation",
        "abuser",
        "--email",
        "Jon@Example.org",
        "--phone",
        "07700 900123",
        "--alias",
        "Jonny",
        "--domain",
        "jons-firm.example",
        "--note",
        "my ex",
    )
    assert added.returncode == 0, added.stderr
    listed = nc(rt.home, "people", "list", "--json")
    assert json.loads(listed.stdout) == [
        {
            "name": "Jon",
            "relation": "abuser",
            "emails": ["Jon@Example.org"],
            "phones": ["07700 900123"],
            "domains": ["jons-firm.example"],
            "aliases": ["Jonny"],
        }
    ]
    dup = nc(rt.home, "people", "add", "Jon", "--relation", "ally", "--email", "x@example.org")
    assert dup.returncode == 2 and "already on the list" in dup.stderr
    bad = nc(rt.home, "people", "add", "Ann", "--relation", "ally", "--email", "not-an-address")
    assert bad.returncode == 2 and "not an email address" in bad.stderr
    removed = nc(rt.home, "people", "remove", "Jon")
    assert removed.returncode == 0
    assert json.loads(nc(rt.home, "people", "list", "--json").stdout) == []


def test_a_bad_config_exits_2_naming_file_and_key(rt: Runtime) -> None:
    cfg = rt.home / "nocontact.toml"
    cfg.write_text(cfg.read_text() + "\n[smtp]\nlisten = 'nowhere'\n")
    out = nc(rt.home, "vault", "status", "--json")
    assert out.returncode == 2
    assert str(cfg) in out.stderr and "smtp.listen" in out.stderr and "host:port" in out.stderr


def test_demo_fills_the_vault_and_status_counts_without_opening(rt: Runtime) -> None:
    demo = nc(rt.home, "demo")
    assert demo.returncode == 0, demo.stderr
    status = json.loads(nc(rt.home, "vault", "status", "--json").stdout)
    assert status == {"items": 6, "unopened": 6, "by_channel": {"email": 5, "sms": 1}}
    again = nc(rt.home, "demo")
    assert again.returncode == 0
    assert json.loads(nc(rt.home, "vault", "status", "--json").stdout)["items"] == 6


def test_users_add_reviewer_needs_a_passphrase(rt: Runtime) -> None:
    ok = nc(
        rt.home,
        "users",
        "add",
        "friend",
        "--role",
        "reviewer",
        passphrase="the friend's own passphrase",
    )
    assert ok.returncode == 0, ok.stderr
    again = nc(
        rt.home,
        "users",
        "add",
        "friend",
        "--role",
        "reviewer",
        passphrase="the friend's own passphrase",
    )
    assert again.returncode == 2


def test_run_serves_healthz_and_stops_cleanly_on_sigterm(rt: Runtime) -> None:
    port = free_port()
    cfg = rt.home / "nocontact.toml"
    cfg.write_text(cfg.read_text().replace("127.0.0.1:8080", f"127.0.0.1:{port}"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "nocontact", "--home", str(rt.home), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_port(port, timeout=60)
        r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        assert "server" not in {k.lower() for k in r.headers}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("nocontact run did not stop on SIGTERM")
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""


def test_signing_key_public_half_verifies_with_openssl(rt: Runtime, tmp_path: Path) -> None:
    data = b"checkpoint statement"
    (tmp_path / "data").write_bytes(data)
    (tmp_path / "sig").write_bytes(rt.signer.sign(data))
    (tmp_path / "pub.pem").write_text(rt.signer.public_pem())
    out = subprocess.run(
        [
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            str(tmp_path / "pub.pem"),
            "-rawin",
            "-in",
            str(tmp_path / "data"),
            "-sigfile",
            str(tmp_path / "sig"),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and "Success" in out.stdout


def test_a_forgotten_passphrase_is_replaced_with_the_recovery_code(rt: Runtime) -> None:
    from sqlmodel import Session, select

    from nocontact.errors import WrongPassphrase
    from nocontact.models import VaultItem
    from nocontact.users import find_user, unlock
    from nocontact.vault.store import open_item

    assert nc(rt.home, "demo").returncode == 0
    env_code = {"NOCONTACT_RECOVERY_CODE": rt.recovery_code}  # type: ignore[attr-defined]
    new = "a brand new passphrase"
    wrong = subprocess.run(
        [
            sys.executable,
            "-m",
            "nocontact",
            "--home",
            str(rt.home),
            "users",
            "reset-passphrase",
            "owner",
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "NOCONTACT_RECOVERY_CODE": "AAAAA-AAAAA", "NOCONTACT_PASSPHRASE": new},
    )
    assert wrong.returncode == 1
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "nocontact",
            "--home",
            str(rt.home),
            "users",
            "reset-passphrase",
            "owner",
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env_code, "NOCONTACT_PASSPHRASE": new},
    )
    assert out.returncode == 0, out.stderr
    assert "all 6 kept items" in out.stdout
    with Session(rt.engine) as s:
        owner = find_user(s, rt.household_id, "owner")
        assert owner is not None
        with pytest.raises(WrongPassphrase):
            unlock(s, owner, PASSPHRASE)
        identity = unlock(s, owner, new)
        for item in s.exec(select(VaultItem)).all():
            raw, _ = open_item(s, rt.blobs, item, owner.recipient_id, identity)
            assert raw
