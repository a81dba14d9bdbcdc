"""Poll, export and verify the whole hostile corpus (every tests/data/hostile/email/*.eml, 76 in
December 2026, all from the listed abuser jordan@example.org) against a plain baseline, same
Dovecot, same run.

The baseline is one plain, well-formed text/plain message from the same listed sender for each
corpus message, padded with ordinary words to the same size (so the big ones still go to blob
files and the total is the same); what differs is only how hostile the bytes are. ``CANARY``
in the corpus becomes ``127.0.0.1:9`` (nothing is fetched from it; nothing should be).

Each round, for the corpus and the baseline in turn (alternating which goes first): write the
messages straight into alice's Maildir on a private Dovecot, prime the mailbox (a live mailbox
always has Dovecot's index), copy a fresh home (Jordan Reed listed, one [[imap]] account), then
run each step as its own CLI process and measure its wall time, its own peak RSS (``os.wait4``
on that process, ``ru_maxrss``, from a small launcher: see ``LAUNCHER``) and its CPU time (user
+ system, less noisy on a shared machine than wall time):

1. ``nocontact poll --json``: afterwards the INBOX is empty and ``vault status --json`` counts
   every message kept;
2. ``nocontact export --out OUT.zip`` (owner passphrase from ``NOCONTACT_PASSPHRASE``);
3. ``nocontact verify OUT.zip``: exit 0.

Prints medians over the rounds: step, corpus and baseline seconds, their ratio, peak RSS of
each, then the CPU seconds; then the corpus messages whose reading (``facts_from_email``, in
this process) costs the most CPU, next to their plain twins (see ``slowest_read``).

    .venv/bin/python bench/hostile.py [--rounds 2] [--timeout 600]

Runs as root (Dovecot and its Maildir ownership), like the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import imapclient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import PASSPHRASE, make_home  # noqa: E402
from tests.servers.dovecot import PASSWORD, Dovecot, start_dovecot  # noqa: E402

from nocontact.db import transaction  # noqa: E402
from nocontact.matching.facts import facts_from_email  # noqa: E402
from nocontact.people.service import add_person  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "hostile" / "email"
CANARY = b"127.0.0.1:9"  # the discard port: nothing listens, nothing should connect
ABUSER = ("Jordan Reed", "jordan@example.org", "+447700900123")
STEPS = ("poll", "export", "verify")
WORDS = b"Some ordinary words about the week ahead and the things that need doing. "


@dataclass
class Run:
    seconds: float
    cpu: float
    rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def corpus() -> list[tuple[str, bytes]]:
    files = sorted(CORPUS.glob("*.eml"))
    return [(p.name, p.read_bytes().replace(b"CANARY", CANARY)) for p in files]


def plain(i: int, size: int) -> bytes:
    """A well-formed text/plain message from the listed sender, padded to ``size`` bytes."""
    head = (
        f"From: Jordan Reed <{ABUSER[1]}>\r\nTo: alice@example.org\r\nSubject: note {i}\r\n"
        f"Message-ID: <plain-{i}@bench.example>\r\nDate: Thu, 26 Nov 2026 05:00:00 +0000\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMessage {i}.\r\n"
    ).encode()
    line = WORDS.rstrip() + b"\r\n"
    room = size - len(head) - 2  # the last line's CRLF
    body = line * max(0, (room - len(line)) // len(line))
    return head + body + b"x" * max(0, room - len(body)) + b"\r\n"


def fill_maildir(dovecot: Dovecot, user: str, messages: list[bytes]) -> None:
    """Write the messages straight into the user's Maildir (unseen), owned by dovecot."""
    dc = pwd.getpwnam("dovecot")
    shutil.rmtree(dovecot.maildir(user) / "Maildir", ignore_errors=True)  # index and all
    cur = dovecot.maildir(user) / "Maildir" / "cur"
    for sub in ("cur", "new", "tmp"):
        (cur.parent / sub).mkdir(parents=True, exist_ok=True)
    for i, raw in enumerate(messages):
        (cur / f"1700000000.{i}_{user}.bench:2,").write_bytes(raw)
    for dirpath, _, files in os.walk(dovecot.maildir(user)):
        os.chown(dirpath, dc.pw_uid, dc.pw_gid)
        for f in files:
            os.chown(os.path.join(dirpath, f), dc.pw_uid, dc.pw_gid)


def _login(dovecot: Dovecot, user: str) -> imapclient.IMAPClient:
    c = imapclient.IMAPClient("127.0.0.1", port=dovecot.imap_port, ssl=False, timeout=120)
    c.login(user, PASSWORD)
    return c


