"""Starting and stopping the SMTP front inside the running event loop (`nocontact run`)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP

from nocontact.channels.smtp.handler import FrontHandler
from nocontact.config import SmtpConfig, split_listen
from nocontact.errors import ChannelError, ConfigError
from nocontact.intake import Intake
from nocontact.runtime import Runtime

log = logging.getLogger(__name__)

Stop = Callable[[], Awaitable[None]]
STOP_GRACE_SECONDS = 15.0


class FrontSMTP(SMTP):
    """aiosmtpd's server with two additions: tell the handler when a client goes away, and
    take lines of any length within the message size. RFC 5321 lets a server refuse a line
    over 1,000 bytes, and aiosmtpd does (a permanent 500), but that bounces evidence: a
    sender chooses a megabyte Subject line, and Postfix, like most servers, accepts it."""

    def __init__(self, *args: Any, max_line_bytes: int, **kwargs: Any) -> None:
        self.line_length_limit = max_line_bytes  # before: it is also the reader's buffer limit
        super().__init__(*args, **kwargs)

    def connection_lost(self, error: Exception | None) -> None:
        if self.session is not None:
            self.event_handler.session_closed(self.session)
        super().connection_lost(error)


def _protocol_log_quiet() -> None:
    """aiosmtpd logs every line it reads at DEBUG (AUTH secrets, message content) and the
    envelope addresses at INFO. Whatever level an operator sets, only its warnings pass."""
    mail_log = logging.getLogger("mail.log")
    if not any(isinstance(f, _WarningsOnly) for f in mail_log.filters):
        mail_log.addFilter(_WarningsOnly())


class _WarningsOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def server_tls_context(cfg: SmtpConfig, config_file: str) -> ssl.SSLContext | None:
    if not cfg.tls_cert_file or not cfg.tls_key_file:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cfg.tls_cert_file, cfg.tls_key_file)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(config_file, "smtp.tls_cert_file", f"cannot be loaded: {e}") from e
    return ctx


async def start_front(rt: Runtime, intake: Intake) -> Stop | None:
    """Listen on ``[smtp] listen``; returns the coroutine function that stops it."""
    cfg = rt.config.smtp
    if cfg is None:
        return None
    _protocol_log_quiet()
    tls = server_tls_context(cfg, str(rt.config_path))
    handler = FrontHandler(intake, cfg)
    loop = asyncio.get_running_loop()

    def factory() -> Any:
        return FrontSMTP(
            handler,
            data_size_limit=cfg.max_message_bytes,
            max_line_bytes=cfg.max_message_bytes + 2,
            enable_SMTPUTF8=True,
            hostname=cfg.hostname,
            ident="ESMTP",  # the greeting names no product (a sender sees it)
            tls_context=tls,
            timeout=300,  # RFC 5321 §4.5.3.2.7: server timeout 5 minutes
            loop=loop,
        )

    host, port = split_listen(cfg.listen)
    try:
        server = await loop.create_server(factory, host=host, port=port)
    except OSError as e:
        raise ChannelError(
            f"{rt.config_path}: smtp.listen: cannot listen on {host}:{port} ({e.strerror})"
        ) from e
    log.info("smtp front listening on %s:%s (starttls %s)", host, port, tls is not None)

    async def stop() -> None:
        server.close()
        await server.wait_closed()
        # Let messages already received get their reply; one cut off here gets none, so its
        # sender retries (and a sealed copy is found again by its hash, not doubled).
        deadline = loop.time() + STOP_GRACE_SECONDS
        while handler.in_flight and loop.time() < deadline:
            await asyncio.sleep(0.05)
        log.info("smtp front stopped")

    return stop
