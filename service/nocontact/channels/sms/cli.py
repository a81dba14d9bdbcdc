"""`nocontact sms catch-up [--days N]`: read back texts whose Twilio webhook failed, now.

Prints counts only. Exit 0 when every text in the window was handled, 1 when Twilio's API
could not be read or a forward failed (what was kept stays kept; the next run tries again),
2 when Twilio is not configured with an Account SID.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from nocontact.errors import UsageError


def cmd_catch_up(args: argparse.Namespace) -> int:
    from nocontact.channels.sms.catch_up import catch_up
    from nocontact.cli import open_runtime
    from nocontact.intake import Intake

    rt = open_runtime(args)
    cfg = rt.config.sms.twilio
    if cfg is None or not cfg.account_sid:
        raise UsageError("the catch-up needs [sms.twilio] with account_sid in the settings")
    report = catch_up(rt, Intake(rt), days=args.days)
    if report.error:
        print(f"Twilio catch-up could not finish ({report.error}): {report.line()}.")
        print("What was kept stays kept; the next run tries again.")
        return 1
    print(f"Twilio catch-up: {report.line()}.")
    if report.forward_failed:
        print(f"{report.forward_failed} could not be forwarded; the next run tries again.")
        return 1
    return 0


def _days(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 400:
        raise argparse.ArgumentTypeError("a number of days from 1 to 400")
    return int(value)


def register(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    from nocontact.cli import common_parser

    sms = sub.add_parser("sms", help="text messages", parents=[common_parser()])
    ssub = sms.add_subparsers(dest="sms_command", required=True, metavar="ACTION")
    sp = add(
        "catch-up",
        cmd_catch_up,
        "read back texts whose Twilio webhook failed, from Twilio's message log",
        ssub,
    )
    sp.add_argument(
        "--days", type=_days, metavar="N", help="look back N days (default: since the last run)"
    )
