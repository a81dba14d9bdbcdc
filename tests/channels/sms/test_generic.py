"""The generic JSON endpoint: HMAC-SHA256 over "<timestamp>.<body>"."""

from __future__ import annotations

import json
import time

from tests.channels.sms import signers
from tests.channels.sms.conftest import ABUSER, GENERIC_KEY, STRANGER, SmsEnv


def text(msg_id: str, sender: str, body: str = "hi") -> bytes:
    return json.dumps({"id": msg_id, "from": sender, "to": "+447700900300", "text": body}).encode()


def test_held_and_allowed_texts_get_the_same_empty_reply(sms_env: SmsEnv) -> None:
    a, b = text("g-1", ABUSER), text("g-2", STRANGER)
    r1 = sms_env.post("generic", a, signers.generic(GENERIC_KEY, a))
    r2 = sms_env.post("generic", b, signers.generic(GENERIC_KEY, b))
    assert r1.status_code == r2.status_code == 200 and r1.content == r2.content == b""
    assert [i.source_key for i in sms_env.items()] == ["sms:generic:g-1"]


def test_forged_and_expired_requests_are_refused(sms_env: SmsEnv) -> None:
    body = text("g-3", ABUSER)
    assert sms_env.post("generic", body, signers.generic("guessed", body)).status_code == 403
    old = signers.generic(GENERIC_KEY, body, int(time.time()) - 301)
    assert sms_env.post("generic", body, old).status_code == 403
    assert sms_env.items() == []


def test_replay_stores_one_item(sms_env: SmsEnv) -> None:
    body = text("g-4", ABUSER)
    for _ in range(2):
        assert sms_env.post("generic", body, signers.generic(GENERIC_KEY, body)).status_code == 200
    assert len(sms_env.items()) == 1


def test_signed_but_malformed_payload_gets_400(sms_env: SmsEnv) -> None:
    for body in (b'{"id": "g-5"}', b'{"id": "g-6", "from": "+44", "media": [1]}', b"\xff\xfe"):
        assert sms_env.post("generic", body, signers.generic(GENERIC_KEY, body)).status_code == 400
    assert sms_env.items() == []
