"""Decisions per second with 10 and with 10,000 listed identifiers, side by side.

Lookups go by normalised key, so the two should be close. Target: >= 20,000 decisions/s at
10,000 identifiers on the 2-core reference machine. Facts are parsed once up front (parsing is
the channel's cost, not the decision's); each message has From, Reply-To, a display name and a
short body that the mention rules scan.

    .venv/bin/python bench/matching.py [--decisions N] [--seconds S]
"""

from __future__ import annotations

import argparse
import random
import time

from nocontact.matching import BlockList, ListedIdentifier, ListedPerson, decide
from nocontact.matching.facts import Facts, facts_from_email, facts_from_sms
from nocontact.people.normalise import normalise

WORDS = [
    "the",
    "kids",
    "pickup",
    "school",
    "friday",
    "call",
    "you",
    "later",
    "thanks",
    "see",
    "soon",
    "ok",
    "weekend",
]


def build(n: int, rng: random.Random) -> tuple[BlockList, list[str]]:
    idents: list[ListedIdentifier] = []
    listed_emails: list[str] = []
    kinds = ("email", "email", "phone", "domain", "alias")
    for i in range(n):
        person = ListedPerson(i // 5 + 1, f"p{i // 5}", ("abuser", "ally", "coparent")[i % 3])
        kind = kinds[i % len(kinds)]
        value = {
            "email": f"user{i}.{rng.randrange(10**6)}@example{i % 97}.org",
            "phone": f"+4477009{i:05d}",
            "domain": f"listed{i}.example",
            "alias": f"Name{i} Surname{i % 50}",
        }[kind]
        if kind == "email":
            listed_emails.append(value)
        idents.append(
            ListedIdentifier(i + 1, person, kind, normalise(kind, value, region="GB"), value)
        )
    return BlockList.build(idents, region="GB"), listed_emails


def messages(count: int, listed: list[str], rng: random.Random) -> list[Facts]:
    out: list[Facts] = []
    for i in range(count):
        body = " ".join(rng.choice(WORDS) for _ in range(40))
        if i % 10 == 0 and listed:
            sender = rng.choice(listed)
        else:
            sender = f"someone{i}@mail{i % 50}.example.com"
        if i % 7 == 0:
            out.append(facts_from_sms(f"07700 9{i % 100000:05d}", body))
            continue
        raw = (
            f"From: Person {i} <{sender}>\r\nReply-To: {sender}\r\nTo: me@example.org\r\n"
            f"Subject: hello {i}\r\n\r\n{body}\r\n"
        ).encode()
        out.append(facts_from_email(raw))
    return out


def rate(bl: BlockList, facts: list[Facts], seconds: float) -> tuple[float, int]:
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for f in facts:
            decide(f, bl)
        done += len(facts)
    return done / (time.perf_counter() - start), done


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    rng = random.Random(7)
    small, small_listed = build(10, rng)
    big, big_listed = build(10_000, rng)
    msgs_small = messages(args.messages, small_listed, rng)
    msgs_big = messages(args.messages, big_listed, rng)
    decide(msgs_small[0], small)  # warm the confusables table
    r_small, n_small = rate(small, msgs_small, args.seconds)
    r_big, n_big = rate(big, msgs_big, args.seconds)
    print(f"identifiers      10: {r_small:10.0f} decisions/s  ({n_small} decisions)")
    print(f"identifiers  10,000: {r_big:10.0f} decisions/s  ({n_big} decisions)")
    print(
        f"ratio 10,000 / 10:   {r_big / r_small:10.2f}   (1.00 = no slowdown; target >= 20,000/s)"
    )


if __name__ == "__main__":
    main()
