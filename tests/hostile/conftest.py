"""Every consumer against every item of the hostile corpus, gathered once per database engine.

The ``hostile`` fixture (module scope, one per engine) does all the work and returns what it
saw; the tests only read it, one test id per corpus item. In order:

1. a home on the engine (a copy of the session's template), Jordan Reed listed, a reviewer;
   the real app on uvicorn (pages and SMS webhooks), the SMTP front in front of Dovecot's
   LMTP, a canary HTTP server on loopback (``CANARY`` in the corpus), an SMTP sink for notices;
2. every email through the SMTP front (a plain socket client: the exact bytes, dot-stuffed by
   hand; relayed mail goes to bob), then every email appended to alice's INBOX on the real
   Dovecot, read back with ``BODY.PEEK[]``, and one real ``nocontact poll`` for all of them;
3. every text signed as its gateway signs and posted to its webhook;
4. every kept item opened with the owner's key; then in one Chromium: the owner's vault list
   and each item page (body frame, every attachment), the reviewer's list, item pages and
   same-sender pages; a note marked urgent, "ask my trusted person", the reviewer digest;
5. ``nocontact orders add/report``, ``nocontact export`` (PDF, HTML, every CSV) and
   ``nocontact verify``; if the export fails, each kept item is exported alone (in process)
   to name the items that break it.

Nothing in a phase stops the next: each failure is written down with its consumer and a short
traceback (``Results.problems`` for the whole run, ``Results.item_problems`` per vault item).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import traceback
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import imapclient
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, BrowserContext, Page
from sqlmodel import Session, col, select

from nocontact.db import transaction
from nocontact.intake import Intake
from nocontact.models import VaultItem
from nocontact.orders.timeline import add_order
from nocontact.people.service import add_person
from nocontact.runtime import Runtime
from nocontact.users import add_user, find_user, unlock
from nocontact.vault.store import open_item
from nocontact.web.app import create_app
from nocontact.web.models import NotifyPrefs
from nocontact.web.notify import digest_job
from tests.channels.imap.conftest import account_toml
from tests.channels.sms.conftest import (
    GENERIC_KEY,
    HTTPSMS_KEY,
    SMSGATE_KEY,
    TWILIO_SID,
    TWILIO_TOKEN,
    telnyx_public_b64,
)
from tests.channels.smtp.conftest import running_front
from tests.conftest import PASSPHRASE
from tests.hostile import corpus
from tests.hostile.corpus import ABUSER_EMAIL, ABUSER_NAME, ABUSER_PHONE, Item
from tests.servers import postgres
from tests.servers.dovecot import PASSWORD, Dovecot
from tests.servers.ports import free_port

REVIEWER = "robin"
REVIEWER_PASSPHRASE = "a long reviewer passphrase"
ENVELOPE_SENDER = "relay@relay.example"  # neutral: the headers decide, as for IMAP
ITEMS = corpus.load()
BATCH_SAMPLE = 3  # texts of one batch request opened in the browser (see browsed_ids)


# --- what the run saw -----------------------------------------------------------------------


@dataclass
class Delivery:
    """One corpus item offered to one channel."""

    item: Item
    channel: str  # smtp | imap | sms
    delivered: bytes | None = None  # what must be kept byte for byte (None: never got in)
    status: int | None = None  # SMTP reply code or HTTP status
    reply: str = ""
    new_ids: list[int] = field(default_factory=list)  # vault items this delivery created
    left_inbox: bool | None = None  # imap: gone from the INBOX after the poll
    log: list[str] = field(default_factory=list)  # the service's warnings while it was handled
    problems: list[str] = field(default_factory=list)  # the delivery itself went wrong

    def __repr__(self) -> str:
        return f"<Delivery {self.item.file} via {self.channel}: {self.status}>"


@dataclass
class Results:
    engine: str
    deliveries: list[Delivery] = field(default_factory=list)
    # vault item id -> SHA-256 of its original as opened with the owner's key (equal hashes
    # stand for equal bytes; holding every original would take hundreds of MB)
    originals: dict[int, str] = field(default_factory=dict)
    sms_bodies: dict[int, str] = field(default_factory=dict)  # id -> SHA-256 of its "body"
    sha: dict[str, int] = field(default_factory=dict)  # sha256 -> vault item id
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    item_problems: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    canary_hits: list[str] = field(default_factory=list)
    notices: list[bytes] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    visits: list[tuple[float, str]] = field(default_factory=list)  # (seconds, what) per page
    poll: dict[str, Any] = field(default_factory=dict)
    canary: str = ""  # the canary's host:port

    def __repr__(self) -> str:  # (pytest shows fixture values)
        return f"<Results {self.engine}: {len(self.deliveries)} deliveries>"

    def of(self, item: Item) -> list[Delivery]:
        return [d for d in self.deliveries if d.item.file == item.file]

    def kept_ids(self) -> list[int]:
        return sorted(self.originals)

    def file_of(self, item_id: int) -> str:
        for d in self.deliveries:
            if item_id in d.new_ids or (d.delivered and self.sha.get(_sha(d.delivered)) == item_id):
                return f"{d.item.file}({d.channel})"
        return "?"

    def browsed_ids(self) -> list[int]:
        """The kept items the browser opens: all, except that of the texts one batch request
        made (each keeps the whole request: the same bytes) only the first two and the last
        are opened; the rest go through every other consumer."""
        skip: set[int] = set()
        for d in self.deliveries:
            if len(d.new_ids) > BATCH_SAMPLE:
                skip |= set(d.new_ids[BATCH_SAMPLE - 1 : -1])
        return [i for i in self.kept_ids() if i not in skip]


def _sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def summary(e: BaseException) -> str:
    """The exception and where it was raised, in the service first: enough to find the bug."""
    frames = traceback.extract_tb(e.__traceback__)
    ours = [f for f in frames if "/nocontact/" in f.filename] or frames
    where = " <- ".join(
        f"{f.filename.split('/nocontact/')[-1]}:{f.lineno} {f.name}" for f in reversed(ours[-4:])
    )
    text = str(e).splitlines()[0][:300] if str(e) else ""
    return f"{type(e).__name__}: {text} [at {where}]"


def tail(text: str, n: int = 25) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-n:])


# --- servers ------------------------------------------------------------------------------


class Canary:
    """Counts every connection and every request on a loopback port."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                canary.hits.append(f"{self.command} {self.path}")
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_HEAD = do_PUT = do_OPTIONS = do_DELETE = _any

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request: Any, client_address: Any) -> bool:
                canary.hits.append(f"connection from {client_address[0]}")
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.hostport = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class LogTap(logging.Handler):
    """The service's warnings and errors (they name the exception type and place, never
    content), so a failure report can say what the service itself said."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}"[:500])

    def __enter__(self) -> LogTap:
        logging.getLogger("nocontact").addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("nocontact").removeHandler(self)


TAP = LogTap()


class Sink:
    """Where content-free notices go (aiosmtpd on loopback)."""

    def __init__(self) -> None:
        self.mails: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(bytes(envelope.original_content))
        return "250 OK"


def config_text(web_port: int, smtp_port: int, notify_port: int, dovecot: Dovecot, db: str) -> str:
    database = f'[database]\nurl = "{db}"\n\n' if db else ""
    return f"""[household]
