"""Security properties over plain HTTP against the live server: headers on every route,
CSRF refusal, lockout, cookie flags, timeouts, TOTP."""

from __future__ import annotations

import re
from contextlib import closing

import httpx
import pyotp
from sqlmodel import Session, select

from nocontact.db import transaction
from nocontact.models import Person, User
from nocontact.web.app import PAGES
from nocontact.web.models import WebSession
from nocontact.web.security import BODY_CSP
from nocontact.web.sessions import token_hash
from tests.conftest import PASSPHRASE
from tests.web.conftest import Site, configure, csrf_of, http_login

PAGE_NEEDS = (
    "default-src 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "base-uri 'none'",
    "script-src 'self'",
)


def _check_headers(r: httpx.Response, path: str) -> None:
    h = r.headers
    assert h.get("x-content-type-options") == "nosniff", path
    assert h.get("referrer-policy") == "no-referrer", path
    assert h.get("cache-control") == "no-store", path
    csp = h.get("content-security-policy", "")
    if "/body" in path:
        assert csp == BODY_CSP and csp.startswith("default-src 'none'"), path
    else:
        for part in PAGE_NEEDS:
            assert part in csp, f"{path}: CSP lacks {part}"
        assert "unsafe-inline" not in csp and "http" not in csp, path


def test_every_route_sends_security_headers(site: Site) -> None:
    held = site.hold_email("jordan@example.net", "Subject", "Body")
    with http_login(site) as client:
        client.post("/vault/start", data={"csrf": csrf_of(client.get("/vault").text)})
        r = client.post(
            "/vault/unlock", data={"csrf": csrf_of(client.get("/").text), "passphrase": PASSPHRASE}
        )
        assert r.url.path == "/vault/items"
        paths = {"/healthz", "/static/app.css", "/static/exit.js", "/does-not-exist"}
        for route in [r for m in PAGES for r in m.router.routes]:
            if "GET" not in getattr(route, "methods", set()):
                continue
            path = str(getattr(route, "path", ""))
            path = path.replace("{item_id}", str(held.item_id)).replace("{index}", "0")
            path = path.replace("{name}", "Jordan").replace("{path}", "app.css")
            path = path.replace("{order_id}", "1")
            paths.add(path)
        assert {"/", "/vault", "/settings", f"/items/{held.item_id}/body"} <= paths
        for path in sorted(paths):
            r = client.get(path, follow_redirects=False)
            _check_headers(r, path)
        # and POST answers, including refusals
        _check_headers(client.post("/people/new", data={"csrf": "wrong"}), "POST /people/new")


def test_posts_without_the_right_csrf_token_are_refused(site: Site) -> None:
    with http_login(site) as client:
        client.post(
            "/confirm", data={"csrf": csrf_of(client.get("/").text), "passphrase": PASSPHRASE}
        )
        form = {"name": "Mallory", "relation": "ally", "emails": "m@example.org"}
        for token in (None, "", "not-the-token"):
            data = dict(form) if token is None else {**form, "csrf": token}
            r = client.post("/people/new", data=data)
            assert r.status_code == 403
            assert "expired" in r.text
        # a token from another session does not work either
        with http_login(site) as other:
            foreign = csrf_of(other.get("/").text)
        assert client.post("/people/new", data={**form, "csrf": foreign}).status_code == 403
        with Session(site.rt.engine) as s:
            assert s.exec(select(Person).where(Person.name == "Mallory")).first() is None
        ok = client.post("/people/new", data={**form, "csrf": csrf_of(client.get("/").text)})
        assert ok.status_code == 200 and "m@example.org" in ok.text
    with httpx.Client(base_url=site.url) as anon:
        r = anon.post("/login", data={"name": "owner", "passphrase": PASSPHRASE})
        assert r.status_code == 403 and "nc_session" not in r.cookies


def test_repeated_failures_lock_the_account_even_for_the_right_passphrase(site: Site) -> None:
    with transaction(site.rt.engine) as s:
        from nocontact.users import add_user

        add_user(s, site.rt.household_id, "locky", "reviewer", "locky's long passphrase")
    with httpx.Client(base_url=site.url) as c:
        token = csrf_of(c.get("/login").text)
        for _ in range(5):
            r = c.post("/login", data={"csrf": token, "name": "locky", "passphrase": "wrong one!"})
            assert r.status_code == 401
        r = c.post(
            "/login", data={"csrf": token, "name": "locky", "passphrase": "locky's long passphrase"}
        )
        assert r.status_code == 401 and "rests for 15 minutes" in r.text
        assert "nc_session" not in c.cookies


