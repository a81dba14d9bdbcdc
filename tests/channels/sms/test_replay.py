"""Replaying a captured gateway request (issue 19, point 5), against the real app over HTTP.

Every export holds the raw requests, signature headers included, so the attacker here has one
genuine signed request and no key. What each gateway signs decides what can be moved:

- Twilio: HMAC-SHA1 over the URL and every parameter as name + value with no separator, and no
  time. The bytes can be split into other names and values that sign the same, at any time.
- Telnyx (``<ts>|<body>``), the generic endpoint (``<ts>.<body>``) and the Android gateway
  (``<body><ts>``) sign the exact body and a timestamp: nothing moves except whitespace, and
  not for long.
- httpSMS signs the URL and a 10-minute expiry, not the body.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from tests.channels.sms import signers
from tests.channels.sms.conftest import (
    ABUSER,
    GENERIC_KEY,
    HTTPSMS_KEY,
    SMSGATE_KEY,
    TELNYX_KEY,
    TWILIO_SID,
    TWILIO_TOKEN,
    SmsEnv,
)
from tests.channels.sms.fakes import FakeApi
from tests.channels.sms.test_android_gateway import event as android_event
from tests.channels.sms.test_generic import text as generic_text
from tests.channels.sms.test_httpsms import event as httpsms_event
from tests.channels.sms.test_telnyx import event as telnyx_event

EMPTY = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
OUR_NUMBER = "+447700900300"
SID = "SM" + "5e" * 16
FAKE = "SM" + "fa" * 16

Pairs = list[tuple[str, str]]


def inbound(sid: str, sender: str, text: str, **extra: str) -> Pairs:
    """An inbound SMS with the parameters Twilio sends, in Twilio's order."""
    return [
        ("ToCountry", "GB"),
        ("ToState", ""),
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("ToCity", ""),
        ("FromZip", ""),
        ("SmsSid", sid),
        ("FromState", ""),
        ("SmsStatus", "received"),
        ("FromCity", "LONDON"),
        ("Body", text),
        ("FromCountry", "GB"),
        ("To", OUR_NUMBER),
        ("ToZip", ""),
        ("NumSegments", "1"),
        ("MessageSid", sid),
        ("AccountSid", TWILIO_SID),
        ("From", sender),
        ("ApiVersion", "2010-04-01"),
        *extra.items(),
    ]


def signed(url: str, pairs: Pairs) -> str:
    """What Twilio's signature covers (the attacker's invariant): URL + name + value, sorted."""
    return url + "".join(k + v for k, v in sorted(pairs))


def capture(env: SmsEnv, pairs: Pairs) -> dict[str, str]:
    """Deliver a genuine request, as Twilio would; its headers are what the export keeps."""
    headers = signers.twilio(TWILIO_TOKEN, env.url("twilio"), dict(pairs))
    reply = env.post("twilio", urlencode(pairs).encode(), headers)
    assert (reply.status_code, reply.content) == (200, EMPTY)
    return headers


def replay(env: SmsEnv, genuine: Pairs, headers: dict[str, str], forged: Pairs) -> int:
    """Post ``forged`` with the genuine request's signature; it must sign the same."""
    assert forged != genuine
    assert signed(env.url("twilio"), forged) == signed(env.url("twilio"), genuine)
    return env.post("twilio", urlencode(forged).encode(), headers).status_code


def moved(pairs: Pairs, key: str, value: str, *, drop: tuple[str, ...] = ()) -> Pairs:
    return [(k, value if k == key else v) for k, v in pairs if k not in drop]


# --- Twilio -----------------------------------------------------------------------------------


def test_twilio_message_sid_stretched_over_the_next_parameter_is_refused(sms_env: SmsEnv) -> None:
    """The issue's case: ``MessageSid=SM…`` + ``NumMedia=0`` signs as ``MessageSid=SM…NumMedia0``,
    a new id for the same text."""
    genuine = inbound(SID, ABUSER, "answer me")
    headers = capture(sms_env, genuine)
    forged = moved(genuine, "MessageSid", SID + "NumMedia0", drop=("NumMedia",))
    assert replay(sms_env, genuine, headers, forged) == 400
    assert [i.source_key for i in sms_env.items()] == [f"sms:twilio:{SID}"]


