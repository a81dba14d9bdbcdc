"""A go-between through a real mailbox: held for review, added as an ally by the reviewer in
one step, and from then on their mail is taken away as quarantine (issue 8)."""

from __future__ import annotations

import imapclient
from sqlmodel import Session

from nocontact.channels.imap.poller import poll_all
from nocontact.db import transaction
from nocontact.intake import Intake
from nocontact.models import User, VaultItem
from nocontact.people.gobetween import add_go_between, sender_of
from nocontact.runtime import Runtime
from nocontact.users import add_user, unlock
from nocontact.vault.store import open_item
from tests.channels.imap.conftest import bodies, listed, message, vault_items

REVIEWER_PASSPHRASE = "the reviewer's passphrase"


def test_review_then_add_as_ally_then_the_next_message_is_quarantined(
    imap_rt: Runtime, intake: Intake, alice: imapclient.IMAPClient
) -> None:
    listed(imap_rt, "Jon", emails=["jon@example.org"], aliases=["Jon Smith"])
    with transaction(imap_rt.engine) as s:
        reviewer = add_user(s, imap_rt.household_id, "friend", "reviewer", REVIEWER_PASSPHRASE)
        reviewer_id, recipient_id = reviewer.id, reviewer.recipient_id
    first = message("Cousin <cousin@example.com>", "hi", "Jon Smith wants you to call him.")
    alice.append("INBOX", first)
    [report] = poll_all(intake)
    assert report.review == 1 and bodies(alice, "INBOX") == []
    [held] = vault_items(imap_rt)
    assert held.action == "review" and held.id is not None
    with Session(imap_rt.engine) as s:
        item = s.get(VaultItem, held.id)
        assert item is not None
        user = s.get(User, reviewer_id)
        assert user is not None
        _, meta = open_item(
            s, imap_rt.blobs, item, recipient_id, unlock(s, user, REVIEWER_PASSPHRASE)
        )
    sender = sender_of(meta, "GB")
    assert sender is not None and sender.original == "cousin@example.com"
    assert reviewer_id is not None
    with transaction(imap_rt.engine) as s:
        add_go_between(
            s,
            imap_rt.household_id,
            sender=sender,
            item_ids=[held.id],
            reviewer_id=reviewer_id,
            note="passes messages on",
        )
    second = message("Cousin <COUSIN+x@example.com>", "again", "Please just talk to him.")
    alice.append("INBOX", second)
    [report] = poll_all(intake)
    assert report.quarantined == 1 and bodies(alice, "INBOX") == []
    newest = vault_items(imap_rt)[-1]
    assert (newest.action, newest.relation) == ("quarantine", "ally")


def test_an_allowed_sender_gets_through_but_never_past_an_explicit_block(
    imap_rt: Runtime, intake: Intake, alice: imapclient.IMAPClient
) -> None:
    listed(imap_rt, "Jon", emails=["jon@example.org"], aliases=["Jon Smith"])
    listed(imap_rt, "Mum", "allow", emails=["mum@example.com"])
    mentions = message("Mum <mum@example.com>", "news", "Jon Smith rang me again today.")
    smuggled = message(
        "Mum <mum@example.com>", "fwd", "From him.", extra="Reply-To: jon@example.org\r\n"
    )
    alice.append("INBOX", mentions)
    alice.append("INBOX", smuggled)
    [report] = poll_all(intake)
    assert (report.delivered, report.quarantined) == (1, 1)
    assert bodies(alice, "INBOX") == [mentions]
