"""The evidence file from the web app: owner only, passphrase again, a verifiable download."""

from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path

from sqlmodel import Session, select

from nocontact.export.verify import verify
from nocontact.models import LedgerEntry
from tests.conftest import PASSPHRASE
from tests.web.conftest import Site, csrf_of, http_login


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
