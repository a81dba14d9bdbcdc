"""CPU time per message to read the facts a decision needs (senders, display names, text).

For each shape of message, `facts_from_email` (cheap readers where the shape allows, the strict
parser otherwise) against the full-parse reading it replaced (``reference_facts`` in
tests/matching/test_simple_parse.py: ``email.policy.default`` for everything), same run, same
messages. Process CPU time, so other load on the machine counts less.

    .venv/bin/python bench/parse_facts.py [--rounds N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.matching.test_simple_parse import reference_facts  # noqa: E402

from nocontact.matching.facts import facts_from_email  # noqa: E402

BODY = "Some ordinary words about the week ahead. " * 40


def _shapes() -> dict[str, bytes]:
    common = (
        "To: alice@example.org\r\nMessage-ID: <b-1@bench.example>\r\n"
        "Date: Thu, 26 Nov 2026 05:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    )
    return {
        "plain text, Name <addr>": (
            f"From: Someone <person1@else.example>\r\n{common}Subject: note 1\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{BODY}\r\n"
        ).encode(),
        "plain, quoted name, q-p": (
            'From: "Smith, Ann" <ann@else.example>\r\nReturn-Path: <b@else.example>\r\n'
            f"Reply-To: ann@else.example\r\n{common}Subject: note 2\r\n"
            'Content-Type: text/plain; charset="iso-8859-1"; format=flowed\r\n'
            f"Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 {BODY}\r\n"
        ).encode(),
        "plain, encoded-word name": (
            f"From: =?utf-8?q?J=C3=B6rg?= <j@else.example>\r\n{common}"
            "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{BODY}\r\n"
        ).encode(),
        "multipart/alternative": (
            f"From: Someone <person1@else.example>\r\n{common}Subject: note 4\r\n"
            'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n'
            f"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{BODY}\r\n"
            f"--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>{BODY}</p>\r\n--b1--\r\n"
        ).encode(),
    }


def per_message_us(read: Callable[[bytes], object], raw: bytes, rounds: int) -> float:
    start = time.process_time()
    for _ in range(rounds):
        read(raw)
    return (time.process_time() - start) / rounds * 1e6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=500)
    args = ap.parse_args()
    print(f"{'shape':28} {'facts_from_email':>17} {'full parse':>11} {'speed-up':>9}")
    for name, raw in _shapes().items():
        if facts_from_email(raw) != reference_facts(raw):
            print(f"{name}: the two readings differ", file=sys.stderr)
            return 1
        ours = per_message_us(facts_from_email, raw, args.rounds)
        full = per_message_us(reference_facts, raw, args.rounds)
        print(f"{name:28} {ours:14.0f} us {full:8.0f} us {full / ours:8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
