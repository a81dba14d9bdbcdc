"""Export and verify N items (default 10,000): wall time and peak RSS of each, as the user runs
them (`nocontact export`, `nocontact verify`, each a child process timed by GNU time).

Seeding goes through the real intake (`Intake.process`: sealed, fsynced, one commit per item),
so it is slow on purpose; --count makes it smaller, --keep DIR keeps the seeded home and reuses
it on the next run. Baselines measured in the same run: a plain ZIP of the same originals
(zipfile, no crypto, no report) and SHA-256 over the same bytes, the floors export and verify
cannot beat; and the passphrase unlock alone, whose scrypt (age's work factor, 256 MiB by
design) sets the CLI's peak memory. Memory flatness: ``export_bundle`` itself, with the key
already unlocked, on about a tenth of the items and on all of them. Target: <= 30 s each.

    .venv/bin/python bench/export.py [--count 10000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from nocontact.db import transaction
from nocontact.initialise import initialise
from nocontact.intake import InboundMessage, Intake
from nocontact.matching.facts import facts_from_email, facts_from_sms
from nocontact.people.service import add_person
from nocontact.runtime import Runtime
from nocontact.users import find_user, unlock

PASSPHRASE = "bench passphrase, not secret"
START = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=10)
BODY = (
    "I saw your car outside the school again today. You cannot keep ignoring me, and you know "
    "what happens when you do. Call me back tonight or I will come round. "
) * 6


def message(n: int) -> InboundMessage:
    at = START + n * STEP
    if n % 5 == 4:
        text = f"Text {n}: answer your phone."
        raw = (f'{{"From":"+447700900123","Body":"{text}","MessageSid":"SMbench{n:08d}"}}').encode()
        return InboundMessage(
            "sms", raw, f"bench:sms:{n}", facts_from_sms("+447700900123", text), received_at=at
        )
    sender = "Jordan Reed <jordan@example.net>" if n % 2 else "Sam Reed <sam@example.org>"
    raw = (
        f"From: {sender}\r\nTo: you@example.org\r\nSubject: message {n}\r\n"
        f"Date: {at.strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\n"
        f"Message-ID: <bench-{n}@example.net>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{BODY}\r\n"
    ).encode()
    return InboundMessage("email", raw, f"bench:email:{n}", facts_from_email(raw), received_at=at)


def seed(home: Path, count: int) -> tuple[Runtime, float, list[bytes]]:
    initialise(home, home / "nocontact.toml", "owner", PASSPHRASE)
    rt = Runtime.open(home, home / "nocontact.toml")
    with transaction(rt.engine) as s:
        add_person(
            s,
            rt.household_id,
            "Jordan Reed",
            "abuser",
            emails=["jordan@example.net"],
            phones=["+44 7700 900123"],
        )
        add_person(s, rt.household_id, "Sam Reed", "ally", emails=["sam@example.org"])
    intake = Intake(rt)
    originals: list[bytes] = []
    t0 = time.perf_counter()
    for n in range(count):
        msg = message(n)
        assert intake.process(msg).kept
        originals.append(msg.raw)
        if n and n % 1000 == 0:
            rate = n / (time.perf_counter() - t0)
            print(f"  seeded {n} ({rate:.0f}/s)", file=sys.stderr, flush=True)
    return rt, time.perf_counter() - t0, originals


UNLOCK = f"""
from nocontact.runtime import Runtime
from nocontact.users import find_user, unlock
from sqlmodel import Session
import os
from pathlib import Path
home = Path(os.environ["NOCONTACT_HOME"])
rt = Runtime.open(home, home / "nocontact.toml")
with Session(rt.engine) as s:
    unlock(s, find_user(s, rt.household_id, "owner"), {PASSPHRASE!r})
"""
EXPORT = """
import os, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from nocontact.export.bundle import export_bundle
from nocontact.export.scope import ExportFilters
from nocontact.runtime import Runtime
home = Path(os.environ["NOCONTACT_HOME"])
rt = Runtime.open(home, home / "nocontact.toml")
until = sys.argv[2]
f = ExportFilters(until=datetime.fromisoformat(until).replace(tzinfo=UTC) + timedelta(days=1)
                  if until else None)
