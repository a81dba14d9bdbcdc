"""A co-parent text at its delivery time: forwarded to the survivor's phone, once.

The text was kept sealed to the service's delivery key when it arrived (``coparent.holding``).
``forward_once`` claims the forward in ``SmsForward`` before sending, so a crash or a second run
never sends it twice; the delivery row is closed once that claim says sent.
"""

from __future__ import annotations

from sqlmodel import Session, select

from nocontact.channels.sms.forward import forward_once
from nocontact.channels.sms.gateway import InboundText
from nocontact.channels.sms.models import SmsForward
from nocontact.coparent.deliver import finish
from nocontact.coparent.holding import open_payload, seal_payload
from nocontact.coparent.models import CoparentDelivery
from nocontact.errors import ChannelError
from nocontact.runtime import Runtime


def sealed_text(rt: Runtime, text: InboundText) -> bytes:
    return seal_payload(
        rt,
        {
            "provider": text.provider,
            "message_id": text.message_id,
            "sender": text.sender,
            "to": text.to,
            "text": text.text,
            "media": list(text.media),
        },
    )


def forward_held(rt: Runtime, row: CoparentDelivery) -> int:
    """1 if the text is now forwarded (by this run or an earlier one), else 0. Raises
    ChannelError when the gateway refuses."""
    if rt.config.sms.forward is None:
        raise ChannelError("texts cannot be forwarded: [sms.forward] is not set", permanent=True)
    doc = open_payload(rt, row.payload)
    media = doc.get("media")
    text = InboundText(
        provider=str(doc["provider"]),
        message_id=str(doc["message_id"]),
        sender=str(doc["sender"]),
        to=str(doc["to"]),
        text=str(doc["text"]),
        media=tuple(str(m) for m in media) if isinstance(media, list) else (),
    )
    forward_once(rt, text, row.item_id)
    with Session(rt.engine) as s:
        q = select(SmsForward).where(
            SmsForward.household_id == rt.household_id, SmsForward.source_key == text.source_key
        )
        claim = s.exec(q).first()
        sent = claim is not None and claim.state == "sent"
    if sent and row.id is not None:
        finish(rt, [row.id])
        return 1
    return 0  # another run is sending it right now; it closes the row next time