def test_twilio_sms_sid_stretched_with_the_message_sid_hidden_is_refused(sms_env: SmsEnv) -> None:
    genuine = inbound(SID, ABUSER, "answer me")
    headers = capture(sms_env, genuine)
    forged = moved(genuine, "FromZip", "MessageSid" + SID, drop=("MessageSid", "SmsStatus"))
    forged = moved(forged, "SmsSid", SID + "SmsStatusreceived")
    assert replay(sms_env, genuine, headers, forged) == 400
    assert len(sms_env.items()) == 1


def test_twilio_account_sid_stretched_is_refused(sms_env: SmsEnv) -> None:
    genuine = inbound(SID, ABUSER, "answer me")
    headers = capture(sms_env, genuine)
    forged = moved(genuine, "AccountSid", TWILIO_SID + "ApiVersion2010-04-01", drop=("ApiVersion",))
    assert replay(sms_env, genuine, headers, forged) == 400
    assert len(sms_env.items()) == 1


def test_twilio_moved_boundaries_with_the_same_sid_store_nothing_new(sms_env: SmsEnv) -> None:
    """Body swallows the sender and ``FromCity`` becomes ``From``: a different sender and text,
    still held (the text now mentions the listed number), under the same id: kept once."""
    genuine = inbound(SID, ABUSER, "answer me")
    headers = capture(sms_env, genuine)
    forged = moved(genuine, "Body", "answer meFrom" + ABUSER, drop=("FromCity",))
    forged = moved(forged, "From", "CityLONDON")
    assert replay(sms_env, genuine, headers, forged) == 200
    assert [i.source_key for i in sms_env.items()] == [f"sms:twilio:{SID}"]


def test_twilio_sids_the_sender_wrote_in_a_text_cannot_be_lifted_into_a_new_text(
    sms_env: SmsEnv,
) -> None:
    """The sender writes parameters into the text itself; once that request is exported, it can
    be split so that the written ones are the parameters and the real ones are one unknown
    parameter's value: another sender, another text and a well-formed, never-seen SID."""
    crafted = f"okFrom{ABUSER}MessageSid{FAKE}SmsSid{FAKE}Z"
    genuine = inbound(SID, ABUSER, crafted)
    headers = capture(sms_env, genuine)
    [item] = sms_env.items()
    assert item.action == "quarantine"  # the genuine text is kept, never refused
    assert item.source_key != f"sms:twilio:{FAKE}"

    rest = signed("", genuine).split(crafted, 1)[1]  # From… to ToZip: the real parameters
    forged: Pairs = [
        ("AccountSid", TWILIO_SID),
        ("ApiVersion", "2010-04-01"),
        ("Body", "ok"),
        ("From", ABUSER),  # held: a second text in the vault, words they never sent
        ("MessageSid", FAKE),
        ("SmsSid", FAKE),
        ("Z", rest),  # an unknown parameter: kept as received, never refused
    ]
    assert replay(sms_env, genuine, headers, forged) == 200
    assert [i.source_key for i in sms_env.items()] == [item.source_key]

    # and an earlier text's SID written into a new text never makes the new one a duplicate
    later = "SM" + "7" * 32
    capture(sms_env, inbound(later, ABUSER, f"MessageSid{SID}SmsSid{FAKE}"))
    assert len(sms_env.items()) == 2


