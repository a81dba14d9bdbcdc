"""The `nocontact` command. Thin: parse arguments, call plain functions, map errors to exit codes.

Exit codes: 0 done; 1 the operation failed; 2 bad usage or bad config (names file, key, problem).
"""

from __future__ import annotations

import argparse
import gc
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nocontact.errors import ConfigError, NoContactError, UsageError, WrongPassphrase
from nocontact.logging import setup_logging

if TYPE_CHECKING:  # the database stack loads inside main(), once the collector is paused
    from nocontact.runtime import Runtime

log = logging.getLogger("nocontact")

Handler = Callable[[argparse.Namespace], int]


def ask_passphrase(prompt: str = "Passphrase: ", *, confirm: bool = False) -> str:
    """From NOCONTACT_PASSPHRASE (automation) or a hidden prompt."""
    env = os.environ.get("NOCONTACT_PASSPHRASE")
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the passphrase; set NOCONTACT_PASSPHRASE")
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Once more, to be sure: ") != first:
        raise UsageError("the two passphrases differ; nothing was changed")
    return first


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    from nocontact.runtime import config_path_for, resolve_home

    home = resolve_home(getattr(args, "home", None))
    return home, config_path_for(home, getattr(args, "config", None))


def open_runtime(args: argparse.Namespace) -> Runtime:
    from nocontact.runtime import Runtime

    home, config = _paths(args)
    rt = Runtime.open(home, config)
    start_up_done()
    return rt


# Start-up (the imports of SQLAlchemy, SQLModel and pydantic, the models, the config, the
# engine) makes about 125,000 objects that live as long as the process. With the collector on,
# they are scanned over and over while they are made and at exit: about 0.13 s of a command's
# CPU (measured on `nocontact poll`). So ``main`` pauses the collector; once the runtime is
# open, what exists is frozen (``gc.freeze``: never scanned again) and the collector resumes
# for the work itself. Only for a command run as its own process (tests call ``main(argv)``).
_starting = False


def start_up_done() -> None:
    global _starting
    if _starting:
        _starting = False
        gc.freeze()
        gc.enable()


def cmd_init(args: argparse.Namespace) -> int:
    from nocontact.initialise import initialise, is_initialised
    from nocontact.users import check_passphrase_strength

    home, config = _paths(args)
    passphrase = None
    if not is_initialised(home, config):
        print(f"Setting up No Contact in {home}.")
        print("Choose a passphrase (12 characters or more). You will use it to sign in,")
        print("and again whenever you choose to open the held messages.")
        passphrase = ask_passphrase("New passphrase: ", confirm=True)
        check_passphrase_strength(passphrase)
    result = initialise(home, config, args.owner, passphrase)
    if result.created_config:
        print(f"Wrote the settings file {config}.")
    if result.created_owner:
        print(f"Created the account {args.owner!r}.")
    else:
        print(f"{home} was already set up; nothing was overwritten.")
    if result.recovery_code:
        print()
        print("Your recovery code (shown only this once; write it down and keep it safe):")
        print()
        print(f"    {result.recovery_code}")
        print()
        print("If you ever forget your passphrase, this code still opens your evidence.")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from nocontact.home_lock import hold_home

    home, _ = _paths(args)
    with hold_home(home):  # before the runtime opens: a second start migrates nothing
        from nocontact.run import run

        run(open_runtime(args))
    return 0


def cmd_people_add(args: argparse.Namespace) -> int:
    from nocontact.db import transaction
    from nocontact.people.service import add_person

    rt = open_runtime(args)
    with transaction(rt.engine) as s:
        add_person(
            s,
            rt.household_id,
            args.name,
            args.relation,
            emails=args.email,
            phones=args.phone,
            domains=args.domain,
            aliases=args.alias,
            note=args.note,
        )
    print(f"Added {args.name} ({args.relation}).")
    return 0


