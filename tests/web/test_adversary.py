"""The person at the unlocked browser, and the stranger at the login form (issue 19).

Each test performs the attack against the live app (uvicorn on loopback, plain HTTP, a real
SMTP server for notices, the real CLI) and checks that it fails and leaves a trace the owner
can see. ``docs/THREATS.md`` names the test for each defence.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from statistics import median
from typing import Any

import httpx
import pyotp
from sqlmodel import Session, col, select

from nocontact.db import transaction
from nocontact.models import LedgerEntry, User
from nocontact.users import add_user, find_user
from nocontact.web import totp
from nocontact.web.models import NotifyPrefs, WebSession
from tests.conftest import PASSPHRASE
from tests.web.conftest import Inbox, Site, csrf_of, http_login

STRANGER = "127.0.0.2"  # another address on loopback: the same server, a different client


def _entries(site: Site, kind: str, since: int = 0) -> list[dict[str, Any]]:
    with Session(site.rt.engine) as s:
        rows = s.exec(
            select(LedgerEntry).where(LedgerEntry.kind == kind, col(LedgerEntry.seq) > since)
        ).all()
        return [json.loads(r.body) for r in rows]


def _last_seq(site: Site) -> int:
    with Session(site.rt.engine) as s:
        rows = s.exec(select(LedgerEntry.seq).order_by(col(LedgerEntry.seq).desc())).first()
        return rows or 0


def _add(site: Site, name: str, passphrase: str) -> int:
    with transaction(site.rt.engine) as s:
        if find_user(s, site.rt.household_id, name) is None:
            add_user(s, site.rt.household_id, name, "reviewer", passphrase)
        user = find_user(s, site.rt.household_id, name)
        assert user is not None and user.id is not None
        return user.id


@contextmanager
def _owner_totp_cleared(site: Site) -> Iterator[None]:
    """The shared site's owner must leave this test as she came: no second factor."""
    try:
        yield
    finally:
        with transaction(site.rt.engine) as s:
            owner = find_user(s, site.rt.household_id, "owner")
            assert owner is not None
            totp.disable(s, owner)


def _nc(site: Site, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nocontact", "--home", str(site.rt.home), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env},
        timeout=120,
    )


# 1. Second factor takeover ----------------------------------------------------------------


def _start_totp(client: httpx.Client) -> tuple[str, str]:
    page = client.post("/settings/totp/start", data={"csrf": csrf_of(client.get("/settings").text)})
    found = re.search(r'name="secret" value="([A-Z2-7]+)"', page.text)
    assert found, page.text
    return found.group(1), csrf_of(page.text)