def test_session_cookie_is_httponly_strict_and_secure_over_https(site: Site) -> None:
    with httpx.Client(base_url=site.url) as c:
        form = c.get("/login")
        r = c.post(
            "/login",
            data={"csrf": csrf_of(form.text), "name": "owner", "passphrase": PASSPHRASE},
        )
        cookie = next(
            v
            for k, v in r.headers.multi_items()
            if k == "set-cookie" and v.startswith("nc_session=")
        )
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert "Secure" not in cookie
    before = site.rt.config.web.public_url
    configure(site.rt, public_url="https://nocontact.example.org")
    try:
        with httpx.Client(base_url=site.url) as c:
            r = c.get("/login")
            cookie = r.headers["set-cookie"]
            # __Host-: only this exact host can set it (no sibling subdomain, no network)
            assert cookie.startswith("__Host-nc_login=") and "Secure" in cookie
            assert "Path=/" in cookie and "Domain" not in cookie
    finally:
        configure(site.rt, public_url=before)


def test_idle_and_absolute_timeouts_end_the_session(site: Site) -> None:
    from datetime import timedelta

    from nocontact.models import utcnow

    for field, age in (("last_seen", timedelta(minutes=16)), ("created_at", timedelta(hours=13))):
        with http_login(site) as client:
            assert client.get("/settings").url.path == "/settings"
            with transaction(site.rt.engine) as s:
                for row in s.exec(select(WebSession)).all():
                    setattr(row, field, utcnow() - age)
                    s.add(row)
            assert client.get("/settings").url.path == "/login", field


def test_totp_is_asked_after_the_passphrase_and_recovery_codes_work_once(site: Site) -> None:
    from nocontact.users import add_user

    with transaction(site.rt.engine) as s:
        add_user(s, site.rt.household_id, "tess", "reviewer", "tess's long passphrase")
    with http_login(site, "tess", "tess's long passphrase") as c:
        page = c.post("/settings/totp/start", data={"csrf": csrf_of(c.get("/settings").text)})
        secret = re.search(r'name="secret" value="([A-Z2-7]+)"', page.text)
        assert secret
        r = c.post(
            "/settings/totp/confirm",
            data={
                "csrf": csrf_of(page.text),
                "secret": secret.group(1),
                "code": pyotp.TOTP(secret.group(1)).now(),
                "passphrase": "tess's long passphrase",
            },
        )
        codes = re.findall(r"<code>([A-Z2-7]{5}-[A-Z2-7]{5})</code>", r.text)
        assert len(codes) == 8
    with Session(site.rt.engine) as s:
        assert s.exec(select(User).where(User.name == "tess")).one().totp_secret

    def start() -> httpx.Client:
        c = httpx.Client(base_url=site.url, follow_redirects=True)
        form = c.get("/login")
        r = c.post(
            "/login",
            data={
                "csrf": csrf_of(form.text),
                "name": "tess",
                "passphrase": "tess's long passphrase",
            },
        )
        assert r.url.path == "/login/code"
        assert c.get("/review").url.path == "/login", "pages open before the second step"
        return c

    with closing(start()) as c:
        r = c.post(
            "/login/code", data={"csrf": csrf_of(c.get("/login/code").text), "code": "000000"}
        )
        assert r.status_code == 401
        r = c.post("/login/code", data={"csrf": csrf_of(r.text), "code": codes[0]})
        assert r.url.path == "/review"
    with closing(start()) as c:
        code = pyotp.TOTP(secret.group(1)).now()
        r = c.post("/login/code", data={"csrf": csrf_of(c.get("/login/code").text), "code": code})
        assert r.url.path == "/review"
    with closing(start()) as c:
        r = c.post("/login/code", data={"csrf": csrf_of(c.get("/login/code").text), "code": code})
        assert r.status_code == 401, "a TOTP code was accepted twice"
    with closing(start()) as c:
        r = c.post(
            "/login/code", data={"csrf": csrf_of(c.get("/login/code").text), "code": codes[0]}
        )
        assert r.status_code == 401, "a recovery code worked twice"


def test_logout_forgets_the_unlocked_key_and_the_old_cookie(site: Site) -> None:
    held = site.hold_email("jordan@example.net", "Subject", "Body")
    with http_login(site) as client:
        client.post("/vault/start", data={"csrf": csrf_of(client.get("/vault").text)})
        r = client.post(
            "/vault/unlock", data={"csrf": csrf_of(client.get("/").text), "passphrase": PASSPHRASE}
        )
        assert r.url.path == "/vault/items"
        old = client.cookies["nc_session"]
        assert site.app.state.keyring.get(token_hash(old)) is not None
        assert client.get(f"/items/{held.item_id}/body").status_code == 200
        client.post("/logout", data={"csrf": csrf_of(client.get("/").text)})
    assert site.app.state.keyring.get(token_hash(old)) is None
    with httpx.Client(base_url=site.url, cookies={"nc_session": old}) as replay:
        r = replay.get(f"/items/{held.item_id}/body")
        assert r.status_code == 303 and r.headers["location"] == "/login"
