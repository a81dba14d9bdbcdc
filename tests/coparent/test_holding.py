"""Pending deliveries on both databases: one per item however often it is held, found due,
closed with the item."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from nocontact.coparent.deliver import due, finish
from nocontact.coparent.holding import hold, open_payload, seal_payload
from nocontact.coparent.models import CoparentDelivery
from nocontact.db import transaction
from nocontact.intake import InboundMessage, Intake
from nocontact.matching.facts import facts_from_sms
from nocontact.models import VaultItem
from nocontact.people.service import add_person
from nocontact.runtime import Runtime

SAM = "+447700900777"
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def recorded_text(rt: Runtime) -> int:
    with transaction(rt.engine) as s:
        add_person(s, rt.household_id, "Sam", "coparent", phones=[SAM])
    raw = json.dumps({"from": SAM, "text": "pick up at 5"}).encode()
    msg = InboundMessage("sms", raw, "sms:generic:t1", facts_from_sms(SAM, "pick up at 5"))
    result = Intake(rt).process(msg)
    assert result.decision.action == "record" and result.item_id is not None
    return result.item_id


def test_holding_twice_makes_one_pending_delivery_and_none_once_delivered(any_rt: Runtime) -> None:
    item_id = recorded_text(any_rt)
    payload = seal_payload(any_rt, {"text": "pick up at 5"})
    assert b"pick up" not in payload
    assert hold(any_rt, item_id, channel="sms", now=NOW, payload=payload)
    assert hold(any_rt, item_id, channel="sms", now=NOW + timedelta(hours=1), payload=payload)
    [row] = due(any_rt, NOW)  # no delivery times set: everything waiting is due at once
    assert row.item_id == item_id and row.due_at.astimezone(UTC) == NOW
    assert open_payload(any_rt, row.payload) == {"text": "pick up at 5"}
    assert row.id is not None
    finish(any_rt, [row.id])
    assert due(any_rt, NOW + timedelta(days=1)) == []
    assert not hold(any_rt, item_id, channel="sms", now=NOW)  # delivered: leave it be
    with Session(any_rt.engine) as s:
        [closed] = s.exec(select(CoparentDelivery)).all()
        assert (closed.state, closed.payload) == ("delivered", b"")
        item = s.get(VaultItem, item_id)
        assert item is not None and item.delivery == "delivered"
    key = any_rt.home / "keys" / "delivery.age"
    assert key.stat().st_mode & 0o777 == 0o600
