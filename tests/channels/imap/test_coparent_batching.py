"""Co-parent mail delivered at set times, through the real Dovecot with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import imapclient
from sqlmodel import Session, select

from nocontact.channels.imap.poller import poll_all
from nocontact.coparent.deliver import deliver_due
from nocontact.coparent.models import CoparentDelivery
from nocontact.coparent.window import next_window
from nocontact.intake import Intake
from nocontact.models import utcnow
from nocontact.runtime import Runtime
from tests.channels.imap.conftest import (
    bodies,
    imap_home,
    listed,
    message,
    uids_and_flags,
    vault_items,
)
from tests.servers.dovecot import Dovecot
from tests.servers.ports import free_port

HOLD = "Co-parent"
ZONE = "Europe/London"


def batching_home(tmp_path: Path, dovecot: Dovecot) -> tuple[Runtime, str]:
    """Alice's home with one delivery time three hours from now (well clear of a boundary)."""
    rt = imap_home(tmp_path, dovecot)
    rt.engine.dispose()
    at = (utcnow() + timedelta(hours=3)).astimezone(ZoneInfo(ZONE)).strftime("%H:%M")
    cfg = rt.config_path
    setting = f'[household]\ntimezone = "{ZONE}"\ncoparent_delivery_times = ["{at}"]\n'
    cfg.write_text(cfg.read_text().replace("[household]\n", setting))
    rt = Runtime.open(rt.home, cfg)
    listed(rt, "Sam", "coparent", emails=["sam@example.org"])
    listed(rt, "Jon", "abuser", emails=["jon@example.org"])
    return rt, at


def restart(rt: Runtime) -> Runtime:
    rt.engine.dispose()
    return Runtime.open(rt.home, rt.config_path)


def rows(rt: Runtime) -> list[CoparentDelivery]:
    with Session(rt.engine) as s:
        return list(s.exec(select(CoparentDelivery)).all())


def test_coparent_mail_waits_in_the_holding_folder_and_is_delivered_once_at_the_window(
    tmp_path: Path, dovecot_clean: Dovecot, alice: imapclient.IMAPClient
) -> None:
    rt, at = batching_home(tmp_path, dovecot_clean)
    from_sam = message("Sam <sam@example.org>", "Friday pickup", "Pick up at 5?")
    from_friend = message("Ana <ana@example.net>", "lunch", "Lunch soon?")
    alice.append("INBOX", from_sam)
    alice.append("INBOX", from_friend)
    started = utcnow()
    [report] = poll_all(Intake(rt))
    assert (report.recorded, report.delivered, report.errors) == (1, 1, [])

    # before the window: recorded in the vault, waiting unread in the holding folder
    assert bodies(alice, "INBOX") == [from_friend]
    assert bodies(alice, HOLD) == [from_sam]
    assert all(b"\\Seen" not in f for f in uids_and_flags(alice, HOLD).values())
    [item] = vault_items(rt)
    assert (item.action, item.person_name, item.delivery) == ("record", "Sam", "pending")
    window = next_window(started, [at], ZONE)
    [row] = rows(rt)
    assert row.due_at.astimezone(UTC) == window and row.state == "pending"
    assert deliver_due(rt, window - timedelta(minutes=1)).email == 0
    assert bodies(alice, HOLD) == [from_sam]

    # at the window: into the INBOX, exactly once
    assert deliver_due(rt, window).email == 1
    assert sorted(bodies(alice, "INBOX")) == sorted([from_sam, from_friend])
    assert bodies(alice, HOLD) == []
    assert vault_items(rt)[0].delivery == "delivered"
    assert deliver_due(rt, window + timedelta(days=1)).email == 0

    # the next pass sees it in the INBOX and leaves it there; so does a restarted service
    [again] = poll_all(Intake(rt))
    assert again.errors == [] and again.recorded == 0
    rt = restart(rt)
    assert deliver_due(rt, window + timedelta(days=2)).email == 0
    poll_all(Intake(rt))
    assert sorted(bodies(alice, "INBOX")) == sorted([from_sam, from_friend])
    assert bodies(alice, HOLD) == [] and len(vault_items(rt)) == 1
    rt.engine.dispose()


