"""capcom6 SMS Gateway for Android: hex HMAC-SHA256 over body + X-Timestamp; dedupe on a hash
of device, sender, content and receivedAt (its messageId is not unique). Every inbound event is
kept: texts, data SMS, MMS notices and downloaded MMS, alone or in batches (one request, several
texts, each decided and kept on its own)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable

import pytest

from nocontact.channels.release import release
from tests.channels.sms import signers
from tests.channels.sms.conftest import ABUSER, COPARENT, SMSGATE_KEY, STRANGER, SURVIVOR, SmsEnv
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


RECEIVED_AT = "2026-11-26T06:00:00.000+01:00"


def envelope(event_name: str, payload: dict[str, object], device: str = "dev-1") -> bytes:
    """The request as the app's ``WebHookEventDTO`` is serialised."""
    doc = {
        "deviceId": device,
        "event": event_name,
        "id": "Ey6ECgOkVVFjz3CL48B8C",
        "payload": payload,
        "webhookId": "hook-1",
    }
    return json.dumps(doc).encode()


def sms_payload(
    sender: str, text: str, received_at: str = RECEIVED_AT, message_id: str = "abc123"
) -> dict[str, object]:
    return {
        "messageId": message_id,
        "message": text,
        "phoneNumber": sender,
        "simNumber": 1,
        "receivedAt": received_at,
    }


def event(
    sender: str,
    text: str,
    received_at: str = RECEIVED_AT,
    message_id: str = "abc123",
    device: str = "dev-1",
) -> bytes:
    return envelope("sms:received", sms_payload(sender, text, received_at, message_id), device)


def batch(event_name: str, payloads: list[dict[str, object]]) -> bytes:
    """A batch event: ``{"messages": [...]}`` (the app's ``BatchEventPayload``)."""
    return envelope(event_name, {"messages": payloads})


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


def mms_payload(
    sender: str, transaction: str, subject: str | None = "Photo attachment"
) -> dict[str, object]:
    """The ``mms:received`` payload as the project's "MMS Support" page shows it."""
    return {
        "messageId": "mms_12345abcde",
        "sender": sender,
        "recipient": SURVIVOR,
        "simNumber": 1,
        "transactionId": transaction,
        "subject": subject,
        "size": 125684,
        "contentClass": "IMAGE_BASIC",
        "receivedAt": RECEIVED_AT,
    }


def mms(sender: str, transaction: str, subject: str | None = "Photo attachment") -> bytes:
    return envelope("mms:received", mms_payload(sender, transaction, subject))


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


# --- every inbound event, alone and in batches -------------------------------------------------

PICTURE = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4


def data_payload(sender: str, content: bytes, received_at: str = RECEIVED_AT) -> dict[str, object]:
    """``sms:data-received`` (``SmsEventPayload.SmsDataReceived``): ``data`` in base64, and the
    newer ``sender``/``recipient`` next to the deprecated ``phoneNumber``."""
    return {
        "messageId": "d41d8cd9",
        "data": base64.b64encode(content).decode(),
        "sender": sender,
        "recipient": SURVIVOR,
        "phoneNumber": sender,
        "simNumber": 1,
        "receivedAt": received_at,
    }


def downloaded_payload(
    sender: str | None, subject: str | None, body: str | None, message_id: str = "42"
) -> dict[str, object]:
    """``mms:downloaded`` (``MmsDownloadedPayload``): text parts as ``body``, attachments with
    their bytes in base64 when the phone could read them."""
    return {
        "messageId": message_id,
        "sender": sender,
        "recipient": SURVIVOR,
        "phoneNumber": sender or "",
        "simNumber": 1,
        "subject": subject,
        "body": body,
        "attachments": [
            {
                "partId": 7,
                "contentType": "image/jpeg",
                "name": "IMG_0001.jpg",
                "size": len(PICTURE),
                "data": base64.b64encode(PICTURE).decode(),
            },
            {"partId": 8, "contentType": "video/mp4", "name": None, "size": 912345, "data": None},
        ],
        "receivedAt": RECEIVED_AT,
    }