r = export_bundle(rt, Path(sys.argv[1]), int(os.environ["BENCH_RECIPIENT"]),
                  os.environ["BENCH_IDENTITY"], f, "bench")
print(r.items)
"""


def owner_identity(rt: Runtime) -> tuple[str, str]:
    with Session(rt.engine) as s:
        user = find_user(s, rt.household_id, "owner")
        assert user is not None
        return unlock(s, user, PASSPHRASE), str(user.recipient_id)


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB, stdout. GNU time reports the peak: on Linux a child's
    own ru_maxrss starts at its parent's (this script, large after seeding) across fork+exec,
    and GNU time is a small parent. The peak is the largest process of the tree (the export's
    PDF worker is a child), not a sum."""
    timed = ["/usr/bin/time", "-f", "%M", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.run(timed, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[1:3]} failed: {proc.stderr[-2000:]}")
    peak_kib = int(proc.stderr.strip().splitlines()[-1])
    return wall, peak_kib / 1024, proc.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--keep", help="leave the home and bundles in this folder")
    args = ap.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="nocontact-bench-export-"))
    root.mkdir(parents=True, exist_ok=True)
    home = root / "home"
    if (home / "nocontact.toml").exists():  # --keep DIR from an earlier run: reuse its items
        rt = Runtime.open(home, home / "nocontact.toml")
        originals = [message(n).raw for n in range(args.count)]
        print(f"reusing the {args.count} items seeded earlier in {home}")
    else:
        rt, seed_s, originals = seed(home, args.count)
        size = sum(len(o) for o in originals)
        print(
            f"seeded {args.count} items through the intake in {seed_s:.1f} s "
            f"({args.count / seed_s:.0f} items/s, {size / 2**20:.1f} MiB of originals)"
        )

    t0 = time.perf_counter()
    with zipfile.ZipFile(root / "baseline.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for n, raw in enumerate(originals):
            zf.writestr(f"items/{n}.eml", raw)
    zip_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for raw in originals:
        hashlib.sha256(raw).hexdigest()
    sha_s = time.perf_counter() - t0
    del originals
    print(f"baseline: plain ZIP of the originals {zip_s:.2f} s; SHA-256 of them {sha_s:.3f} s")

    exe = str(Path(sys.executable).parent / "nocontact")
    env = {**os.environ, "NOCONTACT_PASSPHRASE": PASSPHRASE, "NOCONTACT_HOME": str(home)}
    for stale in root.glob("*.zip"):
        if stale.name != "baseline.zip":
            stale.unlink()
    unlock_s, unlock_rss, _ = run([sys.executable, "-c", UNLOCK], env)
    print(f"passphrase unlock alone: {unlock_s:.1f} s, peak RSS {unlock_rss:.0f} MiB (age scrypt)")

    # the export itself, the key already unlocked (by this script): shows memory stays flat
    env["BENCH_IDENTITY"], env["BENCH_RECIPIENT"] = owner_identity(rt)
    tenth_day = (START + (args.count // 10) * STEP).date() - timedelta(days=1)
    for label, until in ((f"~1/10 (until {tenth_day})", str(tenth_day)), ("all", "")):
        out = root / f"direct-{until or 'all'}.zip"
        w, rss, n = run([sys.executable, "-c", EXPORT, str(out), until], env)
        print(f"export_bundle of {label}: {n} items, {w:.1f} s, peak RSS {rss:.0f} MiB")

    full = root / "evidence.zip"
    ex_s, ex_rss, _ = run([exe, "export", "--out", str(full)], env)
    print(
        f"nocontact export of {args.count}: {ex_s:.1f} s (incl. start and unlock), peak RSS "
        f"{ex_rss:.0f} MiB, bundle {full.stat().st_size / 2**20:.1f} MiB (target <= 30 s)"
    )
    ve_s, ve_rss, line = run([exe, "verify", str(full)], env)
    print(
        f"nocontact verify of {args.count}: {ve_s:.1f} s, peak RSS {ve_rss:.0f} MiB "
        "(target <= 30 s)"
    )
    print(f"  {line}")
    print(f"load average now: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores, shared)")
    rt.engine.dispose()
    if not args.keep:
        import shutil

        shutil.rmtree(root)


if __name__ == "__main__":
    main()
