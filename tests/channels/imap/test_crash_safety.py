"""SIGKILL `nocontact poll` at random moments: nothing lost, nothing twice, nothing read.

The checker compares the mailbox and the vault by SHA-256. A negative control runs the same
checker after killing a deliberately wrong poller (move first, seal after), written here with
imapclient directly, to prove the checker catches acknowledge-before-store.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import imapclient
from sqlalchemy import func
from sqlmodel import Session, select

from nocontact.models import VaultItem
from nocontact.runtime import Runtime
from tests.channels.imap.conftest import imap_home, listed, mailbox, message, vault_items
from tests.servers.dovecot import Dovecot

ROOT = Path(__file__).resolve().parents[3]
ROUNDS = 12
SEED = int(os.environ.get("NOCONTACT_CRASH_SEED", "0")) or random.SystemRandom().randrange(1 << 30)


def _fill(c: imapclient.IMAPClient, tag: str, listed_count: int, other_count: int) -> set[bytes]:
    """Append mail; returns the listed originals."""
    held: set[bytes] = set()
    for i in range(listed_count + other_count):
        sender = "jon@example.org" if i < listed_count else f"friend{i}@example.net"
        raw = message(sender, subject=f"{tag}-{i}", body=f"{tag} {i} " + "text " * 200)
        c.append("INBOX", raw)
        if i < listed_count:
            held.add(raw)
    return held


def _folder(c: imapclient.IMAPClient, folder: str) -> list[tuple[bytes, tuple[bytes, ...]]]:
    if not c.folder_exists(folder):
        return []
    c.select_folder(folder, readonly=True)
    uids = c.search(["ALL"])
    got = c.fetch(uids, ["FLAGS", "BODY.PEEK[]"]) if uids else {}
    return [(d[b"BODY[]"], d[b"FLAGS"]) for d in got.values()]


def check(rt: Runtime, c: imapclient.IMAPClient, held: set[bytes], others: int) -> list[str]:
    """Every problem found; empty when nothing is lost, doubled or marked read."""
    problems: list[str] = []
    inbox, kept = _folder(c, "INBOX"), _folder(c, "Held")
    vault = [i.sha256 for i in vault_items(rt)]
    want = {hashlib.sha256(r).hexdigest() for r in held}
    if len(vault) != len(set(vault)):
        problems.append("an item is in the vault twice")
    lost = want - set(vault)
    if lost:
        problems.append(f"{len(lost)} listed message(s) are not in the vault")
    if set(vault) - want:
        problems.append("the vault holds mail that is not from a listed person")
    kept_raw = [r for r, _ in kept]
    if sorted(kept_raw) != sorted(held):
        problems.append("the holding folder is not exactly the listed mail, once each")
    if any(r in held for r, _ in inbox) or len(inbox) != others:
        problems.append("the INBOX is not exactly the other mail, once each")
    if any(b"\\Seen" in flags for _, flags in inbox + kept):
        problems.append("a message was marked read")
    return problems


def _poll_cmd(home: Path) -> list[str]:
    return [sys.executable, "-m", "nocontact", "--home", str(home), "poll", "--json"]


def _vault_size(rt: Runtime) -> int:
    with Session(rt.engine) as s:
        return int(s.exec(select(func.count()).select_from(VaultItem)).one())


def _kill_moment(
    rt: Runtime, proc: subprocess.Popen[bytes], rng: random.Random, odd: bool, took: float
) -> None:
    """Even rounds: a random moment anywhere (start-up, fetching, sealing); ``took`` is how long
    a pass with nothing to do takes here. Odd rounds: just after a seal commits, the window
    between storing and moving that matters most."""
    if not odd:
        time.sleep(rng.uniform(0.1, 1.3) * took)
        return
    before = _vault_size(rt)
    deadline = time.monotonic() + 20
    while proc.poll() is None and time.monotonic() < deadline and _vault_size(rt) == before:
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.05))  # the move follows the commit within milliseconds


def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path, dovecot_clean: Dovecot) -> None:
    rng = random.Random(SEED)
    rt = imap_home(tmp_path, dovecot_clean)
    listed(rt, "Jon", emails=["jon@example.org"])
    # how long a pass with nothing to do takes: mostly start-up, which differs from machine to
    # machine; the quicker of two, as the first may read a cold disk and then every kill timed
    # from it lands after the pass it meant to interrupt
    idle = []
    for _ in range(2):
        started = time.monotonic()
        subprocess.run(_poll_cmd(rt.home), cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
        idle.append(time.monotonic() - started)
    took = min(idle)
    c = mailbox(dovecot_clean)
    held = _fill(c, "start", 40, 40)
    others = 40
    killed = 0
    deadline = time.monotonic() + 60
    for round_no in range(ROUNDS):
        if time.monotonic() > deadline:
            break
        proc = subprocess.Popen(_poll_cmd(rt.home), cwd=ROOT, stdout=subprocess.DEVNULL)
        _kill_moment(rt, proc, rng, odd=round_no % 2 == 1, took=took)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait(timeout=30)
        held |= _fill(c, f"round{round_no}", 12, 4)
        others += 4
    final = subprocess.run(_poll_cmd(rt.home), cwd=ROOT, capture_output=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert killed >= ROUNDS // 3, f"too few kills landed mid-pass (seed {SEED})"
    print(f"crash test: seed {SEED}, {killed} of {ROUNDS} passes killed")
    assert check(rt, c, held, others) == [], f"seed {SEED}"
    c.logout()


def _wrong_order(home: Path) -> None:
    """Acknowledge before store: move the listed mail away first, seal it afterwards."""
    from nocontact.intake import InboundMessage, Intake
    from nocontact.matching import facts_from_email

    rt = Runtime.open(home, home / "nocontact.toml")
    account = rt.config.imap[0]
    c = imapclient.IMAPClient(account.host, port=account.port, ssl=False, timeout=10)
    c.login(account.username, account.password or "")
    c.select_folder("INBOX")
    uids = c.search(["FROM", "jon@example.org"])
    if not c.folder_exists("Held"):
        c.create_folder("Held")
    c.move(uids, "Held")
    print("moved", flush=True)
    c.select_folder("Held")
    for uid, data in c.fetch(c.search(["ALL"]), ["BODY.PEEK[]"]).items():
        raw = data[b"BODY[]"]
        key = f"imap:wrong:Held:0:{uid}"
        Intake(rt).process(InboundMessage("email", raw, key, facts_from_email(raw)))


def test_checker_catches_acknowledge_before_store(tmp_path: Path, dovecot_clean: Dovecot) -> None:
    rt = imap_home(tmp_path, dovecot_clean)
    listed(rt, "Jon", emails=["jon@example.org"])
    c = mailbox(dovecot_clean)
    held = _fill(c, "control", 30, 10)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.channels.imap.test_crash_safety", str(rt.home)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"moved"
    os.kill(proc.pid, signal.SIGKILL)  # the mail has left the INBOX; little or none is sealed
    proc.wait(timeout=30)
    final = subprocess.run(_poll_cmd(rt.home), cwd=ROOT, capture_output=True, timeout=120)
    assert final.returncode == 0, final.stderr
    problems = check(rt, c, held, 10)
    assert any("not in the vault" in p for p in problems), problems
    c.logout()


if __name__ == "__main__":
    _wrong_order(Path(sys.argv[1]))
