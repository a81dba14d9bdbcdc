"""The evidence file from the web app: owner only, passphrase again, a verifiable download."""

from __future__ import annotations

import os
import tempfile
import threading
import zipfile
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, col, select

from nocontact.db import transaction
from nocontact.export.verify import verify
from nocontact.models import LedgerEntry, utcnow
from nocontact.web.models import WebSession
from tests.conftest import PASSPHRASE
from tests.web.conftest import Site, configure, csrf_of, http_login


def test_the_owner_downloads_a_verifiable_evidence_file(site: Site, tmp_path: Path) -> None:
    kept = site.hold_email("Jordan <jordan@example.net>", "export me", "evidence body 41c2")
    with http_login(site) as client:
        form = client.get("/export")
        assert form.status_code == 200 and "Make an evidence file" in form.text
        assert "evidence body 41c2" not in form.text
        wrong = client.post(
            "/export", data={"csrf": csrf_of(form.text), "passphrase": "not it at all"}
        )
        assert wrong.status_code == 403 and "Nothing was made" in wrong.text
        r = client.post(
            "/export",
            data={"csrf": csrf_of(form.text), "passphrase": PASSPHRASE, "person": "Jordan"},
        )
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]
    bundle = tmp_path / "evidence.zip"
    bundle.write_bytes(r.content)
    summary = verify(bundle)
    assert summary
    with zipfile.ZipFile(BytesIO(r.content)) as z:
        names = z.namelist()
        assert "manifest.json" in names and "manifest.sig" in names
        emls = [n for n in names if n.startswith("items/")]
        assert any(z.read(n).endswith(b"evidence body 41c2\r\n") for n in emls)
    with Session(site.rt.engine) as s:
        kinds = [e.kind for e in s.exec(select(LedgerEntry)).all()]
    assert "export" in kinds
    assert kept.item_id is not None


def test_a_reviewer_cannot_export_and_a_post_without_csrf_is_refused(site: Site) -> None:
    from nocontact.db import transaction
    from nocontact.users import add_user

    with transaction(site.rt.engine) as s:
        add_user(s, site.rt.household_id, "exporter-test", "reviewer", "reviewer passphrase 9")
    with http_login(site, "exporter-test", "reviewer passphrase 9") as client:
        page = client.get("/export")
        assert page.status_code == 403
        r = client.post(
            "/export",
            data={
                "csrf": csrf_of(client.get("/review").text),
                "passphrase": "reviewer passphrase 9",
            },
        )
        assert r.status_code == 403 and "application/zip" not in r.headers["content-type"]
    with http_login(site) as client:
        r = client.post("/export", data={"passphrase": PASSPHRASE})
        assert r.status_code == 403
        assert r.headers.get("content-type", "").startswith("text/html")


def test_the_co_parent_log_holds_only_co_parent_messages(site: Site, tmp_path: Path) -> None:
    from nocontact.db import transaction
    from nocontact.people.service import add_person

    with transaction(site.rt.engine) as s:
        add_person(s, site.rt.household_id, "Robin", "coparent", emails=["robin@example.com"])
    site.hold_email("Robin <robin@example.com>", "pick-up", "Pick-up is at five.")
    site.hold_email("Jordan <jordan@example.net>", "not in the log", "abuser body 7d7d")
    with http_login(site) as client:
        form = client.get("/export")
        r = client.post(
            "/export",
            data={"csrf": csrf_of(form.text), "passphrase": PASSPHRASE, "coparent_log": "1"},
        )
    assert r.status_code == 200, r.text[:300]
    bundle = tmp_path / "coparent.zip"
    bundle.write_bytes(r.content)
    assert verify(bundle)
    with zipfile.ZipFile(bundle) as z:
        items = [n for n in z.namelist() if n.startswith("items/")]
        assert items and all(b"robin@example.com" in z.read(n) for n in items)
        assert "coparent-log.csv" in z.namelist()


def _exports(site: Site) -> int:
    with Session(site.rt.engine) as s:
        return len(s.exec(select(LedgerEntry).where(LedgerEntry.kind == "export")).all())


