"""When keeping a text fails: never a 2xx, nothing half-stored, a retry kept once, and log lines
that say what failed and where without the text, its sender or the listed person.

The failures are real ones, made in the real database: a trigger that refuses vault rows (the
commit fails), a vault with no active keys (sealing fails), a table gone (deciding fails)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from sqlmodel import Session, select

from nocontact.models import ChannelStatus
from nocontact.vault import ledger
from nocontact.web.plain import health_line
from tests.channels.sms.conftest import ABUSER, COPARENT, SmsEnv, twilio_forward
from tests.channels.sms.fakes import FakeApi
from tests.channels.sms.test_twilio import EMPTY, params, send, tsid

TEXT = "meet me at the station"  # content: never in a log line


def _sql(env: SmsEnv, statement: str) -> None:
    with env.rt.engine.begin() as c:
        c.exec_driver_sql(statement)


def _assert_private(caplog: pytest.LogCaptureFixture) -> None:
    for secret in (TEXT, ABUSER, "Mark", "sms:twilio:"):
        assert secret not in caplog.text
    assert not any(r.exc_info for r in caplog.records)


def _assert_ledger_whole(env: SmsEnv) -> None:
    with Session(env.rt.engine) as s:
        assert ledger.first_fault(ledger.chain(s, env.rt.household_id)) is None


def test_a_failed_commit_answers_503_stores_nothing_and_the_retry_is_kept_once(
    sms_env: SmsEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _sql(
        sms_env,
        "CREATE TRIGGER refuse_items BEFORE INSERT ON vaultitem "
        "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )
    listed = params(tsid("7000"), ABUSER, TEXT)
    replies = [send(sms_env, listed), send(sms_env, params(tsid("7001"), ABUSER, TEXT))]
    assert [r.status_code for r in replies] == [503, 503]
    assert replies[0].headers["x-content-type-options"] == "nosniff"
    assert sms_env.items() == []
    _assert_ledger_whole(sms_env)
    failures = [r.getMessage() for r in caplog.records if "not stored" in r.getMessage()]
    assert failures and all("IntegrityError at " in line for line in failures)
    _assert_private(caplog)

    _sql(sms_env, "DROP TRIGGER refuse_items")
    retries = [send(sms_env, listed), send(sms_env, listed)]  # the provider retries
    assert [(r.status_code, r.content) for r in retries] == [(200, EMPTY)] * 2
    assert [i.source_key for i in sms_env.items()] == [f"sms:twilio:{tsid('7000')}"]
    _assert_ledger_whole(sms_env)


def test_a_text_that_cannot_be_sealed_answers_503_and_later_is_kept(
    sms_env: SmsEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _sql(sms_env, "UPDATE recipient SET active = 0")
    listed = params(tsid("7100"), ABUSER, TEXT)
    assert send(sms_env, listed).status_code == 503
    assert sms_env.items() == []
    lines = [r.getMessage() for r in caplog.records if "not stored" in r.getMessage()]
    assert lines == [lines[0]] and "VaultError at batches.py:" in lines[0]
    _assert_private(caplog)

    _sql(sms_env, "UPDATE recipient SET active = 1")
    assert send(sms_env, listed).status_code == 200
    assert len(sms_env.items()) == 1


def test_an_unexpected_error_answers_500_with_a_log_line_free_of_content(
    sms_env: SmsEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _sql(sms_env, "ALTER TABLE household RENAME TO household_away")
    try:
        reply = send(sms_env, params(tsid("7200"), ABUSER, TEXT))
    finally:
        _sql(sms_env, "ALTER TABLE household_away RENAME TO household")
    assert reply.status_code == 500 and reply.content == b""
    assert reply.headers["content-security-policy"].startswith("default-src 'none'")
    assert reply.headers["x-frame-options"] == "DENY"
    [line] = [r.getMessage() for r in caplog.records if "sms webhook failed" in r.getMessage()]
    assert line.startswith("sms webhook failed: provider=twilio OperationalError at ")
    assert line.endswith(", answered 500")
    _assert_private(caplog)
    assert sms_env.items() == []
    assert send(sms_env, params(tsid("7200"), ABUSER, TEXT)).status_code == 200
    assert len(sms_env.items()) == 1


def test_a_coparent_text_not_stored_is_not_forwarded_either(
    sms_env_factory: Callable[..., SmsEnv], fake_api: FakeApi
) -> None:
    """Forwarding goes through the thread pool; the commit still comes first."""
    env = sms_env_factory(forward=twilio_forward(fake_api))
    _sql(
        env,
        "CREATE TRIGGER refuse_items BEFORE INSERT ON vaultitem "
        "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )
    p = params(tsid("7300"), COPARENT, "pick up at 5")
    assert send(env, p).status_code == 503
    assert env.items() == [] and fake_api.posts() == []
    _sql(env, "DROP TRIGGER refuse_items")
    assert send(env, p).status_code == 200
    [item] = env.items()
    assert (item.action, item.delivery) == ("record", "delivered")
    assert len(fake_api.posts()) == 1


def texts_line(env: SmsEnv, want_ok: bool) -> tuple[str, str, bool]:
    """The home page's line for storing texts, once the status row says ``want_ok`` (it is
    written off the event loop, just after the answer)."""
    deadline = time.monotonic() + 10
    while True:
        with Session(env.rt.engine) as s:
            rows = s.exec(
                select(ChannelStatus).where(
                    ChannelStatus.channel == "sms", ChannelStatus.name == "texts"
                )
            ).all()
        if (rows and rows[0].ok is want_ok) or time.monotonic() > deadline:
            assert len(rows) == 1, rows
            return health_line(rows[0])
        time.sleep(0.02)


def test_the_home_page_says_when_texts_cannot_be_stored_and_when_they_can_again(
    sms_env: SmsEnv,
) -> None:
    _sql(
        sms_env,
        "CREATE TRIGGER refuse_items BEFORE INSERT ON vaultitem "
        "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )
    assert send(sms_env, params(tsid("7100"), ABUSER, TEXT)).status_code == 503
    what, how, ok = texts_line(sms_env, want_ok=False)
    assert (what, ok) == ("Text messages", False)
    assert how.startswith("could not be stored since") and "set this up" in how
    for secret in (TEXT, ABUSER, "Mark"):
        assert secret not in how

    _sql(sms_env, "DROP TRIGGER refuse_items")
    assert send(sms_env, params(tsid("7100"), ABUSER, TEXT)).status_code == 200
    assert texts_line(sms_env, want_ok=True) == (
        "Text messages",
        "kept safely as they arrive",
        True,
    )
