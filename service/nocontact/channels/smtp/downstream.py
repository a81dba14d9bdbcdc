"""What the SMTP front needs from the real mail server behind it, over SMTP or LMTP.

A ``Downstream`` is one connection: greet, then MAIL / RCPT / DATA. Replies come back as
``Reply`` values, not exceptions, because the front passes them on to its own client; only a
connection that cannot be used (refused, closed, timed out) raises ``DownstreamUnavailable``.
"""

from __future__ import annotations

import re
import ssl
from abc import ABC, abstractmethod
from dataclasses import dataclass

from nocontact.config import SmtpConfig
from nocontact.errors import ChannelError

_LINE_END = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_UNSAFE = re.compile(r"[^\x20-\x7e]")


class DownstreamUnavailable(ChannelError):
    """The downstream server cannot be reached or dropped the connection (temporary)."""


@dataclass(frozen=True)
class Reply:
    code: int
    text: str = ""
    earlier: bool = False  # delivered by an earlier attempt of the same message

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    @property
    def permanent(self) -> bool:
        return self.code >= 500

    def line(self) -> str:
        """One safe reply line for our own client (the downstream's words, printable only)."""
        text = _UNSAFE.sub(" ", self.text).strip()[:200]
        return f"{self.code} {text}".rstrip()


class Downstream(ABC):
    """One connection to the downstream server."""

    @abstractmethod
    async def open(self) -> None:
        """Connect, greet (EHLO/LHLO), STARTTLS and AUTH when configured."""

    @abstractmethod
    async def mail(self, sender: str, options: list[str]) -> Reply: ...

    @abstractmethod
    async def rcpt(self, recipient: str) -> Reply: ...

    @abstractmethod
    async def data(self, content: bytes, recipients: int) -> list[Reply]:
        """Send the message; one reply per accepted recipient (LMTP, RFC 2033 §4.2) or the
        single SMTP reply repeated for each of them."""

    @abstractmethod
    async def rset(self) -> Reply: ...

    @abstractmethod
    async def close(self) -> None: ...


def wire_data(content: bytes) -> bytes:
    """The DATA payload: every line ending CRLF, leading dots doubled, then the final dot.

    aiosmtpd ends DATA only at CRLF.CRLF, so a bare LF or lone CR can sit inside a received
    line. Passed on as they are, a downstream that accepts ``\\n.\\n`` as the end would read a
    second, smuggled message (SMTP smuggling, CVE-2023-51766 and friends). Converting them to
    CRLF (RFC 5321 §2.3.8) before dot-stuffing makes every dot line transparent; well-formed
    mail is unchanged.
    """
    body = _LINE_END.sub(b"\r\n", content)
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    return _LEADING_DOT.sub(b"..", body) + b".\r\n"


def pass_options(options: list[str], extensions: set[str]) -> list[str]:
    """The client's MAIL parameters the downstream understands (8BITMIME, SMTPUTF8)."""
    known = {"BODY=8BITMIME": "8BITMIME", "SMTPUTF8": "SMTPUTF8"}
    return [o for o in options if o in known and known[o] in extensions]


def client_tls_context(cfg: SmtpConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=cfg.downstream_ca_file)
    return ctx


def downstream_target(cfg: SmtpConfig) -> tuple[str, str, int]:
    """(scheme, host, port) from ``deliver_to``, validated by the config already."""
    scheme, rest = cfg.deliver_to.split("://", 1)
    host, _, port = rest.rstrip("/").rpartition(":")
    return scheme, host.strip("[]"), int(port)
