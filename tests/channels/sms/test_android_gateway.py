"""capcom6 SMS Gateway for Android: hex HMAC-SHA256 over body + X-Timestamp; dedupe on a hash
of device, sender, text and receivedAt (its messageId is not unique)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from tests.channels.sms import signers
from tests.channels.sms.conftest import ABUSER, SMSGATE_KEY, STRANGER, SURVIVOR, SmsEnv
from tests.channels.sms.fakes import FakeApi
from tests.channels.sms.test_evidence import open_as_owner


def gateway_forward(api: FakeApi) -> str:
    return f"""
[sms.forward]
via = "android_gateway"
to = "{SURVIVOR}"
api_url = "{api.url}/3rdparty/v1"
username = "gate-user"
password = "gate-pass"
"""


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
    env = sms_env_factory(forward=gateway_forward(fake_api))
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


def mms(sender: str, transaction: str, subject: str | None = "Photo attachment") -> bytes:
    """The ``mms:received`` payload as the project's "MMS Support" page shows it."""
    doc = {
        "deviceId": "dev-1",
        "event": "mms:received",
        "id": "Ey6ECgOkVVFjz3CL48B8C",
        "payload": {
            "messageId": "mms_12345abcde",
            "sender": sender,
            "recipient": SURVIVOR,
            "simNumber": 1,
            "transactionId": transaction,
            "subject": subject,
            "size": 125684,
            "contentClass": "IMAGE_BASIC",
            "receivedAt": "2026-11-26T06:00:00.000+01:00",
        },
        "webhookId": "hook-1",
    }
    return json.dumps(doc).encode()


def test_mms_from_a_listed_number_is_kept_with_what_was_said_about_its_media(
    sms_env: SmsEnv,
) -> None:
    body = mms(ABUSER, "T1")
    assert post(sms_env, body).status_code == 200
    assert post(sms_env, body, int(time.time()) + 1).status_code == 200  # redelivered
    assert post(sms_env, mms(ABUSER, "T2", subject=None)).status_code == 200  # another MMS
    first, second = sms_env.items()
    assert first.action == second.action == "quarantine"
    assert first.source_key.startswith("sms:android-gateway:mms-")
    raw, meta = open_as_owner(sms_env, first)
    assert json.loads(raw)["body"].encode() == body
    assert meta["media_reported"] == {
        "messageId": "mms_12345abcde",
        "transactionId": "T1",
        "size": 125684,
        "contentClass": "IMAGE_BASIC",
        "simNumber": 1,
    }
    assert meta["provider_claimed_at"] == "2026-11-26T06:00:00.000+01:00"
    assert meta["to"] == SURVIVOR


def test_allowed_mms_is_forwarded_saying_its_pictures_stayed_on_the_phone(
    sms_env_factory: Callable[..., SmsEnv], fake_api: FakeApi
) -> None:
    env = sms_env_factory(forward=gateway_forward(fake_api))
    assert post(env, mms(STRANGER, "T3", subject="party")).status_code == 200
    assert env.items() == []  # allowed: delivered, not kept
    [sent] = fake_api.posts()
    message = json.loads(sent.body)["message"]
    assert message.startswith(f"From {STRANGER}: party\n")
    assert "MMS" in message and "stayed on the gateway phone" in message
