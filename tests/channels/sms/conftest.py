"""SMS webhook fixtures: a home copied from one prepared template (creating a home wraps keys
with scrypt, seconds each), the real app served by uvicorn on a loopback port, fake provider
APIs for forwarding and media."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlmodel import Session, select

from nocontact.db import transaction
from nocontact.models import ChannelStatus, VaultItem
from nocontact.people.service import add_person
from nocontact.runtime import Runtime
from nocontact.web.app import create_app
from tests.channels.sms.fakes import FakeApi
from tests.conftest import make_home
from tests.servers.ports import free_port

PUBLIC_URL = "https://nocontact.example.org"
TWILIO_TOKEN = "twilio-auth-token-for-tests"
TWILIO_SID = "AC" + "1" * 32
SMSGATE_KEY = "smsgate-signing-key"
HTTPSMS_KEY = "httpsms-signing-key-at-least-32-bytes-long"
GENERIC_KEY = "generic-shared-secret"
TELNYX_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
ABUSER = "+447700900001"  # listed in local form (07700 900001): matched on E.164
COPARENT = "+447700900002"
STRANGER = "+447700900999"
SURVIVOR = "+447700900500"


def telnyx_public_b64() -> str:
    import base64

    raw = TELNYX_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def config_text(port: int, forward: str = "", extra_sms: str = "", twilio_extra: str = "") -> str:
    return f"""
[household]
default_region = "GB"

[web]
listen = "127.0.0.1:{port}"
public_url = "{PUBLIC_URL}"

[sms]
{extra_sms}

[sms.twilio]
auth_token = "{TWILIO_TOKEN}"
account_sid = "{TWILIO_SID}"
{twilio_extra}
[sms.telnyx]
public_key = "{telnyx_public_b64()}"

[sms.android_gateway]
signing_key = "{SMSGATE_KEY}"

[sms.httpsms]
signing_key = "{HTTPSMS_KEY}"

[sms.generic]
signing_key = "{GENERIC_KEY}"
{forward}
"""


def twilio_forward(api: FakeApi) -> str:
    return f"""
[sms.forward]
via = "twilio"
to = "{SURVIVOR}"
from_number = "+447700900400"
api_url = "{api.url}"
"""


@pytest.fixture(scope="session")
def sms_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sms-template")
    rt = make_home(root)
    with transaction(rt.engine) as s:
        add_person(s, rt.household_id, "Mark", "abuser", phones=["07700 900001"])
        add_person(s, rt.household_id, "Sam", "coparent", phones=[COPARENT])
    rt.engine.dispose()
    return root / "home"


@dataclass
class SmsEnv:
    rt: Runtime
    base: str
    server: uvicorn.Server
    thread: threading.Thread
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    @staticmethod
    def url(provider: str) -> str:
        """The URL the provider signs: the public URL, not where the test connects."""
        return f"{PUBLIC_URL}/webhooks/sms/{provider}"

    def post(self, provider: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.client.post(
            f"{self.base}/webhooks/sms/{provider}", content=body, headers=headers
        )

    def items(self) -> list[VaultItem]:
        with Session(self.rt.engine) as s:
            return list(s.exec(select(VaultItem).order_by(VaultItem.id)).all())  # type: ignore[arg-type]

    def status(self, name: str = "forward") -> ChannelStatus | None:
        with Session(self.rt.engine) as s:
            q = select(ChannelStatus).where(
                ChannelStatus.channel == "sms", ChannelStatus.name == name
            )
            return s.exec(q).first()

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)
        self.rt.engine.dispose()


def open_home(template: Path, root: Path, config: str) -> Runtime:
    home = root / "home"
    shutil.copytree(template, home)
    (home / "nocontact.toml").write_text(config)
    return Runtime.open(home, home / "nocontact.toml")


def serve(rt: Runtime, port: int) -> SmsEnv:
    server = uvicorn.Server(
        uvicorn.Config(create_app(rt), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return SmsEnv(rt, f"http://127.0.0.1:{port}", server, thread)


@pytest.fixture
def sms_env_factory(sms_template: Path, tmp_path: Path) -> Iterator[Callable[..., SmsEnv]]:
    envs: list[SmsEnv] = []

    def make(forward: str = "", extra_sms: str = "", twilio_extra: str = "") -> SmsEnv:
        port = free_port()
        config = config_text(port, forward, extra_sms, twilio_extra)
        rt = open_home(sms_template, tmp_path / f"env{len(envs)}", config)
        env = serve(rt, port)
        envs.append(env)
        return env

    yield make
    for env in envs:
        env.stop()


@pytest.fixture
def sms_env(sms_env_factory: Callable[..., SmsEnv]) -> SmsEnv:
    return sms_env_factory()


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi().start()
    yield api
    api.stop()
