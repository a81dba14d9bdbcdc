"""The [smtp] section refuses half-given settings with the file and key named."""

from __future__ import annotations

import pytest

from nocontact.config import parse_config
from nocontact.errors import ConfigError


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
