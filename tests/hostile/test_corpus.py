"""Every consumer survives every item of the hostile corpus, on SQLite and on PostgreSQL.

The work happens once per engine in the ``hostile`` fixture (see conftest.py); each test here
reads what it saw. One test id per corpus item, e.g.
``test_email_kept[sqlite-email/01-utf8-raw-from.eml]``: that item through each of its channels
(SMTP front and IMAP poll for mail, its webhook for a text), then through every consumer of
what was kept: the owner's and the reviewer's pages in Chromium (item page, body frame, every
attachment, same-sender page) and the evidence export. The whole-run tests cover what is not
one item's: the poll itself, the canary, the notices, the orders report, export and verify.
"""

from __future__ import annotations

import hashlib

import pytest

from tests.hostile.conftest import Delivery, Results
from tests.hostile.corpus import ABUSER_EMAIL, ABUSER_PHONE, Item

# the first test of each engine carries the whole run (about 1.5 minutes, more on a busy host)
pytestmark = pytest.mark.timeout(900)


def _sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _fail(failures: list[str], case: Item, hostile: Results) -> None:
    if failures:
        failures += [
            f"{d.channel} (service log): {line}" for d in hostile.of(case) for line in d.log
        ]
        head = f"{case.file} on {hostile.engine} ({case.note or 'no note'}):"
        pytest.fail("\n  ".join([head, *failures]), pytrace=False)


def _downstream(hostile: Results, ids: set[int]) -> list[str]:
    return [f"item {i}: {p}" for i in sorted(ids) for p in hostile.item_problems.get(i, [])]


def _kept_email(hostile: Results, d: Delivery) -> tuple[list[str], set[int]]:
    out = [f"{d.channel}: {p}" for p in d.problems]
    if d.delivered is None:
        return out or [f"{d.channel}: never delivered"], set()
    if d.channel == "smtp" and d.status != 250:
        out.append(f"smtp: the front answered {d.status} {d.reply!r}, not 250")
    found = hostile.sha.get(_sha(d.delivered))
    ids = set(d.new_ids) | ({found} if found else set())
    if found is None:
        out.append(f"{d.channel}: no vault item holds the delivered bytes (new items: {d.new_ids})")
    elif found in hostile.originals and hostile.originals[found] != _sha(d.delivered):
        out.append(f"{d.channel}: item {found}'s original differs from what was delivered")
    if d.channel == "imap" and not d.left_inbox:
        out.append("imap: the message is still in the INBOX after the poll")
    return out, ids


def test_email_kept(hostile: Results, case: Item) -> None:
    failures, ids = [], set()
    for d in hostile.of(case):
        got, found = _kept_email(hostile, d)
        failures += got
        ids |= found
    _fail(failures + _downstream(hostile, ids), case, hostile)


def test_email_not_kept(hostile: Results, case: Item) -> None:
    failures = []
    for d in hostile.of(case):
        failures += [f"{d.channel}: {p}" for p in d.problems]
        if d.channel == "smtp" and d.status != 250:
            failures.append(f"smtp: the front answered {d.status} {d.reply!r}, not 250")
        kept = d.delivered is not None and _sha(d.delivered) in hostile.sha
        if d.new_ids or kept:
            failures.append(f"{d.channel}: kept as item(s) {d.new_ids}")
        if d.channel == "imap" and d.left_inbox:
            failures.append("imap: the message left the INBOX")
    _fail(failures, case, hostile)


def test_email_refused(hostile: Results, case: Item) -> None:
    """Mail the front must refuse for now (4xx, never a bounce); the poll keeps nothing."""
    failures = []
    for d in hostile.of(case):
        failures += [f"{d.channel}: {p}" for p in d.problems]
        if d.channel == "smtp" and not (d.status and 400 <= d.status < 500):
            failures.append(f"smtp: the front answered {d.status} {d.reply!r}, not 4xx")
        if d.new_ids:
            failures.append(f"{d.channel}: kept as item(s) {d.new_ids}")
    _fail(failures, case, hostile)


