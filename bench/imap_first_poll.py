"""First poll of a 5,000-message INBOX (1,000 from 20 listed addresses): `nocontact poll` against
imapfilter moving the same messages from an identical mailbox on the same Dovecot, same run.

Prints both whole-process times and the ratio. imapfilter only searches the From header on the
server and moves; No Contact also reads every message's senders and text, seals each held one
to disk (fsynced) and writes the ledger.

    .venv/bin/python bench/imap_first_poll.py [--messages 5000] [--listed 1000]
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def count(dovecot: Dovecot, user: str, folder: str) -> int:
    import imapclient

    c = imapclient.IMAPClient("127.0.0.1", port=dovecot.imap_port, ssl=False, timeout=60)
    c.login(user, PASSWORD)
    n = int(c.select_folder(folder, readonly=True)[b"EXISTS"]) if c.folder_exists(folder) else 0
    c.logout()
    return n


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--listed", type=int, default=1000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nocontact-bench-imap-"))
    dovecot = start_dovecot(Path("/tmp") / f"nocontact-bench-dovecot-{os.getpid()}")
    try:
        for user in ("alice", "bob"):
            fill_maildir(dovecot, user, args.messages, args.listed)
        account = (
            f'[[imap]]\nname = "bench"\nhost = "127.0.0.1"\nport = {dovecot.imap_port}\n'
            f'security = "none"\nusername = "alice"\npassword = "{PASSWORD}"\nmode = "poll"\n'
            "timeout_seconds = 120\n"
        )
        rt = make_home(tmp, extra_config="\n" + account)
        with transaction(rt.engine) as s:
            for i in range(0, len(ADDRESSES), 4):
                add_person(s, rt.household_id, f"Listed {i}", "abuser", emails=ADDRESSES[i : i + 4])
        rt.engine.dispose()
        lua = tmp / "imapfilter.lua"
        imapfilter_config(dovecot, lua)

        t0 = time.monotonic()
        ours = subprocess.run(
            [sys.executable, "-m", "nocontact", "--home", str(rt.home), "poll", "--json"],
            capture_output=True,
            text=True,
            check=False,
        )
        t_ours = time.monotonic() - t0
        t0 = time.monotonic()
        theirs = subprocess.run(
            ["imapfilter", "-c", str(lua)], capture_output=True, text=True, check=False
        )
        t_theirs = time.monotonic() - t0
        if ours.returncode != 0 or theirs.returncode != 0:
            print(ours.stdout, ours.stderr, theirs.stdout, theirs.stderr, file=sys.stderr)
            return 1
        held = (count(dovecot, "alice", "Held"), count(dovecot, "bob", "Held"))
        print(f"mailbox: {args.messages} messages, {args.listed} from {len(ADDRESSES)} listed")
        print(f"nocontact poll: {t_ours:.2f} s, held {held[0]} (sealed, ledgered)")
        print(f"imapfilter:     {t_theirs:.2f} s, moved {held[1]} (baseline)")
        print(f"ratio nocontact/imapfilter: {t_ours / t_theirs:.1f}x (target <= 3x)")
        return 0 if held[0] == held[1] == args.listed else 1
    finally:
        dovecot.stop()
        shutil.rmtree(dovecot.root, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
