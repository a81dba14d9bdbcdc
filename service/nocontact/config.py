"""Configuration: one TOML file, secrets from the environment or files, validated strictly.

Unknown keys are refused (a typo must not silently disable protection). Every error names the
file, the dotted key and the problem, and the CLI turns it into exit code 2.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import tomllib
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nocontact.errors import ConfigError
from nocontact.limits import ReadLimits

DEFAULT_HOME = "./var"
CONFIG_NAME = "nocontact.toml"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(Strict):
    """A secret given inline, by environment variable or by file; resolved only when needed."""

    def secret(self, field: str) -> str | None:
        # only a str field counts as inline: ImapAccount.oauth2_token is a method, not a value
        inline = getattr(self, field, None)
        env = getattr(self, f"{field}_env", None)
        file = getattr(self, f"{field}_file", None)
        if isinstance(inline, str) and inline:
            return inline
        if env:
            value = os.environ.get(env)
            if value is None:
                raise ConfigError("environment", env, f"not set (needed for {field})")
            return value
        if file:
            try:
                return Path(file).read_text().strip()
            except OSError as e:
                raise ConfigError(str(file), f"{field}_file", f"cannot be read: {e}") from e
        return None


PURGED = {"trash", "junk", "spam", "deleted items"}  # folders providers empty by themselves


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class HouseholdConfig(Strict):
    name: str = "home"
    # What a tab, the browser's history, an authenticator app and a notice's sender show: an
    # ordinary word, so nobody looking learns what protects her.
    display_name: str = Field("Messages", min_length=1, max_length=40)
    default_region: str = Field("GB", min_length=2, max_length=2)  # for phone numbers without +
    timezone: str = "UTC"
    # Co-parent messages are delivered together at these local times (HH:MM, in ``timezone``);
    # empty: delivered as they arrive.
    coparent_delivery_times: list[str] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {v!r} (use a name such as Europe/London)") from e
        return v

    @field_validator("coparent_delivery_times")
    @classmethod
    def _times(cls, v: list[str]) -> list[str]:
        for t in v:
            try:
                time.fromisoformat(t)
            except ValueError as e:
                raise ValueError(f"{t!r} is not a time of day (HH:MM)") from e
        return v


class WebConfig(Strict):
    listen: str = "127.0.0.1:8080"
    public_url: str | None = None  # what SMS gateways sign; defaults to http://<listen>
    show_counts: bool = False
    vault_cooldown_minutes: int = Field(0, ge=0, le=7 * 24 * 60)
    session_idle_minutes: int = Field(15, ge=1, le=24 * 60)
    session_absolute_hours: int = Field(12, ge=1, le=24 * 7)
    # Where the quick-exit control goes: an ordinary, harmless page.
    quick_exit_url: str = "https://www.bbc.co.uk/weather"

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        split_listen(v)
        return v

    @field_validator("quick_exit_url")
    @classmethod
    def _plain_link(cls, v: str) -> str:
        if not v.startswith(("https://", "http://", "about:")):
            raise ValueError("must be an https:// address")
        return v

    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host, port = split_listen(self.listen)
        return f"http://{host}:{port}"


class _DatabaseUrl(SecretRef):
    """Where ``[database]`` says the URL is (``url_env`` or ``url_file``), read as any secret."""

    url_env: str | None = None
    url_file: str | None = None


_URL_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*://")


def _database_url(source: _DatabaseUrl) -> str:
    """The URL from the environment or a file; a ValueError says what is wrong, never the URL."""
    try:
        value = source.secret("url")
    except ConfigError as e:
        problem = e.problem if source.url_file else f"the environment variable {e.key} is not set"
        raise ValueError(problem) from e
    if not value:
        where = f"the file {source.url_file}" if source.url_file else f"${source.url_env}"
        raise ValueError(f"{where} is empty")
    if not _URL_SCHEME.match(value):  # the value carries a password: never echoed
        raise ValueError("does not hold a database URL (postgresql+psycopg://user@host/db)")
    return value


class DatabaseConfig(Strict):
    """Default: a SQLite file in the home. A PostgreSQL URL holds a password, so it may come
    from the environment (``url_env``, the variable's name) or a file (``url_file``, e.g. a
    systemd credential) instead of this file: read when the config is loaded (an error names
    the config file and the key), after which ``url`` is the URL, wherever it came from."""

    # declared before ``url``: its validator sees them (``info.data``) and resolves them
    url_env: str | None = Field(None, min_length=1)
    url_file: str | None = Field(None, min_length=1)
    url: str | None = Field(None, validate_default=True, repr=False)  # may hold a password

    @field_validator("url_env", "url_file")
    @classmethod
    def _readable(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None:
            _database_url(_DatabaseUrl.model_validate({info.field_name: v}))
        return v

    @field_validator("url")
    @classmethod
    def _one_url(cls, v: str | None, info: ValidationInfo) -> str | None:
        given = {k: info.data[k] for k in ("url_env", "url_file") if info.data.get(k)}
        if len(given) + (v is not None) > 1:
            raise ValueError("give exactly one of url, url_env, url_file")
        if given:
            return _database_url(_DatabaseUrl.model_validate(given))
        if v is not None and not _URL_SCHEME.match(v):
            raise ValueError("is not a database URL (postgresql+psycopg://user@host/db)")
        return v


class ImapAccount(SecretRef):
    name: str = Field(min_length=1)
    host: str
    port: int = Field(993, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    username: str
    password: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    oauth2_token_env: str | None = None  # XOAUTH2 access token (Gmail, Microsoft 365)
    oauth2_token_file: str | None = None
    folders: list[str] = Field(default_factory=lambda: ["INBOX"], min_length=1)
    mode: Literal["idle", "poll"] = "idle"
    poll_seconds: int = Field(60, ge=5, le=86400)
    quarantine_folder: str = "Held"
    coparent_folder: str = "Co-parent"  # co-parent mail waits here for its delivery time
    after_quarantine: Literal["move", "delete"] = "move"
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    ca_file: str | None = None

    @model_validator(mode="after")
    def _checks(self) -> ImapAccount:
        if self.security == "none" and not _is_loopback(self.host):
            raise ValueError("security = 'none' is only allowed for a loopback host")
        for key in ("quarantine_folder", "coparent_folder"):
            if getattr(self, key).strip().lower() in PURGED:
                raise ValueError(f"{key} must not be Trash, Junk or Spam (they are purged)")
        if self.coparent_folder in (self.quarantine_folder, *self.folders):
            raise ValueError("coparent_folder must be a folder of its own")
        given = [self.password, self.password_env, self.password_file]
        given += [self.oauth2_token_env, self.oauth2_token_file]
        if sum(x is not None for x in given) != 1:
            raise ValueError(
                "give exactly one of password, password_env, password_file, "
                "oauth2_token_env, oauth2_token_file"
            )
        return self

    def oauth2_token(self) -> str | None:
        return self.secret("oauth2_token")


class SmtpConfig(SecretRef):
    listen: str = "127.0.0.1:2525"
    deliver_to: str = "lmtp://127.0.0.1:24"
    hostname: str = Field(default_factory=socket.getfqdn)  # never a name that gives us away
    max_message_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    downstream_starttls: bool = False
    downstream_ca_file: str | None = None  # to verify a downstream with a private CA
    downstream_username: str | None = None
    downstream_password: str | None = None
    downstream_password_env: str | None = None
    downstream_password_file: str | None = None
    timeout_seconds: float = Field(60.0, gt=0)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        split_listen(v)
        return v

    @field_validator("deliver_to")
    @classmethod
    def _deliver_to(cls, v: str) -> str:
        if not (v.startswith("lmtp://") or v.startswith("smtp://")):
            raise ValueError("must start with lmtp:// or smtp://")
        split_listen(v.split("://", 1)[1])
        return v

    @model_validator(mode="after")
    def _pairs(self) -> SmtpConfig:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("give both tls_cert_file and tls_key_file, or neither")
        secrets = [self.downstream_password, self.downstream_password_env]
        secrets.append(self.downstream_password_file)
        if self.downstream_username and sum(x is not None for x in secrets) != 1:
            raise ValueError(
                "downstream_username needs exactly one of downstream_password, "
                "downstream_password_env, downstream_password_file"
            )
        return self


class TwilioConfig(SecretRef):
    auth_token: str | None = None
    auth_token_env: str | None = None
    auth_token_file: str | None = None
    account_sid: str | None = None
    # The catch-up (``channels/sms/catch_up.py``): texts whose webhook failed twice are read
    # back from Twilio's message log. It needs ``account_sid``.
    catch_up: bool = True
    catch_up_minutes: int = Field(5, ge=1, le=1440)
    catch_up_days: int = Field(3, ge=1, le=400)  # how far back the very first run looks
    # your Twilio numbers: when given, only texts sent to them are listed (so the texts you
    # send, such as forwards, are never read); otherwise every message is listed and only
    # incoming ones are used
    numbers: list[str] = Field(default_factory=list)
    api_url: str = "https://api.twilio.com"  # Twilio's REST API (tests point it elsewhere)

    @property
    def catches_up(self) -> bool:
        """Whether the catch-up runs: asked for, and an account to read."""
        return self.catch_up and bool(self.account_sid)


class TelnyxConfig(Strict):
    public_key: str  # base64 Ed25519 public key from the Telnyx portal
    tolerance_seconds: int = Field(300, ge=1)


class SigningKeyConfig(SecretRef):
    signing_key: str | None = None
    signing_key_env: str | None = None
    signing_key_file: str | None = None
    tolerance_seconds: int = Field(300, ge=1)

    @model_validator(mode="after")
    def _one_key(self) -> SigningKeyConfig:
        # checked here, not when the first webhook arrives, so the error names the file
        if not (self.signing_key or self.signing_key_env or self.signing_key_file):
            raise ValueError("give signing_key, signing_key_env or signing_key_file")
        return self

    def key(self) -> str:
        key = self.secret("signing_key")
        if not key:
            raise ConfigError("config", "signing_key", "is empty")
        return key


class ForwardConfig(SecretRef):
    """Where allowed texts go: the survivor's own phone, through an outbound gateway.

    Twilio: ``username`` is the Account SID and the password the auth token (both default to
    ``[sms.twilio]``); ``api_url`` defaults to https://api.twilio.com. Android gateway:
    ``api_url`` is the app's API base (local ``http://<phone>:8080`` or the cloud
    ``https://api.sms-gate.app/3rdparty/v1``) with its username and password.
    """

    via: Literal["twilio", "android_gateway"]
    to: str
    from_number: str | None = None
    api_url: str | None = None
    username: str | None = None
    password: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    timeout_seconds: float = Field(10.0, gt=0, le=60)

    @model_validator(mode="after")
    def _checks(self) -> ForwardConfig:
        if self.via == "twilio" and not self.from_number:
            raise ValueError("from_number is needed to forward through Twilio")
        if self.via == "android_gateway" and not self.api_url:
            raise ValueError("api_url is needed to forward through the Android gateway")
        return self


class SmsConfig(Strict):
    twilio: TwilioConfig | None = None
    telnyx: TelnyxConfig | None = None
    android_gateway: SigningKeyConfig | None = None
    httpsms: SigningKeyConfig | None = None
    generic: SigningKeyConfig | None = None
    forward: ForwardConfig | None = None
    # unset: each gateway's own (``Gateway.max_body_bytes``: 256 KiB, capcom6 16 MiB, as its
    # downloaded MMS carry their pictures); set: this, for every gateway
    max_body_bytes: int | None = Field(None, ge=1024)
    fetch_media: bool = True  # MMS: fetch the pictures into the vault for held texts
    max_media_bytes: int = Field(5 * 1024 * 1024, ge=0)  # per text, all media together


class NotifyConfig(SecretRef):
    """Outbound mail for content-free notices (reviewer digests, urgent tags).

    ``smtp://`` (STARTTLS when ``starttls``) or ``smtps://`` (TLS at once, port 465); TLS always
    verifies the server, against the system's CAs or ``ca_file``. Notices come from
    ``[household] display_name`` at ``from_address``: neither may name this software.
    """

    smtp_url: str = "smtp://127.0.0.1:25"
    from_address: str = "messages@localhost"
    username: str | None = None
    password: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    starttls: bool = False
    ca_file: str | None = None  # to verify a mail server with a private CA


class LimitsConfig(Strict):
    """How much of one message is read, matched and shown (the original is always kept whole)."""

    mime_parts: int = Field(1_000, ge=10)
    mime_depth: int = Field(50, ge=5)
    header_bytes: int = Field(16_384, ge=1_024)
    attachments_shown: int = Field(100, ge=1)

    def read(self) -> ReadLimits:
        return ReadLimits(
            self.mime_parts, self.mime_depth, self.header_bytes, self.attachments_shown
        )


class Config(Strict):
    household: HouseholdConfig = HouseholdConfig()
    web: WebConfig = WebConfig()
    database: DatabaseConfig = DatabaseConfig()
    imap: list[ImapAccount] = Field(default_factory=list)
    smtp: SmtpConfig | None = None
    sms: SmsConfig = SmsConfig()
    notify: NotifyConfig | None = None
    limits: LimitsConfig = LimitsConfig()
    checkpoint_minutes: Annotated[int, Field(ge=1)] = 60

    @model_validator(mode="after")
    def _unique_accounts(self) -> Config:
        names = [a.name for a in self.imap]
        if len(names) != len(set(names)):
            raise ValueError("imap account names must be unique")
        return self


def split_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"expected host:port, got {value!r}")
    return host.strip("[]"), int(port)


def _key_of(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_config(text: str, *, file: str) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(file, "(syntax)", str(e)) from e
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        key = _key_of(tuple(first["loc"]))
        msg = first["msg"]
        if first["type"] == "extra_forbidden":
            msg = "unknown key"
        raise ConfigError(file, key, msg) from e


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(str(path), "(file)", "not found; run `nocontact init` first") from e
    except OSError as e:
        raise ConfigError(str(path), "(file)", f"cannot be read: {e}") from e
    return parse_config(text, file=str(path))
