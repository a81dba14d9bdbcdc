"""One verified, parsed text through the intake, then forwarding: the plain function behind
the webhook route (the route only reads, verifies and answers).

Order: decide -> fetch MMS media (kept texts only) -> ``Intake.process`` (durable) -> forward
(allowed and co-parent texts, when ``[sms.forward]`` is set). The provider gets its 2xx only
after all of that; if forwarding fails the reply asks for a retry (the text is already in the
vault if it is kept; the retry is deduplicated).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from nocontact.channels.sms.deliver import sealed_text
from nocontact.channels.sms.forward import forward_once
from nocontact.channels.sms.gateway import InboundText
from nocontact.channels.sms.media import fetch_media
from nocontact.coparent.holding import hold
from nocontact.coparent.window import batching
from nocontact.errors import ChannelError
from nocontact.intake import KEPT, InboundMessage, Intake, IntakeResult
from nocontact.matching import Decision
from nocontact.matching.facts import Facts, facts_from_sms
from nocontact.models import utcnow
from nocontact.runtime import Runtime

log = logging.getLogger(__name__)
FORWARDED = ("deliver", "record")  # held texts (quarantine, review) are never forwarded


@dataclass(frozen=True)
class Outcome:
    action: str
    item_id: int | None = None
    duplicate: bool = False
    forwarded: bool = False
    retry: bool = False  # forwarding failed: ask the provider to deliver again


Commit = Callable[[InboundMessage, Decision], IntakeResult]


def needs_io(rt: Runtime, text: InboundText, decision: Decision) -> bool:
    """Whether keeping or forwarding this text takes blocking network IO (MMS media, a
    forward, co-parent holding): then ``receive`` runs in a worker thread; otherwise the route
    builds the ``message`` and hands it to the group commit from the event loop."""
    sms = rt.config.sms
    if decision.action in KEPT and text.media and sms.fetch_media:
        return True
    return decision.action in FORWARDED and sms.forward is not None


def message(
    text: InboundText,
    raw: bytes,
    facts: Facts,
    received_at: datetime | None = None,
    media: list[dict[str, object]] | None = None,
) -> InboundMessage:
    """The text as the intake keeps it: the raw request, what the provider said about it, and
    the fetched media, if any."""
    meta: dict[str, object] = {
        "provider": text.provider,
        "provider_message_id": text.message_id,
        "from": text.sender,
        "to": text.to,
        "provider_claimed_at": text.claimed_at,  # kept apart from our own receipt time
        "media_urls": list(text.media),
    }
    if text.media_reported:
        meta["media_reported"] = dict(text.media_reported)
    if text.batch_index is not None:
        # the raw request holds the whole batch: say which text this is, and give its text,
        # which the vault's viewer and the export show instead of searching the request
        meta["batch_index"] = text.batch_index
        meta["text"] = text.text
    if media is not None:
        meta["media"] = media
    return InboundMessage(
        channel="sms",
        raw=raw,
        source_key=text.source_key,
        facts=facts,
        received_at=received_at or utcnow(),
        meta=meta,
    )


def receive(
    rt: Runtime,
    intake: Intake,
    text: InboundText,
    raw: bytes,
    received_at: datetime | None = None,
    commit: Commit | None = None,
    decision: Decision | None = None,
) -> Outcome:
    """``commit`` is the group committer when called from the web; default one at a time.
    ``decision`` is the one the caller already made for these facts, if any."""
    facts = facts_from_sms(text.sender, text.text)
    decision = decision or intake.decide(facts)
    sms = rt.config.sms
    media = None
    if decision.action in KEPT and text.media and sms.fetch_media:
        media = fetch_media(text, sms.max_media_bytes)
    msg = message(text, raw, facts, received_at, media)
    result = commit(msg, decision) if commit else intake.process(msg, decision=decision)
    outcome = Outcome(decision.action, result.item_id, result.duplicate)
    if decision.action not in FORWARDED or sms.forward is None:
        return outcome
    if decision.action == "record" and batching(rt.config) and result.item_id is not None:
        # forwarded at the delivery time instead (coparent.deliver); the 2xx waits for this
        hold(rt, result.item_id, channel="sms", now=utcnow(), payload=sealed_text(rt, text))
        return outcome
    try:
        sent = forward_once(rt, text, result.item_id)
    except ChannelError:
        return Outcome(decision.action, result.item_id, result.duplicate, retry=True)
    return Outcome(decision.action, result.item_id, result.duplicate, forwarded=sent)
