"""`nocontact demo`: sample people and messages through the real intake, so a newcomer sees
the vault fill without waiting for real mail. Nothing is written to tables directly."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlmodel import select

from nocontact.db import transaction
from nocontact.intake import InboundMessage, Intake
from nocontact.matching.facts import facts_from_email, facts_from_sms
from nocontact.models import Person
from nocontact.people.service import add_person
from nocontact.runtime import Runtime

PEOPLE = [
    dict(
        name="Jordan (demo)",
        relation="abuser",
        emails=["jordan.reed@example.net"],
        phones=["+44 7700 900123"],
        aliases=["Jordan Reed", "Jord"],
        note="sample person from `nocontact demo`",
    ),
    dict(
        name="Sam (demo)",
        relation="ally",
        emails=["sam.reed@example.org"],
        note="Jordan's brother; sample",
    ),
    dict(
        name="Alex (demo)",
        relation="coparent",
        emails=["alex.parent@example.com"],
        note="sample co-parent",
    ),
]


def _eml(sender: str, subject: str, body: str, n: int) -> bytes:
    return (
        f"From: {sender}\r\nTo: you@example.org\r\nSubject: {subject}\r\n"
        f"Date: Mon, 02 Nov 2026 09:{n:02d}:00 +0000\r\n"
        f"Message-ID: <demo-{n}@nocontact.invalid>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()


EMAILS = [
    ("Jordan Reed <jordan.reed@example.net>", "We need to talk", "Why are you ignoring me?"),
    ("J <Jordan.Reed+new@EXAMPLE.net>", "new address", "You can't block me forever."),
    ("Sam Reed <sam.reed@example.org>", "from Jordan", "He asked me to pass this on."),
    ("Alex <alex.parent@example.com>", "Pick-up Friday", "I'll collect the kids at 5pm."),
    ("Chris <chris@example.com>", "hi", "Jordan Reed asked me to check you're ok."),
    ("Library <news@library.example>", "Opening hours", "The library is open late on Thursday."),
]


@dataclass(frozen=True)
class DemoSummary:
    people_added: int
    results: dict[str, int]


def run_demo(rt: Runtime) -> DemoSummary:
    intake = Intake(rt)
    added = 0
    with transaction(rt.engine) as s:
        for p in PEOPLE:
            if s.exec(select(Person).where(Person.name == p["name"])).first() is None:
                add_person(s, rt.household_id, **p)  # type: ignore[arg-type]
                added += 1
    counts: dict[str, int] = {}
    for n, (sender, subject, body) in enumerate(EMAILS, start=1):
        raw = _eml(sender, subject, body, n)
        r = intake.process(InboundMessage("email", raw, f"demo:email:{n}", facts_from_email(raw)))
        counts[r.decision.action] = counts.get(r.decision.action, 0) + 1
    sms = {"From": "07700 900123", "Body": "Answer your phone.", "MessageSid": "SMdemo0001"}
    raw_sms = json.dumps(sms).encode()
    r = intake.process(
        InboundMessage("sms", raw_sms, "demo:sms:1", facts_from_sms(sms["From"], sms["Body"]))
    )
    counts[r.decision.action] = counts.get(r.decision.action, 0) + 1
    return DemoSummary(added, counts)
