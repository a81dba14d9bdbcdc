"""SIGKILL the poller and the delivery window at random moments: every co-parent message ends
up in the INBOX exactly once, kept in the vault once, never marked read."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import imapclient
from sqlmodel import Session, select

from nocontact.coparent.deliver import deliver_due
from nocontact.coparent.models import CoparentDelivery
from nocontact.runtime import Runtime
from tests.channels.imap.conftest import mailbox, message, vault_items
from tests.channels.imap.test_coparent_batching import HOLD, batching_home
from tests.servers.dovecot import Dovecot

ROOT = Path(__file__).resolve().parents[3]
ROUNDS = 4
SEED = int(os.environ.get("NOCONTACT_CRASH_SEED", "0")) or random.SystemRandom().randrange(1 << 30)
LATER = datetime(2100, 1, 1, tzinfo=UTC)  # every delivery is due by then


def _fill(
    c: imapclient.IMAPClient, tag: str, coparent: int, other: int
) -> tuple[set[bytes], set[bytes]]:
    sam, rest = set(), set()
    for i in range(coparent + other):
        sender = "sam@example.org" if i < coparent else f"friend{i}@example.net"
        raw = message(sender, subject=f"{tag}-{i}", body=f"{tag} {i} " + "text " * 100)
        c.append("INBOX", raw)
        (sam if i < coparent else rest).add(raw)
    return sam, rest


def _bodies_flags(c: imapclient.IMAPClient, folder: str) -> list[tuple[bytes, tuple[bytes, ...]]]:
    if not c.folder_exists(folder):
        return []
    c.select_folder(folder, readonly=True)
    uids = c.search(["ALL"])
    got = c.fetch(uids, ["FLAGS", "BODY.PEEK[]"]) if uids else {}
    return [(d[b"BODY[]"], d[b"FLAGS"]) for d in got.values()]


def _run(home: Path, what: str) -> subprocess.Popen[bytes]:
    if what == "poll":
        cmd = [sys.executable, "-m", "nocontact", "--home", str(home), "poll", "--json"]
    else:
        cmd = [sys.executable, "-m", "tests.channels.imap.test_coparent_crash", str(home)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)


def test_sigkill_during_poll_and_delivery_delivers_each_coparent_message_once(
    tmp_path: Path, dovecot_clean: Dovecot
) -> None:
    rng = random.Random(SEED)
    rt, _ = batching_home(tmp_path, dovecot_clean)
    rt.engine.dispose()
    # each run with nothing to do, here: mostly start-up. The quicker of two: a first run may
    # read a cold disk, and every kill timed from it would land after the run it meant to stop
    took: dict[str, float] = {}
    for what in ("poll", "deliver", "poll", "deliver"):
        started = time.monotonic()
        assert _run(rt.home, what).wait(timeout=60) == 0
        took[what] = min(took.get(what, float("inf")), time.monotonic() - started)
    c = mailbox(dovecot_clean)
    sam, others = _fill(c, "start", 30, 10)
    killed = 0
    deadline = time.monotonic() + 15
    for round_no in range(ROUNDS):
        if time.monotonic() > deadline:
            break
        for what in ("poll", "deliver"):
            proc = _run(rt.home, what)
            time.sleep(rng.uniform(0.6, 1.2) * took[what])  # from late start-up into the work
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                killed += 1
            proc.wait(timeout=30)
        more_sam, more_others = _fill(c, f"round{round_no}", 5, 2)
        sam |= more_sam
        others |= more_others
    for what in ("poll", "deliver", "poll"):  # the service runs on undisturbed
        assert _run(rt.home, what).wait(timeout=120) == 0
    print(f"co-parent crash test: seed {SEED}, {killed} runs killed")
    assert killed >= ROUNDS // 2, f"too few kills landed mid-run (seed {SEED})"

    inbox, held = _bodies_flags(c, "INBOX"), _bodies_flags(c, HOLD)
    assert sorted(r for r, _ in inbox) == sorted(sam | others), f"seed {SEED}"
    assert held == [], f"seed {SEED}"
    assert not any(b"\\Seen" in flags for _, flags in inbox), f"seed {SEED}"
    rt = Runtime.open(rt.home, rt.config_path)
    vault = [i.sha256 for i in vault_items(rt)]
    assert sorted(vault) == sorted(hashlib.sha256(r).hexdigest() for r in sam), f"seed {SEED}"
    assert {i.delivery for i in vault_items(rt)} == {"delivered"}
    with Session(rt.engine) as s:
        assert {r.state for r in s.exec(select(CoparentDelivery))} == {"delivered"}
    rt.engine.dispose()
    c.logout()


if __name__ == "__main__":
    home = Path(sys.argv[1])
    deliver_due(Runtime.open(home, home / "nocontact.toml"), LATER)
