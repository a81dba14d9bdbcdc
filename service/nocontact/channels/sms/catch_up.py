"""Catching up with Twilio: texts whose webhook never reached us, read back from the message log.

Twilio does not retry a failed incoming-message webhook; it calls the "primary handler fails"
URL once. If both calls fail (a reboot, a power cut, a network outage) the text is only in
Twilio's message log. This lists the account's messages through the REST API (Messages list
resource, ``DateSent>`` by date, paged through ``next_page_uri``) and puts each incoming one
through what a webhook text goes through: the same source key (``sms:twilio:<MessageSid>``, so
a text is kept once whichever way it came), the intake's decision, sealing, MMS media, and
forwarding of allowed texts once (``SmsForward``), with the time it was sent. A text whose
words name other SIDs the way the webhook's parameters do gets the key the webhook gives it
(``twilio.message_key`` over the text); only SIDs written in other fields, which the API does
not list (WhatsApp's profile name), would make the two differ, and the text be kept twice.

The evidence of a text kept here is the exact JSON Twilio's API returned for that one message
(fetched on its own, so no other message's content is in it), in a record that says it was
read from the API (URL, our fetch time), not received as a signed webhook.

Which texts: from the start of the last run that finished everything, less ``OVERLAP``; the
very first run looks back ``catch_up_days``. A run that fails (API error, a forward that
failed) does not move that mark, so the next run looks at the same texts again; what it kept
stays kept and is found as already kept. Logs and output carry counts and ids only.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from nocontact.channels.sms.deliver import sealed_text
from nocontact.channels.sms.forward import forward_once
from nocontact.channels.sms.gateway import InboundText, Malformed, json_object
from nocontact.channels.sms.media import fetch_media
from nocontact.channels.sms.models import SmsForward
from nocontact.channels.sms.receive import FORWARDED, message
from nocontact.channels.sms.twilio import message_key
from nocontact.config import TwilioConfig
from nocontact.coparent.holding import hold
from nocontact.coparent.window import batching
from nocontact.db import transaction
from nocontact.errors import ChannelError
from nocontact.intake import KEPT, Intake
from nocontact.matching.facts import facts_from_sms
from nocontact.models import ChannelStatus, VaultItem, utcnow
from nocontact.runtime import Runtime
from nocontact.vault import ledger

log = logging.getLogger(__name__)

API_FORMAT = "nocontact-sms-api/1"
STATUS_NAME = "twilio"  # the ChannelStatus row (channel "sms") the home page shows
OVERLAP = timedelta(hours=1)  # clock differences; the list filter is by whole days anyway
SETTLE = timedelta(seconds=60)  # newer texts are left to their webhook (the next run sees them)
PAGE_SIZE = 200  # Twilio's maximum is 1000
MAX_PAGES = 2000  # a loop guard, far beyond any household's texts
TIMEOUT = httpx.Timeout(15.0, connect=5.0)
_SID = re.compile(r"^[A-Za-z0-9]{2,64}$")  # it goes into a URL path


class CatchUpFailed(ChannelError):
    """Twilio's API could not be read; the message names the error type only."""


@dataclass
class Report:
    listed: int = 0  # messages Twilio listed in the window, both directions
    incoming: int = 0
    kept: int = 0  # newly sealed in the vault by this run
    already: int = 0  # kept before: by the webhook or an earlier run
    forwarded: int = 0
    skipped: int = 0  # sent by you, still arriving, too new, or before the window
    forward_failed: int = 0
    error: str | None = None

    def line(self) -> str:
        return (
            f"{self.listed} listed, {self.incoming} incoming, {self.kept} newly kept, "
            f"{self.already} already kept, {self.forwarded} forwarded, {self.skipped} skipped"
        )