default_region = "GB"

[web]
listen = "127.0.0.1:{web_port}"
quick_exit_url = "about:blank#left"

{database}[smtp]
listen = "127.0.0.1:{smtp_port}"
deliver_to = "lmtp://127.0.0.1:{dovecot.lmtp_port}"
timeout_seconds = 10

[sms]

[sms.twilio]
auth_token = "{TWILIO_TOKEN}"
account_sid = "{TWILIO_SID}"

[sms.telnyx]
public_key = "{telnyx_public_b64()}"

[sms.android_gateway]
signing_key = "{SMSGATE_KEY}"

[sms.httpsms]
signing_key = "{HTTPSMS_KEY}"

[sms.generic]
signing_key = "{GENERIC_KEY}"

[notify]
smtp_url = "smtp://127.0.0.1:{notify_port}"

""" + account_toml(dovecot)


@contextlib.contextmanager
def serving(rt: Runtime, port: int) -> Iterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(rt, Intake(rt)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def nc(rt: Runtime, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOCONTACT_PASSPHRASE": PASSPHRASE}
    return subprocess.run(
        [sys.executable, "-m", "nocontact", "--home", str(rt.home), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def max_id(rt: Runtime) -> int:
    with Session(rt.engine) as s:
        ids = s.exec(select(VaultItem.id).order_by(col(VaultItem.id).desc())).first()
    return ids or 0


def ids_after(rt: Runtime, after: int) -> list[int]:
    with Session(rt.engine) as s:
        return [
            int(i)
            for i in s.exec(
                select(VaultItem.id).where(col(VaultItem.id) > after).order_by(col(VaultItem.id))
            ).all()
            if i is not None
        ]


# --- the phases -----------------------------------------------------------------------------


def phase(res: Results, name: str) -> Callable[[Callable[[], None]], None]:
    """Run one phase, timing it; a failure is written down and the run goes on."""

    def run(fn: Callable[[], None]) -> None:
        start = time.monotonic()
        try:
            fn()
        except Exception as e:
            res.problems[name].append(summary(e))
        res.timings[name] = round(time.monotonic() - start, 2)

    return run


def through_smtp(res: Results, rt: Runtime, port: int, canary: Canary) -> None:
    for item in ITEMS:
        if item.kind != "email":
            continue
        d = Delivery(item, "smtp")
        res.deliveries.append(d)
        before, logged = max_id(rt), len(TAP.lines)
        try:
            sent = corpus.smtp_send(
                port, ENVELOPE_SENDER, "bob@example.org", item.body(canary.hostport)
            )
        except Exception as e:
            d.problems.append(f"smtp client: {summary(e)}")
            continue
        d.status, d.reply, d.delivered = sent.code, sent.text, sent.stored
        d.new_ids = ids_after(rt, before)
        d.log = TAP.lines[logged:]


def through_imap(res: Results, rt: Runtime, dovecot: Dovecot, canary: Canary) -> None:
    emails = [i for i in ITEMS if i.kind == "email"]
    c = imapclient.IMAPClient("127.0.0.1", port=dovecot.imap_port, ssl=False, timeout=30)
    c.login("alice", PASSWORD)
    by_uid: dict[int, Delivery] = {}
    for item in emails:
        d = Delivery(item, "imap")
        res.deliveries.append(d)
        try:
            answer = c.append("INBOX", item.body(canary.hostport))
        except Exception as e:
            d.problems.append(f"IMAP APPEND refused by Dovecot (corpus item?): {summary(e)}")
            continue
        found = re.search(rb"APPENDUID \d+ (\d+)", answer or b"")
        if found:
            by_uid[int(found.group(1))] = d
    selected = c.select_folder("INBOX", readonly=True)
    uidvalidity = int(selected[b"UIDVALIDITY"])
    fetched = c.fetch(list(by_uid), ["BODY.PEEK[]"]) if by_uid else {}
    for uid, d in by_uid.items():
        d.delivered = bytes(fetched[uid][b"BODY[]"]) if uid in fetched else None
    c.logout()

    before = max_id(rt)
    started = time.monotonic()
    run = nc(rt, "poll", "--json")
    res.timings["poll command"] = round(time.monotonic() - started, 2)
    res.poll = {"returncode": run.returncode, "stdout": run.stdout, "stderr": tail(run.stderr)}
    if run.returncode != 0:
        res.problems["nocontact poll"].append(f"exit {run.returncode}:\n{tail(run.stderr)}")
    else:
        try:
            report = json.loads(run.stdout)
            for account in report["accounts"]:
                if account["errors"]:
                    res.problems["nocontact poll"].append(f"errors: {account['errors']}")
                if account["scanned"] != len(by_uid):
                    res.problems["nocontact poll"].append(
                        f"scanned {account['scanned']} of {len(by_uid)} messages: {account}"
                    )
        except (ValueError, KeyError) as e:
            res.problems["nocontact poll"].append(f"unreadable output {run.stdout!r}: {e}")

    c = imapclient.IMAPClient("127.0.0.1", port=dovecot.imap_port, ssl=False, timeout=30)
    c.login("alice", PASSWORD)
    c.select_folder("INBOX", readonly=True)
    left = set(c.search(["ALL"]))
    c.logout()
    new = ids_after(rt, before)
    with Session(rt.engine) as s:
        rows = s.exec(select(VaultItem).where(col(VaultItem.id).in_(new))).all() if new else []
        keys = {r.source_key: int(r.id or 0) for r in rows}
    for uid, d in by_uid.items():
        d.left_inbox = uid not in left
        key = f"imap:personal:INBOX:{uidvalidity}:{uid}"
        if key in keys:
            d.new_ids = [keys[key]]


def through_sms(res: Results, rt: Runtime, base: str, canary: Canary) -> None:
    with httpx.Client(timeout=60) as client:
        for item in ITEMS:
            if item.kind != "sms":
                continue
            d = Delivery(item, "sms")
            res.deliveries.append(d)
            body = item.body(canary.hostport)
            d.delivered = body
            before, logged = max_id(rt), len(TAP.lines)
            try:
                path, headers = corpus.sign(item, body, base)
                r = client.post(base + path, content=body, headers=headers)
            except Exception as e:
                d.problems.append(f"webhook request: {summary(e)}")
                continue
            d.status, d.reply = r.status_code, r.text[:200]
            d.new_ids = ids_after(rt, before)
            d.log = TAP.lines[logged:]


def open_originals(res: Results, rt: Runtime) -> None:
    with Session(rt.engine) as s:
        owner = find_user(s, rt.household_id, "owner")
        assert owner is not None
        identity = unlock(s, owner, PASSPHRASE)
        for it in s.exec(select(VaultItem).order_by(col(VaultItem.id))).all():
            item_id = int(it.id or 0)
            res.sha[it.sha256] = item_id
            try:
                raw, _meta = open_item(s, rt.blobs, it, owner.recipient_id, identity)
            except Exception as e:
                res.item_problems[item_id].append(f"opening with the owner's key: {summary(e)}")
                continue
            res.originals[item_id] = _sha(raw)
            if _sha(raw) != it.sha256:
                res.item_problems[item_id].append("original does not match its SHA-256")
            if it.channel == "sms":
                try:
                    res.sms_bodies[item_id] = _sha(json.loads(raw)["body"].encode())
                except (ValueError, KeyError, TypeError, AttributeError) as e:
                    res.item_problems[item_id].append(f"evidence is not a request record: {e!r}")


# --- the pages, in Chromium ----------------------------------------------------------------


class Watch:
    """Every response of a browser context that is a server error, and the status of each
    body frame the browser loaded."""

    def __init__(self, ctx: BrowserContext) -> None:
        self.bad: list[str] = []
        self.frames: dict[str, int] = {}
        ctx.on("response", self._response)

    def _response(self, r: Any) -> None:
        if r.status >= 500:
            self.bad.append(f"{r.status} {r.url}")
        if r.url.endswith("/body"):
            self.frames[r.url] = r.status

    def since(self, n: int) -> list[str]:
        return self.bad[n:]


def login(page: Page, base: str, name: str, passphrase: str) -> None:
    page.goto(base + "/login")
    page.fill("#name", name)
    page.fill("#passphrase", passphrase)
    page.click("button[type=submit]:has-text('Log in')")
    page.wait_for_load_state()
    if page.url.endswith("/login"):
        raise AssertionError(f"{name} could not log in")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    if not found:
        raise AssertionError("no CSRF field on the page")
    return found.group(1)


def visit_item(
    res: Results,
    page: Page,
    watch: Watch,
    base: str,
    item_id: int,
    item_path: str,
    who: str,
    extra: list[str] = (),  # type: ignore[assignment]
    *,
    frame_loads: bool = True,
    attachments: int | None = None,
) -> None:
    """One item page in Chromium, which loads the body frame (its route, seen by ``watch``),
    then every attachment and any extra routes; anything >= 500 or any exception is this
    item's."""
    problems = res.item_problems[item_id]
    n, before, logged = len(watch.bad), len(problems), len(TAP.lines)
    started = time.monotonic()
    frame = f"{base}/items/{item_id}/body"
    watch.frames.pop(frame, None)
    hrefs: list[str] = []
    try:
        r = page.goto(base + item_path)
        res.visits.append((round(time.monotonic() - started, 3), f"goto {who}"))
        if r is None or r.status >= 400:
            problems.append(f"{who} item page {item_path}: {r.status if r else 'no response'}")
        elif not frame_loads:
            pass
        elif watch.frames.get(frame) is None:
            problems.append(f"{who} item page {item_path}: the body frame was not loaded")
        elif watch.frames[frame] >= 400:
            problems.append(f"{who} body frame: {watch.frames[frame]}")
        hrefs = page.eval_on_selector_all(
            "a[href*='/files/']", "links => links.map(a => a.getAttribute('href'))"
        )
        for path in [*hrefs[:attachments], *extra]:
            got = page.request.get(base + path)
            got.body()
            if got.status >= 500:
                problems.append(f"{who} {path}: {got.status}")
    except Exception as e:
        problems.append(f"{who} item page {item_path}: {summary(e)}")
    problems.extend(f"{who} (browser saw) {b}" for b in watch.since(n))
    if len(problems) > before:
        problems.extend(f"{who} (service log) {line}" for line in TAP.lines[logged:])
    took = round(time.monotonic() - started, 2)
    res.visits.append((took, f"{who} {item_path} {res.file_of(item_id)} {len(hrefs)} files"))


