"""`nocontact poll [--account NAME] [--json]`: one IMAP pass now (DESIGN §6).

Exit 0 when every account was read, 1 when any failed (the JSON still lists every account),
2 for an account name that is not configured.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from nocontact.errors import UsageError


def cmd_poll(args: argparse.Namespace) -> int:
    from nocontact.channels.imap.poller import poll_all
    from nocontact.cli import open_runtime
    from nocontact.intake import Intake

    rt = open_runtime(args)
    names = [a.name for a in rt.config.imap]
    if args.account is not None and args.account not in names:
        known = ", ".join(names) or "none configured"
        raise UsageError(f"no [[imap]] account named {args.account!r} ({known})")
    reports = poll_all(Intake(rt), args.account)
    if args.json:
        print(json.dumps({"accounts": [r.as_json() for r in reports]}))
    else:
        if not reports:
            print("No mail accounts are configured; add an [[imap]] section to the settings.")
        for r in reports:
            state = "could not be checked: " + "; ".join(r.errors) if r.errors else "checked"
            print(
                f"{r.name}: {state}. {r.scanned} looked at, {r.quarantined} held, "
                f"{r.recorded} recorded, {r.review} for review, {r.delivered} left in place."
            )
    return 1 if any(r.errors for r in reports) else 0


def register(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    sp = add("poll", cmd_poll, "check the mail accounts once now")
    sp.add_argument("--account", metavar="NAME", help="only this [[imap]] account")
    sp.add_argument("--json", action="store_true", help="print the result as JSON")
