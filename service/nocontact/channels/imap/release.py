"""Releasing a held message back to the INBOX after the trusted person decided it is harmless.

The message is found in the quarantine folder by Message-ID and checked against the item's
SHA-256 before it is moved, so a look-alike can never be released in its place; if it is no
longer on the server (deleted there, or ``after_quarantine = "delete"``), the original bytes the
caller unsealed are appended to the INBOX instead. The item is marked released first, so the
next pass leaves the returned message where it is.
"""

from __future__ import annotations

import hashlib
import logging
from email import policy
from email.parser import BytesHeaderParser
from typing import Any

from imapclient.exceptions import IMAPClientError

from nocontact.channels.imap.client import Connection, ImapError, describe, session
from nocontact.config import ImapAccount
from nocontact.db import transaction
from nocontact.errors import ChannelError
from nocontact.models import VaultItem
from nocontact.runtime import Runtime

log = logging.getLogger(__name__)

INBOX = "INBOX"


def account_for(rt: Runtime, source_key: str) -> ImapAccount:
    """The configured account a source key ``imap:<account>:<folder>:<validity>:<uid>`` names."""
    for account in rt.config.imap:
        if source_key.startswith(f"imap:{account.name}:"):
            return account
    raise ChannelError(
        "the mail account this message came from is no longer configured", permanent=True
    )


def _message_id(raw: bytes) -> str | None:
    headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
    value = headers.get("Message-ID")
    text = str(value).strip() if value is not None else ""
    return text or None


def _set_delivery(rt: Runtime, item_id: int | None, delivery: str) -> str:
    with transaction(rt.engine) as s:
        item = s.get(VaultItem, item_id)
        if item is None:
            raise ChannelError(f"item {item_id} is not in the vault", permanent=True)
        before = item.delivery
        item.delivery = delivery
        s.add(item)
        return before


def _move_back(conn: Connection, account: ImapAccount, message_id: str | None, sha: str) -> bool:
    if message_id is None or not conn.client.folder_exists(account.quarantine_folder):
        return False
    for uid in conn.search_message_id(account.quarantine_folder, message_id):
        data = conn.fetch([uid], ["BODY.PEEK[]"]).get(uid, {})
        if hashlib.sha256(bytes(data.get(b"BODY[]", b""))).hexdigest() == sha:
            conn.move([uid], INBOX)
            return True
    return False


def release(rt: Runtime, item: VaultItem, raw: bytes, meta: dict[str, Any]) -> None:
    """Put one held message back in the INBOX; raises ChannelError if it cannot."""
    if hashlib.sha256(raw).hexdigest() != item.sha256:
        raise ChannelError(f"the bytes given are not item {item.id}'s original", permanent=True)
    account = account_for(rt, item.source_key)
    before = _set_delivery(rt, item.id, "released")
    try:
        with session(account) as conn:
            if _move_back(conn, account, _message_id(raw), item.sha256):
                log.info("item %s released: moved back to the INBOX", item.id)
            else:
                conn.append(INBOX, raw)
                log.info("item %s released: original appended to the INBOX", item.id)
    except (ImapError, IMAPClientError, OSError) as e:
        _set_delivery(rt, item.id, before)
        reason = str(e) if isinstance(e, ImapError) else describe(e)
        raise ChannelError(f"item {item.id} could not be released: {reason}") from e
