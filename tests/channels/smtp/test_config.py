"""The [smtp] section refuses half-given settings, naming the file and the key."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

import pytest

from nocontact.channels.smtp.server import start_front
from nocontact.config import SmtpConfig, parse_config
from nocontact.errors import ChannelError, ConfigError
from nocontact.intake import Intake
from nocontact.runtime import Runtime


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ('deliver_to = "http://127.0.0.1:24"', "lmtp:// or smtp://"),
        ('deliver_to = "lmtp://127.0.0.1"', "host:port"),
        ('tls_cert_file = "/etc/cert.pem"', "tls_key_file"),
        ('downstream_username = "relay"', "downstream_password"),
        ("max_message_bytes = 10", "greater than or equal to 1024"),
        ("downstream_tls = true", "unknown key"),
    ],
)
def test_bad_smtp_settings_name_the_file_and_key(section: str, problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(f"[smtp]\n{section}\n", file="/home/nocontact.toml")
    assert str(e.value).startswith("/home/nocontact.toml: smtp")
    assert problem in str(e.value)


def test_a_complete_smtp_section_is_accepted() -> None:
    cfg = parse_config(
        '[smtp]\nlisten = "0.0.0.0:2525"\ndeliver_to = "smtp://[::1]:10026"\n'
        'downstream_username = "relay"\ndownstream_password_env = "RELAY_PASSWORD"\n',
        file="x",
    )
    assert cfg.smtp is not None and cfg.smtp.deliver_to == "smtp://[::1]:10026"


def test_a_busy_listen_port_is_a_clear_error(front_home: Runtime) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = SmtpConfig(listen=f"127.0.0.1:{port}")
        rt = replace(front_home, config=front_home.config.model_copy(update={"smtp": cfg}))
        with pytest.raises(ChannelError) as e:
            asyncio.run(start_front(rt, Intake(rt)))
    assert f"smtp.listen: cannot listen on 127.0.0.1:{port}" in str(e.value)
