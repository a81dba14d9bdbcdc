"""Releasing a held message that came in through the SMTP front: relay the original.

The envelope (MAIL FROM, RCPT TO) was sealed with the item; the reviewer's session passes it
in ``meta``. The bytes relayed are exactly the kept original.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from nocontact.channels.smtp.relay import Relay
from nocontact.errors import ChannelError
from nocontact.models import VaultItem
from nocontact.runtime import Runtime


def release(rt: Runtime, item: VaultItem, raw: bytes, meta: dict[str, Any]) -> None:
    cfg = rt.config.smtp
    if cfg is None:
        raise ChannelError("the SMTP front is no longer configured", permanent=True)
    envelope = meta.get("smtp") or {}
    recipients = [str(r) for r in envelope.get("rcpt_tos") or []]
    if not recipients:
        raise ChannelError(f"item {item.id} has no recorded recipients", permanent=True)
    sender = str(envelope.get("mail_from") or "")
    replies = asyncio.run(
        Relay(cfg).deliver(
            sha=hashlib.sha256(raw).hexdigest(),
            sender=sender,
            options=[],
            recipients=recipients,
            content=raw,
        )
    )
    failed = [r for r, reply in replies.items() if not reply.ok]
    if failed:
        raise ChannelError(f"{len(failed)} of {len(recipients)} recipients refused the release")