def test_a_session_alone_cannot_take_over_the_second_factor(site: Site, smtp: Inbox) -> None:
    with transaction(site.rt.engine) as s:
        owner = find_user(s, site.rt.household_id, "owner")
        assert owner is not None and owner.id is not None
        prefs = s.get(NotifyPrefs, owner.id) or NotifyPrefs(user_id=owner.id)
        prefs.email = "her@example.org"
        s.add(prefs)
    since = _last_seq(site)
    with _owner_totp_cleared(site), http_login(site) as her:
        # She switches codes on; her passphrase is asked at that moment.
        secret, token = _start_totp(her)
        code = pyotp.TOTP(secret).now()
        r = her.post(
            "/settings/totp/confirm",
            data={"csrf": token, "secret": secret, "code": code, "passphrase": PASSPHRASE},
        )
        assert r.status_code == 200 and len(re.findall(r"<code>[A-Z2-7-]{11}</code>", r.text)) == 8
        assert [e["user"] for e in _entries(site, "totp_on", since)] == [owner.id]

        # Someone at her unlocked phone, in her session, tries to move codes to their phone.
        theirs, token = _start_totp(her)
        r = her.post(
            "/settings/totp/confirm",
            data={"csrf": token, "secret": theirs, "code": pyotp.TOTP(theirs).now()},
        )
        assert r.status_code == 400
        r = her.post(
            "/settings/totp/confirm",
            data={
                "csrf": token,
                "secret": theirs,
                "code": pyotp.TOTP(theirs).now(),
                "passphrase": "a guess at her passphrase",
            },
        )
        assert r.status_code == 400 and "Nothing was changed" in r.text
        r = her.post("/settings/totp/off", data={"csrf": token, "passphrase": "another guess"})
        assert r.status_code == 401
        with Session(site.rt.engine) as s:
            kept = s.get(User, owner.id)
            assert kept is not None and kept.totp_secret == secret, "the second factor moved"
        assert not _entries(site, "totp_replaced", since) and not _entries(site, "totp_off", since)
        failed = _entries(site, "login_failed", since)
        assert len(failed) == 3 and all(e["account"] == owner.id for e in failed)

        # Activity shows what happened; the notice said only that a setting changed.
        activity = her.get("/activity").text
        assert "switched on codes from a phone" in activity
        assert activity.count("A wrong passphrase was given for you") == 3
        assert len(smtp.mails) == 1
        rcpt, raw = smtp.mails[0]
        mail = message_from_bytes(raw)
        assert rcpt == ["her@example.org"] and "No Contact" not in raw.decode()
        assert mail["Subject"] == "A sign-in setting was changed"

    # She can always get back in: the recovery code switches it off from the server.
    with transaction(site.rt.engine) as s:
        owner = find_user(s, site.rt.household_id, "owner")
        assert owner is not None
        totp.enable(s, owner, pyotp.random_base32())
    with _owner_totp_cleared(site):
        wrong = _nc(site, "users", "reset-2fa", "owner", NOCONTACT_RECOVERY_CODE="AAAAA-AAAAA")
        assert wrong.returncode == 1 and "did not match" in wrong.stderr
        code = site.rt.recovery_code  # type: ignore[attr-defined]
        out = _nc(site, "users", "reset-2fa", "owner", NOCONTACT_RECOVERY_CODE=code)
        assert out.returncode == 0, out.stderr
        with Session(site.rt.engine) as s:
            owner = find_user(s, site.rt.household_id, "owner")
            assert owner is not None and owner.totp_secret is None
        assert _entries(site, "second_factor_reset", since)
        with http_login(site) as her:
            assert her.get("/settings").url.path == "/settings"


def test_a_reset_passphrase_ends_every_login_of_that_account(site: Site) -> None:
    _add(site, "reset-me", "reset-me's old passphrase")
    with http_login(site, "reset-me", "reset-me's old passphrase") as old:
        assert old.get("/settings").url.path == "/settings"
        out = _nc(
            site,
            "users",
            "reset-passphrase",
            "reset-me",
            NOCONTACT_RECOVERY_CODE=site.rt.recovery_code,  # type: ignore[attr-defined]
            NOCONTACT_PASSPHRASE="reset-me's new passphrase",
        )
        assert out.returncode == 0, out.stderr
        assert old.get("/settings").url.path == "/login", "the old login still worked"


# 2. Unlogged reads -------------------------------------------------------------------------


def test_every_delivery_of_content_is_on_the_ledger(site: Site) -> None:
    reader = _add(site, "reads-quietly", "reads-quietly passphrase")
    raw_attached = (
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        "Content-Type: text/plain\r\n\r\nsee the file\r\n--b\r\n"
        "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--"
    )
    held = site.hold_email(
        "jordan@example.net",
        "Read me quietly",
        raw_attached.split("\r\n\r\n", 1)[1],
        content_type="multipart/mixed; boundary=b",
    )
    since = _last_seq(site)
    with http_login(site, "reads-quietly", "reads-quietly passphrase") as c:
        r = c.post(
            "/review/unlock",
            data={"csrf": csrf_of(c.get("/review").text), "passphrase": "reads-quietly passphrase"},
        )
        assert r.url.path == "/review"
        body = c.get(f"/items/{held.item_id}/body")
        assert body.status_code == 200 and "see the file" in body.text
        file = c.get(f"/items/{held.item_id}/files/0")
        assert file.status_code == 200 and file.content.startswith(b"%PDF")
    seen = {
        e["kind"]: e
        for e in _entries(site, "body_viewed", since) + _entries(site, "attachment_opened", since)
    }
    assert set(seen) == {"body_viewed", "attachment_opened"}, "a read left no ledger entry"
    for entry in seen.values():
        assert entry["user"] == reader and entry["item"] == held.item_id
    with http_login(site) as her:
        activity = her.get("/activity").text
        assert f"reads-quietly saw the text of message {held.item_id}" in activity
        assert f"reads-quietly downloaded an attachment of message {held.item_id}" in activity


