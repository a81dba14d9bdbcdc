"""One pass over one IMAP account: find new mail, decide, seal what is kept, then move it.

Per folder, in UID order and in batches:

1. ``UID SEARCH UID n+1:*`` (results <= n dropped); the whole folder instead when UIDVALIDITY
   changed (rescan, deduped by SHA-256 in the intake) or when the list changed since the last
   sweep (old mail from a newly listed person is taken too).
2. One batched fetch per batch: ``RFC822.SIZE`` and ``BODY.PEEK[]<0.PREFIX>`` (the sender
   headers and enough body text to find a mention; most mail fits whole), for a sweep of old
   mail too, so it is decided as it would have been on arrival (mentions included). Nothing
   here sets ``\\Seen``. The next batch's fetch starts on a
   worker thread as soon as this one's has arrived, so the server reads it while this batch
   is decided and sealed (reads only; every other command waits for it).
3. ``decide`` on those facts; full ``BODY.PEEK[]`` only for what is kept and was cut short.
4. ``Intake.prepare`` seals each kept original (blob written and fsynced), then
   ``Intake.commit_many`` commits a group of them in one transaction (one database sync).
5. Only after the group is committed: ``UID MOVE`` to the quarantine folder (or delete),
   several batches' worth in one command (``outbox``: at most 1,000 UIDs or about a second
   after the oldest, and always at the end of the pass); after the move the cursor moves past
   those batches. A crash anywhere before that means the batches are looked at again: what
   is already in the vault is found by source key or SHA-256 and only moved. Co-parent mail
   stays in the folder, or, when ``[household] coparent_delivery_times`` is set, waits in
   the account's ``coparent_folder`` until ``coparent.deliver`` moves it into the INBOX at
   the delivery time.
"""

from __future__ import annotations

import logging

from imapclient.exceptions import IMAPClientError
from sqlmodel import Session

from nocontact.channels.imap import cursors
from nocontact.channels.imap.batch import BATCH, Folder, run_batch
from nocontact.channels.imap.client import Connection, ImapError, describe, session
from nocontact.channels.imap.outbox import Outbox
from nocontact.channels.imap.report import AccountReport
from nocontact.config import ImapAccount
from nocontact.db import transaction
from nocontact.errors import NoContactError
from nocontact.intake import Intake

log = logging.getLogger(__name__)


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
    except NoContactError as e:  # a channel, config or vault failure; the messages name no mail
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
    f = Folder(account, folder, uidvalidity, bl, rt.config.limits.read())
    uids = conn.uids_from(1 if last == 0 else last + 1)
    outbox = Outbox(rt, conn, account, folder)
    try:
        if last and cur is not None and cur.list_version < version:
            old = [u for u in conn.uids_from(1) if u <= last]
            log.info("account %s folder %s: list changed; sweeping", account.name, folder)
            _run_batches(intake, conn, f, old, report, outbox, sweep=True)
        _run_batches(intake, conn, f, uids, report, outbox, sweep=False)
    except BaseException:
        outbox.flush_after_error()
        raise
    outbox.flush()
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


def _run_batches(
    intake: Intake,
    conn: Connection,
    f: Folder,
    uids: list[int],
    report: AccountReport,
    outbox: Outbox,
    *,
    sweep: bool,
) -> None:
    batches = [uids[i : i + BATCH] for i in range(0, len(uids), BATCH)]
    for n, batch in enumerate(batches):
        ahead = batches[n + 1] if n + 1 < len(batches) else None
        run_batch(intake, conn, f, batch, report, outbox, sweep=sweep, ahead=ahead)
