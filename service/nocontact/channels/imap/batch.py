"""One batch of UIDs in one folder: triage, seal what is kept, then move it (see poller)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from nocontact.channels.imap import cursors
from nocontact.channels.imap.client import Connection
from nocontact.channels.imap.report import AccountReport
from nocontact.config import ImapAccount
from nocontact.db import transaction
from nocontact.intake import InboundMessage, Intake
from nocontact.matching import BlockList, Facts, decide, facts_from_email

BATCH = 250  # UIDs per fetch command
PREFIX = 64 * 1024  # bytes read to decide; larger mail is fetched whole only if kept
FULL_BATCH_BYTES = 16 * 1024 * 1024  # bound on one full-body fetch
HEADER, HEADER_KEY = "BODY.PEEK[HEADER]", b"BODY[HEADER]"
START, START_KEY = f"BODY.PEEK[]<0.{PREFIX}>", b"BODY[]<0>"
FULL, FULL_KEY = "BODY.PEEK[]", b"BODY[]"
MOVED = ("quarantine", "review")
COUNTER = {"quarantine": "quarantined", "record": "recorded", "review": "review"}


@dataclass
class Folder:
    """What one folder pass needs to know."""

    account: ImapAccount
    folder: str
    uidvalidity: int
    blocklist: BlockList

    def source_key(self, uid: int) -> str:
        return f"imap:{self.account.name}:{self.folder}:{self.uidvalidity}:{uid}"


@dataclass
class _Kept:
    size: int
    raw: bytes | None = None  # the whole original, once read
    facts: Facts | None = None  # read from the whole original


def run_batch(
    intake: Intake,
    conn: Connection,
    f: Folder,
    uids: list[int],
    report: AccountReport,
    *,
    sweep: bool,
) -> None:
    kept = _triage(conn, f, uids, report, sweep=sweep)
    _fetch_whole(conn, kept)
    to_remove = [
        uid
        for uid, k in sorted(kept.items())
        if k.raw is not None  # else expunged elsewhere between the fetches: nothing to take
        and _take(intake, f, uid, k, min(uids) - 1, report)
    ]
    if to_remove:
        _remove(conn, f.account, to_remove)
    if not sweep:
        with transaction(intake.rt.engine) as s:
            cursors.advance(
                s,
                intake.rt.household_id,
                f.account.name,
                f.folder,
                uidvalidity=f.uidvalidity,
                last_uid=max(uids),
            )


def _triage(
    conn: Connection, f: Folder, uids: list[int], report: AccountReport, *, sweep: bool
) -> dict[int, _Kept]:
    """One batched fetch, one decision each; returns what will be kept."""
    part, key = (HEADER, HEADER_KEY) if sweep else (START, START_KEY)
    kept: dict[int, _Kept] = {}
    for uid, data in sorted(conn.fetch(uids, ["RFC822.SIZE", part]).items()):
        head: bytes = data.get(key) or b""
        facts = facts_from_email(head)
        report.scanned += 1
        if decide(facts, f.blocklist).action == "deliver":
            report.delivered += 1
            continue
        # Whole only if the server sent less than asked (RFC 3501 §6.4.5: the message ended);
        # RFC822.SIZE alone is not trusted, some servers report it inexactly.
        if not sweep and len(head) < PREFIX:
            kept[uid] = _Kept(len(head), head, facts)
        else:
            kept[uid] = _Kept(int(data.get(b"RFC822.SIZE", 0)))
    return kept


def _take(
    intake: Intake, f: Folder, uid: int, k: _Kept, done_below: int, report: AccountReport
) -> bool:
    """Seal one kept message; True if it should now leave the folder."""
    assert k.raw is not None
    rt, skey = intake.rt, f.source_key(uid)
    facts = k.facts or facts_from_email(k.raw)

    def in_tx(s: Session) -> None:
        # everything below this batch is handled; this batch is not moved yet
        cursors.advance(
            s,
            rt.household_id,
            f.account.name,
            f.folder,
            uidvalidity=f.uidvalidity,
            last_uid=done_below,
        )
        cursors.mark_delivered(s, rt.household_id, skey)

    msg = InboundMessage(
        channel="email",
        raw=k.raw,
        source_key=skey,
        facts=facts,
        meta={"account": f.account.name, "folder": f.folder, "uid": uid},
    )
    result = intake.process(msg, decision=decide(facts, f.blocklist), in_transaction=in_tx)
    action = result.decision.action
    if action == "deliver" or (result.duplicate and cursors.is_released(rt, result.item_id)):
        report.delivered += 1  # (released: the trusted person decided it belongs in the INBOX)
        return False
    if not (result.duplicate and action == "record"):
        setattr(report, COUNTER[action], getattr(report, COUNTER[action]) + 1)
    return action in MOVED


def _fetch_whole(conn: Connection, kept: dict[int, _Kept]) -> None:
    """Fill in the kept messages the first fetch cut short, a bounded number of bytes per
    command (a 10 MB message is one literal; many of them should not be one response)."""
    missing = [(u, k.size) for u, k in sorted(kept.items()) if k.raw is None]
    group: list[int] = []
    total = 0
    for i, (uid, size) in enumerate(missing):
        group.append(uid)
        total += max(size, 0)
        if total >= FULL_BATCH_BYTES or i == len(missing) - 1:
            for got_uid, data in conn.fetch(group, [FULL]).items():
                if got_uid in kept and FULL_KEY in data:
                    kept[got_uid].raw = bytes(data[FULL_KEY])
            group, total = [], 0


def _remove(conn: Connection, account: ImapAccount, uids: list[int]) -> None:
    if account.after_quarantine == "delete" and conn.has(b"UIDPLUS"):
        conn.delete(uids)
        return
    # Without UIDPLUS a delete could only be a bare EXPUNGE; hold in the folder instead.
    conn.ensure_folder(account.quarantine_folder)
    conn.move(uids, account.quarantine_folder)
