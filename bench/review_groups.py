"""What the same-sender suggestion costs the reviewer's list page (issue 8).

Grouping opens the sealed metadata of every item held for review (the reviewer's key is already
unwrapped; each item costs two X25519 age decryptions). Baseline: the same query without
opening anything, measured in the same run:

    .venv/bin/python bench/review_groups.py [--items 300] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlmodel import Session  # noqa: E402
from tests.conftest import make_home  # noqa: E402

from nocontact import users  # noqa: E402
from nocontact.db import transaction  # noqa: E402
from nocontact.intake import InboundMessage, Intake  # noqa: E402
from nocontact.matching.facts import facts_from_email  # noqa: E402
from nocontact.people.service import add_person  # noqa: E402
from nocontact.web.keyring import Unlocked  # noqa: E402
from nocontact.web.senders import _held_for_review, new_sender_groups  # noqa: E402

PASS = "a long reviewer passphrase"
MAX_SECONDS = 60.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rt = make_home(Path(tmp))
        with transaction(rt.engine) as s:
            add_person(s, rt.household_id, "Jon", "abuser", aliases=["Jon Smith"])
            user = users.add_user(s, rt.household_id, "rev", "reviewer", PASS)
        with transaction(rt.engine) as s:
            identity = users.unlock(s, user, PASS)
        held = Unlocked(user.recipient_id, identity)
        intake = Intake(rt)
        for n in range(args.items):
            raw = f"From: s{n % 40}@example.com\r\nSubject: {n}\r\n\r\nJon Smith says {n}\r\n"
            msg = InboundMessage("email", raw.encode(), f"b:{n}", facts_from_email(raw.encode()))
            assert intake.process(msg).action == "review"

        def lap(fn: object) -> list[float]:
            laps: list[float] = []
            deadline = time.monotonic() + MAX_SECONDS
            for _ in range(args.rounds):
                t = time.perf_counter()
                with Session(rt.engine) as s:
                    fn(s)  # type: ignore[operator]
                laps.append(time.perf_counter() - t)
                if time.monotonic() > deadline:
                    break
            return laps

        base = lap(lambda s: _held_for_review(s, rt.household_id, held))
        grouped = lap(lambda s: new_sender_groups(s, rt.household_id, held))
        with Session(rt.engine) as s:
            groups = new_sender_groups(s, rt.household_id, held)
        rt.engine.dispose()
    b, g = statistics.median(base) * 1000, statistics.median(grouped) * 1000
    print(f"held for review: {args.items} items from 40 senders; {len(groups)} groups suggested")
    print(f"baseline (query only):        {b:8.1f} ms")
    print(f"grouping (open every meta):   {g:8.1f} ms  ({(g - b) / args.items:.2f} ms per item)")


if __name__ == "__main__":
    main()
