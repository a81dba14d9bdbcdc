"""How fast the web pages answer, against /healthz (no session, no template) as the baseline.

Serves the app with uvicorn on a loopback port, logs in through the real form, opens the
vault, then times sequential requests (bounded in count and time) for each route:

    .venv/bin/python bench/web_pages.py [--requests 200]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import PASSPHRASE, make_home  # noqa: E402
from tests.servers.ports import free_port  # noqa: E402

from nocontact.db import transaction  # noqa: E402
from nocontact.intake import InboundMessage, Intake  # noqa: E402
from nocontact.matching.facts import facts_from_email  # noqa: E402
from nocontact.people.service import add_person  # noqa: E402
from nocontact.web.app import create_app  # noqa: E402

MAX_SECONDS = 20.0


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def timed(client: httpx.Client, path: str, n: int) -> tuple[int, float, float]:
    laps: list[float] = []
    deadline = time.monotonic() + MAX_SECONDS
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(path)
        laps.append(time.perf_counter() - t)
        assert r.status_code == 200, (path, r.status_code)
        if time.monotonic() > deadline:
            break
    laps.sort()
    return len(laps), statistics.median(laps) * 1000, laps[int(len(laps) * 0.95) - 1] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    n = ap.parse_args().requests
    rt = make_home(Path(tempfile.mkdtemp()))
    with transaction(rt.engine) as s:
        add_person(s, rt.household_id, "Jordan", "abuser", emails=["jordan@example.net"])
    html = "<p>hello</p>" + "".join(f'<img src="http://x.invalid/{i}.gif">' for i in range(50))
    raw = (
        "From: jordan@example.net\r\nSubject: s\r\nMessage-ID: <b@x>\r\n"
        f"Content-Type: text/html\r\n\r\n{html * 20}\r\n"
    ).encode()
    item = Intake(rt).process(InboundMessage("email", raw, "bench:1", facts_from_email(raw, None)))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(rt), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=True) as c:
        c.post(
            "/login",
            data={"csrf": csrf(c.get("/login").text), "name": "owner", "passphrase": PASSPHRASE},
        )
        c.post("/vault/start", data={"csrf": csrf(c.get("/").text)})
        c.post("/vault/unlock", data={"csrf": csrf(c.get("/").text), "passphrase": PASSPHRASE})
        print(f"{'route':<28}{'requests':>9}{'median ms':>11}{'p95 ms':>9}")
        for label, path in (
            ("/healthz (baseline)", "/healthz"),
            ("/ (home, logged in)", "/"),
            ("/activity", "/activity"),
            (f"/items/{item.item_id}/body (open+clean)", f"/items/{item.item_id}/body"),
        ):
            done, median, p95 = timed(c, path, n)
            print(f"{label:<28}{done:>9}{median:>11.2f}{p95:>9.2f}")
    server.should_exit = True


if __name__ == "__main__":
    main()
