"""From a real mailbox to an evidence file: what Dovecot held is what the bundle discloses."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import imapclient
from sqlmodel import Session

from nocontact.channels.imap.poller import poll_all
from nocontact.export.bundle import export_bundle
from nocontact.export.scope import ExportFilters
from nocontact.export.verify import verify
from nocontact.intake import Intake
from nocontact.runtime import Runtime
from nocontact.users import find_user, unlock
from tests.channels.imap.conftest import listed, message
from tests.conftest import PASSPHRASE


def test_mail_taken_from_dovecot_exports_byte_identical_and_verifies(
    imap_rt: Runtime, intake: Intake, alice: imapclient.IMAPClient, tmp_path: Path
) -> None:
    listed(imap_rt, "Jon", emails=["jon@example.org"])
    held = [
        message("Jon <jon@example.org>", "first", "You can't ignore me."),
        message("J <JON+new@example.org>", "second", "Answer me.\r\n\r\n-- \r\nJ"),
    ]
    for raw in held:
        alice.append("INBOX", raw)
    alice.append("INBOX", message("Pat <pat@example.com>", "hi", "Lunch?"))
    [report] = poll_all(intake)
    assert report.quarantined == 2
    with Session(imap_rt.engine) as s:
        owner = find_user(s, imap_rt.household_id, "owner")
        assert owner is not None
        identity = unlock(s, owner, PASSPHRASE)
    out = tmp_path / "evidence.zip"
    export_bundle(imap_rt, out, owner.recipient_id, identity, ExportFilters(), "owner")
    assert verify(out)
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
        files = {it["file"]: z.read(it["file"]) for it in manifest["items"]}
        for it in manifest["items"]:
            assert hashlib.sha256(files[it["file"]]).hexdigest() == it["sha256"]
    assert sorted(files.values()) == sorted(held)  # exactly the bytes Dovecot had