def test_twilio_a_media_url_the_sender_wrote_is_never_fetched_with_the_auth_token(
    sms_env: SmsEnv, fake_api: FakeApi
) -> None:
    """The same split with ``MediaUrl0`` pointing at the sender's server: fetching it with
    Twilio's basic auth would hand over the auth token, and with it every future signature."""
    steal = f"{fake_api.url}/steal"
    crafted = f"xFrom{ABUSER}MediaUrl0{steal}MessageSid{FAKE}NumMedia1SmsSid{FAKE}Z"
    genuine = inbound(SID, ABUSER, crafted)
    headers = capture(sms_env, genuine)
    rest = signed("", genuine).split(crafted, 1)[1]
    forged: Pairs = [
        ("AccountSid", TWILIO_SID),
        ("ApiVersion", "2010-04-01"),
        ("Body", "x"),
        ("From", ABUSER),
        ("MediaUrl0", steal),
        ("MessageSid", FAKE),
        ("NumMedia", "1"),
        ("SmsSid", FAKE),
        ("Z", rest),
    ]
    assert replay(sms_env, genuine, headers, forged) == 200
    assert [r.basic_auth() for r in fake_api.requests] == []  # not asked, so nothing told
    assert len(sms_env.items()) == 1


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MessageSid", "SM1"),
        ("MessageSid", "SM" + "A" * 32),  # Twilio's hex is lower case
        ("MessageSid", "XX" + "0" * 32),
        ("SmsSid", "SM" + "0" * 33),
        ("SmsSid", "SM" + "0" * 32),  # well-formed, but another message's
        ("AccountSid", "AC1"),
        ("AccountSid", ""),
    ],
)
def test_twilio_sids_not_in_twilio_s_formats_are_refused(
    sms_env: SmsEnv, key: str, value: str
) -> None:
    pairs = moved(inbound(SID, ABUSER, "answer me"), key, value)
    headers = signers.twilio(TWILIO_TOKEN, sms_env.url("twilio"), dict(pairs))
    assert sms_env.post("twilio", urlencode(pairs).encode(), headers).status_code == 400
    assert sms_env.items() == []


def test_twilio_well_formed_requests_with_parameters_we_do_not_know_are_kept(
    sms_env: SmsEnv,
) -> None:
    """Twilio adds parameters over time: never refused for them, kept exactly as received.
    ``MessagingServiceSid`` is optional, ``SmsSid`` too, and an MMS has an ``MM`` SID."""
    mms = "MM" + "0123456789abcdef" * 2
    requests = [
        inbound(SID, ABUSER, "one", MessagingServiceSid="MG" + "9" * 32, NewThing2031="x\x00"),
        [(k, v) for k, v in inbound(mms, ABUSER, "two") if k not in ("SmsSid", "SmsMessageSid")],
        [*inbound("SM" + "1" * 32, ABUSER, "three"), ("", ""), ("zz", "lower-case name")],
    ]
    for pairs in requests:
        capture(sms_env, pairs)
    keys = [i.source_key for i in sms_env.items()]
    assert keys == [f"sms:twilio:{SID}", f"sms:twilio:{mms}", f"sms:twilio:SM{'1' * 32}"]


# --- the gateways that sign the body and a timestamp -------------------------------------------


def test_telnyx_signature_does_not_move_to_a_fresh_timestamp_or_across_the_bar(
    sms_env: SmsEnv,
) -> None:
    body = telnyx_event("tx-r1", ABUSER)
    headers = signers.telnyx(TELNYX_KEY, body, int(time.time()) - 400)  # an exported request
    assert sms_env.post("telnyx", body, headers).status_code == 403
    ts = headers["telnyx-timestamp"]
    for stamp, moved_body in (
        (str(int(time.time())), body),
        (f"{ts}|{body[:1].decode()}", body[1:]),
    ):
        assert (
            sms_env.post("telnyx", moved_body, {**headers, "telnyx-timestamp": stamp}).status_code
            == 403
        )
    fresh = signers.telnyx(TELNYX_KEY, body)  # inside the window: replays are the same text
    for _ in range(3):
        assert sms_env.post("telnyx", body, fresh).status_code == 200
    assert [i.source_key for i in sms_env.items()] == ["sms:telnyx:tx-r1"]


