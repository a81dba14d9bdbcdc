"""``POST /webhooks/sms/<provider>``: read the raw body, verify, parse, hand to ``receive``.

Only configured providers answer; every other request (other paths, methods, unknown
providers) passes to the page app, which answers 404/405 like any unknown path. The reply never
depends on the decision: held and allowed texts get the same empty answer (Twilio an empty
``<Response/>``, the others an empty 200), so the provider, and anyone watching it, learns
nothing. A text neither kept nor forwarded is decided and answered in the event loop; the
rest of the intake is synchronous (fsync, SQLite), so it runs in the thread pool.

This is plain ASGI in front of the FastAPI pages, not a FastAPI route: a webhook needs no
sessions, CSRF, dependency injection or page routing, and those cost several times the bare
request (issue 4). The security headers still wrap it (``SecurityHeaders`` sits outside), and
the body limit is enforced here while reading.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nocontact.channels.sms.gateway import (
    Gateway,
    Malformed,
    Refused,
    WebhookRequest,
    evidence,
    now,
)
from nocontact.channels.sms.gateways import configured
from nocontact.channels.sms.group import GroupCommit
from nocontact.channels.sms.receive import receive as receive_text  # ASGI has a `receive`
from nocontact.errors import ConfigError
from nocontact.intake import Intake
from nocontact.matching.facts import facts_from_sms
from nocontact.models import utcnow
from nocontact.runtime import Runtime

log = logging.getLogger(__name__)
PREFIX = "/webhooks/sms/"


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
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(
    send: Send, status: int, body: bytes = b"", media_type: str | None = None
) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if media_type is not None:
        headers.append((b"content-type", f"{media_type}; charset=utf-8".encode()))
    start: Message = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": body})


async def _reply(send: Send, gw: Gateway) -> None:
    await _answer(send, gw.reply_status, gw.reply_body, gw.reply_type)


class SmsWebhooks:
    """ASGI middleware: answers configured webhooks itself, passes everything else on."""

    def __init__(
        self, app: ASGIApp, rt: Runtime, intake: Intake, gateways: dict[str, Gateway]
    ) -> None:
        self.app = app
        self.rt = rt
        self.intake = intake
        self.gateways = gateways
        self.base = rt.config.web.base_url()
        self.limit = rt.config.sms.max_body_bytes
        self.group = GroupCommit(intake)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        gw = None
        if scope["type"] == "http" and scope["method"] == "POST" and path.startswith(PREFIX):
            gw = self.gateways.get(path[len(PREFIX) :])
        if gw is None:
            await self.app(scope, receive, send)
            return
        try:
            await self._webhook(gw, scope, receive, send)
        except _Gone:
            return

    async def _webhook(self, gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
        received_at = utcnow()
        try:
            body = await _body(scope, receive, self.limit)
        except _TooLarge:
            await _answer(send, 413)
            return
        url = self.base + scope["path"]
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        req = WebhookRequest(url, headers, body)
        try:
            gw.verify(req, now())
        except Refused as e:
            log.warning("sms webhook refused: provider=%s reason=%s", gw.name, e.reason)
            await _answer(send, 403)
            return
        try:
            text = gw.parse(req)
            raw = evidence(gw, req)
        except Malformed as e:
            log.info("sms webhook malformed: provider=%s reason=%s", gw.name, e.reason)
            await _answer(send, 400)
            return
        if text is None:  # a delivery report or other event: nothing to keep
            await _reply(send, gw)
            return
        # Deciding is a lookup in memory plus one small read (the list is reloaded only after
        # it changes): done here, so a text neither kept nor forwarded skips the thread pool.
        decision = self.intake.decide(facts_from_sms(text.sender, text.text))
        if decision.action == "deliver" and self.rt.config.sms.forward is None:
            await _reply(send, gw)
            return
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
        if outcome.retry:
            await _answer(send, 503)
            return
        await _reply(send, gw)
