"""A TCP forwarder on a fixed loopback port that a test can switch off and on, to make a real
downstream server (Dovecot LMTP) go away and come back without touching Dovecot itself."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from typing import Any

from tests.servers.ports import free_port


class Forwarder:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: socketserver.ThreadingTCPServer | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.active = 0  # connections open through the forwarder right now

    def start(self) -> None:
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                upstream = socket.create_connection(("127.0.0.1", outer.target_port), timeout=10)
                upstream.settimeout(None)  # idle connections stay open, as with a real server
                client: socket.socket = self.request
                with outer._lock:
                    outer._open.update({client, upstream})
                    outer.active += 1
                try:
                    pump = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
                    pump.start()
                    _pump(client, upstream)
                    pump.join(10)
                finally:
                    with outer._lock:
                        outer.active -= 1
                        outer._open.difference_update({client, upstream})

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        """Nothing listens any more and open connections drop, as when the server is down."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        with self._lock:
            for s in self._open:
                _close(s)
            self._open.clear()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        _close(dst)


def _close(s: Any) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()
