"""From one reply per recipient to the single reply SMTP allows after DATA.

SMTP (unlike LMTP) answers DATA once for the whole transaction, so a split outcome must be
folded into one answer without losing or duplicating anything:
- every recipient delivered: accepted;
- any temporary failure: 451, the sender retries; recipients delivered this time are
  remembered by the relay and skipped on the retry, so nobody gets the message twice;
- only permanent failures, and nobody delivered in this attempt: the downstream's first 5xx,
  so the sender's server reports it;
- permanent failures next to fresh deliveries: 451 as well; on the retry the delivered ones are
  skipped and the permanent refusal alone is passed back.
"""

from __future__ import annotations

from nocontact.channels.smtp.downstream import Reply


def final_reply(replies: dict[str, Reply], accepted: str, tempfail: str) -> str:
    failed = [r for r in replies.values() if not r.ok]
    if not failed:
        return accepted
    if any(not r.permanent for r in failed):
        return tempfail
    if any(r.ok and not r.earlier for r in replies.values()):
        return tempfail
    return failed[0].line()
