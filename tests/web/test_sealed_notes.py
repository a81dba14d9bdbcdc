"""The trusted person's notes are sealed like the messages they describe (issue 19, point 7).

The attack is a stolen backup: a reviewer writes a note through the real app (uvicorn on
loopback, real Chromium), then the database is read as a thief would have it: the SQLite file
with its write-ahead log byte for byte, or a ``pg_dump`` of PostgreSQL, and every row of
every table. Neither the summary nor the tags may be there. The owner still reads the note
once she gives her passphrase on /notes (and only for that page); the reviewer reads their
own. Old plaintext notes (from before migration 0015) survive the upgrade and are sealed the
next time a holder reads them; re-keying (a reviewer added later, a reset with the recovery
code) keeps every note readable.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
import uvicorn
from alembic import command
from alembic.config import Config as AlembicConfig
from playwright.sync_api import Page, expect
from sqlalchemy import inspect, text
from sqlmodel import Session, select

from nocontact.db import make_engine, sqlite_url, transaction
from nocontact.errors import VaultError
from nocontact.intake import InboundMessage, Intake
from nocontact.matching.facts import facts_from_email
from nocontact.models import ReviewNote, User, VaultItem
from nocontact.people.service import add_person
from nocontact.runtime import Runtime
from nocontact.users import add_user, reset_with_recovery, unlock
from nocontact.vault import notes
from nocontact.vault.crypto import new_identity
from nocontact.vault.notes import NoteReader, read_note, seal_legacy, write_note
from nocontact.vault.store import open_part, rewrap_missing
from nocontact.web.app import create_app
from tests.conftest import PASSPHRASE
from tests.servers.ports import free_port
from tests.web.conftest import REVIEWER_PASSPHRASE, Site, login, press, shoot

SUMMARY = "Wants the blue bicycle back before the school run on Friday; calls her a liar."
TAGS = ("children", "legal", "threat", "urgent")
OLD_SUMMARY = "An older note about the caravan keys, written before notes were sealed."


# --- serving a home of our own: the shared ``site`` is SQLite only -------------------------


@pytest.fixture
def served(any_rt: Runtime) -> Iterator[Site]:
    """The real app on loopback for this test's own home (SQLite, then PostgreSQL), with
    Jordan on the list and a reviewer added before anything is held."""
    rt = any_rt
    with transaction(rt.engine) as s:
        add_person(s, rt.household_id, "Jordan", "abuser", emails=["jordan@example.net"])
        add_user(s, rt.household_id, "robin", "reviewer", REVIEWER_PASSPHRASE)
    intake = Intake(rt)
    app = create_app(rt, intake)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield Site(rt, f"http://127.0.0.1:{port}", intake, app.pages)
    server.should_exit = True
    thread.join(timeout=10)


# --- what a thief has --------------------------------------------------------------------


def _rows(rt: Runtime) -> list[str]:
    """Every cell of every table, as text (bytes as Latin-1, so nothing is hidden by decoding)."""
    cells: list[str] = []
    with rt.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    raw = value if isinstance(value, bytes | memoryview) else None
                    cells.append(bytes(raw).decode("latin-1") if raw is not None else str(value))
    return cells


def _backup(rt: Runtime) -> bytes:
    """The database as a stolen backup has it: the SQLite file and its write-ahead log byte for
    byte, or PostgreSQL as ``pg_dump`` writes it."""
    url = rt.engine.url
    if url.get_backend_name() == "sqlite":
        db = Path(str(url.database))
        parts = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
        return b"".join(p.read_bytes() for p in parts if p.exists())
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed to take the backup a thief would take"
    return subprocess.run([pg_dump, dsn], check=True, capture_output=True).stdout


def _assert_no_words(rt: Runtime, summary: str, tags: tuple[str, ...], before: bytes) -> None:
    backup = _backup(rt)
    assert summary.encode() not in backup, "the summary is readable in a stolen backup"
    assert summary.split(";")[0].encode() not in backup
    for tag in tags:
        assert f'"{tag}"'.encode() not in backup, f"the tag {tag!r} is in a stolen backup"
        if tag.encode() not in before:  # a word the database never held before the note
            assert tag.encode() not in backup, f"the tag {tag!r} is in a stolen backup"
    for cell in _rows(rt):
        assert summary not in cell and "blue bicycle" not in cell
        for tag in tags:
            assert tag not in cell, f"the tag {tag!r} is in a row: {cell[:80]!r}"


# --- the attack, through the real app ------------------------------------------------------


def test_a_stolen_backup_holds_neither_the_summary_nor_the_tags(page: Page, served: Site) -> None:
    site, rt = served, served.rt
    engine = rt.engine.url.get_backend_name()
    held = site.hold_email("Jordan <jordan@example.net>", "about Friday", "the message itself")
    before = _backup(rt)

    login(page, site, "robin", REVIEWER_PASSPHRASE)
    page.goto(site.url + "/review/unlock")
    page.fill("#passphrase", REVIEWER_PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    page.wait_for_url("**/review")
    page.goto(f"{site.url}/review/items/{held.item_id}")
    page.locator("form[action$='/note']").evaluate("e => e.scrollIntoView()")
    for tag in TAGS:
        page.check(f"input[value={tag}]")
    page.fill("#summary", SUMMARY)
    press(page.get_by_role("button", name="Save note"))
    expect(page.locator("main")).to_contain_text("Your note is saved")

    # the reviewer reads their own note again: it opens with their key
    page.goto(f"{site.url}/review/items/{held.item_id}")
    expect(page.locator("#summary")).to_have_value(SUMMARY)
    for tag in TAGS:
        expect(page.locator(f"input[value={tag}]")).to_be_checked()
    expect(page.locator("input[value=harmless]")).not_to_be_checked()
    page.goto(site.url + "/review")
    expect(page.locator("ul.items")).to_contain_text("noted")

    # the thief's view: the note exists, and nothing it says is there
    with Session(rt.engine) as s:
        note = s.get(ReviewNote, held.item_id)
        assert note is not None and note.sealed and not note.go_between
        assert (note.legacy_tags, note.legacy_summary) == ("[]", "")
    _assert_no_words(rt, SUMMARY, TAGS, before)

    # the owner: the home page says there are notes, /notes asks for her passphrase first
    page.context.clear_cookies()
    login(page, site)
    page.get_by_role("link", name="Read your trusted person’s notes").click()
    page.wait_for_url("**/notes")
    expect(page.locator("h1")).to_have_text("Notes from your trusted person")
    expect(page.locator("#passphrase")).to_be_visible()
    assert "bicycle" not in page.content() and "threat" not in page.content()
    if engine == "sqlite":
        shoot(page, "notes-locked")

    page.fill("#passphrase", "not the passphrase at all")
    page.get_by_role("button", name="Show the notes").click()
    expect(page.locator("[role=alert]")).to_contain_text("did not match. Nothing was shown.")
    assert "bicycle" not in page.content()

    page.fill("#passphrase", PASSPHRASE)
    page.get_by_role("button", name="Show the notes").click()
    main = page.locator("main")
    expect(main).to_contain_text(SUMMARY)
    expect(main).to_contain_text("Marked: children, legal, threat, urgent")
    assert "the message itself" not in page.content()
    if engine == "sqlite":
        shoot(page, "notes-open")

    # her key was used for that one page: nothing kept, the vault not opened
    page.goto(site.url + "/notes")
    expect(page.locator("#passphrase")).to_be_visible()
    assert "bicycle" not in page.content()
    page.goto(site.url + "/vault/items")
    assert page.url.endswith("/vault"), "giving the passphrase for the notes opened the vault"


def test_the_vault_item_page_shows_the_note_with_her_key(page: Page, site: Site) -> None:
    held = site.hold_email("Jordan <jordan@example.net>", "again", "another message")
    with transaction(site.rt.engine) as s:  # sealed with the item's secret, as a reviewer would
        owner = s.exec(select(User).where(User.role == "owner")).one()
        item = s.get(VaultItem, held.item_id)
        assert item is not None
        reader = NoteReader(s, owner.recipient_id, unlock(s, owner, PASSPHRASE))
        note = ReviewNote(item_id=held.item_id)
        s.add(write_note(note, reader.secret(item), ["legal"], SUMMARY, None))
    login(page, site)
    page.goto(site.url + "/vault/unlock")
    page.fill("#passphrase", PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    page.wait_for_url("**/vault/**")
    page.goto(site.url + "/vault/items")
    expect(page.locator("ul.items")).to_contain_text("has a note")
    page.goto(f"{site.url}/vault/items/{held.item_id}")
    expect(page.locator("main")).to_contain_text(SUMMARY)
    expect(page.locator("main")).to_contain_text("Marked: legal")
    page.goto(site.url + "/notes")  # the vault is open: her key is at hand already
    expect(page.locator("main")).to_contain_text(SUMMARY)


# --- notes from before they were sealed ----------------------------------------------------


def _alembic() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("nocontact") / "migrations"))
    return cfg


def _hold(rt: Runtime, n: int) -> int:
    raw = f"From: jordan@example.net\r\nSubject: {n}\r\n\r\nold message {n}\r\n".encode()
    result = Intake(rt).process(InboundMessage("email", raw, f"old:{n}", facts_from_email(raw)))
    assert result.item_id is not None
    return result.item_id


def test_old_plaintext_notes_survive_the_upgrade_and_are_sealed_when_she_next_reads(
    rt: Runtime,
) -> None:
    with transaction(rt.engine) as s:
        add_person(s, rt.household_id, "Jordan", "abuser", emails=["jordan@example.net"])
    first, second = _hold(rt, 1), _hold(rt, 2)
    rt.engine.dispose()

    # the database as it was before migration 0015, with two notes in the clear
    older = make_engine(sqlite_url(rt.home))
    cfg = _alembic()
    with older.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0015_sealed_notes@0001")
        insert = text(
            "INSERT INTO reviewnote (item_id, tags, summary, reviewer_id, updated_at) "
            "VALUES (:i, :t, :s, NULL, :at)"
        )
        at = datetime.now(UTC)
        conn.execute(
            insert, {"i": first, "t": '["legal", "go-between"]', "s": OLD_SUMMARY, "at": at}
        )
        conn.execute(insert, {"i": second, "t": '["go-between"]', "s": "", "at": at})
    older.dispose()

    upgraded = Runtime.open(rt.home, rt.config_path)
    try:
        with Session(upgraded.engine) as s:
            a, b = s.get(ReviewNote, first), s.get(ReviewNote, second)
            assert a is not None and b is not None
            # the go-between mark moved to its column (the timeline reads it without a key)
            assert a.go_between and b.go_between
            assert (a.legacy_tags, a.legacy_summary, a.sealed) == ('["legal"]', OLD_SUMMARY, None)
            assert (b.legacy_tags, b.legacy_summary) == ("[]", "")

        with transaction(upgraded.engine) as s:
            owner = s.exec(select(User).where(User.role == "owner")).one()
            reader = NoteReader(s, owner.recipient_id, unlock(s, owner, PASSPHRASE))
            assert seal_legacy(s, reader, upgraded.household_id) == 1
        notes.scrub(upgraded.engine)

        with Session(upgraded.engine) as s:
            a = s.get(ReviewNote, first)
            item = s.get(VaultItem, first)
            assert a is not None and item is not None and a.sealed
            assert (a.legacy_tags, a.legacy_summary) == ("[]", "")
            owner = s.exec(select(User).where(User.role == "owner")).one()
            reader = NoteReader(s, owner.recipient_id, unlock(s, owner, PASSPHRASE))
            opened = reader.read(item, a)
        assert opened is not None
        assert opened.summary == OLD_SUMMARY and set(opened.tags) == {"legal", "go-between"}
        assert OLD_SUMMARY.encode() not in _backup(upgraded)

        # a sealed note is never thrown away by going back to the old schema
        with upgraded.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            with pytest.raises(RuntimeError, match="cannot be put back in the clear"):
                command.downgrade(cfg, "0015_sealed_notes@0001")
    finally:
        upgraded.engine.dispose()


def test_an_old_note_is_sealed_on_the_notes_page(page: Page, site: Site) -> None:
    """The shared site: an upgraded database's plaintext note, read on /notes with her
    passphrase, is shown, sealed and gone from the database file."""
    held = site.hold_email("Jordan <jordan@example.net>", "old", "an old message")
    with transaction(site.rt.engine) as s:
        s.add(ReviewNote(item_id=held.item_id, legacy_tags='["legal"]', legacy_summary=OLD_SUMMARY))
    raw = site.rt.engine.raw_connection()  # into the main file, as an upgraded database has it
    try:
        busy, _, _ = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        raw.close()
    assert busy == 0
    assert OLD_SUMMARY.encode() in _backup(site.rt)

    login(page, site)
    page.goto(site.url + "/notes")
    page.fill("#passphrase", PASSPHRASE)
    page.get_by_role("button", name="Show the notes").click()
    expect(page.locator("main")).to_contain_text(OLD_SUMMARY)

    with Session(site.rt.engine) as s:
        note = s.get(ReviewNote, held.item_id)
        assert note is not None and note.sealed and note.legacy_summary == ""
    assert OLD_SUMMARY.encode() not in _backup(site.rt), "the old words are still on disk"
    assert "caravan keys" not in "".join(_rows(site.rt))


# --- re-keying keeps notes readable --------------------------------------------------------


def test_notes_open_for_a_reviewer_added_later_and_after_a_recovery_reset(rt: Runtime) -> None:
    with transaction(rt.engine) as s:
        add_person(s, rt.household_id, "Jordan", "abuser", emails=["jordan@example.net"])
        add_user(s, rt.household_id, "robin", "reviewer", REVIEWER_PASSPHRASE)
    item_id = _hold(rt, 7)
    with transaction(rt.engine) as s:
        robin = s.exec(select(User).where(User.name == "robin")).one()
        item = s.get(VaultItem, item_id)
        assert item is not None
        reader = NoteReader(s, robin.recipient_id, unlock(s, robin, REVIEWER_PASSPHRASE))
        s.add(write_note(ReviewNote(item_id=item_id), reader.secret(item), TAGS, SUMMARY, robin.id))

    # a reviewer added after the note: the owner's next unlock gives them the item, and so the note
    with transaction(rt.engine) as s:
        add_user(s, rt.household_id, "sam", "reviewer", REVIEWER_PASSPHRASE)
        owner = s.exec(select(User).where(User.role == "owner")).one()
        assert rewrap_missing(s, rt.household_id, owner.recipient_id, unlock(s, owner, PASSPHRASE))
    # the owner forgot her passphrase: the recovery code re-keys her account
    new_passphrase = "a brand new passphrase for the owner"
    with transaction(rt.engine) as s:
        code = rt.recovery_code  # type: ignore[attr-defined]
        assert reset_with_recovery(s, rt.household_id, "owner", code, new_passphrase)

    with Session(rt.engine) as s:
        item = s.get(VaultItem, item_id)
        note = s.get(ReviewNote, item_id)
        assert item is not None and note is not None
        for name, passphrase in (("sam", REVIEWER_PASSPHRASE), ("owner", new_passphrase)):
            user = s.exec(select(User).where(User.name == name)).one()
            opened = NoteReader(s, user.recipient_id, unlock(s, user, passphrase)).read(item, note)
            assert opened is not None, name
            assert opened.summary == SUMMARY and opened.tags == TAGS


def test_a_note_on_an_older_item_is_sealed_to_its_own_age_identity() -> None:
    """Items sealed before vault format 2 open with their own age identity; so do their notes,
    and no other identity opens them."""
    identity, _ = new_identity()
    other, _ = new_identity()
    sealed = notes.seal_note(identity, ["threat", "go-between"], SUMMARY)
    assert SUMMARY.encode() not in sealed and b"threat" not in sealed
    opened = read_note(identity, ReviewNote(item_id=1, sealed=sealed, go_between=True))
    assert opened.summary == SUMMARY and opened.tags == ("threat", "go-between")
    with pytest.raises(VaultError):
        read_note(other, ReviewNote(item_id=1, sealed=sealed))


def test_a_sealed_note_says_little_about_its_length() -> None:
    key = bytes(32)
    short = notes.seal_note(key, [], "ok")
    longer = notes.seal_note(key, ["legal"], "a somewhat longer summary of what was said")
    assert len(short) == len(longer)
    assert json.loads(open_part(key, longer, notes.NOTE))["tags"] == ["legal"]
