"""Real processes on one database (gunicorn, `dispatch worker`, `dispatch serve`), a seeded world and a client."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from dispatch.clock import utcnow

ROOT = Path(__file__).resolve().parents[2]
FCM_PROJECT = "snp-system"


def free_port() -> int:
    """Return a TCP port free on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(url: str, *, fcm_url: str | None = None, clock_file: str | None = None, **extra: str) -> dict[str, str]:
    """Return the environment of a service process on `url`, pushing to the FCM peer when given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    # Development: the inbox transports and a generated VAPID key; tests of production pass DISPATCH_ENV themselves.
    env.update(
        DISPATCH_ENV="development", DISPATCH_DATABASE_URL=url, DISPATCH_SECRET_KEY="system-test-secret", PYTHONUNBUFFERED="1"
    )
    if fcm_url:
        env.update(DISPATCH_PUSH_BACKEND="fcm", DISPATCH_FCM_URL=fcm_url, DISPATCH_FCM_PROJECT=FCM_PROJECT)
    if clock_file:
        env["DISPATCH_CLOCK_FILE"] = clock_file
    env.update(extra)
    return env


class Process:
    """A child process of the service, logging to a file, killed at the end whatever happens."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 -- closed in stop()
        self.popen = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        """Kill the process with SIGKILL, as a crash would."""
        os.kill(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and its children."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(predicate: Any, *, timeout: float, interval: float = 0.05, what: str = "a condition") -> Any:
    """Poll `predicate` until it returns a true value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def start_gunicorn(
    env: dict[str, str], log_dir: Path, *, workers: int = 3, port: int | None = None, name: str = "gunicorn"
) -> tuple[Process, str]:
    """Start gunicorn on dispatch.wsgi:app and wait until it answers; return it and its base URL."""
    port = port or free_port()
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--backlog",
        "2048",
        "dispatch.wsgi:app",
    ]
    process = Process(name, argv, env, log_dir)
    base = f"http://127.0.0.1:{port}"
    _wait_http(process, base)
    return process, base


def start_serve(env: dict[str, str], log_dir: Path, *, port: int | None = None) -> tuple[Process, str]:
    """Start `dispatch serve` and wait until it answers; return it and its base URL."""
    port = port or free_port()
    process = Process("serve", [sys.executable, "-m", "dispatch.cli", "serve", "--port", str(port)], env, log_dir)
    base = f"http://127.0.0.1:{port}"
    _wait_http(process, base)
    return process, base


def start_worker(env: dict[str, str], log_dir: Path, url: str, *, name: str = "worker") -> Process:
    """Start `dispatch worker` and wait until it listens for wake-ups."""
    process = Process(name, [sys.executable, "-m", "dispatch.cli", "worker"], env, log_dir)
    try:
        wait_for(lambda: not process.alive() or _listening(url, process.pid), timeout=60, what=f"{name} to listen")
        assert process.alive(), process.log()
    except BaseException:
        process.stop()
        raise
    return process


def _wait_http(process: Process, base: str) -> None:
    def up() -> bool:
        assert process.alive(), process.log()
        with contextlib.suppress(OSError):
            return Api(base).call("GET", "/healthz")[0] == 200
        return False

    try:
        wait_for(up, timeout=90, interval=0.1, what=f"{process.name} to answer")
    except BaseException:
        process.stop()
        raise


def _listening(url: str, pid: int) -> bool:
    return bool(
        query(url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name", name=f"dispatch-listener-{pid}")[0][0]
    )


def leader_pid(url: str) -> int | None:
    """Return the process id of the worker holding the tick's advisory lock, if any."""
    from dispatch.leader import TICK_LOCK_KEY

    rows = query(
        url,
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = :key",
        key=TICK_LOCK_KEY,
    )
    return int(rows[0][0].rsplit("-", 1)[1]) if rows else None


_engines: dict[str, Any] = {}


def query(url: str, sql: str, **params: Any) -> list[Any]:
    """Run one statement in its own transaction and return the rows."""
    engine = _engines.get(url) or _engines.setdefault(url, create_engine(url, pool_size=2))
    with engine.begin() as conn:
        result = conn.execute(text(sql), params)
        return list(result) if result.returns_rows else []


def truncate(url: str) -> None:
    """Empty every table of the service."""
    import dispatch.models  # noqa: F401 -- fills the metadata
    from dispatch.db import db

    names = ", ".join(t.name for t in db.metadata.sorted_tables)
    if url.startswith("postgresql"):
        query(url, f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    else:
        for table in reversed(db.metadata.sorted_tables):
            query(url, f"DELETE FROM {table.name}")


class Api:
    """A bare HTTP/1.1 client of the API, one connection per call (gunicorn's sync workers close them)."""

    def __init__(self, base: str, timeout: float = 30.0) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port, self.timeout = host, int(port), timeout

    def call(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        """Send one call and return (status, decoded JSON or None)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {"Accept": "application/json"}
        payload = None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, f"/api/v1{path}", body=payload, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, json.loads(data) if data else None
        finally:
            conn.close()


@dataclass
class Member:
    """A seeded user with a bearer token; physicians also have an id and a phone token."""

    user_id: int
    login: str
    token: str
    physician_id: int | None = None
    rpps: str | None = None
    device: str | None = None


@dataclass
class World:
    """One community seeded straight into the database."""

    community_id: int
    operator: Member
    physicians: list[Member] = field(default_factory=list)

    def request_body(self, treating: Member | None = None) -> dict[str, Any]:
        """Return the body opening a request (to the treating GP first when given)."""
        return {
            "community_id": self.community_id,
            "source": "cot",
            "motive": "ent",
            "description": "Otalgie droite depuis 2 jours",
            "patient": {
                "first_name": "Lucie",
                "last_name": "Martin",
                "birth_date": "1988-04-02",
                "sex": "F",
                "phone": "+33612345678",
                "postcode": "94500",
                "city": "Champigny-sur-Marne",
            },
            "treating_physician": {"status": "declared", "rpps": treating.rpps} if treating else {"status": "none"},
        }


def seed_world(
    url: str,
    *,
    physicians: int,
    exclusive_s: int = 3600,
    response_s: int = 7200,
    password_hash: str = "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$unused",
    tokens: bool = True,
) -> World:
    """Insert a community, an operator and physicians with phones; tokens are issued directly when asked."""
    from dispatch.auth.service import token_digest
    from dispatch.communities.service import device_key, rpps_valid

    now = utcnow()
    tag = secrets.token_hex(4)

    def rpps(n: int) -> str:
        prefix = f"2{int(tag, 16) % 10**5:05d}{n:04d}"
        return next(prefix + d for d in "0123456789" if rpps_valid(prefix + d))

    community_id = query(
        url,
        "INSERT INTO communities (name, timezone, exclusive_window_s, response_window_s, "
        "created_at) VALUES (:n, 'Europe/Paris', :e, :r, :t) RETURNING id",
        n=f"CPTS {tag}",
        e=exclusive_s,
        r=response_s,
        t=_naive(now),
    )[0][0]

    def member(role: str, n: int) -> Member:
        login = f"{role}-{tag}-{n}"
        user_id = query(
            url,
            "INSERT INTO users (login, password_hash, name, role, phone, active, created_at, password_set_at) "
            "VALUES (:l, :h, :n, :r, :p, :a, :t, :t) RETURNING id",
            l=login,
            h=password_hash,
            n=f"Dr {login}" if role == "physician" else login,
            r=role,
            p=f"+336{n:08d}",
            a=True,
            t=_naive(now),
        )[0][0]
        query(
            url,
            "INSERT INTO memberships (user_id, community_id, role, created_at) VALUES (:u, :c, :r, :t)",
            u=user_id,
            c=community_id,
            r=role,
            t=_naive(now),
        )
        token = secrets.token_urlsafe(24) if tokens else ""
        if tokens:
            query(
                url,
                "INSERT INTO tokens (user_id, token_hash, created_at, expires_at) VALUES (:u, :h, :t, :x)",
                u=user_id,
                h=token_digest(token),
                t=_naive(now),
                x=_naive(now + timedelta(days=30)),
            )
        return Member(user_id=user_id, login=login, token=token)

    world = World(community_id=community_id, operator=member("operator", 0))
    for n in range(1, physicians + 1):
        doctor = member("physician", n)
        doctor.rpps = rpps(n)
        doctor.physician_id = query(
            url,
            "INSERT INTO physicians (user_id, rpps, kind, available, mssante, address) "
            "VALUES (:u, :r, 'titulaire', :a, :m, :d) RETURNING id",
            u=doctor.user_id,
            r=doctor.rpps,
            a=True,
            m=f"{doctor.login}@medecin.mssante.fr",
            d=f"{n} rue de la Paix",
        )[0][0]
        doctor.device = f"device-{tag}-{n}-{secrets.token_hex(8)}"
        query(
            url,
            "INSERT INTO devices (physician_id, platform, token, token_key, created_at) VALUES (:p, 'android', :t, :k, :c)",
            p=doctor.physician_id,
            t=doctor.device,
            k=device_key(doctor.device),
            c=_naive(now),
        )
        world.physicians.append(doctor)
    return world


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)