# 3. CSRF by a planted cookie ----------------------------------------------------------------


def test_a_planted_login_cookie_does_not_pass_for_a_form_token(site: Site) -> None:
    with http_login(site) as her:
        # Whoever can plant a cookie (a sibling subdomain, the network over http) chooses its
        # value, and so knows the token an old-style double-submit check would accept.
        her.cookies.set("nc_login", "planted-by-someone", domain="127.0.0.1", path="/")
        for token in ("planted-by-someone", csrf_of(her.get("/login").text)):
            r = her.post(
                "/settings/notify",
                data={"csrf": token, "email": "theirs@example.net", "digest": "daily"},
            )
            assert r.status_code == 403, token
        with Session(site.rt.engine) as s:
            owner = find_user(s, site.rt.household_id, "owner")
            assert owner is not None
            prefs = s.get(NotifyPrefs, owner.id)
            assert prefs is None or prefs.email != "theirs@example.net"
        # her own page's token still works
        r = her.post(
            "/settings/notify",
            data={"csrf": csrf_of(her.get("/settings").text), "email": "", "digest": "daily"},
        )
        assert r.status_code == 200


def test_form_tokens_are_bound_to_the_session_and_never_stored(site: Site) -> None:
    with http_login(site) as first, http_login(site) as second:
        a, b = csrf_of(first.get("/settings").text), csrf_of(second.get("/settings").text)
        assert a != b
        r = first.post("/settings/notify", data={"csrf": b, "email": "", "digest": "daily"})
        assert r.status_code == 403
    with Session(site.rt.engine) as s:
        stored = json.dumps([r.model_dump(mode="json") for r in s.exec(select(WebSession))])
    assert a not in stored and b not in stored


# 4. Nothing names the product ----------------------------------------------------------------


def test_pages_tabs_and_the_authenticator_show_only_the_display_name(site: Site) -> None:
    with httpx.Client(base_url=site.url) as anon:
        login = anon.get("/login").text
        assert "<title>Messages</title>" in login and "No Contact" not in login
    with http_login(site) as her:
        for path in ("/", "/settings", "/activity", "/vault", "/people"):
            html = her.get(path).text
            assert "No Contact" not in html, path
            assert re.search(r"<title>([^<]*)</title>", html).group(1) == "Messages", path  # type: ignore[union-attr]
        page = her.post("/settings/totp/start", data={"csrf": csrf_of(her.get("/settings").text)})
        uri = re.search(r"otpauth://[^<\s]+", page.text)
        assert uri and "issuer=Messages" in uri.group(0) and "No%20Contact" not in uri.group(0)
    site.rt.config = site.rt.config.model_copy(
        update={
            "household": site.rt.config.household.model_copy(update={"display_name": "Recipes"})
        }
    )
    with httpx.Client(base_url=site.url) as anon:
        assert "<title>Recipes</title>" in anon.get("/login").text


# 7. Sessions, failed logins and the lockout ---------------------------------------------------


def _login_from(site: Site, address: str, name: str, passphrase: str) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=site.url, transport=transport, timeout=30) as c:
        form = c.get("/login")
        return c.post(
            "/login", data={"csrf": csrf_of(form.text), "name": name, "passphrase": passphrase}
        )


