"""Twilio webhooks through the real app over HTTP, signed as Twilio signs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from nocontact.channels.sms.models import SmsForward
from nocontact.db import transaction
from nocontact.errors import ConfigError
from nocontact.intake import Intake
from nocontact.matching.facts import facts_from_sms
from nocontact.people.service import add_person
from nocontact.web.app import create_app
from tests.channels.sms import signers
from tests.channels.sms.conftest import (
    ABUSER,
    COPARENT,
    STRANGER,
    SURVIVOR,
    TWILIO_SID,
    TWILIO_TOKEN,
    SmsEnv,
    open_home,
    twilio_forward,
)
from tests.channels.sms.fakes import FakeApi

EMPTY = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


def tsid(label: str) -> str:
    """A SID in Twilio's format (``SM`` + 32 lower-case hex) ending in ``label``."""
    return "SM" + label.rjust(32, "0")


def params(sid: str, sender: str, text: str = "are you there", **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": TWILIO_SID,
        "From": sender,
        "To": "+447700900300",
        "Body": text,
        "NumMedia": "0",
        **extra,
    }


def send(env: SmsEnv, p: dict[str, str], url: str | None = None, token: str = TWILIO_TOKEN):
    headers = signers.twilio(token, url or env.url("twilio"), p)
    return env.post("twilio", signers.twilio_body(p), headers)


def test_held_and_allowed_texts_get_the_same_empty_reply(sms_env: SmsEnv) -> None:
    held = send(sms_env, params(tsid("0001"), ABUSER))
    allowed = send(sms_env, params(tsid("0002"), STRANGER))
    assert held.status_code == allowed.status_code == 200
    assert held.content == allowed.content == EMPTY
    assert held.headers["content-type"] == allowed.headers["content-type"]
    assert held.headers["content-type"].startswith("text/xml")
    items = sms_env.items()
    assert [(i.source_key, i.action, i.channel) for i in items] == [
        (f"sms:twilio:{tsid('0001')}", "quarantine", "sms")
    ]


def test_coparent_text_is_recorded_and_forwarded_with_the_sender(
    sms_env_factory: Callable[..., SmsEnv], fake_api: FakeApi
) -> None:
    env = sms_env_factory(forward=twilio_forward(fake_api))
    assert send(env, params(tsid("0100"), COPARENT, "pick up at 5")).status_code == 200
    [item] = env.items()
    assert (item.action, item.delivery) == ("record", "delivered")
    [post] = fake_api.posts()
    assert post.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert post.basic_auth() == (TWILIO_SID, TWILIO_TOKEN)
    from urllib.parse import parse_qs

    form = parse_qs(post.body.decode())
    assert form["To"] == [SURVIVOR]
    assert form["Body"] == [f"From {COPARENT}: pick up at 5"]
    status = env.status()
    assert status is not None and status.ok


def test_held_text_is_never_forwarded(
    sms_env_factory: Callable[..., SmsEnv], fake_api: FakeApi
) -> None:
    env = sms_env_factory(forward=twilio_forward(fake_api))
    assert send(env, params(tsid("0200"), ABUSER)).content == EMPTY
    assert send(env, params(tsid("0201"), STRANGER, "hello")).content == EMPTY
    bodies = [p.body.decode() for p in fake_api.posts()]
    assert len(bodies) == 1 and "hello" in bodies[0]


def test_forward_failure_is_recorded_and_the_retry_forwards_once(
    sms_env_factory: Callable[..., SmsEnv], fake_api: FakeApi
) -> None:
    fake_api.statuses = [500, 201]
    env = sms_env_factory(forward=twilio_forward(fake_api))
    p = params(tsid("0300"), STRANGER)
    assert send(env, p).status_code == 503  # the provider delivers again: nothing is lost
    status = env.status()
    assert status is not None and not status.ok and status.failures == 1
    assert status.last_error is not None and "HTTP 500" in status.last_error
    assert send(env, p).status_code == 200
    assert send(env, p).status_code == 200  # a third delivery forwards nothing more
    assert len(fake_api.posts()) == 2
    status = env.status()
    assert status is not None and status.ok


def test_replayed_request_stores_one_item(sms_env: SmsEnv) -> None:
    p = params(tsid("0400"), ABUSER)
    for _ in range(3):
        assert send(sms_env, p).content == EMPTY
    assert len(sms_env.items()) == 1


