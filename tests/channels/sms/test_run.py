"""The webhooks through `nocontact run` itself, in a subprocess on a loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from sqlmodel import Session, select

from nocontact.models import VaultItem
from nocontact.runtime import Runtime
from tests.channels.sms import signers
from tests.channels.sms.conftest import ABUSER, PUBLIC_URL, STRANGER, TWILIO_TOKEN, open_home
from tests.channels.sms.test_twilio import EMPTY, params
from tests.servers.ports import free_port, wait_port


def test_nocontact_run_seals_a_listed_text_and_answers_both_alike(
    sms_template: Path, tmp_path: Path
) -> None:
    port = free_port()
    config = f"""
[web]
listen = "127.0.0.1:{port}"
public_url = "{PUBLIC_URL}"

[sms.twilio]
auth_token_env = "TWILIO_AUTH_TOKEN"
"""
    rt = open_home(sms_template, tmp_path, config)
    rt.engine.dispose()
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nocontact", "--home", str(rt.home), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_port(port)
        url = f"{PUBLIC_URL}/webhooks/sms/twilio"
        replies = []
        with httpx.Client(timeout=30) as client:
            for sid, sender in (("SM3000", ABUSER), ("SM3001", STRANGER)):
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
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out.decode(errors="replace")
    reopened = Runtime.open(rt.home, rt.config_path)
    with Session(reopened.engine) as s:
        items = s.exec(select(VaultItem)).all()
        assert [(i.source_key, i.action) for i in items] == [("sms:twilio:SM3000", "quarantine")]
    reopened.engine.dispose()