def _export(client: httpx.Client) -> httpx.Response:
    form = client.get("/export")
    return client.post("/export", data={"csrf": csrf_of(form.text), "passphrase": PASSPHRASE})


def _refused(r: httpx.Response, secret: str) -> None:
    assert r.status_code == 403, r.status_code
    assert not r.headers["content-type"].startswith("application/zip")
    assert "Nothing was made" in r.text and secret not in r.text


def test_the_cool_down_holds_for_an_evidence_file_too(site: Site) -> None:
    """With a cool-down set, the export is no way round it: not before asking, not while
    waiting, only once the vault has opened in this session."""
    site.hold_email("Jordan <jordan@example.net>", "cool-down", "cool-down body 9a3e")
    configure(site.rt, vault_cooldown_minutes=10)
    before = _exports(site)
    with http_login(site) as client:
        _refused(_export(client), "cool-down body 9a3e")
        form = client.get("/export")
        assert form.status_code == 200
        assert 'name="passphrase"' not in form.text, "the form is offered before the vault opens"
        assert 'href="/vault"' in form.text

        # she asks to open the vault and gives her passphrase: the wait begins
        intro = client.get("/vault")
        client.post("/vault/start", data={"csrf": csrf_of(intro.text)})
        unlock = client.get("/vault/unlock")
        waiting = client.post(
            "/vault/unlock", data={"csrf": csrf_of(unlock.text), "passphrase": PASSPHRASE}
        )
        assert waiting.url.path == "/vault/wait", waiting.url
        form = client.get("/export")
        assert 'name="passphrase"' not in form.text and "10 minutes" in form.text
        _refused(_export(client), "cool-down body 9a3e")
        assert _exports(site) == before, "an export was begun during the cool-down"

        with transaction(site.rt.engine) as s:  # ten minutes pass
            for row in s.exec(
                select(WebSession).where(col(WebSession.vault_opens_at).is_not(None))
            ):
                row.vault_opens_at = utcnow()
                s.add(row)
        r = _export(client)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(BytesIO(r.content)) as z:
        assert any(b"cool-down body 9a3e" in z.read(n) for n in z.namelist())
    assert _exports(site) == before + 1


def _entries(root: Path) -> set[str]:
    """Every file and folder under ``root``, relative to it."""
    return {
        os.path.relpath(os.path.join(d, n), root) for d, ds, fs in os.walk(root) for n in ds + fs
    }


def test_the_evidence_file_never_lands_in_the_shared_temp_folder(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/tmp is shared with every program and user on the machine; the unencrypted bundle (and
    its work files: the report, the PDF) must never be there, not even while it is built, and
    nothing of it may stay behind in the home once it has been sent."""
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    # the server runs in this process (tempfile's folder); the PDF worker is a child (TMPDIR)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    monkeypatch.setenv("TMPDIR", str(shared))
    site.hold_email("Jordan <jordan@example.net>", "temp", "temp folder body 3b7d")
    home_before = _entries(site.rt.home)
    seen: set[str] = set()
    done = threading.Event()

    def watch() -> None:  # every few milliseconds, for as long as the export runs
        while not done.is_set():
            seen.update(_entries(shared))
            done.wait(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with http_login(site) as client:
            r = _export(client)
    finally:
        done.set()
        watcher.join()
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(BytesIO(r.content)) as z:
        assert any(b"temp folder body 3b7d" in z.read(n) for n in z.namelist())
    assert seen == set(), f"written to the shared temp folder during the export: {seen}"
    assert list(shared.iterdir()) == []
    home = site.rt.home
    left = {
        f
        for f in _entries(home) - home_before
        if (home / f).is_file() and not Path(f).name.startswith("nocontact.db")
    }
    assert left == set(), f"left in the home after sending: {left}"


def test_what_a_crash_left_mid_export_is_removed_when_the_page_is_next_opened(site: Site) -> None:
    from nocontact.web.pages.export import WORK

    left = site.rt.home / WORK / "export-killed"
    left.mkdir(parents=True, exist_ok=True)
    (left / "evidence-half.zip.part").write_bytes(b"PK\x03\x04 left by a killed export")
    with http_login(site) as client:
        assert client.get("/export").status_code == 200
    assert not left.exists()