def prime(dovecot: Dovecot, user: str) -> None:
    """What any live mailbox has already: Dovecot's index, built by a first SELECT + FETCH."""
    c = _login(dovecot, user)
    c.folder_status("INBOX", ["MESSAGES", "UIDNEXT", "UIDVALIDITY"])
    c.select_folder("INBOX", readonly=True)
    c.fetch(c.search(["ALL"]), ["FLAGS", "RFC822.SIZE"])
    c.logout()


def inbox_count(dovecot: Dovecot, user: str) -> int:
    c = _login(dovecot, user)
    n = int(c.select_folder("INBOX", readonly=True)[b"EXISTS"])
    c.logout()
    return n


# The measured process is a grandchild: on Linux a process's ru_maxrss starts at its parent's
# size across fork+exec (this script is large after make_home's scrypt), so os.wait4 on a
# direct child would report this script's peak. A small launcher (no site, no imports beyond
# os/sys/time) spawns the CLI and reports that child's own os.wait4 rusage; the CLI starts from
# the launcher's few MiB. (bench/export.py gets around the same thing with GNU time.)
LAUNCHER = """
import os, sys, time
t0 = time.monotonic()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, use = os.wait4(pid, 0)
seconds = time.monotonic() - t0
with open(sys.argv[1], "w") as f:
    f.write(f"{seconds} {use.ru_utime + use.ru_stime} {use.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run(cmd: list[str], workdir: Path, timeout: float) -> Run:
    """One CLI process: wall seconds, its own CPU seconds and peak RSS (os.wait4)."""
    env = {**os.environ, "NOCONTACT_PASSPHRASE": PASSPHRASE}
    out, err, use = workdir / "stdout.txt", workdir / "stderr.txt", workdir / "rusage.txt"
    use.unlink(missing_ok=True)
    launch = [sys.executable, "-I", "-S", "-c", LAUNCHER, str(use), *cmd]
    with out.open("wb") as o, err.open("wb") as e:  # files, not pipes: nothing can block
        proc = subprocess.Popen(
            launch, stdin=subprocess.DEVNULL, stdout=o, stderr=e, env=env, start_new_session=True
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the launcher and the CLI
            proc.wait()
            raise RuntimeError(f"timed out after {timeout:.0f} s: {cmd[5:]}") from None
    seconds, cpu, rss_kib = use.read_text().split()
    return Run(
        float(seconds),
        float(cpu),
        int(rss_kib) / 1024,  # ru_maxrss is in KiB on Linux
        proc.returncode,
        out.read_text(errors="replace"),
        err.read_text(errors="replace"),
    )


def _fail(what: str, r: Run) -> RuntimeError:
    tail = "\n".join(r.stderr.strip().splitlines()[-20:])
    return RuntimeError(f"{what}: exit {r.returncode}\n{r.stdout[-2000:]}\n{tail}")


def nc(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "nocontact", "--home", str(home), *args]


def one_pass(
    dovecot: Dovecot, template: Path, work: Path, messages: list[bytes], timeout: float
) -> dict[str, Run]:
    """Poll, export and verify ``messages`` on a fresh copy of the template home."""
    fill_maildir(dovecot, "alice", messages)
    prime(dovecot, "alice")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    home = work / "home"
    shutil.copytree(template, home)
    runs: dict[str, Run] = {}

    runs["poll"] = r = run(nc(home, "poll", "--json"), work, timeout)
    if r.returncode != 0:
        raise _fail("poll", r)
    errors = [a["errors"] for a in json.loads(r.stdout)["accounts"] if a["errors"]]
    left = inbox_count(dovecot, "alice")
    status = run(nc(home, "vault", "status", "--json"), work, timeout)
    items = json.loads(status.stdout)["items"] if status.returncode == 0 else None
    if errors or left or items != len(messages):
        raise RuntimeError(
            f"poll: errors {errors}, {left} left in the INBOX, {items} of {len(messages)} kept"
        )

    bundle = work / "out.zip"
    runs["export"] = r = run(nc(home, "export", "--out", str(bundle)), work, timeout)
    if r.returncode != 0 or not bundle.is_file():
        raise _fail("export", r)
    runs["verify"] = r = run(nc(home, "verify", str(bundle)), work, timeout)
    if r.returncode != 0:
        raise _fail("verify", r)
    return runs


def slowest_read(items: list[tuple[str, bytes]], baseline: list[bytes]) -> None:
    """The poll's per-message reading (``facts_from_email``, what ``decide`` needs), timed in
    this process: CPU seconds, best of 3, of each corpus message against its plain twin. The
    poll itself works in batches and logs per commit, so nothing cheaper names a message; and
    a whole CLI process per message swings by more than the differences on a shared machine.
    The poll reads a prefix of a long message (the whole one when its headers run past it), so
    this is the upper bound for the few over 64 KiB."""

    def cpu(raw: bytes) -> float:
        best = float("inf")
        for _ in range(3):
            t0 = time.process_time()
            facts_from_email(raw)
            best = min(best, time.process_time() - t0)
        return best

    timed = sorted(
        ((cpu(raw), cpu(twin), name) for (name, raw), twin in zip(items, baseline, strict=True)),
        reverse=True,
    )
    total, plain_total = sum(t[0] for t in timed), sum(t[1] for t in timed)
    print(
        f"\nreading every message's facts (in process, CPU): corpus {total:.3f} s, "
        f"baseline {plain_total:.3f} s; the most costly:"
    )
    for seconds, twin, name in timed[:3]:
        print(f"  {seconds:.3f} s (plain twin {twin:.4f} s)  {name}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=600, help="seconds per child process")
    args = ap.parse_args()

    items = corpus()
    hostile = [raw for _, raw in items]
    baseline = [plain(i, len(raw)) for i, raw in enumerate(hostile)]
    sets = {"corpus": hostile, "baseline": baseline}

    tmp = Path(tempfile.mkdtemp(prefix="nocontact-bench-hostile-"))
    dovecot: Dovecot | None = None
    try:
        dovecot = start_dovecot(Path("/tmp") / f"nocontact-bench-hostile-dovecot-{os.getpid()}")
        account = (
            f'[[imap]]\nname = "bench"\nhost = "127.0.0.1"\nport = {dovecot.imap_port}\n'
            f'security = "none"\nusername = "alice"\npassword = "{PASSWORD}"\nmode = "poll"\n'
            "timeout_seconds = 120\n"
        )
        rt = make_home(tmp / "template", extra_config="\n" + account)
        with transaction(rt.engine) as s:
            add_person(
                s,
                rt.household_id,
                ABUSER[0],
                "abuser",
                emails=[ABUSER[1]],
                phones=[ABUSER[2]],
                aliases=[ABUSER[0]],
            )
        rt.engine.dispose()
        template = rt.home

        runs: dict[str, list[dict[str, Run]]] = {"corpus": [], "baseline": []}
        for r in range(args.rounds):
            order = ["corpus", "baseline"] if r % 2 == 0 else ["baseline", "corpus"]
            for name in order:
                runs[name].append(one_pass(dovecot, template, tmp / name, sets[name], args.timeout))
            line = ", ".join(
                f"{step} {runs['corpus'][-1][step].seconds:.2f}/"
                f"{runs['baseline'][-1][step].seconds:.2f} s"
                for step in STEPS
            )
            print(f"round {r + 1} (corpus/baseline): {line}", flush=True)

        def med(name: str, step: str, field: str) -> float:
            return statistics.median(getattr(x[step], field) for x in runs[name])

        total = sum(map(len, hostile))
        print(
            f"\n{len(hostile)} messages each, {total / 1e6:.2f} MB corpus / "
            f"{sum(map(len, baseline)) / 1e6:.2f} MB baseline; medians of {args.rounds} round(s)"
        )
        head = ("step", "corpus s", "baseline s", "ratio", "corpus MB", "baseline MB")
        print("{:<8}{:>10}{:>12}{:>8}{:>11}{:>13}".format(*head))
        for step in STEPS:
            c, b = med("corpus", step, "seconds"), med("baseline", step, "seconds")
            cm, bm = med("corpus", step, "rss_mb"), med("baseline", step, "rss_mb")
            print(f"{step:<8}{c:>10.2f}{b:>12.2f}{c / b:>8.2f}{cm:>11.0f}{bm:>13.0f}")
        print("(MB: peak RSS of that process, MiB)\nCPU seconds (user + system) of each process:")
        for step in STEPS:
            c, b = med("corpus", step, "cpu"), med("baseline", step, "cpu")
            print(f"{step:<8}{c:>10.2f}{b:>12.2f}{c / b:>8.2f}")

        slowest_read(items, baseline)
        return 0
    finally:
        if dovecot is not None:
            dovecot.stop()
            shutil.rmtree(dovecot.root, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
