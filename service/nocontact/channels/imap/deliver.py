"""Co-parent mail at its delivery time: from the holding folder into the INBOX.

Each waiting message is found in the holding folder by the SHA-256 of its bytes (read with
``BODY.PEEK[]``, so nothing is marked read), moved to the INBOX, and only then marked
delivered. A crash between the move and the mark leaves the row pending; the next run no
longer finds the message in the holding folder, finds it in the INBOX instead and only marks
it, so it is never moved twice. A message found in neither (deleted by hand) is marked
``missing``; its copy in the vault is untouched, and if it turns up again the poller holds it
once more.
"""

from __future__ import annotations

import hashlib
import logging

from imapclient.exceptions import IMAPClientError
from sqlmodel import Session

from nocontact.channels.imap.client import Connection, ImapError, describe, session
from nocontact.coparent.deliver import finish
from nocontact.coparent.models import CoparentDelivery
from nocontact.errors import ChannelError
from nocontact.models import VaultItem
from nocontact.runtime import Runtime

log = logging.getLogger(__name__)
INBOX = "INBOX"
GROUP = 50  # bodies per fetch command


def _by_hash(
    conn: Connection, folder: str, wanted: dict[str, int], *, by_size: bool = False
) -> dict[str, list[int]]:
    """UIDs in ``folder`` whose bytes hash to one of ``wanted`` (SHA-256 -> size). With
    ``by_size`` only messages of a wanted size are read whole: the INBOX may be large, and
    sizes are one cheap fetch."""
    found: dict[str, list[int]] = {}
    if not wanted or not conn.client.folder_exists(folder):
        return found
    conn.select(folder)
    uids = conn.uids_from(1)
    if by_size and uids:
        sizes = set(wanted.values())
        got = conn.fetch(uids, ["RFC822.SIZE"])
        uids = sorted(u for u, d in got.items() if int(d.get(b"RFC822.SIZE", -1)) in sizes)
    for i in range(0, len(uids), GROUP):
        for uid, data in sorted(conn.fetch(uids[i : i + GROUP], ["BODY.PEEK[]"]).items()):
            sha = hashlib.sha256(bytes(data.get(b"BODY[]", b""))).hexdigest()
            if sha in wanted:
                found.setdefault(sha, []).append(uid)
    return found


def deliver_held(rt: Runtime, account_name: str, rows: list[CoparentDelivery]) -> int:
    """Move the due messages of one account into the INBOX; returns how many were delivered.
    Raises ChannelError (content-free) when the account cannot be reached."""
    account = next((a for a in rt.config.imap if a.name == account_name), None)
    if account is None:
        raise ChannelError("the mail account is no longer configured", permanent=True)
    with Session(rt.engine) as s:
        items = {r.id: item for r in rows if (item := s.get(VaultItem, r.item_id))}
    sha_of = {i: item.sha256 for i, item in items.items()}
    wanted = {item.sha256: item.size for item in items.values()}
    try:
        with session(account) as conn:
            held = _by_hash(conn, account.coparent_folder, wanted)
            uids = sorted(u for us in held.values() for u in us)
            if uids:
                conn.move(uids, INBOX)  # then mark: see the module docstring for a crash here
            moved = [i for i, sha in sha_of.items() if sha in held and i is not None]
            finish(rt, moved)
            rest = {i: sha for i, sha in sha_of.items() if sha not in held}
            left = {sha: wanted[sha] for sha in rest.values()}
            there = _by_hash(conn, INBOX, left, by_size=True) if rest else {}
    except (ImapError, IMAPClientError, OSError) as e:
        reason = str(e) if isinstance(e, ImapError) else describe(e)
        raise ChannelError(f"co-parent mail could not be delivered: {reason}") from e
    finish(rt, [i for i, sha in rest.items() if sha in there and i is not None])
    missing = [i for i, sha in rest.items() if sha not in there and i is not None]
    if missing:
        log.warning(
            "account %s: %s co-parent messages not found to deliver", account.name, len(missing)
        )
    finish(rt, missing, state="missing")
    return len(moved) + len(rest) - len(missing)
