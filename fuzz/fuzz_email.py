"""Fuzz the email reading path with atheris (libFuzzer for Python): any exception is a crash.

Each input is one raw message, read the way No Contact reads held mail:

- ``nocontact.matching.facts.facts_from_email`` (intake: who sent it, what it mentions);
- ``nocontact.web.render.show_email`` and ``attachment(raw, 0)`` (the vault pages);
- ``nocontact.export.content.readable_email`` (the evidence report).

None of them may raise, and what they give must be encodable as UTF-8 (the page, the PDF and
the database all encode it; a lone surrogate there is a crash later, so it is one here).

Run (see fuzz/README.md)::

    pip install atheris
    python fuzz/fuzz_email.py -max_total_time=600 /tmp/fuzz-corpus tests/data/hostile/email
"""

from __future__ import annotations

import hashlib
import os
import sys
import traceback
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports():
    import email.parser  # noqa: F401  (instrumented too: the parser is most of the path)

    from nocontact.export.content import readable_email
    from nocontact.matching.facts import facts_from_email
    from nocontact.web.render import attachment, show_email

CHECK_OUTPUT = os.environ.get("FUZZ_CHECK_OUTPUT", "1") != "0"
# FUZZ_KEEP_GOING=DIR: a survey run. Each crash with a new signature (exception type and the
# innermost No Contact frame) is written to DIR (input and traceback) and fuzzing goes on,
# instead of stopping at the first one as libFuzzer does.
KEEP_GOING = os.environ.get("FUZZ_KEEP_GOING")
_seen: set[str] = set()


def _strings(obj: Any, depth: int = 0) -> list[str]:
    """Every string in a result (dataclasses, tuples, lists, dicts), to check it encodes."""
    if depth > 8:
        return []
    if isinstance(obj, str):
        return [obj]
    if is_dataclass(obj) and not isinstance(obj, type):
        return [s for f in fields(obj) for s in _strings(getattr(obj, f.name), depth + 1)]
    if isinstance(obj, (list, tuple)):
        return [s for item in obj for s in _strings(item, depth + 1)]
    if isinstance(obj, dict):
        return [s for kv in obj.items() for s in _strings(kv, depth + 1)]
    return []


def _signature(e: BaseException) -> str:
    frames = traceback.extract_tb(e.__traceback__)
    ours = [f for f in frames if "nocontact" in f.filename] or frames[-1:]
    where = f"{ours[-1].filename.rsplit('/', 1)[-1]}:{ours[-1].lineno}" if ours else "?"
    return f"{type(e).__name__}-{where}"


def _record(data: bytes, e: BaseException, out: Path) -> None:
    sig = _signature(e)
    if sig in _seen:
        return
    _seen.add(sig)
    out.mkdir(parents=True, exist_ok=True)
    name = f"crash-{sig.replace(':', '-')}-{hashlib.sha1(data).hexdigest()[:12]}"  # noqa: S324
    (out / name).write_bytes(data)
    text = "".join(traceback.format_exception(e))
    (out / (name + ".txt")).write_text(text)
    print(f"\n== new crash {sig}: {out / name}\n{text}", file=sys.stderr, flush=True)


def test_one_input(data: bytes) -> None:
    if KEEP_GOING:
        try:
            _read_all(data)
        except Exception as e:  # noqa: BLE001  (recorded, and the run goes on)
            _record(data, e, Path(KEEP_GOING))
        return
    _read_all(data)


def _read_all(data: bytes) -> None:
    results = [
        facts_from_email(data),
        show_email(data),
        attachment(data, 0),
        readable_email(data),
    ]
    if CHECK_OUTPUT:
        for result in results:
            for text in _strings(result):
                text.encode("utf-8")  # UnicodeEncodeError: a lone surrogate got through


def main() -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
