"""The append-only, hash-chained ledger and its signed checkpoints.

    hash_n = SHA-256(bytes(hash_{n-1}) || canonical_json(entry_n)),  hash_0 = 32 zero bytes

Entries hold ids, hashes, kinds and times, never content, so an export can carry the whole
chain while disclosing only chosen items. Appends lock the household row (``FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so the chain never forks;
the unique (household, seq) constraint is the backstop.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlmodel import Session, col, select

from nocontact.errors import LedgerError
from nocontact.models import GENESIS, Checkpoint, Household, LedgerEntry, table, utcnow

if TYPE_CHECKING:  # cryptography loads only when something is signed or checked
    from nocontact.vault.signing import Signer


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hex: str, body: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hex) + body).hexdigest()


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


_HOUSEHOLD = table(Household)
_LOCK_HEAD = (
    sa_select(_HOUSEHOLD.c.ledger_seq, _HOUSEHOLD.c.ledger_head)
    .where(_HOUSEHOLD.c.id == bindparam("hid"))
    .with_for_update()
)
MOVE_HEAD = (
    sa_update(_HOUSEHOLD)
    .where(_HOUSEHOLD.c.id == bindparam("hid"))
    .values(ledger_seq=bindparam("new_seq"), ledger_head=bindparam("new_head"))
)


def lock_head(session: Session, household_id: int) -> tuple[int, str]:
    """Lock the household's ledger head until the caller's transaction ends: (length, head)."""
    session.flush()  # the ORM's pending changes first: the head is read and moved in Core
    row = session.connection().execute(_LOCK_HEAD, {"hid": household_id}).one()
    return int(row[0]), str(row[1])


def append(session: Session, household_id: int, kind: str, **fields: Any) -> LedgerEntry:
    """Add one entry in the caller's transaction; the caller commits."""
    return append_many(session, household_id, kind, [fields])[0]


def append_many(
    session: Session,
    household_id: int,
    kind: str,
    entries: Sequence[dict[str, Any]],
    locked: tuple[int, str] | None = None,
) -> list[LedgerEntry]:
    """Add entries in order in the caller's transaction, locking the head once for all of them
    (a group commit of many messages takes one lock and one multi-row insert). ``locked`` is
    the head the caller already holds from ``lock_head``."""
    seq, head = locked or lock_head(session, household_id)
    rows = chain_rows(household_id, kind, entries, seq, head)
    made = [LedgerEntry.model_construct(**row) for row in rows]
    if rows:
        seq, head = rows[-1]["seq"], rows[-1]["hash"]
    if made:
        # one executemany on the table, past the ORM's per-object bookkeeping
        c = session.connection()
        c.execute(sa_insert(table(LedgerEntry)), rows)
        c.execute(MOVE_HEAD, {"hid": household_id, "new_seq": seq, "new_head": head})
        h = session.identity_map.get(session.identity_key(Household, household_id))
        if h is not None:
            session.expire(h)  # the session's copy reloads the new head when next read
    return made


def chain_rows(
    household_id: int, kind: str, entries: Sequence[dict[str, Any]], seq: int, head: str
) -> list[dict[str, Any]]:
    """The ``LedgerEntry`` rows that extend the chain at (``seq``, ``head``) by ``entries``, in
    order; the last row's seq and hash are the new head."""
    now = utcnow()
    at = iso(now)
    rows: list[dict[str, Any]] = []
    for fields in entries:
        seq += 1
        body = canonical_json({"seq": seq, "kind": kind, "at": at, **fields})
        digest = chain_hash(head, body)
        rows.append(
            {
                "household_id": household_id,
                "seq": seq,
                "kind": kind,
                "body": body.decode(),
                "prev_hash": head,
                "hash": digest,
                "created_at": now,
            }
        )
        head = digest
    return rows


@dataclass(frozen=True)
class ChainLine:
    """One entry as exported: what a reader needs to recompute the chain."""

    seq: int
    prev_hash: str
    hash: str
    body: str

    def as_json(self) -> str:
        return json.dumps(
            {"seq": self.seq, "prev": self.prev_hash, "hash": self.hash, "entry": self.body},
            separators=(",", ":"),
            ensure_ascii=False,
        )


def first_fault(lines: Iterable[ChainLine]) -> tuple[int, str] | None:
    """Walk the chain from the genesis; (seq, what is wrong) of the first bad entry, or None."""
    prev, expected = GENESIS, 1
    for line in lines:
        if line.seq != expected:
            return line.seq, f"expected entry {expected}, found {line.seq}"
        if line.prev_hash != prev:
            return line.seq, "does not link to the entry before it"
        try:
            inner = json.loads(line.body)
        except ValueError:
            return line.seq, "is not valid JSON"
        if not isinstance(inner, dict) or inner.get("seq") != line.seq:
            return line.seq, "its body names another position"
        if canonical_json(inner).decode() != line.body:
            return line.seq, "its body is not in canonical form"
        if chain_hash(prev, line.body.encode()) != line.hash:
            return line.seq, "its hash does not match its content"
        prev, expected = line.hash, expected + 1
    return None


def chain(session: Session, household_id: int, upto: int | None = None) -> list[ChainLine]:
    q = select(LedgerEntry).where(LedgerEntry.household_id == household_id)
    if upto is not None:
        q = q.where(LedgerEntry.seq <= upto)
    rows = session.exec(q.order_by(col(LedgerEntry.seq))).all()
    return [ChainLine(r.seq, r.prev_hash, r.hash, r.body) for r in rows]


def verify_household(session: Session, household_id: int) -> None:
    """Raise LedgerError naming the first broken entry; also checks the stored head."""
    lines = chain(session, household_id)
    fault = first_fault(lines)
    if fault:
        raise LedgerError(f"ledger entry {fault[0]} {fault[1]}")
    h = session.get(Household, household_id)
    head = lines[-1].hash if lines else GENESIS
    if h is None or h.ledger_head != head or h.ledger_seq != len(lines):
        raise LedgerError("the ledger head does not match the last entry")


def checkpoint(session: Session, household_id: int, signer: Signer) -> Checkpoint:
    """Sign (size, head) now; a later rewrite of history would contradict this statement."""
    h = session.get(Household, household_id)
    if h is None:
        raise LedgerError(f"no household {household_id}")
    now = utcnow()
    statement = canonical_json(
        {"household": household_id, "seq": h.ledger_seq, "head": h.ledger_head, "at": iso(now)}
    )
    cp = Checkpoint(
        household_id=household_id,
        seq=h.ledger_seq,
        head=h.ledger_head,
        statement=statement.decode(),
        signature=signer.sign(statement).hex(),
        created_at=now,
    )
    session.add(cp)
    session.flush()
    return cp


def checkpoint_holds(cp: Checkpoint, public_pem: str, lines: list[ChainLine]) -> bool:
    from nocontact.vault.signing import verify_signature

    if not verify_signature(public_pem, bytes.fromhex(cp.signature), cp.statement.encode()):
        return False
    st = json.loads(cp.statement)
    if cp.seq == 0:
        return bool(st["head"] == GENESIS)
    return len(lines) >= cp.seq and lines[cp.seq - 1].hash == st["head"] == cp.head
