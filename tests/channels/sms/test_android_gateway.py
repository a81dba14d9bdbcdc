"""capcom6 SMS Gateway for Android: hex HMAC-SHA256 over body + X-Timestamp; dedupe on a hash
of device, sender, text and receivedAt (its messageId is not unique)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from tests.channels.sms import signers
from tests.channels.sms.conftest import ABUSER, SMSGATE_KEY, STRANGER, SURVIVOR, SmsEnv
from tests.channels.sms.fakes import FakeApi


def event(
    sender: str,
    text: str,
    received_at: str = "2026-11-26T06:00:00.000+01:00",
    message_id: str = "abc123",
    device: str = "dev-1",
) -> bytes:
    doc = {
        "deviceId": device,
        "event": "sms:received",
        "id": "Ey6ECgOkVVFjz3CL48B8C",
        "payload": {
            "messageId": message_id,
            "message": text,
            "phoneNumber": sender,
            "simNumber": 1,
            "receivedAt": received_at,
        },
        "webhookId": "hook-1",
    }
    return json.dumps(doc).encode()


def post(env: SmsEnv, body: bytes, ts: int | None = None, key: str = SMSGATE_KEY):
    return env.post("android-gateway", body, signers.smsgate(key, body, ts))


def test_held_and_allowed_texts_get_the_same_empty_reply(sms_env: SmsEnv) -> None:
    r1 = post(sms_env, event(ABUSER, "one"))
    r2 = post(sms_env, event(STRANGER, "two"))
    assert r1.status_code == r2.status_code == 200
    assert r1.content == r2.content == b""
    [item] = sms_env.items()
    assert item.action == "quarantine" and item.source_key.startswith("sms:android-gateway:")


def test_same_message_id_with_different_texts_are_two_items(sms_env: SmsEnv) -> None:
    assert post(sms_env, event(ABUSER, "first", message_id="same")).status_code == 200
    assert post(sms_env, event(ABUSER, "second", message_id="same")).status_code == 200
    assert len(sms_env.items()) == 2


def test_redelivered_text_is_one_item_even_with_a_new_signature(sms_env: SmsEnv) -> None:
    body = event(ABUSER, "again")
    assert post(sms_env, body, int(time.time()) - 5).status_code == 200
    assert post(sms_env, body, int(time.time())).status_code == 200
    # the same text at another moment is another text
    assert post(sms_env, event(ABUSER, "again", "2026-11-26T06:01:00.000+01:00")).status_code == 200
    assert len(sms_env.items()) == 2


def test_expired_timestamp_and_wrong_key_are_refused(sms_env: SmsEnv) -> None:
    body = event(ABUSER, "late")
    assert post(sms_env, body, int(time.time()) - 3600).status_code == 403
    assert post(sms_env, body, key="guessed").status_code == 403
    no_ts = signers.smsgate(SMSGATE_KEY, body)
    del no_ts["X-Timestamp"]
    assert sms_env.post("android-gateway", body, no_ts).status_code == 403
    assert sms_env.items() == []


def test_allowed_text_is_forwarded_through_the_android_gateway_send_api(
    sms_env_factory: Callable[..., SmsEnv], fake_api: FakeApi
) -> None:
    forward = f"""
[sms.forward]
via = "android_gateway"
to = "{SURVIVOR}"
api_url = "{fake_api.url}/3rdparty/v1"
username = "gate-user"
password = "gate-pass"
"""
    env = sms_env_factory(forward=forward)
    assert post(env, event(STRANGER, "see you at 3")).status_code == 200
    assert post(env, event(ABUSER, "held")).status_code == 200
    [sent] = fake_api.posts()
    assert sent.path == "/3rdparty/v1/message"
    assert sent.basic_auth() == ("gate-user", "gate-pass")
    assert json.loads(sent.body) == {
        "message": f"From {STRANGER}: see you at 3",
        "phoneNumbers": [SURVIVOR],
    }


def test_signed_but_malformed_payload_gets_400(sms_env: SmsEnv) -> None:
    bad = json.dumps({"event": "sms:received", "payload": {"message": "no sender"}}).encode()
    assert post(sms_env, bad).status_code == 400
    assert sms_env.items() == []