def control(browser: Browser, canary: Canary) -> None:
    """The canary counts: a page fetched from it on purpose is seen (then forgotten)."""
    ctx = browser.new_context()
    try:
        ctx.new_page().goto(f"http://{canary.hostport}/control")
    finally:
        ctx.close()
    time.sleep(0.3)  # (the server thread writes the hit down)
    if "GET /control" not in canary.hits:
        raise AssertionError(f"the canary did not count a request: {canary.hits}")
    canary.hits.clear()


def owner_pages(res: Results, browser: Browser, base: str) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = ctx.new_page()
        page.set_default_timeout(20_000)
        watch = Watch(ctx)
        login(page, base, "owner", PASSPHRASE)
        page.goto(base + "/vault")
        page.get_by_role("button", name="Continue to open the vault").click()
        page.fill("#passphrase", PASSPHRASE)
        page.get_by_role("button", name="Unlock").click()
        page.wait_for_url("**/vault/items")
        for item_id in res.browsed_ids():
            visit_item(res, page, watch, base, item_id, f"/vault/items/{item_id}", "owner")
        n = len(watch.bad)
        for path in ("/vault/items", "/", "/activity", "/notes", "/people", "/orders", "/export"):
            r = page.goto(base + path)
            if r is None or r.status >= 500:
                res.problems["owner pages"].append(f"{path}: {r.status if r else 'no response'}")
        page.goto(base + "/vault")
        asked = page.request.post(base + "/vault/ask", form={"csrf": csrf_of(page.content())})
        if asked.status >= 400:
            res.problems["notices"].append(f"POST /vault/ask: {asked.status}")
        res.problems["owner pages"].extend(watch.since(n))
    finally:
        ctx.close()


