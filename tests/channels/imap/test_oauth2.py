"""XOAUTH2 against a real Dovecot whose oauth2 passdb asks a local token-introspection server
(the provider's HTTP API is the one thing faked): the token is read afresh on every connection,
so a helper that rewrites the token file keeps the account working."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs

import pytest

from nocontact.channels.imap.poller import poll_all
from nocontact.intake import Intake
from tests.channels.imap.conftest import account_toml, bodies, imap_home, listed, mailbox, message
from tests.servers.dovecot import Dovecot, start_dovecot
from tests.servers.ports import free_port

VALID = {"first-token", "rotated-token"}


class _Provider(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        token = parse_qs(body).get("token", [""])[0]
        self.seen.append(token)
        answer = {"active": "true" if token in VALID else "false", "username": "alice"}
        out = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def oauth_dovecot() -> Iterator[Dovecot]:
    port = free_port()
    provider = HTTPServer(("127.0.0.1", port), _Provider)
    threading.Thread(target=provider.serve_forever, daemon=True).start()
    root = Path("/tmp") / f"nocontact-dovecot-oauth-{os.getpid()}"
    root.mkdir(parents=True, exist_ok=True)
    (root / "oauth2.conf.ext").write_text(
        "introspection_mode = post\n"
        f"introspection_url = http://127.0.0.1:{port}/introspect\n"
        "username_attribute = username\nactive_attribute = active\nactive_value = true\n"
        "force_introspection = yes\n"
    )
    server = start_dovecot(
        root,
        "auth_mechanisms = plain login xoauth2 oauthbearer\n"
        f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
        f"  args = {root}/oauth2.conf.ext\n}}\n",
    )
    yield server
    server.stop()
    provider.shutdown()


def test_xoauth2_token_file_is_read_at_every_connection(
    tmp_path: Path, oauth_dovecot: Dovecot
) -> None:
    oauth_dovecot.reset_mail()
    token = tmp_path / "token"
    token.write_text("first-token\n")
    account = account_toml(oauth_dovecot, password=None, oauth2_token_file=str(token))
    rt = imap_home(tmp_path, oauth_dovecot, account)
    listed(rt, "Jon", emails=["jon@example.org"])
    alice = mailbox(oauth_dovecot)
    alice.append("INBOX", message("jon@example.org", subject="one"))
    [first] = poll_all(Intake(rt))
    assert (first.quarantined, first.errors) == (1, [])
    token.write_text("rotated-token\n")  # what a refresh helper does every hour
    alice.append("INBOX", message("jon@example.org", subject="two"))
    [second] = poll_all(Intake(rt))
    assert (second.quarantined, second.errors) == (1, [])
    token.write_text("expired-token\n")
    [third] = poll_all(Intake(rt))
    assert third.errors and "refused the login" in third.errors[0]
    assert _Provider.seen[-3:] == ["first-token", "rotated-token", "expired-token"]
    assert len(bodies(alice, "Held")) == 2
    alice.logout()


def test_xoauth2_token_from_the_environment(
    tmp_path: Path, oauth_dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    oauth_dovecot.reset_mail()
    monkeypatch.setenv("NOCONTACT_TEST_TOKEN", "first-token")
    account = account_toml(oauth_dovecot, password=None, oauth2_token_env="NOCONTACT_TEST_TOKEN")
    rt = imap_home(tmp_path, oauth_dovecot, account)
    [report] = poll_all(Intake(rt))
    assert report.errors == []
    monkeypatch.delenv("NOCONTACT_TEST_TOKEN")
    [missing] = poll_all(Intake(rt))
    assert "NOCONTACT_TEST_TOKEN" in missing.errors[0]
