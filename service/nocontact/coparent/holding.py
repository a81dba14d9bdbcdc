"""Holding a co-parent message back until its delivery time: the durable part.

``hold`` is called after the item is committed and before the channel holds the message (IMAP:
moved to the holding folder; SMS: not forwarded yet); repeating it is harmless, so a crash
between the two is mended by the channel's next look at the message.

An SMS is forwarded later by the service itself, so it must be able to read that text again
at the window without a person's passphrase. The vault copy stays sealed to the household only;
the text to forward is sealed separately to the service's own delivery key
(``keys/delivery.age``, mode 0600) and wiped when it has been forwarded. It is a message the
survivor receives anyway; the clear text is never stored.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import datetime
from pathlib import Path

from pyrage import x25519
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from nocontact.coparent.models import CoparentDelivery
from nocontact.coparent.window import next_window
from nocontact.db import transaction
from nocontact.models import VaultItem
from nocontact.runtime import Runtime
from nocontact.vault.crypto import new_identity, seal, unseal


def delivery_key_path(rt: Runtime) -> Path:
    return rt.home / "keys" / "delivery.age"


def _identity(rt: Runtime) -> tuple[str, str]:
    """(identity, public key), created once; never overwritten."""
    path = delivery_key_path(rt)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        identity, _ = new_identity()
        # written whole under a temporary name, then linked into place: a concurrent first
        # use either wins or reads the complete key of the one that did
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".delivery-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(identity + "\n")
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    identity = path.read_text().strip()
    return identity, str(x25519.Identity.from_str(identity).to_public())


def seal_payload(rt: Runtime, payload: dict[str, object]) -> bytes:
    _, public = _identity(rt)
    return seal(json.dumps(payload, sort_keys=True).encode(), [public])


def open_payload(rt: Runtime, sealed: bytes) -> dict[str, object]:
    identity, _ = _identity(rt)
    doc = json.loads(unseal(sealed, identity))
    assert isinstance(doc, dict)
    return doc


def hold(
    rt: Runtime,
    item_id: int,
    *,
    channel: str,
    now: datetime,
    account: str = "",
    payload: bytes = b"",
) -> bool:
    """Make sure a pending delivery exists for the item; False if the message must be left
    where it is (already delivered, or held back in another mail account)."""
    h = rt.config.household
    due = next_window(now, h.coparent_delivery_times, h.timezone)
    try:
        with transaction(rt.engine) as s:
            item = s.get(VaultItem, item_id)
            if item is None or item.delivery != "pending":
                return False
            row = _row(s, rt.household_id, item_id)
            if row is not None and row.account != account:
                # the same message in a second mail account: the window looks for it only in
                # the first one's holding folder, so this copy is left where it is
                return False
            if row is not None and row.state == "missing":
                # it was not found at its window and has turned up again: wait for the next
                row.state, row.due_at = "pending", due
                s.add(row)
            elif row is None:
                s.add(
                    CoparentDelivery(
                        household_id=rt.household_id,
                        item_id=item_id,
                        channel=channel,
                        account=account,
                        due_at=due,
                        payload=payload,
                    )
                )
    except IntegrityError:
        pass  # a concurrent repeat of the same message created it first
    return True


def _row(s: Session, hid: int, item_id: int) -> CoparentDelivery | None:
    q = select(CoparentDelivery).where(
        CoparentDelivery.household_id == hid, CoparentDelivery.item_id == item_id
    )
    return s.exec(q).first()
