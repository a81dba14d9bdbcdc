"""A local HTTP server standing in for third-party APIs (Twilio REST, the Android gateway's
send API, an MMS media host): it records every request and answers as told."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def basic_auth(self) -> tuple[str, str] | None:
        value = self.headers.get("authorization", "")
        if not value.lower().startswith("basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return user, password


@dataclass
class FakeApi:
    """``statuses`` are answered in turn (the last one repeats); ``files`` serve GETs, and
    ``routes`` (when set) answers a GET first: (status, body, content type), or None to fall
    through to ``files``."""

    statuses: list[int] = field(default_factory=lambda: [201])
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    require_auth: tuple[str, str] | None = None
    routes: Callable[[Recorded], tuple[int, bytes, str] | None] | None = None
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> Recorded:
                length = int(self.headers.get("content-length") or 0)
                rec = Recorded(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                with api.lock:
                    api.requests.append(rec)
                return rec

            def _answer(self, status: int, body: bytes = b"{}", ctype: str = "application/json"):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                self._record()
                with api.lock:
                    status = api.statuses.pop(0) if len(api.statuses) > 1 else api.statuses[0]
                self._answer(status)

            def do_GET(self) -> None:
                rec = self._record()
                if api.require_auth and rec.basic_auth() != api.require_auth:
                    self._answer(401)
                    return
                routed = api.routes(rec) if api.routes is not None else None
                if routed is not None:
                    self._answer(*routed)
                    return
                found = api.files.get(self.path)
                if found is None:
                    self._answer(404)
                    return
                self._answer(200, found[0], found[1])

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def posts(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == "POST"]
