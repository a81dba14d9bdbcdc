"""SMTP front throughput and latency, against the same Dovecot LMTP delivered to directly.

    python bench/smtp_front.py [N]

Prints, for N small messages each: the baseline (stdlib LMTP straight into Dovecot), relayed
through the front (its RCPT check, a fresh LMTP transaction, our Received header), and held
(sealed into the vault, nothing delivered). Everything runs on loopback.
"""

from __future__ import annotations

import os
import shutil
import smtplib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.channels.smtp.conftest import (
    ABUSER,
    home_with_list,
    message,
    running_front,
    smtp_config,
)
from tests.servers.dovecot import start_dovecot
from tests.servers.ports import free_port

MAX_SECONDS = 120.0  # per series; the loop stops early rather than run on


def series(name: str, n: int, send: Callable[[bytes], None], sender: str) -> None:
    times: list[float] = []
    start = time.perf_counter()
    for i in range(n):
        raw = message(sender, f"bench {i}")
        t0 = time.perf_counter()
        send(raw)
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > MAX_SECONDS:
            break
    total = time.perf_counter() - start
    p50 = statistics.median(times) * 1000
    p95 = sorted(times)[int(len(times) * 0.95) - 1] * 1000
    print(
        f"{name:<28} {len(times):>5} msgs  {len(times) / total:8.1f} msg/s  "
        f"p50 {p50:6.1f} ms  p95 {p95:6.1f} ms"
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    root = Path(tempfile.mkdtemp(prefix="nocontact-bench-smtp-"))
    # Dovecot's own users must reach its folder, so not inside the private mkdtemp one
    dovecot = start_dovecot(Path("/tmp") / f"nocontact-bench-dovecot-{os.getpid()}")
    try:
        rt = home_with_list(root, smtp_config(free_port(), f"lmtp://127.0.0.1:{dovecot.lmtp_port}"))
        friend = "friend@example.com"
        with smtplib.LMTP("127.0.0.1", dovecot.lmtp_port) as lmtp:
            series(
                "baseline: LMTP to Dovecot",
                n,
                lambda raw: lmtp.sendmail(friend, ["alice@example.org"], raw) and None,
                friend,
            )
        with running_front(rt) as port, smtplib.SMTP("127.0.0.1", port) as client:
            series(
                "front: relayed over LMTP",
                n,
                lambda raw: client.sendmail(friend, ["alice@example.org"], raw) and None,
                friend,
            )
            series(
                "front: held (sealed)",
                n,
                lambda raw: client.sendmail(ABUSER, ["alice@example.org"], raw) and None,
                f"Jordan <{ABUSER}>",
            )
        rt.engine.dispose()
    finally:
        dovecot.stop()
        shutil.rmtree(dovecot.root, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