def reviewer_pages(
    res: Results, browser: Browser, base: str, rt: Runtime, *, every: bool = True
) -> None:
    """``every``: open every item; else only those held for review and the first ten (the
    item page is the owner's renderer over the same rows; on the second engine this keeps
    ``make test`` within its time)."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = ctx.new_page()
        page.set_default_timeout(20_000)
        watch = Watch(ctx)
        login(page, base, REVIEWER, REVIEWER_PASSPHRASE)
        page.goto(base + "/review/unlock")
        page.fill("#passphrase", REVIEWER_PASSPHRASE)
        page.get_by_role("button", name="Unlock").click()
        page.wait_for_url("**/review")
        with Session(rt.engine) as s:
            actions = {
                int(i.id or 0): i.action
                for i in s.exec(select(VaultItem).where(col(VaultItem.id).in_(res.kept_ids())))
            }
        # The body frame and the files are the owner's routes too (any user, their own key):
        # the owner's pass loads every one; here the frame is not fetched and only the first
        # file, which halves the time this pass takes.
        page.route("**/items/*/body", lambda route: route.abort())
        browsed = res.browsed_ids()
        for item_id in browsed:
            held = actions.get(item_id) == "review"
            if not (every or held or item_id in browsed[:10]):
                continue
            visit_item(
                res,
                page,
                watch,
                base,
                item_id,
                f"/review/items/{item_id}",
                "reviewer",
                [f"/review/senders/{item_id}"] if held else [],
                frame_loads=False,
                attachments=1,
            )
        n = len(watch.bad)
        r = page.goto(base + "/review")
        if r is None or r.status >= 500:
            res.problems["reviewer pages"].append(f"/review: {r.status if r else 'no response'}")
        listing = page.content()
        for href in sorted(set(re.findall(r'href="(/review/senders/\d+)"', listing))):
            got = page.request.get(base + href)
            if got.status >= 500:
                res.problems["reviewer pages"].append(f"{href}: {got.status}")
        # a note marked urgent on a message held for review (or any): the owner's notice
        target = next((i for i, a in actions.items() if a == "review"), None)
        target = target or next(iter(actions), None)
        if target is not None:
            page.goto(f"{base}/review/items/{target}")
            noted = page.request.post(
                f"{base}/review/items/{target}/note",
                form={"csrf": csrf_of(page.content()), "tags": "urgent", "summary": "noted"},
            )
            if noted.status >= 400:
                res.item_problems[target].append(f"reviewer note: {noted.status}")
        res.problems["reviewer pages"].extend(watch.since(n))
    finally:
        ctx.close()


# --- orders, export, verify ----------------------------------------------------------------


class _Html(HTMLParser):
    pass


def check_bundle(res: Results, path: Path) -> dict[int, str]:
    """Every part of the evidence file reads back: the PDF, the HTML, every CSV; returns the
    SHA-256 of each original it discloses, by item id."""
    from pypdf import PdfReader

    problems = res.problems["export contents"]
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        for needed in ("report.pdf", "report.html", "incidents.csv", "violations.csv"):
            if needed not in names:
                problems.append(f"{needed} missing from the bundle")
        if "report.pdf" in names:
            try:
                pdf = PdfReader(io.BytesIO(z.read("report.pdf")))
                if len(pdf.pages) < 1:
                    problems.append("report.pdf has no pages")
                pdf.pages[0].extract_text()
            except Exception as e:
                problems.append(f"report.pdf unreadable: {summary(e)}")
        if "report.html" in names:
            try:
                _Html().feed(z.read("report.html").decode("utf-8"))
            except Exception as e:
                problems.append(f"report.html unreadable: {summary(e)}")
        for name in sorted(n for n in names if n.endswith(".csv")):
            try:
                rows = list(csv.reader(io.StringIO(z.read(name).decode("utf-8"), newline="")))
                if not rows:
                    problems.append(f"{name} is empty")
            except Exception as e:
                problems.append(f"{name} unreadable: {summary(e)}")
        manifest = json.loads(z.read("manifest.json"))
        return {int(it["id"]): _sha(z.read(it["file"])) for it in manifest["items"]}


def orders_and_export(res: Results, rt: Runtime, root: Path) -> None:
    with transaction(rt.engine) as s:
        add_order(
            s, rt.household_id, court="Family Court", case_number="FC-H1", issued=date(2020, 1, 1)
        )
    report = nc(rt, "orders", "report", "--json", "--csv", str(root / "violations.csv"))
    if report.returncode != 0:
        res.problems["nocontact orders report"].append(tail(report.stderr))
    else:
        try:
            summary_ = json.loads(report.stdout)
            with (root / "violations.csv").open(newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            if not rows or not isinstance(summary_, dict):
                res.problems["nocontact orders report"].append(
                    f"{len(rows)} rows in violations.csv, summary {report.stdout[:200]!r}"
                )
        except Exception as e:
            res.problems["nocontact orders report"].append(f"output unreadable: {summary(e)}")

    out = root / "evidence.zip"
    started = time.monotonic()
    exported = nc(rt, "export", "--out", str(out))
    res.timings["export command"] = round(time.monotonic() - started, 2)
    if exported.returncode != 0:
        res.problems["nocontact export"].append(
            f"exit {exported.returncode}:\n{tail(exported.stderr)}"
        )
        attribute_export(res, rt, root)
    else:
        verified = nc(rt, "verify", str(out))
        if verified.returncode != 0:
            res.problems["nocontact verify"].append(f"{verified.stdout}{tail(verified.stderr)}")
        disclosed = check_bundle(res, out)
        for item_id, sha in res.originals.items():
            if disclosed.get(item_id) != sha:
                res.item_problems[item_id].append("export: not in the bundle byte for byte")
    try:  # the co-parent log (its own CSV), in process: nobody here is a co-parent
        from nocontact.export.bundle import export_bundle
        from nocontact.export.scope import ExportFilters
        from nocontact.export.verify import verify

        with Session(rt.engine) as s:
            owner = find_user(s, rt.household_id, "owner")
            assert owner is not None
            identity = unlock(s, owner, PASSPHRASE)
        out = root / "coparent.zip"
        export_bundle(
            rt, out, owner.recipient_id, identity, ExportFilters(action="record"), "owner"
        )
        verify(out)
    except Exception as e:
        res.problems["export --coparent-log"].append(summary(e))


def attribute_export(res: Results, rt: Runtime, root: Path) -> None:
    """The whole export failed: export each kept item alone (in process, the same code) to
    name the items that break it, then verify each file that was written."""
    from unittest import mock

    from nocontact.export import bundle
    from nocontact.export.scope import ExportFilters
    from nocontact.export.verify import verify

    with Session(rt.engine) as s:
        owner = find_user(s, rt.household_id, "owner")
        assert owner is not None
        identity = unlock(s, owner, PASSPHRASE)
    alone = root / "alone"
    alone.mkdir(exist_ok=True)
    for item_id in res.kept_ids():
        out = alone / f"{item_id}.zip"
        try:
            with mock.patch.object(bundle, "item_ids", lambda *_a, i=item_id: [i]):
                bundle.export_bundle(
                    rt, out, owner.recipient_id, identity, ExportFilters(), "owner"
                )
            verify(out)
        except Exception as e:
            res.item_problems[item_id].append(f"export (this item alone): {summary(e)}")


# --- the fixtures ---------------------------------------------------------------------------


@contextlib.contextmanager
def home_on(
    engine: str,
    root: Path,
    template: tuple[Path, str | None],
    template_pg: tuple[Path, str] | None,
    config: Callable[[str], str],
) -> Iterator[Runtime]:
    """A copy of the session's template home on the engine, with ``config(database_url)``."""
    with contextlib.ExitStack() as stack:
        if engine == "sqlite":
            src, url = template[0], ""
        else:
            if template_pg is None:
                if os.environ.get("CI"):
                    pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432")
                pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
            src = template_pg[0]
            url = stack.enter_context(postgres.temporary_database(template_pg[1]))
        home = root / "home"
        shutil.copytree(src, home)
        (home / "nocontact.toml").write_text(config(url))
        rt = Runtime.open(home, home / "nocontact.toml")
        try:
            yield rt
        finally:
            rt.engine.dispose()


