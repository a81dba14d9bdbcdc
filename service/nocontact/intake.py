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
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, or_, select

from nocontact.db import HotReads, read_session, transaction
from nocontact.matching import BlockList, Decision, Facts, decide
from nocontact.models import BatchKey, Household, ItemKey, SealedBlob, VaultItem, table, utcnow
from nocontact.people.service import load_blocklist
from nocontact.runtime import Runtime
from nocontact.vault import ledger
from nocontact.vault.batches import KeyRing
from nocontact.vault.store import Sealed, seal_item
from nocontact.vault.writer import CoreWriter, SqliteWriter, Writer, append_entries

log = logging.getLogger(__name__)

KEPT = ("quarantine", "record", "review")

# The reads made for every message (see ``HotReads``); ids and keys only.
_LIST_VERSION = "SELECT list_version FROM household WHERE id = :hid"
_EXISTING = (
    "SELECT id FROM vaultitem WHERE household_id = :hid AND (source_key = :key OR sha256 = :sha)"
    " LIMIT 1"
)
_BATCH_KEYS, _ITEM_KEYS, _SEALED_BLOBS = table(BatchKey), table(ItemKey), table(SealedBlob)
# two indexed look-ups: with OR between the IN lists SQLite scanned the household's items
_EXISTING_MANY = (
    "SELECT id, source_key, sha256 FROM vaultitem WHERE household_id = :hid"
    " AND source_key IN ({keys})"
    " UNION ALL SELECT id, source_key, sha256 FROM vaultitem WHERE household_id = :hid"
    " AND sha256 IN ({shas})"
)
_RECIPIENTS = (
    "SELECT id, public_key FROM recipient WHERE household_id = :hid AND active ORDER BY id"
)


@dataclass(frozen=True)
class InboundMessage:
    channel: str  # email | sms
    raw: bytes  # the exact original: message bytes, or the webhook request as received
    source_key: str  # the source's idempotency key, e.g. imap:<acct>:<folder>:<uidvalidity>:<uid>
    facts: Facts
    received_at: datetime = field(default_factory=utcnow)
    meta: dict[str, Any] = field(default_factory=dict)  # sealed with the item (may hold content)

    @cached_property
    def sha256(self) -> str:
        """Of the exact original; taken once (a 10 MB message is read by more than one step)."""
        return hashlib.sha256(self.raw).hexdigest()


@dataclass(frozen=True)
class IntakeResult:
    decision: Decision
    sha256: str
    item_id: int | None = None
    duplicate: bool = False

    @property
    def kept(self) -> bool:
        return self.item_id is not None

    @property
    def action(self) -> str:
        return self.decision.action


@dataclass(frozen=True)
class Looked:
    """What ``Intake.look_ahead`` read for a batch (see there)."""

    household_id: int
    by_key: dict[str, int]
    by_sha: dict[str, int]
    recipients: list[tuple[int, str]]

    def existing(self, source_key: str, sha256: str) -> int | None:
        found = self.by_key.get(source_key)
        return found if found is not None else self.by_sha.get(sha256)


@dataclass(frozen=True)
class Prepared:
    """Decided and sealed (blob on disk), waiting for its commit."""

    msg: InboundMessage
    household_id: int
    decision: Decision
    sha256: str
    sealed: Sealed