def test_a_stranger_cannot_keep_the_owner_locked_out(site: Site) -> None:
    _add(site, "locked-out", "locked-out's passphrase")
    since = _last_seq(site)
    for _ in range(5):
        r = _login_from(site, STRANGER, "locked-out", "a wrong guess")
        assert r.status_code == 401
    r = _login_from(site, STRANGER, "locked-out", "locked-out's passphrase")
    assert r.status_code == 401, "the stranger's address should be resting"
    # from her own address she still gets in, with her passphrase
    r = _login_from(site, "127.0.0.1", "locked-out", "locked-out's passphrase")
    assert r.status_code == 303 and r.headers["location"] == "/"
    failed = _entries(site, "login_failed", since)
    assert len(failed) == 5, "a try refused unheard was written (or one was missed)"
    assert {e["client"] for e in failed} == {STRANGER} and failed[-1]["rests"] is True
    with http_login(site) as her:
        activity = her.get("/activity").text
        assert activity.count(f"A wrong passphrase was given for locked-out from {STRANGER}") == 5
        assert "logins from there rest for 15 minutes" in activity


def test_one_address_cannot_spray_guesses_across_accounts(site: Site) -> None:
    for i in range(20):
        _login_from(site, STRANGER, f"nobody-{i}", "a wrong guess")
    _add(site, "sprayed", "sprayed's own passphrase")
    r = _login_from(site, STRANGER, "sprayed", "sprayed's own passphrase")
    assert r.status_code == 401, "twenty failures should rest the address"


def test_a_resting_account_answers_no_faster(site: Site) -> None:
    _add(site, "timed", "timed's own passphrase")

    def took(passphrase: str) -> float:
        start = time.perf_counter()
        _login_from(site, STRANGER, "timed", passphrase)
        return time.perf_counter() - start

    awake = [took("a wrong guess") for _ in range(4)]
    took("a wrong guess")  # the fifth: now resting
    resting = [took("a wrong guess") for _ in range(4)]
    # argon2 (64 MiB, t=3) takes tens of milliseconds; a refusal without it takes ~1 ms
    assert median(resting) > 0.6 * median(awake), (awake, resting)


def test_the_owner_sees_and_ends_every_login(site: Site) -> None:
    _add(site, "elsewhere", "elsewhere's passphrase")
    ua = {"User-Agent": "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120 Mobile"}
    with (
        httpx.Client(base_url=site.url, follow_redirects=True, headers=ua) as them,
        http_login(site) as her,
    ):
        form = them.get("/login")
        them.post(
            "/login",
            data={
                "csrf": csrf_of(form.text),
                "name": "elsewhere",
                "passphrase": "elsewhere's passphrase",
            },
        )
        assert them.get("/settings").url.path == "/settings"
        page = her.get("/settings").text
        assert "elsewhere: Chrome on Android" in page
        with Session(site.rt.engine) as s:
            user = s.exec(select(User).where(User.name == "elsewhere")).one()
            row = s.exec(select(WebSession).where(WebSession.user_id == user.id)).one()
        r = her.post(f"/settings/sessions/{row.id}/end", data={"csrf": csrf_of(page)})
        assert r.url.path == "/settings" and "elsewhere: Chrome" not in r.text
        assert them.get("/settings").url.path == "/login", "the ended login still worked"
        assert "You ended a login of elsewhere" in her.get("/activity").text


def test_a_trusted_person_cannot_end_the_owners_login(site: Site) -> None:
    _add(site, "cannot-end", "cannot-end's passphrase")
    with http_login(site) as her, http_login(site, "cannot-end", "cannot-end's passphrase") as c:
        page = c.get("/settings").text
        assert "You: " in page and "owner:" not in page
        with Session(site.rt.engine) as s:
            owner = s.exec(select(User).where(User.name == "owner")).one()
            hers = s.exec(select(WebSession).where(WebSession.user_id == owner.id)).all()
        for row in hers:
            c.post(f"/settings/sessions/{row.id}/end", data={"csrf": csrf_of(page)})
        assert her.get("/settings").url.path == "/settings"
