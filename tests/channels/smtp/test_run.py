"""The front as users run it: `nocontact run` in its own process, stopped with SIGTERM."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
from pathlib import Path

from nocontact.runtime import Runtime
from tests.channels.smtp.conftest import (
    ABUSER,
    mailbox,
    message,
    smtp_config,
    vault_items,
)
from tests.servers.dovecot import Dovecot
from tests.servers.ports import free_port, wait_port


def test_nocontact_run_holds_listed_mail_and_relays_the_rest(
    front_home: Runtime, tmp_path: Path, dovecot_clean: Dovecot
) -> None:
    """The shared home (list, vault) with a config of its own: web and SMTP on free ports."""
    smtp_port = free_port()
    web = f'[web]\nlisten = "127.0.0.1:{free_port()}"\n'
    config = tmp_path / "nocontact.toml"
    config.write_text(web + smtp_config(smtp_port, f"lmtp://127.0.0.1:{dovecot_clean.lmtp_port}"))
    env = {**os.environ, "NOCONTACT_LOG_LEVEL": "DEBUG"}
    command = ["--home", str(front_home.home), "--config", str(config), "run"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "nocontact", *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    held = message(f"Jordan <{ABUSER}>", "Held-Subject")
    passed = message("Library <news@library.example>", "Opening hours")
    try:
        wait_port(smtp_port, timeout=30)
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as client:
            assert client.sendmail(ABUSER, ["alice@example.org"], held) == {}
            assert client.sendmail("news@library.example", ["alice@example.org"], passed) == {}
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    assert [i.action for i in vault_items(front_home, held)] == ["quarantine"]
    [delivered] = mailbox(dovecot_clean, "alice")
    assert delivered.endswith(passed)
    logs = (out + err).decode(errors="replace")
    assert "smtp front listening" in logs
    for leak in (ABUSER, "Held-Subject", "alice@example.org"):
        assert leak not in logs  # even at DEBUG