def cmd_people_list(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from nocontact.people.service import list_people

    rt = open_runtime(args)
    with Session(rt.engine) as s:
        people = list_people(s, rt.household_id)
    if args.json:
        keys = ("name", "relation", "emails", "phones", "domains", "aliases")
        print(json.dumps([{k: p[k] for k in keys} for p in people]))
        return 0
    if not people:
        print("Nobody is on the list yet.")
    for p in people:
        idents = ", ".join(p["emails"] + p["phones"] + p["domains"] + p["aliases"])
        print(f"{p['name']} ({p['relation']}): {idents}")
    return 0


def cmd_people_remove(args: argparse.Namespace) -> int:
    from nocontact.db import transaction
    from nocontact.people.service import remove_person

    rt = open_runtime(args)
    with transaction(rt.engine) as s:
        remove_person(s, rt.household_id, args.name)
    print(f"Removed {args.name}. Messages already kept stay in the vault.")
    return 0


def vault_counts(rt: Runtime) -> dict[str, Any]:
    from sqlalchemy import func
    from sqlmodel import Session, select

    from nocontact.models import VaultItem

    with Session(rt.engine) as s:
        base = select(func.count()).select_from(VaultItem)
        base = base.where(VaultItem.household_id == rt.household_id)
        total = s.exec(base).one()
        unopened = s.exec(base.where(VaultItem.status == "unopened")).one()
        by = {ch: s.exec(base.where(VaultItem.channel == ch)).one() for ch in ("email", "sms")}
    return {"items": total, "unopened": unopened, "by_channel": by}


def cmd_vault_status(args: argparse.Namespace) -> int:
    counts = vault_counts(open_runtime(args))
    if args.json:
        print(json.dumps(counts))
    else:
        print(
            f"{counts['items']} kept ({counts['by_channel']['email']} email, "
            f"{counts['by_channel']['sms']} texts); {counts['unopened']} never opened."
        )
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    from nocontact.db import transaction
    from nocontact.users import add_user

    rt = open_runtime(args)
    passphrase = ask_passphrase(f"Passphrase for {args.name}: ", confirm=True)
    with transaction(rt.engine) as s:
        add_user(s, rt.household_id, args.name, args.role, passphrase)
    print(f"Added {args.name} as {args.role}. New items are sealed to them from now on;")
    print("older items become readable to them the next time the owner opens the vault.")
    return 0


def _recovery_code() -> str:
    code = os.environ.get("NOCONTACT_RECOVERY_CODE")
    if code is None:
        if not sys.stdin.isatty():
            raise UsageError(
                "no terminal to ask for the recovery code; set NOCONTACT_RECOVERY_CODE"
            )
        code = getpass.getpass("Recovery code: ")
    return code


def cmd_users_reset(args: argparse.Namespace) -> int:
    from nocontact.db import transaction
    from nocontact.users import find_user, reset_with_recovery
    from nocontact.vault import ledger
    from nocontact.web.sessions import end_all_for

    rt = open_runtime(args)
    code = _recovery_code()
    passphrase = ask_passphrase(f"New passphrase for {args.name}: ", confirm=True)
    with transaction(rt.engine) as s:
        n = reset_with_recovery(s, rt.household_id, args.name, code, passphrase)
        user = find_user(s, rt.household_id, args.name)
        assert user is not None and user.id is not None
        # whoever learnt the old passphrase may be logged in: every login of it ends now
        end_all_for(s, user.id)
        ledger.append(s, rt.household_id, "passphrase_reset", account=user.id, items=n)
    print(f"{args.name} has a new passphrase; all {n} kept items open with it.")
    print("Every login of that account has ended; log in again with the new passphrase.")
    return 0


def cmd_users_reset_2fa(args: argparse.Namespace) -> int:
    from nocontact.db import transaction
    from nocontact.errors import VaultError
    from nocontact.users import find_user, unlock_recovery
    from nocontact.vault import ledger
    from nocontact.web.sessions import end_all_for
    from nocontact.web.totp import disable

    rt = open_runtime(args)
    code = _recovery_code()
    with transaction(rt.engine) as s:
        user = find_user(s, rt.household_id, args.name)
        if user is None or user.id is None or not user.active:
            raise UsageError(f"there is no active user called {args.name!r}")
        try:
            unlock_recovery(s, rt.household_id, code)
        except VaultError as e:
            raise VaultError("that recovery code did not match; nothing was changed") from e
        had = user.totp_secret is not None
        disable(s, user)
        end_all_for(s, user.id)
        ledger.append(s, rt.household_id, "second_factor_reset", account=user.id, had=had)
    print(f"Codes from a phone are off for {args.name}; every login of that account has ended.")
    print("Log in with the passphrase alone, then set codes up again in Settings if you wish.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from nocontact.demo import run_demo

    summary = run_demo(open_runtime(args))
    print(
        f"Demo: added {summary.people_added} sample people; messages: "
        + ", ".join(f"{v} {k}" for k, v in sorted(summary.results.items()))
    )
    return 0


def common_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's copy of the option must not reset a value given before it
    common.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        help="the data folder (env NOCONTACT_HOME, default ./var)",
    )
    common.add_argument(
        "--config", default=argparse.SUPPRESS, help="settings file (default <home>/nocontact.toml)"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = common_parser()
    p = argparse.ArgumentParser(
        prog="nocontact",
        parents=[common],
        description="Keep messages from the people on your list away from you, sealed as evidence.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help: str, parent: Any = sub) -> argparse.ArgumentParser:
        sp: argparse.ArgumentParser = parent.add_parser(name, help=help, parents=[common])
        sp.set_defaults(handler=handler)
        return sp

    sp = add("init", cmd_init, "set up a home: settings, database, keys, the owner account")
    sp.add_argument("--owner", default="owner", help="the owner's user name (default owner)")
    add("run", cmd_run, "run everything configured: web, webhooks, SMTP front, mail watching")

    people = sub.add_parser("people", help="the people on your list", parents=[common])
    psub = people.add_subparsers(dest="people_command", required=True, metavar="ACTION")
    sp = add("add", cmd_people_add, "add a person", psub)
    sp.add_argument("name")
    sp.add_argument(
        "--relation",
        required=True,
        choices=["abuser", "ally", "coparent", "allow"],
        help="abuser, ally: held; coparent: delivered and recorded; "
        "allow: always delivered unless listed otherwise, and their names do not count as mentions",
    )
    for flag in ("email", "phone", "domain", "alias"):
        sp.add_argument(f"--{flag}", action="append", default=[], metavar=flag.upper())
    sp.add_argument("--note", default="")
    sp = add("list", cmd_people_list, "list people", psub)
    sp.add_argument("--json", action="store_true")
    sp = add("remove", cmd_people_remove, "remove a person (kept items stay)", psub)
    sp.add_argument("name")

    vault = sub.add_parser("vault", help="the evidence vault", parents=[common])
    vsub = vault.add_subparsers(dest="vault_command", required=True, metavar="ACTION")
    sp = add("status", cmd_vault_status, "counts only; opens nothing", vsub)
    sp.add_argument("--json", action="store_true")

    users = sub.add_parser("users", help="accounts", parents=[common])
    usub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    sp = add("add", cmd_users_add, "add a trusted reviewer", usub)
    sp.add_argument("name")
    sp.add_argument("--role", required=True, choices=["reviewer"])
    sp = add(
        "reset-passphrase",
        cmd_users_reset,
        "forgotten passphrase: set a new one with the recovery code",
        usub,
    )
    sp.add_argument("name")
    sp = add(
        "reset-2fa",
        cmd_users_reset_2fa,
        "switch off codes from a phone for an account, with the recovery code",
        usub,
    )
    sp.add_argument("name")

    add("demo", cmd_demo, "put sample messages through the intake")
    for extend in extensions():
        extend(sub, add)
    return p


def extensions() -> list[Callable[[Any, Callable[..., argparse.ArgumentParser]], None]]:
    """Commands that live with their feature (poll, export, verify) register here."""
    from nocontact.channels.imap.cli import register as imap_poll
    from nocontact.channels.sms.cli import register as sms_commands
    from nocontact.export.cli import register as export_commands
    from nocontact.orders.cli import register as orders

    return [imap_poll, orders, export_commands, sms_commands]


def main(argv: Sequence[str] | None = None) -> int:
    global _starting
    if argv is None and gc.isenabled():  # the command line: this process is ours (see above)
        _starting = True
        gc.disable()
    try:
        return _main(argv)
    finally:
        start_up_done()  # (a command that opened no runtime)


def _main(argv: Sequence[str] | None) -> int:
    setup_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        handler: Handler = args.handler
        return handler(args)
    except ConfigError as e:
        print(f"nocontact: bad config: {e}", file=sys.stderr)
        return 2
    except WrongPassphrase as e:
        print(f"nocontact: {e}", file=sys.stderr)
        return 1
    except UsageError as e:
        print(f"nocontact: {e}", file=sys.stderr)
        return 2
    except NoContactError as e:
        print(f"nocontact: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
