"""Telnyx webhooks: Ed25519 over timestamp|body within five minutes."""

from __future__ import annotations

import json
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.channels.sms import signers
from tests.channels.sms.conftest import ABUSER, STRANGER, TELNYX_KEY, SmsEnv


def event(msg_id: str, sender: str, text: str = "hi", kind: str = "message.received") -> bytes:
    doc = {
        "data": {
            "event_type": kind,
            "id": f"evt-{msg_id}",
            "occurred_at": "2026-11-26T05:00:00.000+00:00",
            "payload": {
                "id": msg_id,
                "direction": "inbound",
                "from": {"phone_number": sender},
                "to": [{"phone_number": "+447700900300"}],
                "text": text,
                "media": [],
                "received_at": "2026-11-26T04:59:59.000+00:00",
            },
            "record_type": "event",
        },
        "meta": {"attempt": 1},
    }
    return json.dumps(doc).encode()


def test_held_and_allowed_texts_get_the_same_empty_reply(sms_env: SmsEnv) -> None:
    held, allowed = event("tx-1", ABUSER), event("tx-2", STRANGER)
    r1 = sms_env.post("telnyx", held, signers.telnyx(TELNYX_KEY, held))
    r2 = sms_env.post("telnyx", allowed, signers.telnyx(TELNYX_KEY, allowed))
    assert r1.status_code == r2.status_code == 200
    assert r1.content == r2.content == b""
    assert [i.source_key for i in sms_env.items()] == ["sms:telnyx:tx-1"]


def test_expired_timestamp_is_refused(sms_env: SmsEnv) -> None:
    body = event("tx-3", ABUSER)
    old = int(time.time()) - 301
    assert sms_env.post("telnyx", body, signers.telnyx(TELNYX_KEY, body, old)).status_code == 403
    future = int(time.time()) + 301
    assert sms_env.post("telnyx", body, signers.telnyx(TELNYX_KEY, body, future)).status_code == 403
    assert sms_env.items() == []


def test_signature_from_another_key_is_refused(sms_env: SmsEnv) -> None:
    body = event("tx-4", ABUSER)
    forged = signers.telnyx(Ed25519PrivateKey.generate(), body)
    assert sms_env.post("telnyx", body, forged).status_code == 403
    assert sms_env.items() == []


def test_signature_does_not_carry_over_to_another_timestamp(sms_env: SmsEnv) -> None:
    body = event("tx-5", ABUSER)
    headers = signers.telnyx(TELNYX_KEY, body, int(time.time()) - 10)
    headers["telnyx-timestamp"] = str(int(time.time()))
    assert sms_env.post("telnyx", body, headers).status_code == 403


def test_retried_event_stores_one_item(sms_env: SmsEnv) -> None:
    body = event("tx-6", ABUSER)
    for _ in range(3):
        assert sms_env.post("telnyx", body, signers.telnyx(TELNYX_KEY, body)).status_code == 200
    assert len(sms_env.items()) == 1


def test_delivery_reports_are_acknowledged_and_not_kept(sms_env: SmsEnv) -> None:
    body = event("tx-7", ABUSER, kind="message.finalized")
    assert sms_env.post("telnyx", body, signers.telnyx(TELNYX_KEY, body)).status_code == 200
    assert sms_env.items() == []


def test_signed_but_malformed_payload_gets_400(sms_env: SmsEnv) -> None:
    for body in (b"not json", b"[]", b'{"data": {"event_type": "message.received"}}'):
        assert sms_env.post("telnyx", body, signers.telnyx(TELNYX_KEY, body)).status_code == 400
    assert sms_env.items() == []
