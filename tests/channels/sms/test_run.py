"""The webhooks through `nocontact run` itself, in a subprocess on a loopback port."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, select

from nocontact.models import VaultItem
from nocontact.runtime import Runtime
from tests.channels.sms import signers
from tests.channels.sms.conftest import ABUSER, PUBLIC_URL, STRANGER, TWILIO_TOKEN, open_home
from tests.channels.sms.test_twilio import EMPTY, params, tsid
from tests.servers.ports import free_port, wait_port


def twilio_home(template: Path, root: Path, port: int, secret: str) -> Runtime:
    """A home whose `nocontact run` listens on ``port`` and answers Twilio's webhooks."""
    config = f"""
[web]
listen = "127.0.0.1:{port}"
public_url = "{PUBLIC_URL}"

[sms.twilio]
{secret}
"""
    rt = open_home(template, root, config)
    rt.engine.dispose()
    return rt


def start_run(rt: Runtime, **popen: Any) -> subprocess.Popen[bytes]:
    """`nocontact run` in a subprocess, its log (stderr too) on its stdout."""
    home = str(rt.home)
    command = [sys.executable, "-m", "nocontact", "--home", home, "run"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen)


def test_nocontact_run_seals_a_listed_text_and_answers_both_alike(
    sms_template: Path, tmp_path: Path
) -> None:
    port = free_port()
    rt = twilio_home(sms_template, tmp_path, port, 'auth_token_env = "TWILIO_AUTH_TOKEN"')
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN}
    proc = start_run(rt, env=env)
    try:
        wait_port(port)
        url = f"{PUBLIC_URL}/webhooks/sms/twilio"
        replies = []
        with httpx.Client(timeout=30) as client:
            for sid, sender in ((tsid("3000"), ABUSER), (tsid("3001"), STRANGER)):
                p = params(sid, sender)
                replies.append(
                    client.post(
                        f"http://127.0.0.1:{port}/webhooks/sms/twilio",
                        content=signers.twilio_body(p),
                        headers=signers.twilio(TWILIO_TOKEN, url, p),
                    )
                )
            assert client.post(f"http://127.0.0.1:{port}/webhooks/sms/telnyx").status_code == 404
        assert [r.status_code for r in replies] == [200, 200]
        assert replies[0].content == replies[1].content == EMPTY
        # 50 deliveries of one text at once (a provider's retries racing): one item
        p = params(tsid("3002"), ABUSER)
        body, headers = signers.twilio_body(p), signers.twilio(TWILIO_TOKEN, url, p)

        async def deliver_all() -> list[int]:
            async with httpx.AsyncClient(timeout=30) as client:
                posts = [
                    client.post(
                        f"http://127.0.0.1:{port}/webhooks/sms/twilio",
                        content=body,
                        headers=headers,
                    )
                    for _ in range(50)
                ]
                return [r.status_code for r in await asyncio.gather(*posts)]

        assert asyncio.run(deliver_all()) == [200] * 50
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out.decode(errors="replace")
    reopened = Runtime.open(rt.home, rt.config_path)
    with Session(reopened.engine) as s:
        items = s.exec(select(VaultItem)).all()
        kept = sorted((i.source_key, i.action) for i in items)
        assert kept == [
            (f"sms:twilio:{tsid('3000')}", "quarantine"),
            (f"sms:twilio:{tsid('3002')}", "quarantine"),
        ]
    reopened.engine.dispose()


def commit_process_of(pid: int) -> int:
    """The pid of ``nocontact run``'s commit process (its only child)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            if b"commit_process" in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child)
        time.sleep(0.05)
    raise AssertionError("no commit process")


def test_nocontact_run_replaces_a_killed_commit_process_and_stops_with_its_group(
    sms_template: Path, tmp_path: Path
) -> None:
    """The texts are committed by a child of `nocontact run`. Killed, it is replaced before the
    next text; a stop sent to the whole process group (Ctrl-C, a service manager) ends both."""
    port = free_port()
    rt = twilio_home(sms_template, tmp_path, port, f'auth_token = "{TWILIO_TOKEN}"')
    proc = start_run(rt, start_new_session=True)
    url = f"{PUBLIC_URL}/webhooks/sms/twilio"

    def deliver(client: httpx.Client, sid: str) -> int:
        p = params(sid, ABUSER)
        reply = client.post(
            f"http://127.0.0.1:{port}/webhooks/sms/twilio",
            content=signers.twilio_body(p),
            headers=signers.twilio(TWILIO_TOKEN, url, p),
        )
        return reply.status_code

    try:
        wait_port(port)
        first = commit_process_of(proc.pid)
        with httpx.Client(timeout=30) as client:
            assert deliver(client, tsid("4000")) == 200
            os.kill(first, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while Path(f"/proc/{first}").exists() and time.monotonic() < deadline:
                time.sleep(0.02)  # reaped: `nocontact run` has seen it end
            assert deliver(client, tsid("4001")) == 200
        second = commit_process_of(proc.pid)
        assert second != first
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    log = out.decode(errors="replace")
    assert proc.returncode == 0, log
    deadline = time.monotonic() + 10
    while Path(f"/proc/{second}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{second}").exists(), "the commit process outlived `nocontact run`"
    assert "commit process ended (exit code -9); starting another" in log
    assert ABUSER not in log and ABUSER[1:] not in log
    reopened = Runtime.open(rt.home, rt.config_path)
    with Session(reopened.engine) as s:
        items = s.exec(select(VaultItem)).all()
        assert sorted(i.source_key for i in items) == [
            f"sms:twilio:{tsid('4000')}",
            f"sms:twilio:{tsid('4001')}",
        ]
    reopened.engine.dispose()
