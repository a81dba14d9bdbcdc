"""A home with people on the list and real intakes (the one pipeline every channel calls)."""

from __future__ import annotations

import json
import shutil
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from nocontact.db import transaction
from nocontact.export.bundle import export_bundle
from nocontact.export.scope import ExportFilters
from nocontact.intake import InboundMessage, Intake
from nocontact.matching.facts import facts_from_email, facts_from_sms
from nocontact.people.service import add_person
from nocontact.runtime import Runtime
from nocontact.users import find_user, unlock
from tests.conftest import PASSPHRASE, make_home

DATA = Path(__file__).resolve().parent.parent / "data"
NON_LATIN = "Дмитрий Петров"


@dataclass(frozen=True)
class Seeded:
    rt: Runtime
    item_ids: dict[str, int]  # sample name -> vault item id
    sha256: dict[str, str]


def seed(rt: Runtime) -> Seeded:
    with transaction(rt.engine) as s:
        add_person(s, rt.household_id, NON_LATIN, "abuser", emails=["dmitri@example.ru"])
        add_person(
            s,
            rt.household_id,
            "Jordan Reed",
            "abuser",
            phones=["+44 7700 900123"],
            aliases=["Jordan Reed"],
        )
        add_person(s, rt.household_id, "Sam Reed", "ally", emails=["sam.reed@example.org"])
    intake = Intake(rt)
    ids: dict[str, int] = {}
    shas: dict[str, str] = {}
    emails = [
        ("direct", "export-direct.eml", datetime(2026, 11, 3, 21, 14, 5, tzinfo=UTC)),
        ("thirdparty", "export-thirdparty.eml", datetime(2026, 11, 4, 8, 2, tzinfo=UTC)),
        ("review", "export-review.eml", datetime(2026, 11, 5, 12, 30, tzinfo=UTC)),
    ]
    for name, file, at in emails:
        raw = (DATA / file).read_bytes()
        r = intake.process(
            InboundMessage("email", raw, f"test:{file}", facts_from_email(raw), received_at=at)
        )
        assert r.item_id is not None, name
        ids[name], shas[name] = r.item_id, r.sha256
    raw = (DATA / "export-sms-twilio.json").read_bytes()
    # kept as the SMS channel keeps a request (channels/sms/gateway.py evidence()): JSON with
    # the signed URL, the headers that matter and the exact body
    form = dict(urllib.parse.parse_qsl(json.loads(raw)["body"]))
    r = intake.process(
        InboundMessage(
            "sms",
            raw,
            "twilio:SMexport0001",
            facts_from_sms(form["From"], form["Body"]),
            received_at=datetime(2026, 11, 6, 19, 45, tzinfo=UTC),
        )
    )
    assert r.item_id is not None
    ids["sms"], shas["sms"] = r.item_id, r.sha256
    # allowed mail is not kept; it must not appear in the bundle or the ledger
    raw = b"From: Library <news@library.example>\r\nSubject: hours\r\n\r\nOpen late.\r\n"
    assert not intake.process(InboundMessage("email", raw, "test:lib", facts_from_email(raw))).kept
    return Seeded(rt, ids, shas)


def owner_key(rt: Runtime) -> tuple[int, str]:
    with Session(rt.engine) as s:
        user = find_user(s, rt.household_id, "owner")
        assert user is not None
        return user.recipient_id, unlock(s, user, PASSPHRASE)


@pytest.fixture
def seeded(rt: Runtime) -> Seeded:
    return seed(rt)


@dataclass(frozen=True)
class Shared:
    seeded: Seeded
    path: Path  # a bundle of everything, exported once
    recipient_id: int
    identity: str

    @property
    def rt(self) -> Runtime:
        return self.seeded.rt


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    """One seeded home, the owner's unlocked key and one bundle for all export tests (setting
    up a home and unlocking cost seconds of argon2id and scrypt, on purpose). Tests may export
    more from it: each export only adds to the ledger."""
    root = tmp_path_factory.mktemp("export-shared")
    rt = make_home(root)
    seeded = seed(rt)
    out = root / "evidence.zip"
    rid, ident = owner_key(rt)
    export_bundle(rt, out, rid, ident, ExportFilters(), "owner")
    yield Shared(seeded, out, rid, ident)
    rt.engine.dispose()


@pytest.fixture
def bundle(shared: Shared, tmp_path: Path) -> Path:
    """A private copy of the module's bundle, free to damage."""
    copy = tmp_path / "evidence.zip"
    shutil.copyfile(shared.path, copy)
    return copy


def rewrite_zip(
    src: Path,
    dst: Path,
    *,
    change: dict[str, bytes | None] | None = None,
    add: dict[str, bytes] | None = None,
) -> None:
    """Copy a ZIP with some members replaced (bytes), removed (None) or added: what someone
    who unzips, edits and zips again would produce."""
    change = change or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in change:
                data = change[info.filename]
                if data is not None:
                    zout.writestr(info.filename, data)
                continue
            zout.writestr(info.filename, zin.read(info.filename))
        for name, data in (add or {}).items():
            zout.writestr(name, data)


def read_member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read(name)


def member_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as z:
        return z.namelist()
