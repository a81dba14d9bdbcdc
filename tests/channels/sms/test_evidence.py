"""What the vault keeps for a text: the raw request, our receipt time, the provider's claimed
time apart, MMS media fetched with the provider's auth; and releasing a held text."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from nocontact.channels.release import release
from nocontact.models import VaultItem
from nocontact.users import find_user, unlock
from nocontact.vault.store import open_item
from tests.channels.sms import signers
from tests.channels.sms.conftest import (
    ABUSER,
    SURVIVOR,
    TELNYX_KEY,
    TWILIO_SID,
    TWILIO_TOKEN,
    SmsEnv,
    twilio_forward,
)
from tests.channels.sms.fakes import FakeApi
from tests.channels.sms.test_telnyx import event as telnyx_event
from tests.channels.sms.test_twilio import params, send, tsid
from tests.conftest import PASSPHRASE

PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def open_as_owner(env: SmsEnv, item: VaultItem) -> tuple[bytes, dict[str, Any]]:
    with Session(env.rt.engine) as s:
        user = find_user(s, env.rt.household_id, "owner")
        assert user is not None
        identity = unlock(s, user, PASSPHRASE)
        return open_item(s, env.rt.blobs, item, user.recipient_id, identity)


def test_mms_media_is_fetched_into_the_vault_with_twilio_basic_auth(
    sms_env_factory: Callable[..., SmsEnv], fake_api: FakeApi
) -> None:
    # the stand-in is Twilio's API host here: media (and the auth) come only from there
    sms_env = sms_env_factory(twilio_extra=f'api_url = "{fake_api.url}"\ncatch_up = false\n')
    fake_api.files["/Media/ME1"] = (PICTURE, "image/png")
    fake_api.require_auth = (TWILIO_SID, TWILIO_TOKEN)
    p = params(
        tsid("2000"),
        ABUSER,
        "look",
        NumMedia="2",
        MediaUrl0=f"{fake_api.url}/Media/ME1",
        MediaContentType0="image/png",
        MediaUrl1=f"{fake_api.url}/Media/gone",
        MediaContentType1="image/jpeg",
    )
    before = datetime.now(UTC)
    assert send(sms_env, p).status_code == 200
    [item] = sms_env.items()
    raw, meta = open_as_owner(sms_env, item)

    request = json.loads(raw)
    assert request["body"].encode() == signers.twilio_body(p)  # the exact bytes received
    assert request["url"] == sms_env.url("twilio")
    assert request["headers"]["x-twilio-signature"]
    assert hashlib.sha256(raw).hexdigest() == item.sha256

    received = datetime.fromisoformat(meta["received_at"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= received <= datetime.now(UTC)
    assert meta["provider_claimed_at"] is None  # Twilio claims no time
    assert meta["media_urls"] == [f"{fake_api.url}/Media/ME1", f"{fake_api.url}/Media/gone"]
    got, missing = meta["media"]
    assert base64.b64decode(got["data_base64"]) == PICTURE
    assert got["sha256"] == hashlib.sha256(PICTURE).hexdigest()
    assert got["content_type"] == "image/png"
    assert "data_base64" not in missing and missing["error"]
    gets = [r for r in fake_api.requests if r.method == "GET"]
    assert {r.basic_auth() for r in gets} == {(TWILIO_SID, TWILIO_TOKEN)}


def test_provider_claimed_time_is_kept_apart_from_our_receipt_time(sms_env: SmsEnv) -> None:
    body = telnyx_event("tx-ev-1", ABUSER, "claimed")
    assert sms_env.post("telnyx", body, signers.telnyx(TELNYX_KEY, body)).status_code == 200
    [item] = sms_env.items()
    raw, meta = open_as_owner(sms_env, item)
    assert meta["provider_claimed_at"] == "2026-11-26T04:59:59.000+00:00"
    assert meta["received_at"] != meta["provider_claimed_at"]
    assert meta["provider_message_id"] == "tx-ev-1"
    assert json.loads(raw)["body"].encode() == body


def test_released_text_is_forwarded_once_from_its_kept_request(
    sms_env_factory: Callable[..., SmsEnv], fake_api: FakeApi
) -> None:
    env = sms_env_factory(forward=twilio_forward(fake_api))
    assert send(env, params(tsid("2100"), ABUSER, "it was about the school run")).status_code == 200
    assert fake_api.posts() == []  # held: not forwarded on arrival
    [item] = env.items()
    raw, meta = open_as_owner(env, item)
    release(env.rt, item, raw, meta)
    release(env.rt, item, raw, meta)  # a second click sends nothing more
    [post] = fake_api.posts()
    assert f"To={SURVIVOR.replace('+', '%2B')}" in post.body.decode()
    assert "it+was+about+the+school+run" in post.body.decode()