@dataclass(frozen=True)
class Api:
    base: str
    sid: str
    token: str

    def list_url(self) -> str:
        return f"{self.base}/2010-04-01/Accounts/{self.sid}/Messages.json"

    def message_url(self, message_sid: str) -> str:
        return f"{self.base}/2010-04-01/Accounts/{self.sid}/Messages/{message_sid}.json"

    def absolute(self, uri: str) -> str:
        """Twilio's ``*_uri`` fields are paths relative to the API host; the credentials go
        only to that host."""
        if uri.startswith(("https://", "http://")):
            if not uri.startswith(self.base + "/"):
                raise CatchUpFailed("a page link points to another host", permanent=True)
            return uri
        return self.base + "/" + uri.lstrip("/")

    def get(self, client: httpx.Client, url: str, params: dict[str, str] | None = None) -> bytes:
        try:
            resp = client.get(url, params=params, auth=(self.sid, self.token))
        except httpx.HTTPError as e:
            raise CatchUpFailed(type(e).__name__) from e
        if resp.status_code != 200:
            raise CatchUpFailed(f"HTTP {resp.status_code}")
        return resp.content


def api_for(cfg: TwilioConfig) -> Api:
    token = cfg.secret("auth_token")
    if not cfg.account_sid or not token:
        raise CatchUpFailed("the catch-up needs account_sid and the auth token", permanent=True)
    return Api(cfg.api_url.rstrip("/"), cfg.account_sid, token)


def _object(data: bytes) -> dict[str, Any]:
    try:
        return json_object(data)
    except Malformed as e:
        raise CatchUpFailed(f"the answer: {e.reason}") from e


def pages(client: httpx.Client, api: Api, since: datetime, to: str | None) -> Iterator[list[Any]]:
    """Each page's messages, newest first as Twilio lists them. ``DateSent>`` is a date (GMT):
    messages sent on or after midnight that day."""
    params = {"DateSent>": since.date().isoformat(), "PageSize": str(PAGE_SIZE)}
    if to:
        params["To"] = to
    url: str | None = api.list_url()
    seen: set[str] = set()
    while url is not None and url not in seen and len(seen) < MAX_PAGES:
        seen.add(url)
        doc = _object(api.get(client, url, params if len(seen) == 1 else None))
        found = doc.get("messages")
        if not isinstance(found, list):
            raise CatchUpFailed("the answer has no message list")
        yield found
        nxt = doc.get("next_page_uri")
        url = api.absolute(nxt) if isinstance(nxt, str) and nxt else None


def sent_at(doc: dict[str, Any]) -> datetime | None:
    """``date_sent`` (RFC 2822, GMT); for an incoming text, when Twilio called the webhook."""
    value = doc.get("date_sent")
    if not isinstance(value, str) or not value:
        return None
    try:
        ts = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)  # "-0000": GMT, said as unknown zone


def text_of(doc: dict[str, Any], media: tuple[str, ...] = ()) -> InboundText | None:
    """The text a Message resource describes; None if it lacks a usable sid or sender."""
    sid, sender = doc.get("sid"), doc.get("from")
    if not isinstance(sid, str) or not _SID.match(sid) or not isinstance(sender, str):
        return None
    body, to = doc.get("body"), doc.get("to")
    text = body if isinstance(body, str) else ""
    claimed = doc.get("date_sent")
    return InboundText(
        provider="twilio",
        message_id=message_key(sid, text),
        sender=sender,
        to=to if isinstance(to, str) else "",
        text=text,
        claimed_at=claimed if isinstance(claimed, str) else None,
        media=media,
    )


