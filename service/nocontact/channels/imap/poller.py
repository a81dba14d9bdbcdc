"""One pass over one IMAP account: find new mail, decide, seal what is kept, then move it.

Per folder, in UID order and in batches:

1. ``UID SEARCH UID n+1:*`` (results <= n dropped); the whole folder instead when UIDVALIDITY
   changed (rescan, deduped by SHA-256 in the intake) or when the list changed since the last
   sweep (old mail from a newly listed person is taken too).
2. One batched fetch per batch: ``RFC822.SIZE`` and ``BODY.PEEK[]<0.PREFIX>`` for new mail (the
   sender headers and enough body text to find a mention; most mail fits whole), headers only
   for a sweep of old mail. Nothing here sets ``\\Seen``.
3. ``decide`` on those facts; full ``BODY.PEEK[]`` only for what is kept and was cut short.
4. ``Intake.process`` seals the exact original; its transaction also moves the cursor up to
   the batch start, so a crash before step 5 means the batch is looked at again (idempotent).
5. Only after every kept message of the batch is committed: ``UID MOVE`` to the quarantine
   folder (or delete), then the cursor moves past the batch. Co-parent mail stays untouched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from imapclient.exceptions import IMAPClientError
from sqlmodel import Session

from nocontact.channels.imap import cursors
from nocontact.channels.imap.client import Connection, ImapError, describe, session
from nocontact.config import ImapAccount
from nocontact.db import transaction
from nocontact.errors import ChannelError, ConfigError
from nocontact.intake import InboundMessage, Intake
from nocontact.matching import BlockList, Facts, decide, facts_from_email

log = logging.getLogger(__name__)

BATCH = 250  # UIDs per fetch command
PREFIX = 64 * 1024  # bytes read to decide; larger mail is fetched whole only if kept
FULL_BATCH_BYTES = 16 * 1024 * 1024  # bound on one full-body fetch
HEADER, HEADER_KEY = "BODY.PEEK[HEADER]", b"BODY[HEADER]"
START, START_KEY = f"BODY.PEEK[]<0.{PREFIX}>", b"BODY[]<0>"
FULL, FULL_KEY = "BODY.PEEK[]", b"BODY[]"
MOVED = ("quarantine", "review")
COUNTER = {"quarantine": "quarantined", "record": "recorded", "review": "review"}


@dataclass
class AccountReport:
    name: str
    scanned: int = 0
    quarantined: int = 0
    recorded: int = 0
    review: int = 0
    delivered: int = 0
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scanned": self.scanned,
            "quarantined": self.quarantined,
            "recorded": self.recorded,
            "review": self.review,
            "delivered": self.delivered,
            "errors": list(self.errors),
        }


@dataclass
class _Folder:
    """What one folder pass needs to know."""

    account: ImapAccount
    folder: str
    uidvalidity: int
    blocklist: BlockList

    def source_key(self, uid: int) -> str:
        return f"imap:{self.account.name}:{self.folder}:{self.uidvalidity}:{uid}"


def poll_all(intake: Intake, only: str | None = None) -> list[AccountReport]:
    """One pass over each configured account (or the one named); one failing never stops
    the next."""
    accounts = [a for a in intake.rt.config.imap if only is None or a.name == only]
    return [poll_account(intake, a) for a in accounts]


def poll_account(intake: Intake, account: ImapAccount) -> AccountReport:
    """One pass over every configured folder; never raises for a server or network fault."""
    rt = intake.rt
    report = AccountReport(account.name)
    try:
        with session(account) as conn:
            for folder in account.folders:
                try:
                    _poll_folder(intake, conn, account, folder, report)
                except (IMAPClientError, ImapError) as e:
                    if isinstance(e, ImapError) and e.permanent:
                        raise
                    report.errors.append(f"{folder}: {_reason(e)}")
                    log.warning("account %s folder %s: %s", account.name, folder, _reason(e))
    except (ChannelError, ConfigError) as e:
        report.errors.append(str(e))
    except (OSError, IMAPClientError) as e:
        report.errors.append(describe(e))
    if report.errors:
        log.warning("account %s: %s", account.name, "; ".join(report.errors))
    cursors.record_status(rt, account.name, "; ".join(report.errors) or None)
    return report


def _reason(e: BaseException) -> str:
    if isinstance(e, ImapError):
        return str(e)
    # imapclient errors carry the server's text, which names the folder at most, never mail
    text = str(e).splitlines()[0] if str(e) else e.__class__.__name__
    return text[:200]


def _poll_folder(
    intake: Intake, conn: Connection, account: ImapAccount, folder: str, report: AccountReport
) -> None:
    rt = intake.rt
    if folder == account.quarantine_folder:
        report.errors.append(f"{folder}: is the quarantine folder; not watched")
        return
    version = cursors.list_version(rt)
    with Session(rt.engine) as s:
        bl = intake.blocklist(s, rt.household_id)
    uidvalidity, _ = conn.select(folder)
    cur = cursors.read_cursor(rt, account.name, folder)
    last = cur.last_uid if cur is not None and cur.uidvalidity == uidvalidity else 0
    if cur is not None and cur.uidvalidity not in (0, uidvalidity):
        log.info("account %s folder %s: UIDVALIDITY changed; rescanning", account.name, folder)
    f = _Folder(account, folder, uidvalidity, bl)
    uids = conn.uids_from(1 if last == 0 else last + 1)
    if last and cur is not None and cur.list_version < version:
        old = [u for u in conn.uids_from(1) if u <= last]
        log.info("account %s folder %s: list changed; sweeping", account.name, folder)
        for i in range(0, len(old), BATCH):
            _batch(intake, conn, f, old[i : i + BATCH], report, sweep=True)
    for i in range(0, len(uids), BATCH):
        _batch(intake, conn, f, uids[i : i + BATCH], report, sweep=False)
    with transaction(rt.engine) as s:
        cursors.advance(
            s,
            rt.household_id,
            account.name,
            folder,
            uidvalidity=uidvalidity,
            last_uid=max(uids, default=last),
            list_version=version,
        )


@dataclass
class _Kept:
    size: int
    raw: bytes | None = None  # the whole original, once read
    facts: Facts | None = None  # read from the whole original


def _batch(
    intake: Intake,
    conn: Connection,
    f: _Folder,
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
    conn: Connection, f: _Folder, uids: list[int], report: AccountReport, *, sweep: bool
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
    intake: Intake, f: _Folder, uid: int, k: _Kept, done_below: int, report: AccountReport
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
