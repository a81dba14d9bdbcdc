"""The aiosmtpd handler: decide on each message, keep it or relay it, answer only when safe.

Replies (DESIGN §1, §4):
- held (quarantine, review): sealed through the intake, then ``250``; never bounced, and the
  reply reads exactly like a relayed one, so the sender learns nothing;
- co-parent (record): sealed, then relayed; ``250`` once the downstream accepted it;
- everyone else: relayed with our Received header on top, the rest byte for byte;
- anything that fails inside, or a downstream that is away or refuses for now: ``451 4.3.0``;
- a recipient the downstream refuses for good: its 5xx, for that recipient only (at RCPT).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from nocontact.channels.smtp.downstream import Downstream, DownstreamUnavailable, Reply
from nocontact.channels.smtp.outcome import final_reply
from nocontact.channels.smtp.received import received_header
from nocontact.channels.smtp.relay import Relay
from nocontact.channels.smtp.status import FrontStatus
from nocontact.config import SmtpConfig
from nocontact.db import transaction
from nocontact.intake import InboundMessage, Intake, IntakeResult
from nocontact.matching import Decision
from nocontact.matching.facts import facts_from_email
from nocontact.models import VaultItem

log = logging.getLogger(__name__)

ACCEPTED = "250 2.0.0 OK: message accepted"
TEMPFAIL = "451 4.3.0 Temporary failure, please try again later"
HELD = ("quarantine", "review")


@dataclass
class _Txn:
    """One SMTP transaction's RCPT-time check against the downstream."""

    probe: Downstream | None = None
    unreachable: bool = False  # recipients were accepted without the downstream's word


class FrontHandler:
    def __init__(self, intake: Intake, cfg: SmtpConfig, relay: Relay | None = None) -> None:
        self.intake = intake
        self.cfg = cfg
        self.relay = relay or Relay(cfg)
        self.status = FrontStatus(intake.rt, "downstream")  # can we reach the real server?
        self.keeping = FrontStatus(intake.rt, "intake")  # can we seal what arrives?
        self._txns: dict[int, _Txn] = {}
        self.in_flight = 0  # messages between end of DATA and our reply (for a clean stop)

    # --- transaction state -------------------------------------------------------------
    async def _end(self, session: Any) -> _Txn:
        txn = self._txns.pop(id(session), None) or _Txn()
        if txn.probe is not None:
            await txn.probe.close()
            txn.probe = None
        return txn

    def session_closed(self, session: Any) -> None:
        """The client went away mid-transaction: let go of its downstream connection."""
        txn = self._txns.pop(id(session), None)
        if txn is not None and txn.probe is not None:
            asyncio.get_running_loop().create_task(txn.probe.close())

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        await self._end(session)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RSET(self, server: Any, session: Any, envelope: Any) -> str:
        await self._end(session)
        return "250 2.0.0 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        """Ask the downstream about this recipient now, so a permanent refusal reaches the
        sender for this recipient only. If the downstream cannot be asked, accept for now:
        held mail does not need it, and relayed mail gets 451 at the end of DATA."""
        txn = self._txns.setdefault(id(session), _Txn())
        if txn.probe is None and not txn.unreachable:
            refused = await self._open_probe(txn, envelope)
            if refused is not None:
                return refused.line()
        if txn.probe is not None:
            try:
                reply = await txn.probe.rcpt(address)
            except DownstreamUnavailable:
                await self._end(session)
                self._txns[id(session)] = _Txn(unreachable=True)
            else:
                if not reply.ok:
                    return reply.line()  # 4xx: retry this one later; 5xx: refused for good
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def _open_probe(self, txn: _Txn, envelope: Any) -> Reply | None:
        ds = self.relay.connect()
        try:
            await ds.open()
            started = await ds.mail(reverse_path(envelope), list(envelope.mail_options))
        except DownstreamUnavailable as e:
            await ds.close()
            txn.unreachable = True
            self.status.failed(str(e))
            return None
        if started.ok:
            txn.probe = ds
            return None
        await ds.close()
        if started.permanent:
            return started
        txn.unreachable = True
        return None

    # --- the message -----------------------------------------------------------------
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.in_flight += 1
        try:
            return await self._data(session, envelope)
        finally:
            self.in_flight -= 1

    async def _data(self, session: Any, envelope: Any) -> str:
        await self._end(session)
        raw: bytes = envelope.original_content
        loop = asyncio.get_running_loop()
        try:
            decision, result = await loop.run_in_executor(
                None, self._decide_and_keep, raw, envelope, session
            )
            self.keeping.ok()
            if decision.action in HELD:
                return ACCEPTED
            replies = await self.relay.deliver(
                sha=result.sha256,
                sender=reverse_path(envelope),
                options=list(envelope.mail_options),
                recipients=list(envelope.rcpt_tos),
                content=received_header(self.cfg.hostname, session) + raw,
            )
        except DownstreamUnavailable as e:
            log.warning("smtp front: downstream unavailable, answered 451")
            self.status.failed(str(e))
            return TEMPFAIL
        except Exception as e:  # noqa: BLE001  (protocol boundary: the sender retries)
            # the type only: exception texts can carry addresses or SQL parameters
            log.error("smtp front: message not taken (%s), answered 451", type(e).__name__)
            self.keeping.failed(f"a message could not be kept ({type(e).__name__})")
            return TEMPFAIL
        self.status.ok()
        reply = final_reply(replies, ACCEPTED, TEMPFAIL)
        if reply == ACCEPTED and result.item_id is not None:
            try:
                await loop.run_in_executor(None, self._mark_delivered, result.item_id)
            except Exception as e:  # noqa: BLE001  (delivered and sealed: only a flag is stale)
                log.error(
                    "smtp front: item %s delivered, flag not saved (%s)",
                    result.item_id,
                    type(e).__name__,
                )
        return reply

    async def handle_exception(self, error: Exception) -> str:
        """Anything unexpected in a hook. aiosmtpd's default would answer ``500`` with the
        error text: a permanent failure (the sender bounces) that may quote an address."""
        log.error("smtp front: unexpected %s, answered 451", type(error).__name__)
        return TEMPFAIL

    def _decide_and_keep(
        self, raw: bytes, envelope: Any, session: Any
    ) -> tuple[Decision, IntakeResult]:
        """Blocking (database, sealing): runs in the executor, off the event loop."""
        limits = self.intake.rt.config.limits.read()
        facts = facts_from_email(raw, reverse_path(envelope) or None, limits)
        decision = self.intake.decide(facts)
        message = InboundMessage(
            channel="email",
            raw=raw,
            source_key=f"smtp:{hashlib.sha256(raw).hexdigest()}",
            facts=facts,
            meta={
                "smtp": {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": list(envelope.rcpt_tos),
                    "helo": session.host_name,
                    "peer": str(session.peer[0]) if session.peer else None,
                    "tls": session.ssl is not None,
                }
            },
        )
        return decision, self.intake.process(message, decision=decision)

    def _mark_delivered(self, item_id: int) -> None:
        with transaction(self.intake.rt.engine) as s:
            item = s.get(VaultItem, item_id)
            if item is not None:
                item.delivery = "delivered"
                s.add(item)


def reverse_path(envelope: Any) -> str:
    """The envelope sender; "" for the null path of bounces (aiosmtpd reports it as "<>")."""
    sender = envelope.mail_from or ""
    return "" if sender == "<>" else str(sender)
