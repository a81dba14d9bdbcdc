"""Relaying to the real mail server: aiosmtplib for ``smtp://``, our LMTP client for ``lmtp://``.

``Relay.deliver`` returns one reply per recipient. Recipients already delivered for the same
message (same SHA-256) are skipped: when part of a transaction fails after DATA the front
answers 451 so the sender retries, and the retry must not deliver twice to the others.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import aiosmtplib

from nocontact.channels.smtp.downstream import (
    Downstream,
    DownstreamUnavailable,
    Reply,
    client_tls_context,
    downstream_target,
    pass_options,
)
from nocontact.channels.smtp.lmtp import LmtpDownstream
from nocontact.config import SmtpConfig

REMEMBER_SECONDS = 3 * 24 * 3600  # longer than most senders keep retrying a 451 (RFC 5321 §4.5.4.1)
REMEMBER_MAX = 50_000


class SmtpDownstream(Downstream):
    def __init__(self, cfg: SmtpConfig, host: str, port: int) -> None:
        self.cfg = cfg
        self.client = aiosmtplib.SMTP(
            hostname=host,
            port=port,
            local_hostname=cfg.hostname,
            timeout=cfg.timeout_seconds,
            start_tls=cfg.downstream_starttls,
            tls_context=client_tls_context(cfg) if cfg.downstream_starttls else None,
        )

    async def open(self) -> None:
        try:
            await self.client.connect()
            if self.cfg.downstream_username:
                await self.client.login(
                    self.cfg.downstream_username, self.cfg.secret("downstream_password") or ""
                )
            if self.client.last_ehlo_response is None:
                # aiosmtplib greets lazily, but MAIL goes out through execute_command
                await self.client.ehlo()
        except aiosmtplib.SMTPResponseException as e:
            raise DownstreamUnavailable(f"SMTP server refused the session with {e.code}") from e
        except (aiosmtplib.SMTPException, OSError) as e:
            raise DownstreamUnavailable(f"cannot use the SMTP server: {e}") from e

    async def _run(self, command: bytes, *args: bytes) -> Reply:
        try:
            r = await self.client.execute_command(command, *args)
        except (aiosmtplib.SMTPException, OSError) as e:
            raise DownstreamUnavailable(f"SMTP {command.decode()} failed: {e}") from e
        return Reply(r.code, r.message)

    async def mail(self, sender: str, options: list[str]) -> Reply:
        extensions = {k.upper() for k in self.client.esmtp_extensions}
        wanted = [o.encode() for o in pass_options(options, extensions)]
        return await self._run(b"MAIL", f"FROM:<{sender}>".encode(), *wanted)

    async def rcpt(self, recipient: str) -> Reply:
        return await self._run(b"RCPT", f"TO:<{recipient}>".encode())

    async def data(self, content: bytes, recipients: int) -> list[Reply]:
        # aiosmtplib turns lone CR/LF into CRLF and doubles leading dots, like wire_data.
        try:
            r = await self.client.data(content)
            reply = Reply(r.code, r.message)
        except aiosmtplib.SMTPResponseException as e:
            reply = Reply(e.code, e.message)
        except (aiosmtplib.SMTPException, OSError) as e:
            raise DownstreamUnavailable(f"SMTP DATA failed: {e}") from e
        return [reply] * recipients

    async def rset(self) -> Reply:
        return await self._run(b"RSET")

    async def close(self) -> None:
        try:
            await self.client.quit()
        except (aiosmtplib.SMTPException, OSError):
            self.client.close()


def make_downstream(cfg: SmtpConfig) -> Downstream:
    scheme, host, port = downstream_target(cfg)
    if scheme == "lmtp":
        return LmtpDownstream(cfg, host, port)
    return SmtpDownstream(cfg, host, port)


class Delivered:
    """(message SHA-256, recipient) pairs the downstream accepted lately; in memory, bounded."""

    def __init__(self) -> None:
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def __contains__(self, key: tuple[str, str]) -> bool:
        self._expire()
        return (key[0], key[1].lower()) in self._seen

    def add(self, sha: str, recipient: str) -> None:
        key = (sha, recipient.lower())
        self._seen[key] = time.monotonic()
        self._seen.move_to_end(key)  # oldest first, so expiry can stop at the first fresh one
        self._expire()

    def _expire(self) -> None:
        cutoff = time.monotonic() - REMEMBER_SECONDS
        while self._seen and (
            len(self._seen) > REMEMBER_MAX or next(iter(self._seen.values())) < cutoff
        ):
            self._seen.popitem(last=False)


class Relay:
    def __init__(self, cfg: SmtpConfig) -> None:
        self.cfg = cfg
        self.delivered = Delivered()

    def connect(self) -> Downstream:
        return make_downstream(self.cfg)

    async def deliver(
        self, *, sha: str, sender: str, options: list[str], recipients: list[str], content: bytes
    ) -> dict[str, Reply]:
        """Deliver ``content`` to each recipient over a fresh connection; one reply each.

        A fresh connection rather than the one the front checked recipients on: that one has
        sat idle while the client sent the message and may have timed out (RFC 5321 §4.5.3.2).
        Raises DownstreamUnavailable when the server cannot be used at all."""
        done = {
            r: Reply(250, "already delivered", earlier=True)
            for r in recipients
            if (sha, r) in self.delivered
        }
        todo = [r for r in recipients if r not in done]
        if not todo:
            return done
        ds = self.connect()
        try:
            await ds.open()
            started = await ds.mail(sender, options)
            accepted: list[str] = []
            for rcpt in todo:
                reply = started if not started.ok else await ds.rcpt(rcpt)
                if reply.ok:
                    accepted.append(rcpt)
                else:
                    done[rcpt] = reply
            if accepted:
                replies = await ds.data(content, len(accepted))
                for rcpt, reply in zip(accepted, replies, strict=True):
                    done[rcpt] = reply
                    if reply.ok:
                        self.delivered.add(sha, rcpt)
        finally:
            await ds.close()
        return done