def test_generic_signature_does_not_move_to_a_fresh_timestamp(sms_env: SmsEnv) -> None:
    body = generic_text("g-r1", ABUSER)
    headers = signers.generic(GENERIC_KEY, body, int(time.time()) - 400)
    ts = headers["X-Nocontact-Timestamp"]
    for stamp, moved_body in ((ts, body), (str(int(time.time())), body), (f"{ts}.{{", body[1:])):
        moved_headers = {**headers, "X-Nocontact-Timestamp": stamp}
        assert sms_env.post("generic", moved_body, moved_headers).status_code == 403
    fresh = signers.generic(GENERIC_KEY, body)
    for _ in range(3):
        assert sms_env.post("generic", body, fresh).status_code == 200
    assert [i.source_key for i in sms_env.items()] == ["sms:generic:g-r1"]


def test_android_gateway_bytes_moved_between_body_and_timestamp_sign_nothing_new(
    sms_env: SmsEnv,
) -> None:
    """``<body><ts>`` has no separator, but a JSON body ends in ``}`` (or whitespace, which HTTP
    does not let a header value start with) and the timestamp is digits: bytes moved from one to
    the other no longer sign, and an old request cannot be made fresh."""
    now = int(time.time())
    body = android_event(ABUSER, "answer me")
    headers = signers.smsgate(SMSGATE_KEY, body, now)
    assert sms_env.post("android-gateway", body, headers).status_code == 200
    shifted = {**headers, "X-Timestamp": "}" + headers["X-Timestamp"]}
    assert sms_env.post("android-gateway", body[:-1], shifted).status_code == 403

    old = android_event(ABUSER, "an old text")
    old_headers = signers.smsgate(SMSGATE_KEY, old, now - 3600)
    stamp = old_headers["X-Timestamp"]
    for moved_body, moved_stamp in ((old + stamp[:2].encode(), stamp[2:]), (old, str(now))):
        moved_headers = {**old_headers, "X-Timestamp": moved_stamp}
        assert sms_env.post("android-gateway", moved_body, moved_headers).status_code == 403
    assert len(sms_env.items()) == 1


def test_httpsms_exported_token_has_expired(sms_env: SmsEnv) -> None:
    """The token does not cover the body, so while it lives it is a key to any text; exports
    are made later than its 10 minutes, and then it is refused whatever the body."""
    url = sms_env.url("httpsms")
    exported = signers.httpsms(HTTPSMS_KEY, url, issued=int(time.time()) - 601)
    for body in (httpsms_event("m-r1", ABUSER), httpsms_event("m-r2", ABUSER, "new words")):
        assert sms_env.post("httpsms", body, exported).status_code == 403
    live = signers.httpsms(HTTPSMS_KEY, url)
    for _ in range(3):
        assert sms_env.post("httpsms", httpsms_event("m-r1", ABUSER), live).status_code == 200
    assert [i.source_key for i in sms_env.items()] == ["sms:httpsms:m-r1"]


def test_fifty_concurrent_differently_split_copies_store_one_item(sms_env: SmsEnv) -> None:
    genuine = inbound(SID, ABUSER, "answer me")
    headers = signers.twilio(TWILIO_TOKEN, sms_env.url("twilio"), dict(genuine))
    splits = [
        genuine,
        moved(
            moved(genuine, "Body", "answer meFrom" + ABUSER, drop=("FromCity",)),
            "From",
            "CityLONDON",
        ),
        moved(genuine, "ToState", "ToZip", drop=("ToZip",)),
        moved(genuine, "FromState", "FromZip", drop=("FromZip",)),
        moved(genuine, "ToCountry", "GBToState", drop=("ToState",)),
    ]
    for forged in splits:
        assert signed("", forged) == signed("", genuine)
    bodies = [urlencode(splits[n % len(splits)]).encode() for n in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        replies = list(pool.map(lambda b: sms_env.post("twilio", b, headers), bodies))
    assert {r.status_code for r in replies} == {200}
    assert [i.source_key for i in sms_env.items()] == [f"sms:twilio:{SID}"]
