"""The README's curl examples work as printed (signed by openssl, sent by curl)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.channels.sms.conftest import (
    GENERIC_KEY,
    SMSGATE_KEY,
    TWILIO_TOKEN,
    config_text,
    open_home,
    serve,
)
from tests.servers.ports import free_port

README = Path(__file__).resolve().parents[3] / "README.md"


def examples() -> list[str]:
    """The shell blocks that post to our webhooks, in README order."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.S)
    return [b for b in blocks if "/webhooks/sms/" in b and "openssl" in b]


def test_readme_curl_examples_are_accepted_and_kept(sms_template: Path, tmp_path: Path) -> None:
    port = free_port()
    # the README's host, reached over plain HTTP on loopback (curl --connect-to)
    config = config_text(port).replace("https://nocontact.example.org", "http://your.host")
    env = serve(open_home(sms_template, tmp_path, config), port)
    try:
        shown = examples()
        assert len(shown) == 3  # Twilio, Android gateway, generic
        for script in shown:
            script = script.replace("https://your.host", "http://your.host")
            prelude = (
                f'curl() {{ command curl --connect-to your.host:80:127.0.0.1:{port} "$@"; }}\n'
            )
            out = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", prelude + script],
                capture_output=True,
                text=True,
                timeout=30,
                env={
                    **os.environ,
                    "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
                    "SMSGATE_SIGNING_KEY": SMSGATE_KEY,
                    "GENERIC_SMS_SECRET": GENERIC_KEY,
                },
            )
            assert out.returncode == 0, out.stderr
            assert "<Response/>" in out.stdout or out.stdout.startswith("HTTP/1.1 200"), out.stdout
        kept = sorted(i.source_key.split(":")[1] for i in env.items())
        assert kept == ["android-gateway", "generic", "twilio"]
    finally:
        env.stop()
