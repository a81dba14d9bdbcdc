"""`nocontact export` and `nocontact verify`: thin wrappers over export_bundle and verify."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from nocontact.errors import NoContactError, UsageError

BUNDLE_PASSPHRASE_ENV = "NOCONTACT_BUNDLE_PASSPHRASE"  # noqa: S105  (a variable name)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from e


def _bundle_passphrase(*, confirm: bool) -> str:
    env = os.environ.get(BUNDLE_PASSPHRASE_ENV)
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise UsageError(
            f"no terminal to ask for the file's passphrase; set {BUNDLE_PASSPHRASE_ENV}"
        )
    first = getpass.getpass("Passphrase for the evidence file: ")
    if confirm and getpass.getpass("Once more, to be sure: ") != first:
        raise UsageError("the two passphrases differ; nothing was exported")
    return first


class _Bar:
    """A progress bar on a terminal (stderr); silent otherwise."""

    def __init__(self) -> None:
        self.on = sys.stderr.isatty()
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        pct = 100 * done // max(total, 1)
        if not self.on or pct == self.shown:
            return
        self.shown = pct
        bar = "#" * (pct // 4)
        sys.stderr.write(f"\rWriting the evidence file [{bar:<25}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def cmd_export(args: argparse.Namespace) -> int:
    from nocontact.cli import ask_passphrase, open_runtime
    from nocontact.export.bundle import export_bundle
    from nocontact.export.encrypt import BundleKey
    from nocontact.export.scope import ExportFilters
    from nocontact.users import find_user, unlock, unlock_recovery

    out = Path(args.out)
    if out.exists():
        raise UsageError(f"{out} already exists; choose another name")
    if args.to and args.encrypt_passphrase:
        raise UsageError("use --to or --encrypt-passphrase, not both")
    key = BundleKey(tuple(args.to)) if args.to else None  # checks the keys before any work
    filters = ExportFilters(
        persons=tuple(args.person),
        since=datetime.combine(args.since, time(), UTC) if args.since else None,
        until=datetime.combine(args.until + timedelta(days=1), time(), UTC) if args.until else None,
        channel=args.channel,
        action="record" if args.coparent_log else None,
    )
    if filters.since and filters.until and filters.since >= filters.until:
        raise UsageError("--since must be on or before --until")
    rt = open_runtime(args)
    with Session(rt.engine) as s:
        if args.recovery:
            recipient_id, identity = unlock_recovery(
                s, rt.household_id, ask_passphrase("Recovery code: ")
            )
            who = "recovery code"
        else:
            user = find_user(s, rt.household_id, args.user)
            if user is None or user.role != "owner" or not user.active:
                raise UsageError(f"{args.user!r} is not an owner account; only the owner exports")
            identity = unlock(s, user, ask_passphrase(f"Passphrase for {user.name}: "))
            recipient_id, who = user.recipient_id, user.name
    if args.encrypt_passphrase:
        key = BundleKey(passphrase=_bundle_passphrase(confirm=True))
    result = export_bundle(
        rt, out, recipient_id, identity, filters, who, encrypt_to=key, progress=_Bar()
    )
    print(
        f"Wrote {result.path}: {result.items} items, recorded as ledger entry "
        f"{result.ledger_seq}. Check it any time with `nocontact verify {result.path}`."
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from nocontact.export.encrypt import is_encrypted
    from nocontact.export.verify import verify

    path = Path(args.file)
    identity = passphrase = None
    if path.is_file() and is_encrypted(path):
        if args.identity:
            identity = _identity_from(Path(args.identity))
        else:
            passphrase = _bundle_passphrase(confirm=False)
    try:
        summary = verify(path, identity=identity, passphrase=passphrase)
    except NoContactError as e:
        print(f"FAILED: {e}")
        return 1
    print(summary.line())
    return 0


def _identity_from(path: Path) -> str:
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise UsageError(f"cannot read the identity file {path}: {e}") from e
    for line in lines:
        if line.startswith("AGE-SECRET-KEY-"):
            return line.strip()
    raise UsageError(f"{path} holds no age identity (AGE-SECRET-KEY-…)")


def register(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    sp = add("export", cmd_export, "write an evidence file (needs the passphrase)", sub)
    sp.add_argument("--out", required=True, help="the file to write (never overwritten)")
    sp.add_argument("--person", action="append", default=[], metavar="NAME")
    sp.add_argument("--since", type=_day, metavar="DATE", help="from this day (UTC), YYYY-MM-DD")
    sp.add_argument("--until", type=_day, metavar="DATE", help="up to and including this day")
    sp.add_argument("--channel", choices=["email", "sms"])
    sp.add_argument(
        "--coparent-log",
        action="store_true",
        help="only the co-parent's messages, with coparent-log.csv (for a family court)",
    )
    sp.add_argument(
        "--to",
        action="append",
        default=[],
        metavar="AGE1…",
        help="encrypt the file to this age public key",
    )
    sp.add_argument(
        "--encrypt-passphrase",
        action="store_true",
        help=f"encrypt the file with a passphrase (asked, or {BUNDLE_PASSPHRASE_ENV})",
    )
    sp.add_argument("--user", default="owner", help="the owner account (default owner)")
    sp.add_argument("--recovery", action="store_true", help="use the recovery code instead")
    sp = add("verify", cmd_verify, "check an evidence file; exit 1 names the first fault", sub)
    sp.add_argument("file")
    sp.add_argument("--identity", metavar="FILE", help="age identity file for an encrypted file")
