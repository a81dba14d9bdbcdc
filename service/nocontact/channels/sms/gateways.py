"""The gateways this install answers for: only those configured under ``[sms.*]``."""

from __future__ import annotations

from nocontact.channels.sms import android_gateway, generic, httpsms, telnyx, twilio
from nocontact.channels.sms.gateway import Gateway
from nocontact.config import Config

MODULES = (twilio, telnyx, android_gateway, httpsms, generic)


def configured(config: Config) -> dict[str, Gateway]:
    out: dict[str, Gateway] = {}
    for module in MODULES:
        gw = module.gateway(config)
        if gw is not None:
            out[gw.name] = gw
    return out
