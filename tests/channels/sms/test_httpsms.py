"""httpSMS: an HS256 JWT whose audience is our public webhook URL."""

from __future__ import annotations

import json
import time

from tests.channels.sms import signers
from tests.channels.sms.conftest import ABUSER, HTTPSMS_KEY, STRANGER, SmsEnv


def event(msg_id: str, sender: str, text: str = "hello") -> bytes:
    doc = {
        "specversion": "1.0",
        "id": f"evt-{msg_id}",
        "source": "/v1/messages/receive",
        "type": "message.phone.received",
        "datacontenttype": "application/json",
        "time": "2026-11-26T05:00:01Z",
        "data": {
            "message_id": msg_id,
            "user_id": "user-1",
            "owner": "+447700900300",
            "encrypted": False,
            "contact": sender,
            "timestamp": "2026-11-26T05:00:00Z",
            "content": text,
            "sim": "SIM1",
        },
    }
    return json.dumps(doc).encode()


def test_held_and_allowed_texts_get_the_same_empty_reply(sms_env: SmsEnv) -> None:
    headers = signers.httpsms(HTTPSMS_KEY, sms_env.url("httpsms"))
    r1 = sms_env.post("httpsms", event("m-1", ABUSER), headers)
    r2 = sms_env.post("httpsms", event("m-2", STRANGER), headers)
    assert r1.status_code == r2.status_code == 200
    assert r1.content == r2.content == b""
    assert [i.source_key for i in sms_env.items()] == ["sms:httpsms:m-1"]


def test_token_for_another_url_is_refused(sms_env: SmsEnv) -> None:
    headers = signers.httpsms(HTTPSMS_KEY, f"{sms_env.base}/webhooks/sms/httpsms")
    assert sms_env.post("httpsms", event("m-3", ABUSER), headers).status_code == 403
    assert sms_env.items() == []


def test_expired_token_is_refused(sms_env: SmsEnv) -> None:
    headers = signers.httpsms(HTTPSMS_KEY, sms_env.url("httpsms"), issued=int(time.time()) - 700)
    assert sms_env.post("httpsms", event("m-4", ABUSER), headers).status_code == 403


def test_forged_unsigned_and_missing_tokens_are_refused(sms_env: SmsEnv) -> None:
    url = sms_env.url("httpsms")
    for headers in (
        signers.httpsms("guessed", url),
        signers.httpsms(HTTPSMS_KEY, url, alg="none"),
        {"Content-Type": "application/json"},
    ):
        assert sms_env.post("httpsms", event("m-5", ABUSER), headers).status_code == 403
    assert sms_env.items() == []


def test_replayed_delivery_stores_one_item(sms_env: SmsEnv) -> None:
    headers = signers.httpsms(HTTPSMS_KEY, sms_env.url("httpsms"))
    for _ in range(3):
        assert sms_env.post("httpsms", event("m-6", ABUSER), headers).status_code == 200
    assert len(sms_env.items()) == 1
