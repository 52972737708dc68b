"""Shared plumbing for the local protocol peers: a threaded loopback HTTP server."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    """Threaded server that remembers its open connections so stop() can end them."""

    daemon_threads = True
    request_queue_size = 1024  # firebase-admin opens up to 500 connections at once

    def __init__(self, handler: type[BaseHTTPRequestHandler], peer: Any) -> None:
        self.peer = peer
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.connections_lock:
                self.connections.discard(request)


class JsonHandler(BaseHTTPRequestHandler):
    """Keep-alive request handler with JSON helpers; quiet in test output."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Log nothing: tests read the peer's records instead."""

    def read_body(self) -> bytes:
        """Read the request body announced by Content-Length."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(
        self, status: int, payload: Any, content_type: str = "application/json", headers: dict[str, str] | None = None
    ) -> None:
        """Answer with a JSON body and an explicit length (keeps the connection reusable)."""
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LoopbackPeer:
    """Base for a peer served from a daemon thread on 127.0.0.1, port chosen by the OS."""

    handler: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Return the base URL of the running peer."""
        if self._server is None:
            raise RuntimeError("peer not started")
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def start(self) -> LoopbackPeer:
        """Start serving in a daemon thread."""
        self._server = _Server(self.handler, self)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and end every open connection."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._server.connections_lock:
            open_connections = list(self._server.connections)
        for conn in open_connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
