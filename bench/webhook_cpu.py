"""CPU per webhook in-process: pre-signed Twilio webhooks through the real ASGI app, no sockets.

The load benchmark (``webhook_load.py``) measures throughput, which on a shared machine swings
with everyone else's work; CPU time per request barely does, so A/B comparisons of the webhook
path go here. Same home and requests as the load benchmark; ``--concurrency`` requests are in
flight at once, so kept texts share group commits as they do under load.

    .venv/bin/python bench/webhook_cpu.py [--requests 6000] [--concurrency 16]

Prints, for unlisted-only and half-listed traffic: microseconds of process CPU per request and
of the event-loop thread alone (the writer thread's sealing and commits are the difference).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from webhook_load import LISTED, PATH, UNLISTED, make_home, sign

WARM_UP = 300


def requests(count: int, listed_every: int) -> list[tuple[list[tuple[bytes, bytes]], bytes]]:
    out = []
    for n in range(count):
        params = {
            "MessageSid": f"SM{listed_every:02d}{n:030d}",
            "AccountSid": "AC" + "1" * 32,
            "From": LISTED if listed_every and n % listed_every == 0 else UNLISTED,
            "To": "+447700900300",
            "Body": f"benchmark text {n}",
            "NumMedia": "0",
        }
        body = urlencode(params).encode()
        headers = [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"x-twilio-signature", sign(params).encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        out.append((headers, body))
    return out


async def drive(app: Any, reqs: list[Any], concurrency: int, statuses: dict[int, int]) -> None:
    async def one(headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": PATH,
            "raw_path": PATH.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] = statuses.get(message["status"], 0) + 1

        await app(scope, receive, send)

    todo: Iterator[Any] = iter(reqs)

    async def worker() -> None:
        for headers, body in todo:
            await one(headers, body)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def measure(app: Any, reqs: list[Any], concurrency: int) -> tuple[float, float, dict[int, int]]:
    statuses: dict[int, int] = {}

    async def run() -> tuple[float, float]:
        await drive(app, reqs[:WARM_UP], concurrency, {})
        cpu, loop = time.process_time(), time.thread_time()
        await drive(app, reqs[WARM_UP:], concurrency, statuses)
        return time.process_time() - cpu, time.thread_time() - loop

    try:
        import uvloop  # as `nocontact run` does, where it is installed

        cpu, loop = uvloop.run(run())
    except ImportError:
        cpu, loop = asyncio.run(run())
    n = len(reqs) - WARM_UP
    return 1e6 * cpu / n, 1e6 * loop / n, statuses


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=6000)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()

    from nocontact.intake import Intake
    from nocontact.runtime import Runtime
    from nocontact.web.app import create_app

    root = Path(tempfile.mkdtemp(prefix="sms-webhook-cpu-"))
    try:
        home = make_home(root, 8000)
        rt = Runtime.open(home, home / "nocontact.toml")
        app = create_app(rt, Intake(rt))
        print(f"{args.requests} requests, {args.concurrency} in flight, in-process (no sockets)")
        print(f"{'listed':<10}{'cpu us/req':>12}{'loop us/req':>13}  statuses")
        for listed_every, share in ((0, "none"), (2, "1 in 2")):
            reqs = requests(args.requests + WARM_UP, listed_every)
            cpu, loop, statuses = measure(app, reqs, args.concurrency)
            print(f"{share:<10}{cpu:>12.0f}{loop:>13.0f}  {statuses}")
        rt.engine.dispose()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