def text_from_evidence(raw: bytes) -> InboundText | None:
    """The text a catch-up record (``evidence``) holds, for releasing it; None if ``raw`` is
    not one. Its first answer is the message itself (``Run._keep``)."""
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("format") != API_FORMAT:
            return None
        message = json.loads(doc["responses"][0]["body"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return text_of(message) if isinstance(message, dict) else None


def media_count(doc: dict[str, Any]) -> int:
    try:
        return int(doc.get("num_media") or 0)  # a string in Twilio's JSON
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class Fetched:
    """One API answer as it came: the evidence keeps its body exactly."""

    url: str
    body: bytes

    def record(self) -> dict[str, object]:
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CatchUpFailed("the answer is not UTF-8") from e
        return {"method": "GET", "url": self.url, "status": 200, "body": text}


def evidence(fetched: list[Fetched], fetched_at: datetime) -> bytes:
    """The API answers for one text, said to be read back, not a signed webhook. Each body is
    kept as a JSON string, so ``body.encode()`` gives back the bytes Twilio sent."""
    doc = {
        "format": API_FORMAT,
        "provider": "twilio",
        "source": "rest-api",  # read from Twilio's message log by the catch-up; not signed
        "fetched_at": ledger.iso(fetched_at),
        "responses": [f.record() for f in fetched],
    }
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _media(
    client: httpx.Client, api: Api, doc: dict[str, Any]
) -> tuple[Fetched | None, tuple[str, ...]]:
    """The message's media list and the media URLs in it (as the webhook's ``MediaUrl<n>``)."""
    subs = doc.get("subresource_uris")
    uri = subs.get("media") if isinstance(subs, dict) else None
    if media_count(doc) == 0 or not isinstance(uri, str):
        return None, ()
    url = api.absolute(uri)
    listed = Fetched(url, api.get(client, url))
    items = _object(listed.body).get("media_list")
    urls = [
        api.absolute(m["uri"]).removesuffix(".json")
        for m in (items if isinstance(items, list) else [])
        if isinstance(m, dict) and isinstance(m.get("uri"), str)
    ]
    return listed, tuple(urls)


class Run:
    """One catch-up pass: holds what every message's handling needs."""

    def __init__(self, rt: Runtime, intake: Intake, client: httpx.Client, api: Api) -> None:
        self.rt, self.intake, self.client, self.api = rt, intake, client, api
        self.report = Report()
        self.started = utcnow()

    def message(self, entry: object, since: datetime) -> None:
        self.report.listed += 1
        if not isinstance(entry, dict) or entry.get("direction") != "inbound":
            self.report.skipped += 1  # yours (outbound-*): nothing of it is kept or read
            return
        self.report.incoming += 1
        sent = sent_at(entry)
        if entry.get("status") == "receiving" or (
            sent is not None and not since <= sent <= self.started - SETTLE
        ):
            self.report.skipped += 1  # still arriving, outside the window, or just sent
            return
        text = text_of(entry)
        if text is None:
            self.report.skipped += 1
            return
        if self._forwarded(text.source_key):
            self.report.already += 1  # the webhook took it and passed it on
            return
        action = self.intake.decide(facts_from_sms(text.sender, text.text)).action
        item_id = None
        if action in KEPT:
            item_id = self._existing(text.source_key)
            if item_id is None:
                text, item_id, action = self._keep(entry)
            else:
                self.report.already += 1
        if action in FORWARDED and self.rt.config.sms.forward is not None:
            self._pass_on(text, action, item_id, sent)

    def _keep(self, entry: dict[str, Any]) -> tuple[InboundText, int | None, str]:
        """Fetch the message on its own (its exact JSON is the evidence) and keep it."""
        fetched_at = utcnow()
        url = self.api.message_url(str(entry["sid"]))
        one = Fetched(url, self.api.get(self.client, url))
        doc = _object(one.body)
        listed, urls = _media(self.client, self.api, doc)
        text = text_of(doc, urls)
        listed_text = text_of(entry)
        if text is None or listed_text is None or text.source_key != listed_text.source_key:
            raise CatchUpFailed("a message read back differs from its listing")
        text = replace(
            text, media_auth=(self.api.sid, self.api.token), media_origins=(self.api.base,)
        )
        facts = facts_from_sms(text.sender, text.text)
        decision = self.intake.decide(facts)
        sms = self.rt.config.sms
        media = None
        if decision.action in KEPT and text.media and sms.fetch_media:
            media = fetch_media(text, sms.max_media_bytes)
        raw = evidence([one] + ([listed] if listed else []), fetched_at)
        msg = message(text, raw, facts, fetched_at, media)
        # shown by the vault's viewer and the export (the raw record is not a webhook request)
        msg.meta.update(text=text.text, received_via="twilio-api")
        result = self.intake.process(msg, decision=decision)
        if result.duplicate:
            self.report.already += 1  # the webhook kept it while we were reading it
        elif result.item_id is not None:
            self.report.kept += 1
        return text, result.item_id, decision.action

    def _pass_on(
        self, text: InboundText, action: str, item_id: int | None, sent: datetime | None
    ) -> None:
        """Forward (or hold for the co-parent window) once, saying when it was sent."""
        words = text.text or "[no text]"
        late = replace(text, text=f"[sent {self._when(sent)}, passed on late] {words}")
        if action == "record" and batching(self.rt.config) and item_id is not None:
            hold(self.rt, item_id, channel="sms", now=utcnow(), payload=sealed_text(self.rt, late))
            return
        try:
            if forward_once(self.rt, late, item_id):
                self.report.forwarded += 1
        except ChannelError:
            self.report.forward_failed += 1  # the forwarder records its own status

    def _when(self, sent: datetime | None) -> str:
        if sent is None:
            return "at an unknown time"
        zone = self.rt.config.household.timezone
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            tz, zone = ZoneInfo("UTC"), "UTC"
        local = sent.astimezone(tz)
        return local.strftime("%d %b %Y, %H:%M ") + (local.tzname() or zone)

    def _existing(self, key: str) -> int | None:
        with Session(self.rt.engine) as s:
            q = select(VaultItem.id).where(
                VaultItem.household_id == self.rt.household_id, VaultItem.source_key == key
            )
            return s.exec(q).first()

    def _forwarded(self, key: str) -> bool:
        with Session(self.rt.engine) as s:
            q = select(SmsForward.state).where(
                SmsForward.household_id == self.rt.household_id, SmsForward.source_key == key
            )
            return s.exec(q).first() == "sent"


def _status(rt: Runtime) -> ChannelStatus | None:
    with Session(rt.engine) as s:
        q = select(ChannelStatus).where(
            ChannelStatus.household_id == rt.household_id,
            ChannelStatus.channel == "sms",
            ChannelStatus.name == STATUS_NAME,
        )
        return s.exec(q).first()


def window_start(rt: Runtime, cfg: TwilioConfig, now: datetime, days: int | None) -> datetime:
    if days is not None:
        return now - timedelta(days=days)
    row = _status(rt)
    if row is None or row.last_ok is None:
        return now - timedelta(days=cfg.catch_up_days)  # the first run: bounded
    last = row.last_ok if row.last_ok.tzinfo else row.last_ok.replace(tzinfo=now.tzinfo)
    return last - OVERLAP


def record_status(rt: Runtime, report: Report, started: datetime) -> None:
    """The API's health for the home page. ``last_ok`` is the start of the last run that
    finished everything (the next window starts there); a failed forward leaves it."""
    try:
        _record_status(rt, report, started)
    except IntegrityError:  # two first-ever runs raced to create the row
        _record_status(rt, report, started)


def _record_status(rt: Runtime, report: Report, started: datetime) -> None:
    with transaction(rt.engine) as s:
        q = select(ChannelStatus).where(
            ChannelStatus.household_id == rt.household_id,
            ChannelStatus.channel == "sms",
            ChannelStatus.name == STATUS_NAME,
        )
        row = s.exec(q).first() or ChannelStatus(
            household_id=rt.household_id, channel="sms", name=STATUS_NAME
        )
        row.last_checked = utcnow()
        row.ok = report.error is None
        if report.error is not None:
            row.failures += 1
            row.last_error = f"catch-up: {report.error}"
        else:
            row.failures, row.last_error = 0, None
            if report.forward_failed == 0:
                row.last_ok = started
        s.add(row)


def catch_up(rt: Runtime, intake: Intake, *, days: int | None = None) -> Report:
    """One pass; never raises for an API error (it is in ``Report.error`` and the status)."""
    cfg = rt.config.sms.twilio
    if cfg is None or not cfg.account_sid:
        raise CatchUpFailed("Twilio is not configured with an account_sid", permanent=True)
    api = api_for(cfg)
    with httpx.Client(timeout=TIMEOUT) as client:
        run = Run(rt, intake, client, api)
        since = window_start(rt, cfg, run.started, days)
        targets: list[str | None] = [*cfg.numbers] or [None]  # None: all, both directions
        try:
            for to in targets:
                for page in pages(client, api, since, to):
                    for entry in page:
                        run.message(entry, since)
        except CatchUpFailed as e:
            run.report.error = str(e)
    record_status(rt, run.report, run.started)
    report = run.report
    if report.error:
        log.warning("twilio catch-up failed (%s); the next run tries again", report.error)
    else:
        log.info("twilio catch-up: %s", report.line())
    return report


def catch_up_job(rt: Runtime) -> None:
    try:
        catch_up(rt, Intake(rt))
    except Exception as e:  # noqa: BLE001  (loop boundary: the scheduler keeps running)
        log.error("twilio catch-up stopped (%s); the next run tries again", type(e).__name__)
        record_status(rt, Report(error=type(e).__name__), utcnow())
