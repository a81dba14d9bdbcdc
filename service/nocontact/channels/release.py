"""Releasing a held message to the survivor (a reviewer decided it is harmless).

The running service cannot read sealed items, so the caller (a reviewer's unlocked session)
passes the original bytes. Each channel delivers in its own way: IMAP moves the message back to
the INBOX (or appends the original if it was deleted from the server), SMS forwards the text.
Each channel module provides ``release(rt, item, raw, meta) -> None`` raising ChannelError;
``meta`` is the item's sealed metadata (the SMTP envelope, for one).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from nocontact.errors import ChannelError
from nocontact.models import VaultItem
from nocontact.runtime import Runtime

Releaser = Callable[[Runtime, VaultItem, bytes, dict[str, Any]], None]
_MODULES = {
    "imap": "nocontact.channels.imap.release",
    "sms": "nocontact.channels.sms.release",
    "smtp": "nocontact.channels.smtp.release",
}


def releaser_for(item: VaultItem) -> Releaser | None:
    kind = "sms" if item.channel == "sms" else item.source_key.split(":", 1)[0]
    name = _MODULES.get(kind)
    if name is None:
        return None
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError:
        return None
    fn: Releaser = module.release
    return fn


def release(rt: Runtime, item: VaultItem, raw: bytes, meta: dict[str, Any]) -> None:
    """Deliver one held item through its channel; raises ChannelError if it cannot."""
    fn = releaser_for(item)
    if fn is None:
        raise ChannelError(f"item {item.id} cannot be released through its channel", permanent=True)
    fn(rt, item, raw, meta)
