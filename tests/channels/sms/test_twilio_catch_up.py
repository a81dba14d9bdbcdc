"""The Twilio catch-up against a local stand-in for Twilio's REST API (Messages list resource,
paged by ``next_page_uri``), with the real app, intake, vault and database."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import Session, select

from nocontact.channels.sms.catch_up import API_FORMAT, Report, catch_up
from nocontact.channels.sms.models import SmsForward
from nocontact.channels.sms.release import release
from nocontact.cli import main
from nocontact.intake import Intake
from nocontact.jobs import make_scheduler
from tests.channels.sms.conftest import (
    ABUSER,
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
from tests.channels.sms.fakes import FakeApi, Recorded
from tests.channels.sms.test_evidence import PICTURE, open_as_owner
from tests.channels.sms.test_twilio import params, send
from tests.servers.ports import free_port

OUR_NUMBER = "+447700900300"
BASE = f"/2010-04-01/Accounts/{TWILIO_SID}"


def sid(n: int, prefix: str = "SM") -> str:
    return f"{prefix}{n:032x}"


def rfc2822(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


@dataclass
class FakeTwilio:
    """Serves the Messages list (``page_size`` per page, newest first, ``next_page_uri``), each
    Message resource, media lists and media, as Twilio documents them; ``fail`` answers 500."""

    api: FakeApi
    page_size: int = 50
    fail: bool = False
    fail_after_pages: int | None = None
    messages: list[bytes] = field(default_factory=list)  # each message's exact JSON
    media: dict[str, bytes] = field(default_factory=dict)

    def add(
        self,
        n: int,
        sender: str,
        body: str,
        sent: datetime,
        direction: str = "inbound",
        to: str = OUR_NUMBER,
        pictures: int = 0,
    ) -> bytes:
        message_sid = sid(n, "MM" if pictures else "SM")
        doc = {
            "account_sid": TWILIO_SID,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": rfc2822(sent),
            "date_sent": rfc2822(sent),
            "date_updated": rfc2822(sent),
            "direction": direction,
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": None,
            "num_media": str(pictures),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": message_sid,
            "status": "received" if direction == "inbound" else "delivered",
            "subresource_uris": {
                "media": f"{BASE}/Messages/{message_sid}/Media.json",
                "feedback": f"{BASE}/Messages/{message_sid}/Feedback.json",
            },
            "to": to,
            "uri": f"{BASE}/Messages/{message_sid}.json",
        }
        # Twilio's spacing, not ours: the evidence must be these bytes, not a re-encoding
        raw = json.dumps(doc, indent=1, ensure_ascii=False).encode()
        self.messages.insert(0, raw)  # the list is newest first
        for i in range(pictures):
            self.media[f"{BASE}/Messages/{message_sid}/Media/{sid(i, 'ME')}"] = PICTURE
        return raw

    def route(self, rec: Recorded) -> tuple[int, bytes, str] | None:
        path, query = urlsplit(rec.path).path, parse_qs(urlsplit(rec.path).query)
        if self.fail:
            return 500, b'{"code": 20500, "status": 500}', "application/json"
        if path == f"{BASE}/Messages.json":
            return self._page(int(query.get("Page", ["0"])[0]))
        for raw in self.messages:
            doc = json.loads(raw)
            if path == doc["uri"]:
                return 200, raw, "application/json"
            if path == doc["subresource_uris"]["media"]:
                return 200, self._media_list(doc["sid"]), "application/json"
        if path in self.media:
            return 200, self.media[path], "image/png"
        return None

    def _page(self, page: int) -> tuple[int, bytes, str]:
        if self.fail_after_pages is not None and page >= self.fail_after_pages:
            return 500, b"{}", "application/json"
        chunk = self.messages[page * self.page_size : (page + 1) * self.page_size]
        more = (page + 1) * self.page_size < len(self.messages)
        nxt = f'"{BASE}/Messages.json?PageSize={self.page_size}&Page={page + 1}&PageToken=PA{page}"'
        body = (
            b'{"end": 0, "first_page_uri": "x", "messages": ['
            + b", ".join(chunk)
            + b'], "next_page_uri": '
            + (nxt.encode() if more else b"null")
            + b', "page": %d, "page_size": %d, "start": 0}' % (page, self.page_size)
        )
        return 200, body, "application/json"

    def _media_list(self, message_sid: str) -> bytes:
        items = [
            {"content_type": "image/png", "sid": p.rsplit("/", 1)[1], "uri": p + ".json"}
            for p in self.media
            if f"/Messages/{message_sid}/" in p
        ]
        return json.dumps({"media_list": items, "next_page_uri": None, "page": 0}).encode()

    def gets(self) -> list[Recorded]:
        with self.api.lock:
            return [r for r in self.api.requests if r.method == "GET"]

    def list_queries(self) -> list[dict[str, list[str]]]:
        return [
            parse_qs(urlsplit(r.path).query)
            for r in self.gets()
            if urlsplit(r.path).path == f"{BASE}/Messages.json"
        ]


@pytest.fixture
def twilio_api(fake_api: FakeApi) -> FakeTwilio:
    fake = FakeTwilio(fake_api)
    fake_api.routes = fake.route
    return fake


@pytest.fixture
def catch_up_env(
    sms_template: Path, tmp_path: Path, twilio_api: FakeTwilio
) -> Iterator[Callable[..., SmsEnv]]:
    envs: list[SmsEnv] = []

    def make(forward: bool = False, twilio_extra: str = "") -> SmsEnv:
        port = free_port()
        text = config_text(port, twilio_forward(twilio_api.api) if forward else "")
        keys = f'api_url = "{twilio_api.api.url}"\n{twilio_extra}'
        text = text.replace(
            f'account_sid = "{TWILIO_SID}"\n', f'account_sid = "{TWILIO_SID}"\n{keys}'
        )
        env = serve(open_home(sms_template, tmp_path / f"env{len(envs)}", text), port)
        envs.append(env)
        return env

    yield make
    for env in envs:
        env.stop()


def run(env: SmsEnv, days: int | None = None) -> Report:
    return catch_up(env.rt, Intake(env.rt), days=days)


def hours_ago(n: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=n)


def test_missed_held_text_is_kept_sealed_and_opens_to_the_exact_json(
    catch_up_env: Callable[..., SmsEnv], twilio_api: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    env = catch_up_env()
    sent = hours_ago(2)
    exact = twilio_api.add(1, ABUSER, "I know where you are", sent)
    caplog.set_level(logging.DEBUG)
    before = datetime.now(UTC)

    report = run(env)

    assert (report.kept, report.incoming, report.error) == (1, 1, None)
    [item] = env.items()
    assert (item.action, item.source_key) == ("quarantine", f"sms:twilio:{sid(1)}")
    raw, meta = open_as_owner(env, item)
    record = json.loads(raw)
    assert record["format"] == API_FORMAT and record["source"] == "rest-api"
    [response] = record["responses"]
    assert response["body"].encode() == exact  # byte for byte what the API answered
    assert response["url"] == f"{twilio_api.api.url}{BASE}/Messages/{sid(1)}.json"
    fetched = datetime.fromisoformat(record["fetched_at"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= fetched <= datetime.now(UTC)
    assert meta["provider_claimed_at"] == rfc2822(sent)  # Twilio's time, apart from ours
    assert meta["received_at"] == record["fetched_at"]
    assert (meta["text"], meta["from"], meta["received_via"]) == (
        "I know where you are",
        ABUSER,
        "twilio-api",
    )
    assert {r.basic_auth() for r in twilio_api.gets()} == {(TWILIO_SID, TWILIO_TOKEN)}
    [query] = twilio_api.list_queries()
    assert query["DateSent>"] == [(before - timedelta(days=3)).date().isoformat()]
    assert "I know where you are" not in caplog.text and ABUSER not in caplog.text
    status = env.status("twilio")
    assert status is not None and status.ok and status.last_ok is not None


def test_missed_mms_keeps_its_media_urls_and_pictures(
    catch_up_env: Callable[..., SmsEnv], twilio_api: FakeTwilio
) -> None:
    env = catch_up_env()
    twilio_api.add(2, ABUSER, "look", hours_ago(1), pictures=1)
    assert run(env).kept == 1
    [item] = env.items()
    raw, meta = open_as_owner(env, item)
    picture_url = f"{twilio_api.api.url}{BASE}/Messages/{sid(2, 'MM')}/Media/{sid(0, 'ME')}"
    assert meta["media_urls"] == [picture_url]
    [got] = meta["media"]
    assert base64.b64decode(got["data_base64"]) == PICTURE
    assert len(json.loads(raw)["responses"]) == 2  # the message and its media list


def test_text_kept_by_webhook_is_not_kept_again_and_a_late_webhook_is_a_duplicate(
    catch_up_env: Callable[..., SmsEnv], twilio_api: FakeTwilio
) -> None:
    env = catch_up_env()
    assert send(env, params(sid(3), ABUSER, "first")).status_code == 200
    twilio_api.add(3, ABUSER, "first", hours_ago(1))
    twilio_api.add(4, ABUSER, "second", hours_ago(1))

    report = run(env)

    assert (report.kept, report.already) == (1, 1)
    assert [i.source_key for i in env.items()] == [f"sms:twilio:{sid(3)}", f"sms:twilio:{sid(4)}"]
    fetched = [urlsplit(r.path).path for r in twilio_api.gets()]
    assert f"{BASE}/Messages/{sid(3)}.json" not in fetched  # already kept: not read again
    # Twilio's fallback call for the second text arrives after the catch-up kept it
    assert send(env, params(sid(4), ABUSER, "second")).status_code == 200
    assert len(env.items()) == 2


def test_a_text_naming_other_sids_is_kept_once_whichever_way_it_came(
    catch_up_env: Callable[..., SmsEnv], twilio_api: FakeTwilio
) -> None:
    """A text that writes Twilio parameters and SIDs into its words has a dedupe id made of all
    of them (``twilio.message_key``, against replays split another way); the catch-up, reading
    the same words from the API, gives it the same id, in both orders of arrival."""
    crafted = f"hiMessageSid{sid(99)}SmsSid{sid(99)}Z"
    env = catch_up_env()
    assert send(env, params(sid(5), ABUSER, crafted)).status_code == 200  # webhook first
    twilio_api.add(5, ABUSER, crafted, hours_ago(1))
    twilio_api.add(6, ABUSER, crafted, hours_ago(1))  # the catch-up first
    report = run(env)
    assert (report.kept, report.already) == (1, 1)
    assert send(env, params(sid(6), ABUSER, crafted)).status_code == 200  # its fallback call
    keys = [i.source_key for i in env.items()]
    assert len(keys) == 2 and f"sms:twilio:{sid(5)}" not in keys


def test_outbound_messages_are_skipped_and_never_read_on_their_own(
    catch_up_env: Callable[..., SmsEnv], twilio_api: FakeTwilio
) -> None:
    env = catch_up_env()
    twilio_api.add(5, OUR_NUMBER, "a reply you sent", hours_ago(1), "outbound-api", ABUSER)
    twilio_api.add(6, OUR_NUMBER, "From x: hi", hours_ago(1), "outbound-reply", ABUSER)

    report = run(env)

    assert (report.listed, report.incoming, report.skipped, report.kept) == (2, 0, 2, 0)
    assert env.items() == []
    assert [urlsplit(r.path).path for r in twilio_api.gets()] == [f"{BASE}/Messages.json"]


def test_with_numbers_set_only_texts_to_them_are_listed(
    catch_up_env: Callable[..., SmsEnv], twilio_api: FakeTwilio
) -> None:
    env = catch_up_env(twilio_extra=f'numbers = ["{OUR_NUMBER}", "+447700900301"]\n')
    twilio_api.add(7, ABUSER, "to us", hours_ago(1))
    run(env)
    assert [q["To"] for q in twilio_api.list_queries()] == [[OUR_NUMBER], ["+447700900301"]]
    assert len(env.items()) == 1  # the fake ignores To: listed twice, kept once


def test_every_page_is_read(catch_up_env: Callable[..., SmsEnv], twilio_api: FakeTwilio) -> None:
    env = catch_up_env()
    twilio_api.page_size = 2
    for n in range(10, 15):
        twilio_api.add(n, ABUSER, f"text {n}", hours_ago(1))

    report = run(env)

    assert (report.listed, report.kept) == (5, 5)
    assert len(env.items()) == 5
    pages = [q.get("Page", ["0"])[0] for q in twilio_api.list_queries()]
    assert pages == ["0", "1", "2"]


def test_missed_allowed_text_is_forwarded_once_with_its_time(
    catch_up_env: Callable[..., SmsEnv], twilio_api: FakeTwilio
) -> None:
    env = catch_up_env(forward=True)
    assert send(env, params(sid(20), STRANGER, "by webhook")).status_code == 200
    assert len(twilio_api.api.posts()) == 1  # the webhook forwarded this one
    now = datetime.now(UTC)
    sent = now.replace(hour=14, minute=5, second=0, microsecond=0)
    if sent > now - timedelta(minutes=5):
        sent -= timedelta(days=1)
    twilio_api.add(20, STRANGER, "by webhook", sent)
    twilio_api.add(21, STRANGER, "see you at 3", sent)
    twilio_api.add(22, ABUSER, "held, never forwarded", sent)
    twilio_api.add(23, COPARENT, "pick-up moved", sent)

    first = run(env)
    again = run(env, days=3)

    posts = [p.body.decode() for p in twilio_api.api.posts()]
    assert len(posts) == 3  # the webhook's, then the stranger's and the co-parent's, once each
    late = [p for p in posts[1:] if "see+you+at+3" in p]
    assert len(late) == 1 and f"sent+{sent:%d}+{sent:%b}+{sent:%Y}%2C+14%3A05+UTC" in late[0]
    assert not any("held" in p for p in posts)
    assert (first.forwarded, again.forwarded) == (2, 0)
    kept = sorted(i.source_key for i in env.items())
    assert kept == [f"sms:twilio:{sid(22)}", f"sms:twilio:{sid(23)}"]
    with Session(env.rt.engine) as s:
        claims = s.exec(select(SmsForward.source_key)).all()
    assert sorted(claims) == [f"sms:twilio:{sid(n)}" for n in (20, 21, 23)]


def test_api_failure_keeps_nothing_reports_unhealthy_and_the_next_run_catches_up(
    catch_up_env: Callable[..., SmsEnv], twilio_api: FakeTwilio
) -> None:
    env = catch_up_env()
    twilio_api.add(30, ABUSER, "while it was down", hours_ago(30))
    twilio_api.fail = True

    failed = run(env)

    assert failed.error == "HTTP 500" and failed.kept == 0
    assert env.items() == []
    status = env.status("twilio")
    assert status is not None and not status.ok and status.failures == 1
    assert status.last_ok is None and "500" in (status.last_error or "")

    twilio_api.fail = False
    assert run(env).kept == 1
    assert len(env.items()) == 1
    status = env.status("twilio")
    assert status is not None and status.ok and status.failures == 0


def test_a_failure_on_a_later_page_keeps_the_earlier_pages_and_moves_no_mark(
    catch_up_env: Callable[..., SmsEnv], twilio_api: FakeTwilio
) -> None:
    env = catch_up_env()
    twilio_api.page_size, twilio_api.fail_after_pages = 1, 1
    twilio_api.add(31, ABUSER, "older", hours_ago(2))
    twilio_api.add(32, ABUSER, "newer", hours_ago(1))

    report = run(env)

    assert (report.kept, report.error) == (1, "HTTP 500")
    assert [i.source_key for i in env.items()] == [f"sms:twilio:{sid(32)}"]
    status = env.status("twilio")
    assert status is not None and not status.ok and status.last_ok is None
    twilio_api.fail_after_pages = None
    assert (run(env).kept, len(env.items())) == (1, 2)


def test_first_run_looks_back_a_bounded_time_and_later_runs_since_the_last(
    catch_up_env: Callable[..., SmsEnv], twilio_api: FakeTwilio
) -> None:
    env = catch_up_env(twilio_extra="catch_up_days = 2\n")
    twilio_api.add(40, ABUSER, "too old", datetime.now(UTC) - timedelta(days=2, hours=1))
    twilio_api.add(41, ABUSER, "recent", datetime.now(UTC) - timedelta(days=1))
    twilio_api.add(42, ABUSER, "just now", datetime.now(UTC) - timedelta(seconds=5))

    report = run(env)

    assert [i.source_key for i in env.items()] == [f"sms:twilio:{sid(41)}"]
    assert report.skipped == 2  # older than the look-back; too new (left to its webhook)
    first = twilio_api.list_queries()[0]
    assert first["DateSent>"] == [(datetime.now(UTC) - timedelta(days=2)).date().isoformat()]
    run(env)
    second = twilio_api.list_queries()[1]
    assert (
        date.fromisoformat(second["DateSent>"][0])
        >= (datetime.now(UTC) - timedelta(hours=2)).date()
    )


def test_cli_catch_up_prints_counts_only(
    catch_up_env: Callable[..., SmsEnv],
    twilio_api: FakeTwilio,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = catch_up_env()
    twilio_api.add(50, ABUSER, "secret words", hours_ago(3))

    code = main(["sms", "catch-up", "--days", "1", "--home", str(env.rt.home)])

    out = capsys.readouterr().out
    assert code == 0
    assert "1 newly kept" in out
    assert ABUSER not in out and "secret" not in out
    twilio_api.fail = True
    assert main(["sms", "catch-up", "--home", str(env.rt.home)]) == 1
    assert "HTTP 500" in capsys.readouterr().out


def test_scheduled_at_start_when_twilio_has_an_account_and_not_when_turned_off(
    catch_up_env: Callable[..., SmsEnv],
) -> None:
    on = make_scheduler(catch_up_env().rt).get_job("twilio-catch-up")
    assert on is not None and on.trigger.interval == timedelta(minutes=5)
    off = catch_up_env(twilio_extra="catch_up = false\n")
    assert make_scheduler(off.rt).get_job("twilio-catch-up") is None


def test_a_held_text_kept_by_the_catch_up_is_released_as_itself(
    catch_up_env: Callable[..., SmsEnv], twilio_api: FakeTwilio
) -> None:
    """The trusted person judged it harmless: it is forwarded from Twilio's answer as kept,
    once, like a released webhook text."""
    env = catch_up_env(forward=True)
    twilio_api.add(30, ABUSER, "the school run is at 8", hours_ago(2))
    assert run(env).kept == 1
    [item] = env.items()
    raw, meta = open_as_owner(env, item)
    release(env.rt, item, raw, meta)
    release(env.rt, item, raw, meta)  # a second release sends nothing more
    posts = [p.body.decode() for p in twilio_api.api.posts()]
    assert len(posts) == 1 and "the+school+run+is+at+8" in posts[0]