class Intake:
    """Holds a cached list index per household, refreshed when the list version changes."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[int, BlockList]] = {}
        self._reads = HotReads(rt.engine)
        self.keys = KeyRing()
        # group commits on the embedded default go straight through sqlite3 (``vault.writer``)
        self._sqlite = SqliteWriter(rt.engine) if SqliteWriter.usable(rt.engine) else None

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
        # Hot path (every webhook and message): check the list version with one Core query
        # (a tenth of an ORM session's cost) and load the list only when it changed.
        found = self._reads.rows(_LIST_VERSION, {"hid": hid})
        version = found[0][0] if found else None
        with self._lock:
            cached = self._cache.get(hid)
        if cached and version is not None and cached[0] == version:
            return decide(facts, cached[1])
        with read_session(self.rt.engine) as s:
            return decide(facts, self.blocklist(s, hid))

    def process(
        self,
        msg: InboundMessage,
        *,
        household_id: int | None = None,
        decision: Decision | None = None,
        in_transaction: Callable[[Session], None] | None = None,
    ) -> IntakeResult:
        prepared = self.prepare(msg, household_id=household_id, decision=decision)
        if isinstance(prepared, IntakeResult):
            self._touch(in_transaction)
            return prepared
        return self._commit_one(prepared, in_transaction)

    def prepare(
        self,
        msg: InboundMessage,
        *,
        household_id: int | None = None,
        decision: Decision | None = None,
        looked: Looked | None = None,
    ) -> Prepared | IntakeResult:
        """Decide and seal (the sealed blob is durably written); a result when nothing is left
        to commit: not kept, or already in the vault. ``commit_many`` finishes the rest.
        ``looked`` holds the reads ``look_ahead`` made for a whole batch including this one."""
        hid = household_id or self.rt.household_id
        sha = msg.sha256
        d = decision or self.decide(msg.facts, hid)
        if d.action not in KEPT:
            return IntakeResult(d, sha)
        if looked is None or looked.household_id != hid:
            looked = self.look_ahead([msg], hid)
        existing = looked.existing(msg.source_key, sha)  # read-only looks before any write
        if existing is not None:
            return IntakeResult(d, sha, existing, duplicate=True)
        recipients = looked.recipients
        meta = {
            "channel": msg.channel,
            "source_key": msg.source_key,
            "received_at": ledger.iso(msg.received_at),
            "parties": [p.__dict__ for p in msg.facts.parties],
            "notes": list(msg.facts.notes),
            **msg.meta,
        }
        batch = self.keys.batch(hid, recipients)
        sealed = seal_item(self.rt.blobs, msg.raw, meta, batch, sha)
        return Prepared(msg, hid, d, sha, sealed)

    def look_ahead(self, msgs: Sequence[InboundMessage], household_id: int | None = None) -> Looked:
        """The reads ``prepare`` needs, made once for a batch: which of these messages are in
        the vault already (by source key or SHA-256), and the keys to seal to. Each read is a
        database call that lets other threads run; a batch of texts made two each."""
        hid = household_id or self.rt.household_id
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(msgs), 4096):  # SQLite takes up to 32,766 parameters
            params: dict[str, Any] = {"hid": hid}
            keys, shas = [], []
            for n, m in enumerate(msgs[start : start + 4096]):
                params[f"k{n}"] = m.source_key
                params[f"s{n}"] = m.sha256
                keys.append(f":k{n}")
                shas.append(f":s{n}")
            sql = _EXISTING_MANY.format(keys=", ".join(keys), shas=", ".join(shas))
            found += self._reads.rows(sql, params)
        recipients = [(int(r), str(pub)) for r, pub in self._reads.rows(_RECIPIENTS, {"hid": hid})]
        return Looked(
            hid,
            {str(k): int(i) for i, k, _ in found},
            {str(h): int(i) for i, _, h in found},
            recipients,
        )

    def commit_many(self, batch: Sequence[Prepared]) -> list[IntakeResult]:
        """Group commit: prepared items in one transaction, so one database sync covers them all
        (with ``synchronous=FULL`` each commit is an fsync). Duplicates inside the batch are
        found here without a query; one committed since ``prepare`` looked (a concurrent
        delivery in an earlier batch, another process) trips the unique constraints, and the
        batch falls back to one commit per item, each checking first."""
        first: dict[tuple[int, str], int] = {}  # (household, source key or sha) -> batch index
        twin: list[int | None] = []
        for i, p in enumerate(batch):
            keys = ((p.household_id, p.msg.source_key), (p.household_id, p.sha256))
            twin.append(next((first[k] for k in keys if k in first), None))
            if twin[-1] is None:
                first.update((k, i) for k in keys)
        fresh = [p for p, t in zip(batch, twin, strict=True) if t is None]
        self.rt.blobs.make_durable([p.sealed.blob for p in fresh if p.sealed.inline is None])
        try:
            if self._sqlite is not None:
                with self._sqlite.transaction() as w:
                    fresh_ids = iter(self._insert_many(w, fresh))
            else:
                with transaction(self.rt.engine) as s:
                    fresh_ids = iter(self._insert_many(CoreWriter(s), fresh))
        except (IntegrityError, sqlite3.IntegrityError):
            return [self._commit_one(p, None) for p in batch]
        self.keys.mark_stored(p.sealed.batch for p in fresh)
        ids = [None if t is not None else next(fresh_ids) for t in twin]
        results = []
        for p, t, item_id in zip(batch, twin, ids, strict=True):
            if t is not None:
                self.rt.blobs.discard(p.sealed.blob)
                results.append(IntakeResult(p.decision, p.sha256, ids[t], duplicate=True))
            else:
                results.append(IntakeResult(p.decision, p.sha256, item_id))
        _log_kept(fresh, [i for i in ids if i is not None])
        return results

    def _commit_one(
        self, p: Prepared, in_transaction: Callable[[Session], None] | None
    ) -> IntakeResult:
        hid, msg, d, sha = p.household_id, p.msg, p.decision, p.sha256
        if p.sealed.inline is None:
            self.rt.blobs.make_durable([p.sealed.blob])
        try:
            with transaction(self.rt.engine) as s:
                dup = self._find(s, hid, msg.source_key, sha)
                if dup is not None:
                    raise _Duplicate(dup)
                (item_id,) = self._insert_many(CoreWriter(s), [p])
                if in_transaction is not None:
                    in_transaction(s)
            self.keys.mark_stored([p.sealed.batch])
        except (_Duplicate, IntegrityError) as e:
            # lost a race with another delivery of the same message: keep theirs, drop ours
            self.rt.blobs.discard(p.sealed.blob)
            dup_id = (
                e.item_id if isinstance(e, _Duplicate) else self._existing(hid, msg.source_key, sha)
            )
            if dup_id is None:
                raise
            self._touch(in_transaction)
            return IntakeResult(d, sha, dup_id, duplicate=True)
        _log_kept([p], [item_id])
        return IntakeResult(d, sha, item_id)

    def _insert_many(self, w: Writer, batch: Sequence[Prepared]) -> list[int]:
        """The vault rows, their keys and their ledger entries, in the writer's transaction:
        one multi-row insert per table and one lock of the ledger head, however many items."""
        if not batch:
            return []
        hid = batch[0].household_id
        if any(p.household_id != hid for p in batch):
            return [i for p in batch for i in self._insert_many(w, [p])]
        locked = w.head(hid)
        head = locked[0]
        now = utcnow()
        rows = [
            {  # plain rows, not model instances: building those cost more than the insert
                "household_id": hid,
                "channel": p.msg.channel,
                "source_key": p.msg.source_key,
                "sha256": p.sha256,
                "size": len(p.msg.raw),
                "blob": p.sealed.blob,
                "sealed_meta": p.sealed.sealed_meta,
                "received_at": p.msg.received_at,
                "action": p.decision.action,
                "person_id": p.decision.person_id,
                "person_name": p.decision.person_name,
                "relation": p.decision.relation,
                "reasons": json.dumps([r.as_dict() for r in p.decision.reasons]),
                "status": "unopened",
                "delivery": "pending" if p.decision.action == "record" else "none",
                "ledger_seq": n,  # the entry appended below, in the same order
                "created_at": now,
            }
            for n, p in enumerate(batch, start=head + 1)
        ]
        ids = w.insert_items(rows)
        if len(ids) != len(rows):
            raise RuntimeError("the database returned the wrong number of item ids")
        # a batch key spans commits: its rows go in with the first item sealed in it
        batches = {p.sealed.batch.id: p.sealed.batch for p in batch}
        new = [r for b in batches.values() if not self.keys.stored(b) for r in b.rows()]
        w.insert(_BATCH_KEYS, new, skip_existing=True)
        w.insert(
            _ITEM_KEYS, [r for i, p in zip(ids, batch, strict=True) for r in p.sealed.key_rows(i)]
        )
        # the small originals themselves, durable with this commit
        w.insert(_SEALED_BLOBS, [r for p in batch if (r := p.sealed.row(hid)) is not None])
        entries = append_entries(
            w,
            hid,
            "intake",
            [
                {
                    "item": item_id,
                    "sha256": p.sha256,
                    "channel": p.msg.channel,
                    "action": p.decision.action,
                    "person": p.decision.person_id,
                    "received_at": ledger.iso(p.msg.received_at),
                }
                for item_id, p in zip(ids, batch, strict=True)
            ],
            locked,
        )
        if [e["seq"] for e in entries] != [r["ledger_seq"] for r in rows]:
            raise RuntimeError("the ledger moved while its head was locked")
        return ids

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
        found = self._reads.rows(_EXISTING, {"hid": hid, "key": source_key, "sha": sha})
        return int(found[0][0]) if found else None


def _log_kept(batch: Sequence[Prepared], ids: Sequence[int]) -> None:
    """One line per commit (ids, channels and actions only): a line per item cost a sixth of a
    group commit."""
    if not batch or not log.isEnabledFor(logging.INFO):
        return
    actions: dict[str, int] = {}
    for p in batch:
        key = f"{p.msg.channel}/{p.decision.action}"
        actions[key] = actions.get(key, 0) + 1
    what = " ".join(f"{k}={n}" for k, n in sorted(actions.items()))
    if len(ids) == 1:
        log.info("kept item %s %s", ids[0], what)
    else:
        log.info("kept items %s %s", ",".join(map(str, ids)), what)


class _Duplicate(Exception):
    def __init__(self, item_id: int) -> None:
        self.item_id = item_id
