"""``POST /webhooks/sms/<provider>``: read the raw body, verify, parse, hand to the intake.

Only configured providers answer; every other request (other paths, methods, unknown
providers) goes to the pages, which answer 404/405 like any unknown path. The reply never
depends on the decision: held and allowed texts get the same empty answer (Twilio an empty
``<Response/>``, the others an empty 200), so the provider, and anyone watching it, learns
nothing.

This is plain ASGI in front of the FastAPI app (``web.app.Front``), not a route or a middleware
inside it: a webhook needs no sessions, CSRF, dependency injection or page routing, and every
layer of FastAPI's stack costs each webhook a pass on the way in and on each ``send`` (issue 4).
So the answers carry the pages' security headers themselves (built once, by
``web.security.secure_headers``), the body limit is enforced here while reading, and an
exception becomes a 500 here, logged with its type and place only, never its text.

In the event loop: reading, verifying, parsing (every text of the request: a gateway may send
several in one, capcom6's batch events), deciding each (a lookup in memory plus one small
read), and handing each text to keep to the group commit, which seals and commits it in a writer
thread (``group``) or, under ``nocontact run``, in a child process (``commit_process``). A text
that needs blocking network IO (MMS media, forwarding) goes through ``receive`` in the thread
pool instead. Either way the 2xx goes out only after the commit of every text of the request;
one failed commit is a 503, and the provider retries the whole request (each text deduplicated
on its message id).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from nocontact.channels.sms.gateway import (
    Gateway,
    InboundText,
    Malformed,
    Refused,
    WebhookRequest,
    batch_evidence,
    evidence,
    now,
)
from nocontact.channels.sms.gateways import configured
from nocontact.channels.sms.group import CommitFailed, Committer, GroupCommit
from nocontact.channels.sms.receive import message, needs_io
from nocontact.channels.sms.receive import receive as receive_text  # ASGI has a `receive`
from nocontact.channels.status import OnChange
from nocontact.errors import ConfigError
from nocontact.intake import KEPT, Intake
from nocontact.logging import origin
from nocontact.matching import Decision
from nocontact.matching.facts import Facts, facts_from_sms
from nocontact.models import utcnow
from nocontact.runtime import Runtime
from nocontact.web.security import secure_headers

log = logging.getLogger(__name__)
PREFIX = "/webhooks/sms/"
TEXTS = "texts"  # the ChannelStatus name for storing texts (``forward``: forwarding them)


@dataclass(frozen=True)
class Answer:
    """A whole response, headers included, built once: webhooks answer from a handful."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""

    @classmethod
    def of(cls, status: int, body: bytes = b"", media_type: str | None = None) -> Answer:
        headers = [(b"content-length", str(len(body)).encode())]
        if media_type is not None:
            headers.append((b"content-type", f"{media_type}; charset=utf-8".encode()))
        return cls(status, secure_headers(headers), body)

    async def send(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


MALFORMED = Answer.of(400)
REFUSED = Answer.of(403)
TOO_LARGE = Answer.of(413)
FAILED = Answer.of(500)
RETRY = Answer.of(503)


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    """The client disconnected before the body arrived: nothing to answer."""


def gateways_for(rt: Runtime) -> dict[str, Gateway]:
    """The configured gateways; a bad ``[sms.*]`` section is a ConfigError naming the file."""
    try:
        return configured(rt.config)
    except ConfigError as e:  # name the real file: the gateway modules see only the values
        file = str(rt.config_path) if e.file == "config" else e.file
        raise ConfigError(file, e.key, e.problem) from e


async def _body(scope: Scope, receive: Receive, limit: int) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            raise _Gone
        chunk = event.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not event.get("more_body", False):
            return b"".join(chunks)


async def _settled(jobs: list[Coroutine[Any, Any, bool]]) -> list[bool | BaseException]:
    """Each text's outcome, or its exception, once all of them are done: the texts of a batch
    are handed to the group commit together (they share its next commit), and the answer waits
    for the last. A lone text is awaited as it is (no task to make)."""
    if len(jobs) == 1:
        try:
            return [await jobs[0]]
        except CommitFailed as e:
            return [e]
    return await asyncio.gather(*jobs, return_exceptions=True)


class SmsWebhooks:
    """Answers the configured providers' webhooks; ``gateway`` says if a request is one."""

    def __init__(self, rt: Runtime, intake: Intake, gateways: dict[str, Gateway]) -> None:
        self.rt = rt
        self.intake = intake
        self.gateways = gateways
        self.base = rt.config.web.base_url()
        limit = rt.config.sms.max_body_bytes
        self.limits = {name: limit or gw.max_body_bytes for name, gw in gateways.items()}
        self.group: Committer = GroupCommit(intake)  # ``nocontact run``: the commit process
        # whether texts can be stored, for the home page (written when that changes)
        self.health = OnChange(rt, "sms", TEXTS)
        self.replies = {
            name: Answer.of(gw.reply_status, gw.reply_body, gw.reply_type)
            for name, gw in gateways.items()
        }

    def gateway(self, scope: Scope) -> Gateway | None:
        path: str = scope["path"]
        if scope["method"] != "POST" or not path.startswith(PREFIX):
            return None
        return self.gateways.get(path[len(PREFIX) :])

    async def answer(self, gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            answer = await self._webhook(gw, scope, receive)
        except _Gone:
            return
        except Exception as e:  # noqa: BLE001  (logged; never a 2xx for a text not stored)
            log.error(
                "sms webhook failed: provider=%s %s at %s, answered 500",
                gw.name,
                type(e).__name__,
                origin(e),
            )
            answer = FAILED
        await answer.send(send)

    async def _webhook(self, gw: Gateway, scope: Scope, receive: Receive) -> Answer:
        received_at = utcnow()
        try:
            body = await _body(scope, receive, self.limits[gw.name])
        except _TooLarge:
            return TOO_LARGE
        url = self.base + scope["path"]
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        req = WebhookRequest(url, headers, body)
        try:
            gw.verify(req, now())
        except Refused as e:
            log.warning("sms webhook refused: provider=%s reason=%s", gw.name, e.reason)
            return REFUSED
        try:
            texts = gw.texts(req)  # all of them before any is kept: one bad entry, nothing kept
            req.text  # noqa: B018  (the evidence needs UTF-8: refused alike, whatever the decision)
        except Malformed as e:
            log.info("sms webhook malformed: provider=%s reason=%s", gw.name, e.reason)
            return MALFORMED
        reply = self.replies[gw.name]
        if not texts:  # a delivery report or other event: nothing to keep
            return reply
        decided = [(t, self._decide(t)) for t in texts]
        if not any(self._needs_work(t, d) for t, (_, d) in decided):
            return reply  # allowed and not forwarded: nothing to write or send
        whole = evidence(gw, req)
        results = await _settled(
            [self._keep(t, facts, d, whole, received_at) for t, (facts, d) in decided]
        )
        if any(isinstance(r, CommitFailed) for r in results):
            self.health.failed("texts could not be stored")
        else:
            self.health.ok()
        return self._answer(results, reply)

    def _decide(self, text: InboundText) -> tuple[Facts, Decision]:
        facts = facts_from_sms(text.sender, text.text)
        return facts, self.intake.decide(facts)

    def _needs_work(self, text: InboundText, decision: Decision) -> bool:
        """To be kept, or forwarded (or both)."""
        return decision.action in KEPT or needs_io(self.rt, text, decision)

    async def _keep(
        self,
        text: InboundText,
        facts: Facts,
        decision: Decision,
        whole: bytes,
        received_at: datetime,
    ) -> bool:
        """Keep (and forward) one text; True if the provider must deliver it again."""
        raw = whole if text.batch_index is None else batch_evidence(whole, text.batch_index)
        if needs_io(self.rt, text, decision):
            outcome = await run_in_threadpool(
                receive_text,
                self.rt,
                self.intake,
                text,
                raw,
                received_at,
                self.group.process,
                decision,
            )
            return outcome.retry
        if decision.action in KEPT:
            await self.group.submit(message(text, raw, facts, received_at), decision)
        return False

    @staticmethod
    def _answer(results: list[bool | BaseException], reply: Answer) -> Answer:
        """The reply once every text of the request is settled: any text not stored, or not
        forwarded, asks for the whole request again (the texts stored are deduplicated then)."""
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, CommitFailed):
                raise r  # a fault, not a failed commit: a 500, logged by ``answer``
        return RETRY if any(r is not False for r in results) else reply
