"""The one pipeline every channel calls.

    InboundMessage -> decide -> seal + vault row + ledger entry + channel cursor (one commit)
                   -> the channel's after-action (move, relay, forward), which is safe to repeat

Durability order: the sealed original is fsynced to the blob store first, then the row, the
ledger entry and the caller's cursor are committed together. Only after ``process`` returns may
a channel acknowledge or remove the message at its source. A crash before the commit leaves at
most an unreferenced blob; a crash after it leaves a committed item that the next attempt finds
(idempotent on the source key and on the SHA-256 of the original).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, or_, select

from nocontact.db import transaction
from nocontact.matching import BlockList, Decision, Facts, decide
from nocontact.models import Household, ItemKey, VaultItem, utcnow
from nocontact.people.service import load_blocklist
from nocontact.runtime import Runtime
from nocontact.vault import ledger
from nocontact.vault.store import active_recipients, seal_item

log = logging.getLogger(__name__)

KEPT = ("quarantine", "record", "review")


@dataclass(frozen=True)
class InboundMessage:
    channel: str  # email | sms
    raw: bytes  # the exact original: message bytes, or the webhook request as received
    source_key: str  # the source's idempotency key, e.g. imap:<acct>:<folder>:<uidvalidity>:<uid>
    facts: Facts
    received_at: datetime = field(default_factory=utcnow)
    meta: dict[str, Any] = field(default_factory=dict)  # sealed with the item (may hold content)


@dataclass(frozen=True)
class IntakeResult:
    decision: Decision
    sha256: str
    item_id: int | None = None
    duplicate: bool = False

    @property
    def kept(self) -> bool:
        return self.item_id is not None


class Intake:
    """Holds a cached list index per household, refreshed when the list version changes."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[int, BlockList]] = {}

    def blocklist(self, session: Session, household_id: int) -> BlockList:
        h = session.get(Household, household_id)
        version = h.list_version if h else -1
        with self._lock:
            cached = self._cache.get(household_id)
            if cached and cached[0] == version:
                return cached[1]
        bl = load_blocklist(session, household_id)
        with self._lock:
            self._cache[household_id] = (version, bl)
        return bl

    def decide(self, facts: Facts, household_id: int | None = None) -> Decision:
        hid = household_id or self.rt.household_id
        with Session(self.rt.engine) as s:
            return decide(facts, self.blocklist(s, hid))

    def process(
        self,
        msg: InboundMessage,
        *,
        household_id: int | None = None,
        decision: Decision | None = None,
        in_transaction: Callable[[Session], None] | None = None,
    ) -> IntakeResult:
        hid = household_id or self.rt.household_id
        sha = hashlib.sha256(msg.raw).hexdigest()
        with Session(self.rt.engine) as s:  # one read-only look before any write
            d = decision or decide(msg.facts, self.blocklist(s, hid))
            if d.action in KEPT:
                existing = self._find(s, hid, msg.source_key, sha)
                recipients = [(r.id, r.public_key) for r in active_recipients(s, hid) if r.id]
        if d.action not in KEPT:
            self._touch(in_transaction)
            return IntakeResult(d, sha)
        if existing is not None:
            self._touch(in_transaction)
            return IntakeResult(d, sha, existing, duplicate=True)

        meta = {
            "channel": msg.channel,
            "source_key": msg.source_key,
            "received_at": ledger.iso(msg.received_at),
            "parties": [p.__dict__ for p in msg.facts.parties],
            "notes": list(msg.facts.notes),
            **msg.meta,
        }
        sealed = seal_item(self.rt.blobs, msg.raw, meta, recipients)
        try:
            with transaction(self.rt.engine) as s:
                dup = self._find(s, hid, msg.source_key, sha)
                if dup is not None:
                    raise _Duplicate(dup)
                item = VaultItem(
                    household_id=hid,
                    channel=msg.channel,
                    source_key=msg.source_key,
                    sha256=sha,
                    size=len(msg.raw),
                    blob=sealed.blob,
                    sealed_meta=sealed.sealed_meta,
                    received_at=msg.received_at,
                    action=d.action,
                    person_id=d.person_id,
                    person_name=d.person_name,
                    relation=d.relation,
                    reasons=json.dumps([r.as_dict() for r in d.reasons]),
                    delivery="pending" if d.action == "record" else "none",
                )
                s.add(item)
                s.flush()
                assert item.id is not None
                for rid, wrapped in sealed.keys:
                    s.add(ItemKey(item_id=item.id, recipient_id=rid, wrapped=wrapped))
                entry = ledger.append(
                    s,
                    hid,
                    "intake",
                    item=item.id,
                    sha256=sha,
                    channel=msg.channel,
                    action=d.action,
                    person=d.person_id,
                    received_at=ledger.iso(msg.received_at),
                )
                item.ledger_seq = entry.seq
                s.add(item)
                if in_transaction is not None:
                    in_transaction(s)
                item_id = item.id
        except (_Duplicate, IntegrityError) as e:
            # lost a race with another delivery of the same message: keep theirs, drop ours
            self.rt.blobs.discard(sealed.blob)
            dup_id = (
                e.item_id if isinstance(e, _Duplicate) else self._existing(hid, msg.source_key, sha)
            )
            if dup_id is None:
                raise
            self._touch(in_transaction)
            return IntakeResult(d, sha, dup_id, duplicate=True)
        log.info("kept item %s channel=%s action=%s", item_id, msg.channel, d.action)
        return IntakeResult(d, sha, item_id)

    def _touch(self, in_transaction: Callable[[Session], None] | None) -> None:
        if in_transaction is not None:
            with transaction(self.rt.engine) as s:
                in_transaction(s)

    @staticmethod
    def _find(s: Session, hid: int, source_key: str, sha: str) -> int | None:
        q = select(VaultItem.id).where(
            VaultItem.household_id == hid,
            or_(VaultItem.source_key == source_key, VaultItem.sha256 == sha),
        )
        return s.exec(q).first()

    def _existing(self, hid: int, source_key: str, sha: str) -> int | None:
        with Session(self.rt.engine) as s:
            return self._find(s, hid, source_key, sha)


class _Duplicate(Exception):
    def __init__(self, item_id: int) -> None:
        self.item_id = item_id
