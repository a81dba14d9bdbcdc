"""Our Received trace header (RFC 5321 §4.4), the only change made to relayed mail. It reads
like any mail server's: a sender or a mailbox viewer must not learn what protects her."""

from __future__ import annotations

import re
from email.utils import format_datetime
from typing import Any

from nocontact.models import utcnow

_HELO_SAFE = re.compile(r"^[A-Za-z0-9.\-_:\[\]]{1,255}$")


def received_header(hostname: str, session: Any) -> bytes:
    helo = session.host_name if isinstance(session.host_name, str) else ""
    helo = helo if _HELO_SAFE.match(helo) else "unknown"
    peer = session.peer[0] if isinstance(session.peer, tuple) and session.peer else "unknown"
    protocol = "ESMTP" if session.extended_smtp else "SMTP"
    if session.ssl is not None:
        protocol += "S"  # RFC 3848
    return (
        f"Received: from {helo} ([{peer}])\r\n"
        f"\tby {hostname} with {protocol};\r\n"
        f"\t{format_datetime(utcnow())}\r\n"
    ).encode("ascii", "replace")