def test_fifty_concurrent_identical_deliveries_store_one_item(sms_env: SmsEnv) -> None:
    p = params(tsid("0500"), ABUSER)
    headers = signers.twilio(TWILIO_TOKEN, sms_env.url("twilio"), p)
    body = signers.twilio_body(p)
    with ThreadPoolExecutor(max_workers=50) as pool:
        replies = list(pool.map(lambda _: sms_env.post("twilio", body, headers), range(50)))
    assert {r.status_code for r in replies} == {200}
    assert {r.content for r in replies} == {EMPTY}
    assert len(sms_env.items()) == 1


def test_forged_signature_is_refused_logged_and_nothing_stored(
    sms_env: SmsEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    reply = send(sms_env, params(tsid("0600"), ABUSER, "secret words"), token="not-the-token")
    assert reply.status_code == 403
    assert sms_env.items() == []
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert lines == ["sms webhook refused: provider=twilio reason=bad signature"]
    assert "secret words" not in caplog.text and ABUSER not in caplog.text


def test_missing_signature_is_refused(sms_env: SmsEnv) -> None:
    p = params(tsid("0700"), ABUSER)
    reply = sms_env.post(
        "twilio", signers.twilio_body(p), {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert reply.status_code == 403
    assert sms_env.items() == []


def test_signature_over_the_connection_url_instead_of_the_public_url_is_refused(
    sms_env: SmsEnv,
) -> None:
    reply = send(sms_env, params(tsid("0800"), ABUSER), url=f"{sms_env.base}/webhooks/sms/twilio")
    assert reply.status_code == 403
    assert sms_env.items() == []


def test_tampered_body_is_refused(sms_env: SmsEnv) -> None:
    p = params(tsid("0900"), ABUSER, "original")
    headers = signers.twilio(TWILIO_TOKEN, sms_env.url("twilio"), p)
    tampered = signers.twilio_body({**p, "From": STRANGER})
    assert sms_env.post("twilio", tampered, headers).status_code == 403
    assert sms_env.items() == []


def test_signed_but_malformed_payload_gets_400_and_nothing_stored(sms_env: SmsEnv) -> None:
    p = {"AccountSid": TWILIO_SID, "From": ABUSER, "Body": "no message id"}
    assert send(sms_env, p).status_code == 400
    p = {**params(tsid("1000"), ABUSER), "NumMedia": "lots"}
    assert send(sms_env, p).status_code == 400
    assert sms_env.items() == []


def test_oversized_body_is_refused_before_reading_it_all(sms_env: SmsEnv) -> None:
    p = params(tsid("1100"), ABUSER, "x" * 300_000)
    assert send(sms_env, p).status_code == 413
    assert sms_env.items() == []


def test_unconfigured_or_unknown_provider_is_not_found(sms_env: SmsEnv) -> None:
    assert sms_env.post("nexmo", b"{}", {}).status_code == 404


def test_a_gateway_section_without_its_secret_is_a_config_error(
    sms_template: Path, tmp_path: Path
) -> None:
    rt = open_home(sms_template, tmp_path, "[sms.twilio]\naccount_sid = 'AC1'\n")
    with pytest.raises(ConfigError) as e:
        create_app(rt)
    assert e.value.file == str(rt.config_path) and e.value.key == "sms.twilio"
    rt.engine.dispose()


def test_alphanumeric_sender_ids_and_short_codes_match_as_written(
    sms_template: Path, tmp_path: Path
) -> None:
    rt = open_home(sms_template, tmp_path, "")
    with transaction(rt.engine) as s:
        add_person(s, rt.household_id, "Ally", "ally", phones=["MarkM", "61234"])
    decide = Intake(rt).decide
    assert decide(facts_from_sms("MarkM", "hi")).action == "quarantine"
    assert decide(facts_from_sms("61234", "hi")).action == "quarantine"
    assert decide(facts_from_sms("+447700961234", "hi")).action == "deliver"
    assert decide(facts_from_sms("0044 7700 900001", "hi")).action == "quarantine"
    rt.engine.dispose()


def test_a_claim_left_by_a_crash_is_taken_over_and_a_live_one_is_respected(
    sms_env_factory: Callable[..., SmsEnv], fake_api: FakeApi
) -> None:
    env = sms_env_factory(forward=twilio_forward(fake_api))
    now = datetime.now(UTC)
    with transaction(env.rt.engine) as s:
        for key, at in ((tsid("1200"), now - timedelta(minutes=10)), (tsid("1201"), now)):
            s.add(
                SmsForward(
                    household_id=env.rt.household_id, source_key=f"sms:twilio:{key}", claimed_at=at
                )
            )
    assert send(env, params(tsid("1200"), STRANGER, "after a crash")).status_code == 200
    assert send(env, params(tsid("1201"), STRANGER, "in flight elsewhere")).status_code == 200
    [post] = fake_api.posts()
    assert "after+a+crash" in post.body.decode()
    with Session(env.rt.engine) as s:
        states = {r.source_key: r.state for r in s.exec(select(SmsForward)).all()}
    assert states == {f"sms:twilio:{tsid('1200')}": "sent", f"sms:twilio:{tsid('1201')}": "sending"}


def test_text_mentioning_a_listed_number_is_held_for_review_and_not_forwarded(
    sms_env_factory: Callable[..., SmsEnv], fake_api: FakeApi
) -> None:
    env = sms_env_factory(forward=twilio_forward(fake_api))
    reply = send(env, params(tsid("1300"), STRANGER, "call him back on 07700 900001"))
    assert reply.content == EMPTY
    [item] = env.items()
    assert item.action == "review"
    assert fake_api.posts() == []


def test_a_chunked_body_over_the_limit_is_refused_while_reading(sms_env: SmsEnv) -> None:
    """No Content-Length to refuse up front: the limit holds as the chunks arrive."""
    p = params(tsid("1150"), ABUSER, "x" * 300_000)
    headers = signers.twilio(TWILIO_TOKEN, sms_env.url("twilio"), p)
    body = signers.twilio_body(p)
    chunks = iter([body[i : i + 65_536] for i in range(0, len(body), 65_536)])
    r = sms_env.client.post(f"{sms_env.base}/webhooks/sms/twilio", content=chunks, headers=headers)
    assert "content-length" not in r.request.headers
    assert r.status_code == 413
    assert sms_env.items() == []


def test_webhook_answers_carry_the_security_headers(sms_env: SmsEnv) -> None:
    accepted = send(sms_env, params(tsid("1200"), ABUSER))
    refused = send(sms_env, params(tsid("1201"), ABUSER), token="not-the-token")
    too_large = send(sms_env, params(tsid("1202"), ABUSER, "x" * 300_000))
    not_found = sms_env.post("nexmo", b"{}", {})
    answers = (accepted, refused, too_large, not_found)
    assert [r.status_code for r in answers] == [200, 403, 413, 404]
    for r in answers:
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["content-security-policy"].startswith("default-src 'none'")


def test_an_unreadable_body_is_refused_not_a_server_error(sms_env: SmsEnv) -> None:
    """Not UTF-8: there is no form to check the signature over, so nothing proves the sender."""
    headers = signers.twilio(TWILIO_TOKEN, sms_env.url("twilio"), params(tsid("1300"), ABUSER))
    assert sms_env.post("twilio", b"From=\xff\xfe&Body=x", headers).status_code == 403
    assert sms_env.items() == []


def test_the_fallback_call_after_a_failed_webhook_is_a_second_delivery(sms_env: SmsEnv) -> None:
    """Twilio does not retry a failed message webhook; it calls the "primary handler fails" URL
    once, with ErrorCode and ErrorUrl added. Pointed at the same URL, that call keeps a text the
    first call did not, and adds nothing for one it did."""
    url = sms_env.url("twilio")
    missed = params(tsid("2100"), ABUSER, ErrorCode="11200", ErrorUrl=url)
    assert send(sms_env, missed).status_code == 200
    assert send(sms_env, params(tsid("2101"), ABUSER)).status_code == 200
    again = params(tsid("2101"), ABUSER, ErrorCode="11205", ErrorUrl=url)
    assert send(sms_env, again).status_code == 200
    assert sorted(i.source_key for i in sms_env.items()) == [
        f"sms:twilio:{tsid('2100')}",
        f"sms:twilio:{tsid('2101')}",
    ]
