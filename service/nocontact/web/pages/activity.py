"""The activity page: every access step from the ledger, in plain words.

Arrivals (intake entries) are left out unless the owner asked for counts: a stream of "a
message was kept" lines would be a counter by another name (VOICE.md: calm by default).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from nocontact.models import LedgerEntry, User
from nocontact.web.deps import OwnerDep, render, rt_of
from nocontact.web.plain import when
from nocontact.web.security import check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)])
SHOWN = 200

WORDS = {
    "vault_open_started": "{who} started opening the vault",
    "vault_unlock_failed": "{who} tried to open the vault; the passphrase did not match",
    "vault_unlocked": "{who} gave the passphrase to open the vault",
    "vault_open_cancelled": "{who} cancelled opening the vault; nothing was opened",
    "vault_closed": "{who} closed the vault",
    "vault_handed_to_reviewer": "{who} asked the trusted person to look instead",
    "vault_list_viewed": "{who} looked at the list of held messages (no contents)",
    "item_opened": "{who} opened one held message (number {item})",
    "attachment_opened": "{who} downloaded an attachment of message {item}",
    "review_unlocked": "{who} unlocked their key to review messages",
    "review_note": "{who} wrote a note about message {item}",
    "item_released": "{who} let message {item} through to you",
    "reviewer_added": "{who} added a trusted person",
    "reviewer_revoked": "{who} removed a trusted person's access",
    "list_add": "Someone was added to your list",
    "list_change": "Someone on your list was changed",
    "list_remove": "Someone was removed from your list",
    "intake": "A message was kept ({channel})",
    "go_between_added": "{who} added someone passing messages on to your list",
    "review_sender_viewed": "{who} looked at who sent several held messages",
    "order_add": "{who} noted a court order",
    "violations_exported": "{who} downloaded the contact report for a court order",
    "body_viewed": "{who} saw the text of message {item}",
    "item_released_preview": "{who} looked at message {item} before letting it through",
    "login_failed": "A wrong {step} was given for {account} from {client}",
    "login_failed_rests": "A wrong {step} was given for {account} from {client}; "
    "logins from there rest for 15 minutes",
    "totp_on": "{who} switched on codes from a phone",
    "totp_replaced": "{who} moved codes from a phone to a new phone",
    "totp_off": "{who} switched off codes from a phone",
    "second_factor_reset": "Codes from a phone were switched off for {account} on the server",
    "passphrase_reset": "The passphrase of {account} was reset with the recovery code",
    "session_ended": "{who} ended a login of {account}",
}
STEPS = {
    "login": "passphrase",
    "code": "code",
    "step-up": "passphrase",
    "second factor": "passphrase",
}


def _person(value: object, names: dict[int, str], me: int | None, you: str) -> str:
    if value == me:
        return you
    if isinstance(value, int):
        return names.get(value, "Someone")
    if isinstance(value, str) and value:
        return value  # the CLI writes names
    return "Someone"


def describe(body: dict[str, object], names: dict[int, str], me: int | None) -> str | None:
    kind = str(body.get("kind"))
    if kind == "login_failed" and body.get("rests"):
        kind = "login_failed_rests"
    template = WORDS.get(kind)
    if template is None:
        return None
    return template.format(
        who=_person(body.get("user"), names, me, "You"),
        account=_person(body.get("account"), names, me, "you"),
        step=STEPS.get(str(body.get("step")), "passphrase"),
        client=str(body.get("client", "an unknown place"))[:64],
        item=body.get("item", "?"),
        channel=body.get("channel", ""),
    )


@router.get("/activity")
def activity(request: Request, cur: OwnerDep) -> Response:
    rt = rt_of(request)
    with Session(rt.engine) as s:
        users = s.exec(select(User).where(User.household_id == rt.household_id)).all()
        names = {u.id: u.name for u in users if u.id is not None}
        q = select(LedgerEntry).where(LedgerEntry.household_id == rt.household_id)
        if not rt.config.web.show_counts:
            q = q.where(LedgerEntry.kind != "intake")
        rows = s.exec(q.order_by(col(LedgerEntry.seq).desc()).limit(SHOWN)).all()
    lines = []
    for r in rows:
        text = describe(json.loads(r.body), names, cur.user.id)
        if text:
            lines.append((when(r.created_at, rt.config.household.timezone), text))
    return render(request, "activity.html", cur, lines=lines)
