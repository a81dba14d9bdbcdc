"""Co-parent texts forwarded at the delivery time, through the real webhook, once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from nocontact.coparent.deliver import deliver_due
from nocontact.coparent.models import CoparentDelivery
from nocontact.coparent.window import next_window
from nocontact.models import utcnow
from nocontact.runtime import Runtime
from tests.channels.sms import signers
from tests.channels.sms.conftest import (
    COPARENT,
    STRANGER,
    TWILIO_SID,
    TWILIO_TOKEN,
    SmsEnv,
    config_text,
    open_home,
    serve,
    twilio_forward,
)
from tests.channels.sms.fakes import FakeApi
from tests.channels.sms.test_twilio import tsid
from tests.servers.ports import free_port

ZONE = "America/New_York"


def params(sid: str, sender: str, text: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": TWILIO_SID,
        "From": sender,
        "To": "+447700900300",
        "Body": text,
        "NumMedia": "0",
    }


def send(env: SmsEnv, p: dict[str, str]) -> int:
    headers = signers.twilio(TWILIO_TOKEN, env.url("twilio"), p)
    return env.post("twilio", signers.twilio_body(p), headers).status_code


def forwarded(api: FakeApi) -> list[str]:
    return [parse_qs(r.body.decode())["Body"][0] for r in api.posts()]


def rows(rt: Runtime) -> list[CoparentDelivery]:
    with Session(rt.engine) as s:
        return list(s.exec(select(CoparentDelivery)).all())


@pytest.fixture
def batching_env(sms_template: Path, tmp_path: Path) -> Iterator[tuple[SmsEnv, FakeApi, str]]:
    """A served home forwarding through a fake Twilio (first send refused with a 503 when the
    test asks), one delivery time three hours from now."""
    api = FakeApi().start()
    at = (utcnow() + timedelta(hours=3)).astimezone(ZoneInfo(ZONE)).strftime("%H:%M")
    port = free_port()
    text = config_text(port, twilio_forward(api)).replace(
        "[household]\n",
        f'[household]\ntimezone = "{ZONE}"\ncoparent_delivery_times = ["{at}"]\n',
    )
    env = serve(open_home(sms_template, tmp_path, text), port)
    yield env, api, at
    env.stop()
    api.stop()


def test_coparent_text_is_forwarded_only_at_the_window_and_once(
    batching_env: tuple[SmsEnv, FakeApi, str],
) -> None:
    env, api, at = batching_env
    started = utcnow()
    assert send(env, params(tsid("0300"), COPARENT, "pick up at 5")) == 200
    assert send(env, params(tsid("0301"), STRANGER, "lunch?")) == 200
    assert forwarded(api) == [f"From {STRANGER}: lunch?"]  # only co-parent texts wait

    [item] = env.items()
    assert (item.action, item.delivery) == ("record", "pending")
    [row] = rows(env.rt)
    assert b"pick up at 5" not in row.payload  # kept sealed until it is forwarded
    window = next_window(started, [at], ZONE)
    assert deliver_due(env.rt, window - timedelta(minutes=1)).sms == 0
    assert len(api.posts()) == 1

    assert deliver_due(env.rt, window).sms == 1
    assert forwarded(api) == [f"From {STRANGER}: lunch?", f"From {COPARENT}: pick up at 5"]
    assert env.items()[0].delivery == "delivered"
    [row] = rows(env.rt)
    assert (row.state, row.payload) == ("delivered", b"")

    # the provider's retry, a second run and a restarted service forward nothing more
    assert send(env, params(tsid("0300"), COPARENT, "pick up at 5")) == 200
    assert deliver_due(env.rt, window + timedelta(hours=1)).sms == 0
    rt = Runtime.open(env.rt.home, env.rt.config_path)
    assert deliver_due(rt, window + timedelta(days=1)).sms == 0
    rt.engine.dispose()
    assert len(api.posts()) == 2 and len(env.items()) == 1


def test_a_refused_forward_at_the_window_is_retried_next_run_and_sent_once(
    batching_env: tuple[SmsEnv, FakeApi, str],
) -> None:
    env, api, at = batching_env
    started = utcnow()
    assert send(env, params(tsid("0310"), COPARENT, "school run")) == 200
    window = next_window(started, [at], ZONE)
    api.statuses = [503, 201]
    report = deliver_due(env.rt, window)
    assert report.sms == 0 and len(report.errors) == 1
    assert COPARENT not in report.errors[0] and "school run" not in report.errors[0]
    [row] = rows(env.rt)
    assert (row.state, row.attempts) == ("pending", 1)
    assert deliver_due(env.rt, window + timedelta(minutes=1)).sms == 1
    assert deliver_due(env.rt, window + timedelta(minutes=2)).sms == 0
    assert forwarded(api) == [f"From {COPARENT}: school run"] * 2  # the refused one, then one
