"""Configuration: strict, explained errors that name the file and key; documented keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from nocontact.config import Config, ImapAccount, load_config, parse_config
from nocontact.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "nocontact.example.toml"


def test_unknown_key_is_refused_naming_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "nocontact.toml"
    cfg.write_text('[web]\nlisten = "127.0.0.1:8080"\nlisen = "oops"\n')
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert e.value.file == str(cfg)
    assert e.value.key == "web.lisen"
    assert "unknown key" in str(e.value)


def test_bad_value_in_an_account_names_its_position(tmp_path: Path) -> None:
    text = (
        '[[imap]]\nname = "a"\nhost = "127.0.0.1"\nusername = "u"\npassword = "p"\n'
        '[[imap]]\nname = "b"\nhost = "127.0.0.1"\nusername = "u"\npassword = "p"\nport = "x"\n'
    )
    with pytest.raises(ConfigError) as e:
        parse_config(text, file="f.toml")
    assert e.value.key == "imap[1].port"


def test_plaintext_imap_refused_unless_loopback() -> None:
    base = '[[imap]]\nname = "a"\nusername = "u"\npassword = "p"\nsecurity = "none"\n'
    with pytest.raises(ConfigError, match="loopback"):
        parse_config(base + 'host = "imap.example.org"\n', file="f.toml")
    cfg = parse_config(base + 'host = "127.0.0.1"\n', file="f.toml")
    assert cfg.imap[0].security == "none"


def test_quarantine_folder_may_not_be_one_providers_purge() -> None:
    text = '[[imap]]\nname = "a"\nhost = "h"\nusername = "u"\npassword = "p"\n'
    with pytest.raises(ConfigError, match="Trash, Junk or Spam"):
        parse_config(text + 'quarantine_folder = "Junk"\n', file="f.toml")


def test_secrets_come_from_env_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NC_TEST_PW", "from-env")
    (tmp_path / "pw").write_text("from-file\n")
    a = ImapAccount(name="a", host="h", username="u", password_env="NC_TEST_PW")
    b = ImapAccount(name="b", host="h", username="u", password_file=str(tmp_path / "pw"))
    assert a.secret("password") == "from-env"
    assert b.secret("password") == "from-file"
    monkeypatch.delenv("NC_TEST_PW")
    with pytest.raises(ConfigError, match="NC_TEST_PW"):
        a.secret("password")


def test_toml_syntax_error_is_a_config_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[web\n")
    with pytest.raises(ConfigError, match="syntax"):
        load_config(cfg)


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for name, field in model.model_fields.items():
        out.add(name)
        ann = field.annotation
        for inner in (*getattr(ann, "__args__", ()), ann):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                out |= _keys(inner)
            for deeper in getattr(inner, "__args__", ()):
                if isinstance(deeper, type) and issubclass(deeper, BaseModel):
                    out |= _keys(deeper)
    return out


def test_example_config_documents_every_key_and_parses() -> None:
    text = EXAMPLE.read_text()
    mentioned = set(re.findall(r"\b([a-z0-9_]+)\b", text))
    missing = _keys(Config) - mentioned - {"imap", "sms", "web", "database", "household"}
    missing -= {"smtp", "notify", "twilio", "telnyx", "android_gateway", "httpsms", "generic"}
    missing -= {"forward"}
    assert not missing, f"config/nocontact.example.toml does not mention: {sorted(missing)}"
    parse_config(text, file=str(EXAMPLE))


def test_a_gateway_without_its_signing_key_is_refused_at_load(tmp_path: Path) -> None:
    cfg = tmp_path / "nocontact.toml"
    cfg.write_text("[sms.generic]\ntolerance_seconds = 60\n")
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert (e.value.file, e.value.key) == (str(cfg), "sms.generic")
    assert "signing_key" in e.value.problem
