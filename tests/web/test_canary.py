"""Opening a held message must never make a request because of its content (DESIGN §1.3).

A canary HTTP server on loopback counts every hit; a corpus of tracking tricks points at it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from nocontact.models import LedgerEntry
from nocontact.web.render import clean_html
from tests.conftest import PASSPHRASE
from tests.web.conftest import Site, login, press, shoot


class Canary:
    def __init__(self) -> None:
        self.hits: list[str] = []
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                canary.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def canary() -> Iterator[Canary]:
    c = Canary()
    yield c
    c.server.shutdown()
    c.server.server_close()


def corpus(u: str) -> list[str]:
    return [
        f'<img src="{u}/img.gif" width="1" height="1">',
        f'<img srcset="{u}/srcset.gif 1x, {u}/srcset2.gif 2x">',
        f'<picture><source srcset="{u}/source.gif"><img src="{u}/pic.gif"></picture>',
        f'<link rel="stylesheet" href="{u}/link.css">',
        f'<link rel="prefetch" href="{u}/prefetch">',
        f"<style>body {{ background: url('{u}/style-url.gif') }} @import '{u}/import.css';</style>",
        f'<div style="background-image: url({u}/inline-url.gif)">styled</div>',
        f'<table background="{u}/table-bg.gif"><tr><td background="{u}/td.gif">x</td></tr></table>',
        f'<body background="{u}/body-bg.gif">',
        f'<video poster="{u}/poster.gif" src="{u}/video.mp4"></video>',
        f'<audio src="{u}/audio.mp3" autoplay></audio>',
        f'<svg><image href="{u}/svg-image.gif"/></svg>',
        f'<iframe src="{u}/iframe"></iframe>',
        f'<object data="{u}/object"></object><embed src="{u}/embed">',
        f'<input type="image" src="{u}/input.gif">',
        f'<meta http-equiv="refresh" content="0;url={u}/refresh">',
        f'<base href="{u}/base/"><img src="relative.gif">',
        f'<script src="{u}/script.js"></script>',
        f"<img src=x onerror=\"fetch('{u}/onerror')\">",
        f'<form action="{u}/form"><input name=q autofocus></form>',
        f'<a href="{u}/link-click" ping="{u}/ping">a link</a>',
        f'<p>Visible words of the message</p><img src="{u}/last.gif">',
    ]


def test_sanitiser_removes_every_remote_reference(canary: Canary) -> None:
    for fragment in corpus(canary.url):
        cleaned = clean_html(fragment)
        assert "127.0.0.1" not in cleaned, fragment


def test_viewing_a_tracking_message_makes_no_request(
    page: Page, site: Site, canary: Canary
) -> None:
    # the counter works: a direct fetch from this browser is seen
    page.goto(canary.url + "/control")
    assert "/control" in canary.hits
    canary.hits.clear()

    html = "<html><head></head><body>" + "\n".join(corpus(canary.url)) + "</body></html>"
    boundary = "b1"
    body = (
        f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
        f"--{boundary}\r\nContent-Type: image/gif\r\nContent-Disposition: attachment; "
        f'filename="photo.gif"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        "R0lGODlhAQABAAAAACw=\r\n"
        f"--{boundary}--\r\n"
    )
    held = site.hold_email(
        "jordan@example.net",
        "tracked",
        body,
        content_type=f'multipart/mixed; boundary="{boundary}"',
    )

    login(page, site)
    page.goto(site.url + "/vault")
    page.get_by_role("button", name="Continue to open the vault").click()
    page.fill("#passphrase", PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.locator("h1")).to_have_text("Held messages")
    page.goto(f"{site.url}/vault/items/{held.item_id}")
    frame = page.frame_locator("iframe.body")
    expect(frame.locator("body")).to_contain_text("Visible words of the message")
    expect(page.locator("main")).to_contain_text("photo.gif")
    expect(page.locator("main")).to_contain_text("Pictures in this message are not loaded")
    page.wait_for_load_state("networkidle")
    shoot(page, "item-tracking")
    with page.expect_download() as download:
        press(page.get_by_role("link", name="photo.gif"))
    assert download.value.suggested_filename == "photo.gif"
    with Session(site.rt.engine) as s:
        kinds = [e.kind for e in s.exec(select(LedgerEntry)).all()]
    assert kinds[-1] == "attachment_opened"
    # the control page's own favicon request may land late; nothing in the corpus names it
    hits = [h for h in canary.hits if h != "/favicon.ico"]
    assert hits == [], f"the message made the browser fetch {hits}"