def test_sms_kept(hostile: Results, case: Item) -> None:
    failures: list[str] = []
    ids: set[int] = set()
    for d in hostile.of(case):
        failures += [f"sms: {p}" for p in d.problems]
        if d.status is None:
            continue
        if not 200 <= d.status < 300:
            failures.append(f"sms: the webhook answered {d.status} {d.reply!r}, not 2xx")
        if not d.new_ids:
            failures.append("sms: no vault item was made")
        ids |= set(d.new_ids)
        for i in d.new_ids:
            body = hostile.sms_bodies.get(i)
            if body is not None and d.delivered is not None and body != _sha(d.delivered):
                failures.append(f"sms: item {i}'s evidence body differs from the request body")
    _fail(failures + _downstream(hostile, ids), case, hostile)


def test_sms_refused(hostile: Results, case: Item) -> None:
    failures = []
    for d in hostile.of(case):
        failures += [f"sms: {p}" for p in d.problems]
        if d.status is not None and not 400 <= d.status < 500:
            failures.append(f"sms: the webhook answered {d.status} {d.reply!r}, not 4xx")
        if d.new_ids:
            failures.append(f"sms: kept as item(s) {d.new_ids}")
    _fail(failures, case, hostile)


def test_sms_not_kept(hostile: Results, case: Item) -> None:
    failures = []
    for d in hostile.of(case):
        failures += [f"sms: {p}" for p in d.problems]
        if d.status is not None and not 200 <= d.status < 300:
            failures.append(f"sms: the webhook answered {d.status} {d.reply!r}, not 2xx")
        if d.new_ids:
            failures.append(f"sms: kept as item(s) {d.new_ids}")
    _fail(failures, case, hostile)


# --- the whole run ---------------------------------------------------------------------------


def _problems(hostile: Results, *names: str) -> None:
    __tracebackhide__ = True
    found = {
        name: probs
        for name, probs in hostile.problems.items()
        if probs and any(name.startswith(n) for n in names)
    }
    assert not found, "\n".join(f"{n}:\n  " + "\n  ".join(p) for n, p in found.items())


def test_channels_take_every_item_without_stopping(hostile: Results) -> None:
    """One poll for all the mail, the front and the webhooks: no phase broke off, and the poll
    reported no error and scanned every message (later items were still processed)."""
    _problems(hostile, "SMTP front", "IMAP poll", "nocontact poll", "SMS webhooks")
    _problems(hostile, "open originals")


def test_pages_answer_below_500(hostile: Results) -> None:
    """The pages that are nobody's item: lists, home, activity, notes, same-sender groups."""
    _problems(hostile, "owner pages", "reviewer pages")


def test_canary_counts_no_hit(hostile: Results) -> None:
    """After Chromium rendered every item page and body frame, as owner and reviewer."""
    _problems(hostile, "canary")
    assert hostile.canary_hits == [], hostile.canary_hits


def test_notices_are_sent_and_content_free(hostile: Results) -> None:
    _problems(hostile, "notices")
    subjects = sorted(
        line.split(b":", 1)[1].strip().decode()
        for raw in hostile.notices
        for line in raw.splitlines()
        if line.lower().startswith(b"subject:")
    )
    assert len(subjects) == 3, subjects  # the digest, "please look instead", the urgent note
    assert "Please take a look when you can" in subjects
    assert "A note from your trusted person" in subjects
    assert any(s.endswith("to review") for s in subjects), subjects
    for raw in hostile.notices:
        low = raw.lower()
        for secret in (b"jordan", ABUSER_EMAIL.encode(), ABUSER_PHONE[3:].encode()):
            assert secret not in low, f"{secret!r} in a notice"
        assert hostile.canary.encode() not in raw, "a corpus URL in a notice"


def test_orders_report(hostile: Results) -> None:
    _problems(hostile, "nocontact orders")


def test_export_and_verify(hostile: Results) -> None:
    """`nocontact export` (report.pdf, report.html, incidents.csv, violations.csv; and the
    co-parent log) and `nocontact verify` exit 0; each item's own failure is in its test."""
    _problems(hostile, "nocontact export", "nocontact verify", "export contents", "orders, export")