def run_corpus(
    engine: str,
    root: Path,
    template: tuple[Path, str | None],
    template_pg: tuple[Path, str] | None,
    dovecot: Dovecot,
    browser: Browser,
) -> Results:
    res = Results(engine)
    started = time.monotonic()
    TAP.lines.clear()
    canary, sink = Canary(), Sink()
    res.canary = canary.hostport
    notify_port, web_port, smtp_port = free_port(), free_port(), free_port()
    notices = Controller(sink, hostname="127.0.0.1", port=notify_port)
    notices.start()
    try:
        with home_on(
            engine,
            root,
            template,
            template_pg,
            lambda url: config_text(web_port, smtp_port, notify_port, dovecot, url),
        ) as rt:
            with transaction(rt.engine) as s:
                add_person(
                    s,
                    rt.household_id,
                    ABUSER_NAME,
                    "abuser",
                    emails=[ABUSER_EMAIL],
                    phones=[ABUSER_PHONE],
                    aliases=[ABUSER_NAME],
                )
                robin = add_user(s, rt.household_id, REVIEWER, "reviewer", REVIEWER_PASSPHRASE)
                owner = find_user(s, rt.household_id, "owner")
                assert owner is not None and robin.id is not None and owner.id is not None
                s.add(NotifyPrefs(user_id=robin.id, email="robin@example.org", digest="hourly"))
                s.add(NotifyPrefs(user_id=owner.id, email="me@example.org", urgent=True))
            dovecot.reset_mail()
            res.timings["setup"] = round(time.monotonic() - started, 2)
            with serving(rt, web_port) as base, running_front(rt) as front_port:
                phase(res, "SMTP front")(lambda: through_smtp(res, rt, front_port, canary))
                phase(res, "IMAP poll")(lambda: through_imap(res, rt, dovecot, canary))
                phase(res, "SMS webhooks")(lambda: through_sms(res, rt, base, canary))
                phase(res, "open originals")(lambda: open_originals(res, rt))
                res.canary_hits += [f"during intake: {h}" for h in canary.hits]
                canary.hits.clear()
                phase(res, "canary")(lambda: control(browser, canary))
                phase(res, "owner pages")(lambda: owner_pages(res, browser, base))
                phase(res, "reviewer pages")(
                    lambda: reviewer_pages(res, browser, base, rt, every=engine == "sqlite")
                )
                time.sleep(0.5)  # anything the browser was still fetching
                res.canary_hits += [f"while browsing: {h}" for h in canary.hits]

                def digest() -> None:
                    digest_job(rt)

                phase(res, "notices")(digest)
            phase(res, "orders, export, verify")(lambda: orders_and_export(res, rt, root))
    finally:
        notices.stop()
        canary.stop()
    res.notices = list(sink.mails)
    res.timings["total"] = round(time.monotonic() - started, 2)
    return res