# kind -> (single event, batch event, a payload from ``sender`` numbered ``n``)
KINDS: dict[str, tuple[str, str, Callable[[str, int], dict[str, object]]]] = {
    "sms": ("sms:received", "sms:batch:received", lambda who, n: sms_payload(who, f"text {n}")),
    "data": (
        "sms:data-received",
        "sms:batch:data-received",
        lambda who, n: data_payload(who, b"\x00\x05\x04" + bytes([n])),
    ),
    "mms": ("mms:received", "mms:batch:received", lambda who, n: mms_payload(who, f"T{n}")),
    "mms-downloaded": (
        "mms:downloaded",
        "mms:batch:downloaded",
        lambda who, n: downloaded_payload(who, None, f"body {n}", message_id=str(n)),
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_batch_keeps_exactly_its_listed_sender_with_the_same_empty_reply(
    sms_env: SmsEnv, kind: str
) -> None:
    single, batched, payload = KINDS[kind]
    alone = post(sms_env, envelope(single, payload(STRANGER, 1)))  # allowed, not kept
    body = batch(batched, [payload(STRANGER, 2), payload(ABUSER, 3), payload(STRANGER, 4)])
    reply = post(sms_env, body)
    assert (reply.status_code, reply.content) == (alone.status_code, alone.content) == (200, b"")
    assert reply.headers["content-length"] == alone.headers["content-length"] == "0"
    [item] = sms_env.items()
    assert item.action == "quarantine"
    raw, meta = open_as_owner(sms_env, item)
    kept = json.loads(raw)
    assert kept["body"].encode() == body  # the whole request, exactly as received
    assert kept["batch_index"] == meta["batch_index"] == 1  # and which of its texts this is
    assert meta["from"] == ABUSER
    assert hashlib.sha256(raw).hexdigest() == item.sha256


def test_a_replayed_batch_stores_nothing_new(sms_env: SmsEnv) -> None:
    body = batch(
        "sms:batch:received",
        [sms_payload(ABUSER, "one"), sms_payload(ABUSER, "two"), sms_payload(COPARENT, "three")],
    )
    assert post(sms_env, body, int(time.time()) - 5).status_code == 200
    first = [(i.id, i.source_key, i.action) for i in sms_env.items()]
    assert sorted(a for _, _, a in first) == ["quarantine", "quarantine", "record"]
    assert len({k for _, k, _ in first}) == 3
    assert post(sms_env, body, int(time.time())).status_code == 200  # new signature, same texts
    assert [(i.id, i.source_key, i.action) for i in sms_env.items()] == first


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_text_sent_alone_and_again_in_a_batch_is_one_item(sms_env: SmsEnv, kind: str) -> None:
    single, batched, payload = KINDS[kind]
    assert post(sms_env, envelope(single, payload(ABUSER, 1))).status_code == 200
    [alone] = sms_env.items()
    body = batch(batched, [payload(ABUSER, 2), payload(ABUSER, 1)])
    assert post(sms_env, body).status_code == 200
    first, second = sms_env.items()
    assert first.id == alone.id and first.source_key == alone.source_key
    _, meta = open_as_owner(sms_env, second)
    assert meta["batch_index"] == 0


def test_a_data_sms_from_a_listed_number_is_kept_and_opens_to_the_exact_request(
    sms_env: SmsEnv,
) -> None:
    body = envelope("sms:data-received", data_payload(ABUSER, b"\x00\xffbinary\x80"))
    assert post(sms_env, body).status_code == 200
    assert post(sms_env, body, int(time.time()) + 1).status_code == 200  # redelivered
    [item] = sms_env.items()
    assert item.action == "quarantine"
    assert item.source_key.startswith("sms:android-gateway:data-")
    raw, meta = open_as_owner(sms_env, item)
    kept = json.loads(raw)
    assert kept["body"].encode() == body
    assert kept["headers"]["x-signature"] and "batch_index" not in kept
    assert (meta["from"], meta["to"]) == (ABUSER, SURVIVOR)
    assert meta["provider_claimed_at"] == RECEIVED_AT


def test_a_data_sms_is_searched_for_mentions_only_when_it_reads_as_utf8(sms_env: SmsEnv) -> None:
    mention = b"ring 07700 900001 tonight"  # the listed person's number
    binary = b"\xff\xfe" + mention  # the same digits in bytes that are not UTF-8
    assert post(sms_env, envelope("sms:data-received", data_payload(STRANGER, binary))).is_success
    assert sms_env.items() == []  # nothing to read: an unlisted sender's data is let through
    assert post(sms_env, envelope("sms:data-received", data_payload(STRANGER, mention))).is_success
    [item] = sms_env.items()
    assert item.action == "review"


def test_a_downloaded_mms_from_a_listed_number_is_kept_with_its_attachments_described(
    sms_env: SmsEnv,
) -> None:
    body = envelope("mms:downloaded", downloaded_payload(ABUSER, "pics", "from the weekend"))
    assert post(sms_env, body).status_code == 200
    [item] = sms_env.items()
    assert item.action == "quarantine"
    raw, meta = open_as_owner(sms_env, item)
    kept = json.loads(kept_body := raw)["body"]
    assert kept.encode() == body and base64.b64encode(PICTURE).decode() in kept  # bytes inline
    assert hashlib.sha256(kept_body).hexdigest() == item.sha256
    assert meta["media_reported"] == {
        "messageId": "42",
        "simNumber": 1,
        "attachments": [
            {
                "partId": 7,
                "contentType": "image/jpeg",
                "name": "IMG_0001.jpg",
                "size": len(PICTURE),
                "inline": True,
            },
            {"partId": 8, "contentType": "video/mp4", "size": 912345, "inline": False},
        ],
    }


def test_a_downloaded_mms_from_an_unknown_sender_is_still_read_for_mentions(
    sms_env: SmsEnv,
) -> None:
    """The payload's sender is nullable: the phone may not know who sent an MMS."""
    body = envelope("mms:downloaded", downloaded_payload(None, "ring 07700 900001", None))
    assert post(sms_env, body).status_code == 200
    [item] = sms_env.items()
    assert item.action == "review"


@pytest.mark.parametrize(
    ("event_name", "bad"),
    [
        ("sms:batch:received", {"message": "no sender", "receivedAt": RECEIVED_AT}),
        ("sms:batch:received", "not an object"),
        ("sms:batch:data-received", {**data_payload(ABUSER, b"x"), "data": "%%not base64%%"}),
        ("mms:batch:downloaded", {**downloaded_payload(ABUSER, "s", "b"), "attachments": "x"}),
    ],
)
def test_a_batch_with_one_malformed_entry_gets_400_and_nothing_is_stored(
    sms_env: SmsEnv, event_name: str, bad: object
) -> None:
    good = KINDS[{v[1]: k for k, v in KINDS.items()}[event_name]][2]
    body = batch(event_name, [good(ABUSER, 1), bad, good(ABUSER, 2)])  # type: ignore[list-item]
    assert post(sms_env, body).status_code == 400
    assert sms_env.items() == []


def test_events_that_carry_no_text_get_the_empty_reply_and_keep_nothing(sms_env: SmsEnv) -> None:
    delivered = {"messageId": "m1", "phoneNumber": ABUSER, "deliveredAt": RECEIVED_AT}
    for body in (envelope("sms:delivered", delivered), envelope("system:ping", {"health": {}})):
        reply = post(sms_env, body)
        assert (reply.status_code, reply.content) == (200, b"")
    assert post(sms_env, batch("sms:batch:received", [])).status_code == 200
    assert sms_env.items() == []


def test_allowed_texts_in_a_batch_are_forwarded_once_each(
    sms_env_factory: Callable[..., SmsEnv], fake_api: FakeApi
) -> None:
    env = sms_env_factory(forward=gateway_forward(fake_api))
    other = "+447700900998"
    body = batch(
        "sms:batch:received",
        [
            sms_payload(STRANGER, "see you at 3"),
            sms_payload(ABUSER, "held"),
            sms_payload(other, "ok"),
        ],
    )
    assert post(env, body).status_code == 200
    assert post(env, body, int(time.time()) + 1).status_code == 200  # a retry sends nothing more
    sent = sorted(json.loads(p.body)["message"] for p in fake_api.posts())
    assert sent == [f"From {other}: ok", f"From {STRANGER}: see you at 3"]
    assert all(json.loads(p.body)["phoneNumbers"] == [SURVIVOR] for p in fake_api.posts())
    [item] = env.items()
    assert item.action == "quarantine"


def test_a_held_text_of_a_batch_is_released_as_itself(
    sms_env_factory: Callable[..., SmsEnv], fake_api: FakeApi
) -> None:
    env = sms_env_factory(forward=gateway_forward(fake_api))
    body = batch(
        "sms:batch:received",
        [sms_payload(STRANGER, "hello"), sms_payload(ABUSER, "the school run")],
    )
    assert post(env, body).status_code == 200
    [item] = env.items()
    raw, meta = open_as_owner(env, item)
    release(env.rt, item, raw, meta)
    assert [json.loads(p.body)["message"] for p in fake_api.posts()] == [
        f"From {STRANGER}: hello",
        f"From {ABUSER}: the school run",
    ]


def test_one_text_of_a_batch_not_stored_answers_503_and_the_retry_keeps_each_once(
    sms_env: SmsEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # a real failure in the real database: a vault row is refused once there is one
    with sms_env.rt.engine.begin() as c:
        c.exec_driver_sql(
            "CREATE TRIGGER one_only BEFORE INSERT ON vaultitem "
            "WHEN (SELECT count(*) FROM vaultitem) >= 1 "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )
    texts = ["meet me by the lake", "you cannot hide"]
    body = batch("sms:batch:received", [sms_payload(ABUSER, t) for t in texts])
    reply = post(sms_env, body)
    assert (reply.status_code, reply.content) == (503, b"")
    assert len(sms_env.items()) == 1  # the other one was not stored: the app sends both again
    with sms_env.rt.engine.begin() as c:
        c.exec_driver_sql("DROP TRIGGER one_only")
    assert post(sms_env, body, int(time.time()) + 1).status_code == 200
    items = sms_env.items()
    assert len(items) == 2 and len({i.source_key for i in items}) == 2
    assert "not stored" in caplog.text
    for secret in (*texts, ABUSER, "Mark", "sms:android-gateway:"):
        assert secret not in caplog.text


def test_a_downloaded_mms_with_a_large_picture_is_kept_under_the_default_limit(
    sms_env: SmsEnv,
) -> None:
    """Its pictures come inside the request: a 3 MiB one (4 MiB in base64) is kept with the
    default settings, where a Twilio request a tenth that size is refused (413)."""
    picture = os.urandom(3 * 1024 * 1024)
    payload = downloaded_payload(ABUSER, "big", "a photo")
    payload["attachments"] = [
        {
            "partId": 7,
            "contentType": "image/jpeg",
            "name": "IMG_0002.jpg",
            "size": len(picture),
            "data": base64.b64encode(picture).decode(),
        }
    ]
    body = envelope("mms:downloaded", payload)
    assert post(sms_env, body).status_code == 200
    [item] = sms_env.items()
    raw, _ = open_as_owner(sms_env, item)
    assert json.loads(raw)["body"].encode() == body
    # past the gateway's own limit: refused unread, nothing kept
    too_big = envelope("mms:downloaded", {**payload, "body": "x" * (16 * 1024 * 1024)})
    assert post(sms_env, too_big).status_code == 413
    assert len(sms_env.items()) == 1


def test_a_forwarded_text_without_words_says_so(
    sms_env_factory: Callable[..., SmsEnv], fake_api: FakeApi
) -> None:
    """A binary data SMS has nothing to read out: the survivor gets "[no text]", not a bare
    "From X: "."""
    env = sms_env_factory(forward=gateway_forward(fake_api))
    body = envelope("sms:data-received", data_payload(STRANGER, b"\x00\xff\x05\x04"))
    assert post(env, body).status_code == 200
    assert [json.loads(p.body)["message"] for p in fake_api.posts()] == [
        f"From {STRANGER}: [no text]"
    ]
