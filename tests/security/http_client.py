"""A tiny stand-in for Flask's test client that goes through a real werkzeug server on 127.0.0.1."""

from __future__ import annotations

import http.client
import json as jsonlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server


class Answer:
    """What the test client's responses offer: status_code, json, headers."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code, self.headers, self.data = status, headers, body
        kind = headers.get("Content-Type", "")
        self.json = jsonlib.loads(body) if body and "json" in kind else None


class HttpClient:
    """Send requests to a live server with the test client's call signature."""

    def __init__(self, port: int) -> None:
        self.port = port

    def open(self, path: str, method: str = "GET", headers: dict[str, str] | None = None, json: Any = None, **_: Any) -> Answer:
        """Send one request and read the whole answer."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        body = None if json is None else jsonlib.dumps(json).encode()
        sent = {**(headers or {}), **({"Content-Type": "application/json"} if body is not None else {})}
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return Answer(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()

    def post(self, path: str, **kwargs: Any) -> Answer:
        return self.open(path, method="POST", **kwargs)

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.open(path, method="GET", **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Answer:
        return self.open(path, method="DELETE", **kwargs)


@contextmanager
def serving(app: Any) -> Iterator[HttpClient]:
    """Serve `app` with werkzeug in a thread for the duration of the block."""
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpClient(server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