@pytest.fixture(scope="module")
def hostile(
    engine: str,
    tmp_path_factory: pytest.TempPathFactory,
    _template_home: tuple[Path, str | None],
    _template_pg: tuple[Path, str] | None,
    dovecot: Dovecot,
    browser: Browser,
) -> Results:
    root = tmp_path_factory.mktemp(f"hostile-{engine}")
    with TAP:
        res = run_corpus(engine, root, _template_home, _template_pg, dovecot, browser)
    (root / "timings.json").write_text(json.dumps(res.timings, indent=1))
    print(f"\nhostile corpus on {engine}: {json.dumps(res.timings)}")
    for who in ("owner", "reviewer"):
        gotos = [t for t, what in res.visits if what == f"goto {who}"]
        print(f"{who}: {len(gotos)} item pages, {sum(gotos) / max(len(gotos), 1):.3f}s each")
    print(
        f"{len(res.originals)} kept, {len(res.browsed_ids())} opened in the browser;",
        "slowest pages:",
        sorted(v for v in res.visits if not v[1].startswith("goto"))[-8:],
    )
    return res


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``engine`` per module (both engines), then ``case``: the corpus items of the kind and
    expectation the test's name says (``test_email_kept`` -> email items expected kept)."""
    if "engine" in metafunc.fixturenames:
        metafunc.parametrize("engine", ["sqlite", "postgresql"], scope="module")
    if "case" in metafunc.fixturenames:
        found = re.fullmatch(
            r"test_(email|sms)_(kept|refused|not_kept)", metafunc.function.__name__
        )
        assert found, metafunc.function.__name__
        kind, expect = found.groups()
        cases = [i for i in ITEMS if i.kind == kind and i.expect == expect]
        metafunc.parametrize("case", cases, ids=[i.file for i in cases])
