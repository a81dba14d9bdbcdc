"""``POST /webhooks/sms/<provider>``: read the raw body, verify, parse, hand to ``receive``.

Only configured providers answer; others are 404 like any unknown path. The reply never
depends on the decision: held and allowed texts get the same empty answer (Twilio an empty
``<Response/>``, the others an empty 200), so the provider, and anyone watching it, learns
nothing. The intake is synchronous (fsync, SQLite), so it runs in the thread pool.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

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
from nocontact.channels.sms.receive import receive
from nocontact.errors import ConfigError
from nocontact.intake import Intake
from nocontact.models import utcnow
from nocontact.runtime import Runtime

log = logging.getLogger(__name__)
PREFIX = "/webhooks/sms"


class _TooLarge(Exception):
    pass


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _reply(gw: Gateway) -> Response:
    return Response(gw.reply_body, status_code=gw.reply_status, media_type=gw.reply_type)


def sms_router(rt: Runtime, intake: Intake) -> APIRouter:
    try:
        gateways = configured(rt.config)
    except ConfigError as e:  # name the real file: the gateway modules see only the values
        file = str(rt.config_path) if e.file == "config" else e.file
        raise ConfigError(file, e.key, e.problem) from e
    base = rt.config.web.base_url()
    limit = rt.config.sms.max_body_bytes
    group = GroupCommit(intake)
    router = APIRouter()

    @router.post(PREFIX + "/{provider}")
    async def webhook(provider: str, request: Request) -> Response:
        gw = gateways.get(provider)
        if gw is None:
            raise HTTPException(404)
        received_at = utcnow()
        try:
            body = await _body(request, limit)
        except _TooLarge:
            return Response(status_code=413)
        url = base + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        headers = {k.lower(): v for k, v in request.headers.items()}
        req = WebhookRequest(url, headers, body)
        try:
            gw.verify(req, now())
        except Refused as e:
            log.warning("sms webhook refused: provider=%s reason=%s", gw.name, e.reason)
            return Response(status_code=403)
        try:
            text = gw.parse(req)
            raw = evidence(gw, req)
        except Malformed as e:
            log.info("sms webhook malformed: provider=%s reason=%s", gw.name, e.reason)
            return Response(status_code=400)
        if text is None:  # a delivery report or other event: nothing to keep
            return _reply(gw)
        outcome = await run_in_threadpool(
            receive, rt, intake, text, raw, received_at, group.process
        )
        if outcome.retry:
            return Response(status_code=503)
        return _reply(gw)

    return router