def test_a_restart_before_the_window_loses_no_delivery(
    tmp_path: Path, dovecot_clean: Dovecot, alice: imapclient.IMAPClient
) -> None:
    rt, at = batching_home(tmp_path, dovecot_clean)
    raw = message("Sam <sam@example.org>", "school forms", "Forms attached.")
    alice.append("INBOX", raw)
    started = utcnow()
    poll_all(Intake(rt))
    rt = restart(rt)
    assert deliver_due(rt, next_window(started, [at], ZONE)).email == 1
    assert bodies(alice, "INBOX") == [raw] and bodies(alice, HOLD) == []
    rt.engine.dispose()


def test_a_crash_after_the_move_is_finished_without_moving_twice(
    tmp_path: Path, dovecot_clean: Dovecot, alice: imapclient.IMAPClient
) -> None:
    rt, at = batching_home(tmp_path, dovecot_clean)
    raw = message("Sam <sam@example.org>", "holiday dates", "Dates for summer.")
    alice.append("INBOX", raw)
    started = utcnow()
    poll_all(Intake(rt))
    # the window's move happened, then the process died before marking it delivered
    alice.select_folder(HOLD)
    alice.move(alice.search(["ALL"]), "INBOX")
    assert rows(rt)[0].state == "pending"
    rt = restart(rt)
    assert deliver_due(rt, next_window(started, [at], ZONE)).email == 1
    assert bodies(alice, "INBOX") == [raw] and bodies(alice, HOLD) == []
    assert rows(rt)[0].state == "delivered" and vault_items(rt)[0].delivery == "delivered"
    rt.engine.dispose()


def test_held_mail_never_goes_to_the_holding_folder_and_abuser_mail_never_to_the_inbox(
    tmp_path: Path, dovecot_clean: Dovecot, alice: imapclient.IMAPClient
) -> None:
    rt, _ = batching_home(tmp_path, dovecot_clean)
    from_jon = message("Jon <jon@example.org>", "hi", "Answer me.")
    alice.append("INBOX", from_jon)
    poll_all(Intake(rt))
    assert deliver_due(rt, datetime.now(UTC) + timedelta(days=2)).email == 0
    assert bodies(alice, "INBOX") == [] and bodies(alice, HOLD) == []
    assert bodies(alice, "Held") == [from_jon] and rows(rt) == []
    rt.engine.dispose()


def test_an_unreachable_account_at_the_window_keeps_the_delivery_for_the_next_run(
    tmp_path: Path, dovecot_clean: Dovecot, alice: imapclient.IMAPClient
) -> None:
    rt, at = batching_home(tmp_path, dovecot_clean)
    raw = message("Sam <sam@example.org>", "dentist", "Dentist on Tuesday.")
    alice.append("INBOX", raw)
    started = utcnow()
    poll_all(Intake(rt))
    window = next_window(started, [at], ZONE)
    good = rt.config_path.read_text()
    rt.engine.dispose()
    rt.config_path.write_text(
        good.replace(f"port = {dovecot_clean.imap_port}", f"port = {free_port()}")
    )
    rt = Runtime.open(rt.home, rt.config_path)
    report = deliver_due(rt, window)
    assert report.email == 0 and len(report.errors) == 1
    assert "sam" not in report.errors[0].lower() and "dentist" not in report.errors[0].lower()
    [row] = rows(rt)
    assert (row.state, row.attempts) == ("pending", 1) and row.last_error
    rt.engine.dispose()
    rt.config_path.write_text(good)
    rt = Runtime.open(rt.home, rt.config_path)
    assert deliver_due(rt, window + timedelta(minutes=1)).email == 1
    assert bodies(alice, "INBOX") == [raw] and bodies(alice, HOLD) == []
    rt.engine.dispose()


def test_old_mail_from_a_newly_listed_coparent_is_recorded_but_not_taken_from_the_inbox(
    tmp_path: Path, dovecot_clean: Dovecot, alice: imapclient.IMAPClient
) -> None:
    rt, _ = batching_home(tmp_path, dovecot_clean)
    old = message("Kim <kim@example.org>", "term dates", "Term dates attached.")
    alice.append("INBOX", old)
    poll_all(Intake(rt))  # Kim is not on the list yet: left alone, not kept
    assert vault_items(rt) == []
    listed(rt, "Kim", "coparent", emails=["kim@example.org"])
    [report] = poll_all(Intake(rt))  # the list changed: the folder is swept
    assert report.recorded == 1 and report.errors == []
    assert bodies(alice, "INBOX") == [old] and bodies(alice, HOLD) == []
    [item] = vault_items(rt)
    assert (item.action, item.delivery) == ("record", "delivered") and rows(rt) == []
    rt.engine.dispose()
