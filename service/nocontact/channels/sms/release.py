"""Releasing a held text a reviewer judged harmless: forward it from the kept request.

Called by ``nocontact.channels.release`` with the original bytes the reviewer's session
unsealed (the service itself cannot read them). The text is re-parsed from the evidence with
the same gateway module that received it; its signature was checked on arrival. A text the
Twilio catch-up read back from Twilio's API is read from that answer instead.
"""

from __future__ import annotations

from typing import Any

from nocontact.channels.sms.catch_up import text_from_evidence
from nocontact.channels.sms.forward import forward_once
from nocontact.channels.sms.gateway import Malformed, request_from_evidence
from nocontact.channels.sms.gateways import configured
from nocontact.errors import ChannelError
from nocontact.models import VaultItem
from nocontact.runtime import Runtime


def release(rt: Runtime, item: VaultItem, raw: bytes, meta: dict[str, Any]) -> None:
    if rt.config.sms.forward is None:
        raise ChannelError("texts cannot be released: [sms.forward] is not set", permanent=True)
    read_back = text_from_evidence(raw)  # kept by the Twilio catch-up, not by a webhook
    if read_back is not None:
        forward_once(rt, read_back, None)
        return
    try:
        provider, req = request_from_evidence(raw)
    except Malformed as e:
        raise ChannelError(f"item {item.id} is not a kept text", permanent=True) from e
    gw = configured(rt.config).get(provider)
    if gw is None:
        raise ChannelError(f"gateway {provider} is no longer configured", permanent=True)
    try:
        text = gw.parse(req)
    except Malformed as e:
        raise ChannelError(f"item {item.id} cannot be read as a text", permanent=True) from e
    if text is None:
        raise ChannelError(f"item {item.id} is not a text", permanent=True)
    forward_once(rt, text, None)
