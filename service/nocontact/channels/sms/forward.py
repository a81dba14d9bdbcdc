"""Forwarding allowed and co-parent texts to the survivor's own phone (``[sms.forward]``).

Held texts never come here. Each text is forwarded at most once: a ``SmsForward`` row is
claimed before sending (concurrent retries of one text see the claim and skip) and marked sent
after; a failed send drops the claim so the provider's retry can try again. A claim left by a
crash between claim and send goes stale after ``STALE`` and is taken over.

Failures become a ``ChannelStatus`` row (channel ``sms``, name ``forward``) that the home page
shows; the item itself is already in the vault (co-parent) or is redelivered by the provider.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from nocontact.channels import status
from nocontact.channels.sms.gateway import InboundText
from nocontact.channels.sms.models import SmsForward
from nocontact.config import ForwardConfig, SmsConfig
from nocontact.db import transaction
from nocontact.errors import ChannelError
from nocontact.models import VaultItem, utcnow
from nocontact.runtime import Runtime

log = logging.getLogger(__name__)
STALE = timedelta(minutes=2)
TWILIO_API = "https://api.twilio.com"


def message_for(text: InboundText) -> str:
    # a data SMS that is not UTF-8, or an MMS without words: say so rather than send "From X: "
    body = f"From {text.sender}: {text.text or '[no text]'}"
    if text.media:
        body += f"\n[{len(text.media)} picture(s) kept with the text]"
    elif text.media_reported:
        body += "\n[a picture message (MMS): its pictures stayed on the gateway phone]"
    return body


def send(sms: SmsConfig, body: str) -> None:
    """One text to the survivor's phone through the configured gateway; ChannelError if not."""
    cfg = sms.forward
    if cfg is None:
        raise ChannelError("forwarding is not configured", permanent=True)
    try:
        with httpx.Client(timeout=cfg.timeout_seconds) as client:
            resp = _post(client, sms, cfg, body)
    except httpx.HTTPError as e:
        raise ChannelError(f"forward via {cfg.via} failed: {type(e).__name__}") from e
    if resp.status_code >= 300:
        permanent = 400 <= resp.status_code < 500 and resp.status_code not in (408, 429)
        raise ChannelError(f"forward via {cfg.via}: HTTP {resp.status_code}", permanent=permanent)


def _post(client: httpx.Client, sms: SmsConfig, cfg: ForwardConfig, body: str) -> httpx.Response:
    if cfg.via == "twilio":
        sid = cfg.username or (sms.twilio.account_sid if sms.twilio else None)
        token = cfg.secret("password") or (sms.twilio.secret("auth_token") if sms.twilio else None)
        if not sid or not token:
            raise ChannelError(
                "Twilio forwarding needs an Account SID and auth token", permanent=True
            )
        url = f"{(cfg.api_url or TWILIO_API).rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"
        data = {"To": cfg.to, "From": cfg.from_number or "", "Body": body}
        return client.post(url, data=data, auth=(sid, token))
    # capcom6 SMS Gateway for Android: POST <api>/message, basic auth; "message" is the text
    # field every app version accepts (newer ones also take "textMessage").
    assert cfg.api_url is not None
    auth = (cfg.username or "", cfg.secret("password") or "")
    payload = {"message": body, "phoneNumbers": [cfg.to]}
    return client.post(f"{cfg.api_url.rstrip('/')}/message", json=payload, auth=auth)


def forward_once(rt: Runtime, text: InboundText, item_id: int | None = None) -> bool:
    """Forward unless already done or in flight; True if sent now. Raises ChannelError."""
    key = text.source_key
    if not _claim(rt, key):
        return False
    try:
        send(rt.config.sms, message_for(text))
    except ChannelError as e:
        with transaction(rt.engine) as s:
            row = _row(s, rt.household_id, key)
            if row is not None:
                s.delete(row)
        record_status(rt, str(e))
        log.warning("sms forward failed for %s: %s", key, e)
        raise
    with transaction(rt.engine) as s:
        row = _row(s, rt.household_id, key)
        if row is not None:
            row.state, row.sent_at = "sent", utcnow()
            s.add(row)
        item = s.get(VaultItem, item_id) if item_id else None
        if item is not None and item.delivery == "pending":
            item.delivery = "delivered"
            s.add(item)
    record_status(rt, None)
    return True


def _row(s: Session, hid: int, key: str) -> SmsForward | None:
    q = select(SmsForward).where(SmsForward.household_id == hid, SmsForward.source_key == key)
    return s.exec(q).first()


def _claim(rt: Runtime, key: str) -> bool:
    hid = rt.household_id
    try:
        with transaction(rt.engine) as s:
            s.add(SmsForward(household_id=hid, source_key=key))
        return True
    except IntegrityError:
        pass
    with transaction(rt.engine) as s:
        row = _row(s, hid, key)
        if row is None or row.state == "sent":
            return False  # None: a failed attempt just let go; its provider retry comes back
        if row.claimed_at.replace(tzinfo=None) > (utcnow() - STALE).replace(tzinfo=None):
            return False  # another delivery of this text is sending it right now
        # take over a claim left by a crash, unless someone else just did
        res = s.execute(
            update(SmsForward)
            .where(col(SmsForward.id) == row.id, col(SmsForward.claimed_at) == row.claimed_at)
            .values(claimed_at=utcnow())
        )
        return bool(res.rowcount == 1)  # type: ignore[attr-defined]


def record_status(rt: Runtime, error: str | None) -> None:
    """The forwarder's health for the home page; the error names no sender or content."""
    status.record(rt, "sms", "forward", error)
