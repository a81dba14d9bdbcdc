"""A small LMTP client (RFC 2033) over asyncio streams.

aiosmtplib speaks SMTP only; LMTP differs in two ways that matter here: the greeting is LHLO,
and after the final dot the server answers once for every recipient it accepted, in RCPT
order (RFC 2033 §4.2), so one recipient can be delivered while another is refused.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib

from nocontact.channels.smtp.downstream import (
    Downstream,
    DownstreamUnavailable,
    Reply,
    client_tls_context,
    pass_options,
    wire_data,
)
from nocontact.config import SmtpConfig

MAX_REPLY_LINES = 100


class LmtpDownstream(Downstream):
    def __init__(self, cfg: SmtpConfig, host: str, port: int) -> None:
        self.cfg = cfg
        self.host = host
        self.port = port
        self.timeout = cfg.timeout_seconds
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.extensions: set[str] = set()

    async def open(self) -> None:
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout
            )
        except (OSError, TimeoutError) as e:
            raise DownstreamUnavailable(f"cannot connect to the LMTP server: {e}") from e
        greeting = await self._reply()
        if greeting.code != 220:
            raise DownstreamUnavailable(f"LMTP server greeting {greeting.code}")
        await self._hello()
        if self.cfg.downstream_starttls:
            reply = await self._command("STARTTLS")
            if reply.code != 220:
                raise DownstreamUnavailable(f"LMTP STARTTLS refused with {reply.code}")
            assert self._writer is not None
            try:
                await self._writer.start_tls(
                    client_tls_context(self.cfg), server_hostname=self.host
                )
            except (OSError, TimeoutError) as e:
                raise DownstreamUnavailable(f"LMTP STARTTLS failed: {e}") from e
            await self._hello()
        if self.cfg.downstream_username:
            password = self.cfg.secret("downstream_password") or ""
            token = f"\0{self.cfg.downstream_username}\0{password}".encode()
            reply = await self._command("AUTH PLAIN " + base64.b64encode(token).decode())
            if not reply.ok:
                raise DownstreamUnavailable(f"LMTP AUTH refused with {reply.code}")

    async def _hello(self) -> None:
        reply = await self._command(f"LHLO {self.cfg.hostname}")
        if not reply.ok:
            raise DownstreamUnavailable(f"LMTP LHLO refused with {reply.code}")
        self.extensions = {line.split()[0].upper() for line in reply.text.splitlines()[1:] if line}

    async def mail(self, sender: str, options: list[str]) -> Reply:
        wanted = pass_options(options, self.extensions)
        return await self._command(" ".join([f"MAIL FROM:<{sender}>", *wanted]))

    async def rcpt(self, recipient: str) -> Reply:
        return await self._command(f"RCPT TO:<{recipient}>")

    async def data(self, content: bytes, recipients: int) -> list[Reply]:
        start = await self._command("DATA")
        if start.code != 354:
            return [start] * recipients
        await self._send(wire_data(content))
        replies: list[Reply] = []
        try:
            for _ in range(recipients):
                replies.append(await self._reply())
        except DownstreamUnavailable:
            if not replies:
                raise
            # Keep the answers we have: those recipients are delivered and must not get the
            # message again when the sender retries for the rest.
            replies += [Reply(421, "4.4.2 connection lost")] * (recipients - len(replies))
        return replies

    async def rset(self) -> Reply:
        return await self._command("RSET")

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        with contextlib.suppress(OSError, TimeoutError):
            writer.write(b"QUIT\r\n")
            await asyncio.wait_for(writer.drain(), 5)
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 5)

    async def _command(self, line: str) -> Reply:
        await self._send(line.encode("utf-8") + b"\r\n")
        return await self._reply()

    async def _send(self, data: bytes) -> None:
        if self._writer is None:
            raise DownstreamUnavailable("LMTP connection is closed")
        try:
            self._writer.write(data)
            await asyncio.wait_for(self._writer.drain(), self.timeout)
        except (OSError, TimeoutError) as e:
            raise DownstreamUnavailable(f"LMTP write failed: {e}") from e

    async def _reply(self) -> Reply:
        """One reply, multi-line replies joined: ``250-a`` … ``250 z`` (RFC 5321 §4.2.1)."""
        if self._reader is None:
            raise DownstreamUnavailable("LMTP connection is closed")
        lines: list[str] = []
        for _ in range(MAX_REPLY_LINES):
            try:
                raw = await asyncio.wait_for(self._reader.readline(), self.timeout)
            except (OSError, TimeoutError, ValueError) as e:
                raise DownstreamUnavailable(f"LMTP read failed: {e}") from e
            if not raw.endswith(b"\n"):
                raise DownstreamUnavailable("LMTP server closed the connection")
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if len(text) < 3 or not text[:3].isdigit():
                raise DownstreamUnavailable("LMTP server sent a malformed reply")
            lines.append(text[4:])
            if text[3:4] != "-":
                return Reply(int(text[:3]), "\n".join(lines))
        raise DownstreamUnavailable("LMTP reply too long")
