"""Limits and headers: big bodies refused unread, pagination everywhere, throttled sign-in, safe headers."""

from __future__ import annotations

import json
import socket
from typing import Any

from tests.conftest import PASSWORD
from tests.security.http_client import serving

MIB = 1024 * 1024


def raw_exchange(port: int, head: str, body_chunks: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    """Send raw bytes to the server and return what it answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking the rest: that is the point
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
        return answer


def test_a_declared_big_body_is_refused_before_it_is_sent(app: Any) -> None:
    with serving(app) as http:
        head = (
            f"POST /api/v1/requests HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {2 * MIB}\r\nConnection: close\r\n\r\n"
        )
        answer = raw_exchange(http.port, head)  # not one byte of the body is sent
    assert answer.split(b" ", 2)[1] == b"413" and b"application/problem+json" in answer


def test_a_chunked_big_body_is_cut_at_one_mib(app: Any, make: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    token = make.token(operator)
    with serving(app) as http:
        head = (
            f"POST /api/v1/requests HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        piece = b'{"description": "' + b"x" * (64 * 1024)
        chunks = [f"{len(piece):x}\r\n".encode() + piece + b"\r\n"] * 40 + [b"0\r\n\r\n"]
        answer = raw_exchange(http.port, head, chunks)
    assert answer.split(b" ", 2)[1] == b"413", answer[:200]
    assert b"application/problem+json" in answer
    with serving(app) as http:  # a small chunked body still goes through
        body = json.dumps(make.request_body(community)).encode()
        answer = raw_exchange(http.port, head, [f"{len(body):x}\r\n".encode() + body + b"\r\n", b"0\r\n\r\n"])
    assert answer.split(b" ", 2)[1] == b"201", answer[:300]


def test_offers_and_events_are_paginated(make: Any, world: Any, clock: Any) -> None:
    a = world["a"]
    ids = [make.open(a["operator"], a["community"])["id"] for _ in range(3)]
    first = make.call("GET", "/me/offers?limit=2", a["other"])
    assert [r["id"] for r in first.json] == [ids[2], ids[1]]
    link = first.headers["Link"]
    assert link.endswith('rel="next"') and f"before={ids[1]}" in link
    rest = make.call("GET", f"/me/offers?limit=2&before={ids[1]}", a["other"])
    assert [r["id"] for r in rest.json] == [ids[0]] and "Link" not in rest.headers

    make.call("POST", f"/requests/{ids[0]}/refuse", a["other"], json={})
    make.call("POST", f"/requests/{ids[0]}/cancel", a["operator"], json={"reason": "Doublon"})
    events = make.call("GET", f"/requests/{ids[0]}/events?limit=2", a["operator"])
    assert [e["type"] for e in events.json] == ["cancelled", "refused"]
    older = make.call("GET", f"/requests/{ids[0]}/events?limit=2&before={events.json[1]['id']}", a["operator"])
    assert [e["type"] for e in older.json] == ["opened"]
    assert make.call("GET", "/me/offers?limit=201", a["other"]).status_code == 422


def test_sign_in_is_throttled_per_login_and_address_with_growing_delays_never_locked(
    make: Any, world: Any, app: Any, clock: Any
) -> None:
    """Issue 14, point 4: 5 wrong passwords used to lock the account for everyone for 15 min."""
    login = world["a"]["operator"].login
    for _ in range(5):
        assert make.call("POST", "/auth/token", json={"login": login, "password": "wrong password"}).status_code == 401
    slowed = make.call("POST", "/auth/token", json={"login": login, "password": PASSWORD})
    assert slowed.status_code == 429 and slowed.headers["Retry-After"] == "30"
    assert slowed.mimetype == "application/problem+json"
    # The rightful user, from their own address, is not locked out by the attacker's failures.
    rightful = make.call(
        "POST", "/auth/token", json={"login": login, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.9.9.9"}
    )
    assert rightful.status_code == 200
    # The attacker's delays grow: 30 s, then 60 s, then 120 s...
    for expected in (60, 120, 240):
        clock.advance(seconds=int(slowed.headers["Retry-After"]))
        assert make.call("POST", "/auth/token", json={"login": login, "password": "wrong"}).status_code == 401
        slowed = make.call("POST", "/auth/token", json={"login": login, "password": "wrong"})
        assert slowed.status_code == 429 and slowed.headers["Retry-After"] == str(expected)


def test_sign_in_has_a_ceiling_per_address_that_slows_failures_not_the_right_password(make: Any, world: Any, app: Any) -> None:
    """Issue 23, point 6: the ceiling used to answer 429 to every right password from the address for 15 minutes."""
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 8
    for n in range(8):
        assert make.call("POST", "/auth/token", json={"login": f"nobody{n}", "password": "x"}).status_code == 401
    # Over the ceiling, a failure answers 429 until the window ends, whether the login exists or not.
    stranger = make.call("POST", "/auth/token", json={"login": "nobody-else", "password": "x"})
    assert stranger.status_code == 429 and stranger.headers["Retry-After"] == "900"
    other = world["a"]["coordinator"].login
    wrong = make.call("POST", "/auth/token", json={"login": other, "password": "wrong"})
    assert wrong.status_code == 429 and wrong.headers["Retry-After"] == "900"
    # ...and that login now waits from its first failure, as if it had reached its own threshold.
    waiting = make.call("POST", "/auth/token", json={"login": other, "password": PASSWORD})
    assert waiting.status_code == 429 and waiting.headers["Retry-After"] == "30"
    # A known account's right password, with no failure of its own there, signs in at once.
    operator = world["a"]["operator"].login
    assert make.call("POST", "/auth/token", json={"login": operator, "password": PASSWORD}).status_code == 200
    elsewhere = make.call(
        "POST", "/auth/token", json={"login": other, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert elsewhere.status_code == 200


def test_headers_on_api_pages_and_errors(client: Any, make: Any, world: Any) -> None:
    responses = [
        client.get("/api/v1/healthz"),
        client.get("/api/v1/me"),
        client.get("/api/v1/openapi.json"),
        make.call("GET", "/requests", world["a"]["operator"]),
        client.get("/dev/inbox"),
        client.get("/no/such/page"),
    ]
    for response in responses:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and ("default-src 'none'" in csp or "default-src 'self'" in csp)
        assert response.headers["X-Request-Id"]


def test_passwords_are_never_returned(make: Any, world: Any) -> None:
    a = world["a"]
    created = make.call(
        "POST",
        f"/communities/{a['community'].id}/members",
        a["coordinator"],
        json={"role": "operator", "login": "osnp.new", "password": "a long enough one", "name": "Nouvel opérateur"},
    )
    assert created.status_code == 201
    short = make.call(
        "POST",
        f"/communities/{a['community'].id}/members",
        a["coordinator"],
        json={"role": "operator", "login": "osnp.short", "password": "too short", "name": "X"},
    )
    assert short.status_code == 422 and "password" in short.json["errors"]
    answers = [
        created,
        make.call("GET", f"/communities/{a['community'].id}/members", a["coordinator"]),
        make.call("GET", "/me", a["operator"]),
        make.call("POST", "/auth/token", json={"login": "osnp.new", "password": "a long enough one"}),
    ]
    for answer in answers:
        text = json.dumps(answer.json)
        assert "password" not in text and "a long enough one" not in text and "argon2" not in text
