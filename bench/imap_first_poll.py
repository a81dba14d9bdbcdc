"""First poll of a 5,000-message INBOX (1,000 from 20 listed addresses): `nocontact poll` against
imapfilter moving the same messages from an identical mailbox on the same Dovecot, same run.

Prints both whole-process times and the ratio. imapfilter only searches the From header on the
server and moves; No Contact also reads every message's senders and text, seals each held one
to disk (fsynced) and writes the ledger.

Fairness: Dovecot builds a mailbox's index on the first SELECT of a fresh Maildir, and a live
mailbox always has one, so both mailboxes are primed (SELECT, STATUS and a FETCH of FLAGS
through imapclient) before either tool is timed. Each round refills both mailboxes, primes
them, and runs each tool once (No Contact on a fresh copy of the same home), alternating which
goes first; the figures are the medians over the rounds. CPU time (user + system) of each
tool's process is printed too: on a shared machine it moves less than wall time.

    .venv/bin/python bench/imap_first_poll.py [--messages 5000] [--listed 1000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import pwd
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imapclient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import make_home  # noqa: E402
from tests.servers.dovecot import PASSWORD, Dovecot, start_dovecot  # noqa: E402

from nocontact.db import transaction  # noqa: E402
from nocontact.people.service import add_person  # noqa: E402

ADDRESSES = [f"listed{i}@abuser{i % 4}.example" for i in range(20)]


def _message(i: int, sender: str) -> bytes:
    body = f"Message {i}. " + "Some ordinary words about the week ahead. " * 40
    return (
        f"From: Someone <{sender}>\r\nTo: alice@example.org\r\nSubject: note {i}\r\n"
        f"Message-ID: <bench-{i}@bench.example>\r\nDate: Thu, 26 Nov 2026 05:00:00 +0000\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def fill_maildir(dovecot: Dovecot, user: str, total: int, listed: int) -> None:
    """Write the messages straight into the user's Maildir (fast, and identical per user)."""
    dc = pwd.getpwnam("dovecot")
    shutil.rmtree(dovecot.maildir(user) / "Maildir", ignore_errors=True)  # index and all
    cur = dovecot.maildir(user) / "Maildir" / "cur"
    for sub in ("cur", "new", "tmp"):
        (cur.parent / sub).mkdir(parents=True, exist_ok=True)
    step = total // listed
    for i in range(total):
        sender = ADDRESSES[i % len(ADDRESSES)] if i % step == 0 else f"person{i}@else.example"
        path = cur / f"1700000000.{i}_{user}.bench:2,"
        path.write_bytes(_message(i, sender))
    for dirpath, _, files in os.walk(dovecot.maildir(user)):
        os.chown(dirpath, dc.pw_uid, dc.pw_gid)
        for f in files:
            os.chown(os.path.join(dirpath, f), dc.pw_uid, dc.pw_gid)


def imapfilter_config(dovecot: Dovecot, path: Path) -> None:
    contains = " + ".join(f"account.INBOX:contain_from('{a}')" for a in ADDRESSES)
    path.write_text(
        f"""
options.timeout = 120
options.subscribe = false
options.create = true
account = IMAP {{ server = '127.0.0.1', port = {dovecot.imap_port},
                  username = 'bob', password = '{PASSWORD}' }}
results = {contains}
results:move_messages(account['Held'])
"""
    )


def _login(dovecot: Dovecot, user: str) -> imapclient.IMAPClient:
    c = imapclient.IMAPClient("127.0.0.1", port=dovecot.imap_port, ssl=False, timeout=120)
    c.login(user, PASSWORD)
    return c


def prime(dovecot: Dovecot, user: str) -> None:
    """What any live mailbox has already: Dovecot's index, built by a first SELECT + FETCH."""
    c = _login(dovecot, user)
    c.folder_status("INBOX", ["MESSAGES", "UIDNEXT", "UIDVALIDITY"])
    c.select_folder("INBOX", readonly=True)
    uids = c.search(["ALL"])
    c.fetch(uids, ["FLAGS"])
    c.logout()


def count(dovecot: Dovecot, user: str, folder: str) -> int:
    c = _login(dovecot, user)
    n = int(c.select_folder(folder, readonly=True)[b"EXISTS"]) if c.folder_exists(folder) else 0
    c.logout()
    return n


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def _timed(cmd: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall seconds, CPU seconds of the process (less noisy on a shared machine), result."""
    t0, c0 = time.monotonic(), _cpu()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return time.monotonic() - t0, _cpu() - c0, done


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--listed", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nocontact-bench-imap-"))
    dovecot = start_dovecot(Path("/tmp") / f"nocontact-bench-dovecot-{os.getpid()}")
    try:
        account = (
            f'[[imap]]\nname = "bench"\nhost = "127.0.0.1"\nport = {dovecot.imap_port}\n'
            f'security = "none"\nusername = "alice"\npassword = "{PASSWORD}"\nmode = "poll"\n'
            "timeout_seconds = 120\n"
        )
        rt = make_home(tmp / "template", extra_config="\n" + account)
        with transaction(rt.engine) as s:
            for i in range(0, len(ADDRESSES), 4):
                add_person(s, rt.household_id, f"Listed {i}", "abuser", emails=ADDRESSES[i : i + 4])
        rt.engine.dispose()
        lua = tmp / "imapfilter.lua"
        imapfilter_config(dovecot, lua)

        ours_s: list[float] = []
        theirs_s: list[float] = []
        cpu: dict[str, list[float]] = {"ours": [], "theirs": []}
        for r in range(args.rounds):
            for user in ("alice", "bob"):
                fill_maildir(dovecot, user, args.messages, args.listed)
                prime(dovecot, user)
            home = tmp / f"round-{r}"
            shutil.copytree(rt.home, home)
            poll = [sys.executable, "-m", "nocontact", "--home", str(home), "poll", "--json"]
            runs = [("ours", poll), ("theirs", ["imapfilter", "-c", str(lua)])]
            for name, cmd in runs if r % 2 == 0 else runs[::-1]:
                seconds, cpu_seconds, done = _timed(cmd)
                cpu[name].append(cpu_seconds)
                if done.returncode != 0:
                    print(name, done.stdout, done.stderr, file=sys.stderr)
                    return 1
                (ours_s if name == "ours" else theirs_s).append(seconds)
            held = (count(dovecot, "alice", "Held"), count(dovecot, "bob", "Held"))
            print(
                f"round {r + 1}: nocontact {ours_s[-1]:.2f} s ({cpu['ours'][-1]:.2f} s CPU), "
                f"imapfilter {theirs_s[-1]:.2f} s ({cpu['theirs'][-1]:.2f} s CPU) "
                f"(held {held[0]} / moved {held[1]})"
            )
            if held != (args.listed, args.listed):
                return 1
        ours, theirs = statistics.median(ours_s), statistics.median(theirs_s)
        print(f"mailbox: {args.messages} messages, {args.listed} from {len(ADDRESSES)} listed")
        ours_cpu, theirs_cpu = statistics.median(cpu["ours"]), statistics.median(cpu["theirs"])
        print(
            f"nocontact poll: {ours:.2f} s median of {args.rounds}, {ours_cpu:.2f} s CPU "
            "(sealed, ledgered)"
        )
        print(
            f"imapfilter:     {theirs:.2f} s median of {args.rounds}, {theirs_cpu:.2f} s CPU "
            "(baseline)"
        )
        print(f"ratio nocontact/imapfilter: {ours / theirs:.1f}x (target <= 3x)")
        return 0
    finally:
        dovecot.stop()
        shutil.rmtree(dovecot.root, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
