"""Issue 24, point 7: a region's live pages on one machine (PostgreSQL, gunicorn), before and after the 304 path.

    bash scripts/bench.sh is for bench/run.py; this one: DISPATCH_BENCH_POSTGRES_URL=... python bench/regional.py
    python bench/regional.py --postgres URL [--seconds 40] [--visible 0.2] [--only after]

50 communities of 100 physicians and an operator (5,050 professionals) seeded in bulk; 500 phone pages (10 per
community, the `/m/etat` digest) and 50 consoles (`/console/etat`) kept live by a pool of client threads, each page
with its own pages' session cookie, as the browser's script polls: a visible page every second, a hidden one as the
script of each mode does. Two modes, one after the other against the same gunicorn:

- before: the script of main (no If-None-Match, a hidden page does not poll);
- after: If-None-Match on every poll (304 while nothing moved), a hidden page every 30 s.

A share of the phone pages is visible (`--visible`, 20 % by default: phones are mostly locked in a pocket); every
console is visible. In each mode: the live pages alone for a third of `--seconds` (web CPU per live page per minute),
then the live pages and the API mix of bench/run.py (opens, accepts, offers, reads, spread over the 50 communities)
for the rest (the mix's req/s, the p99 of its accepts). The /healthz ceiling (same client threads as the mix, nothing
else running) is measured in the same run. Pushes go to the inbox (no FCM peer): this bench is about the web tier.
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import os
import random
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flask import Flask  # noqa: E402
from flask.sessions import SecureCookieSessionInterface  # noqa: E402
from run import cpu_by_role, pct  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from dispatch.auth.service import token_digest  # noqa: E402
from dispatch.cli import upgrade_fresh  # noqa: E402
from dispatch.clock import utcnow  # noqa: E402
from tests.system import harness  # noqa: E402

COMMUNITIES, PHYSICIANS, PHONES = 50, 100, 10  # per community: physicians, of whom this many have the page open
SECRET = "system-test-secret"  # harness.service_env's
HIDDEN_S = {"before": None, "after": 30.0}


def seed(url: str) -> dict[str, Any]:
    """Insert the region in bulk (explicit ids on an empty database); return the pages' cookies and the API tokens."""
    now = utcnow().replace(tzinfo=None)
    later = now + timedelta(days=30)
    communities, users, memberships, physicians, tokens = [], [], [], [], []
    phones: list[str] = []
    consoles: list[str] = []
    operators: dict[int, str] = {}
    doctors: dict[int, list[str]] = {}
    user_id = physician_id = 0
    for c in range(1, COMMUNITIES + 1):
        communities.append({"id": c, "n": f"CPTS {c:02d}", "t": now})
        for n in range(PHYSICIANS + 1):
            user_id += 1
            role = "operator" if n == 0 else "physician"
            login = f"{role}-{c}-{n}"
            users.append({"id": user_id, "l": login, "n": f"Dr {login}", "r": role, "p": f"+336{user_id:08d}", "t": now})
            memberships.append({"u": user_id, "c": c, "r": role, "t": now})
            api, page = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            tokens.append({"u": user_id, "h": token_digest(api), "s": "api", "t": now, "x": later})
            if role == "operator":
                operators[c] = api
                consoles.append(page)
                tokens.append({"u": user_id, "h": token_digest(page), "s": "page", "t": now, "x": later})
                continue
            physician_id += 1
            physicians.append({"id": physician_id, "u": user_id, "r": f"9{physician_id:010d}", "m": f"{login}@medecin.mssante.fr"})
            doctors.setdefault(c, []).append(api)
            if n <= PHONES:
                phones.append(page)
                tokens.append({"u": user_id, "h": token_digest(page), "s": "page", "t": now, "x": later})
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO communities (id, name, timezone, exclusive_window_s, response_window_s, created_at) "
                "VALUES (:id, :n, 'Europe/Paris', 3600, 7200, :t)"
            ),
            communities,
        )
        conn.execute(
            text(
                "INSERT INTO users (id, login, password_hash, name, role, phone, active, created_at, password_set_at) "
                "VALUES (:id, :l, '$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$unused', :n, :r, :p, true, :t, :t)"
            ),
            users,
        )
        conn.execute(text("INSERT INTO memberships (user_id, community_id, role, created_at) VALUES (:u, :c, :r, :t)"), memberships)
        conn.execute(
            text(
                "INSERT INTO physicians (id, user_id, rpps, kind, available, mssante, address) "
                "VALUES (:id, :u, :r, 'titulaire', true, :m, '1 rue de la Paix')"
            ),
            physicians,
        )
        conn.execute(
            text("INSERT INTO tokens (user_id, token_hash, scope, created_at, expires_at) VALUES (:u, :h, :s, :t, :x)"), tokens
        )
        for table in ("communities", "users", "physicians"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        conn.execute(text("ANALYZE"))
    engine.dispose()
    signer = _signer()
    return {
        "phones": [signer.dumps({"sid": sid}) for sid in phones],
        "consoles": [signer.dumps({"sid": sid}) for sid in consoles],
        "operators": operators,
        "doctors": doctors,
    }


def _signer() -> Any:
    """Return Flask's session serializer for the service's secret: the cookie a signed-in browser holds."""
    app = Flask("bench")
    app.secret_key = SECRET
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    return serializer


class Pages:
    """Live pages polled by a pool of threads, each page at its own beat; counts the answers by status."""

    def __init__(self, base: str, pages: list[tuple[str, str, float | None]], mode: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port, self.mode = host, int(port), mode
        self.heap = [(time.monotonic() + random.random() * (beat or 1.0), i) for i, (_, _, beat) in enumerate(pages) if beat]
        heapq.heapify(self.heap)
        self.pages, self.tags = pages, [""] * len(pages)
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.statuses: Counter[int] = Counter()
        self.late: list[float] = []

    def run(self, threads: int) -> list[threading.Thread]:
        workers = [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]
        for worker in workers:
            worker.start()
        return workers

    def _work(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                due, i = heapq.heappop(self.heap)
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                self.late.append(-wait)
            cookie, path, beat = self.pages[i]
            headers = {"Accept": "application/json", "Cookie": f"snp_session={cookie}"}
            if self.mode == "after" and self.tags[i]:
                headers["If-None-Match"] = self.tags[i]
            conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                self.tags[i] = response.getheader("ETag") or self.tags[i]
            except OSError:
                status = 0
            finally:
                conn.close()
            with self.lock:
                self.statuses[status] += 1
                heapq.heappush(self.heap, (max(due + (beat or 1.0), time.monotonic()), i))


def mix(api: harness.Api, seed_data: dict[str, Any], seconds: float, threads: int) -> dict[str, Any]:
    """Run bench/run.py's mix spread over the region; return req/s, statuses and the accepts' latencies."""
    operators, doctors = seed_data["operators"], seed_data["doctors"]
    recent: dict[int, list[dict[str, Any]]] = {c: [] for c in operators}
    lock, statuses, accepts = threading.Lock(), Counter[int](), []
    stop_at = time.monotonic() + seconds

    def body(c: int) -> dict[str, Any]:
        world = harness.World(community_id=c, operator=harness.Member(0, "", operators[c]))
        return world.request_body()

    untaken: list[tuple[int, dict[str, Any]]] = []

    def client(n: int) -> None:
        rng = random.Random(n)
        while time.monotonic() < stop_at:
            c = rng.randrange(1, COMMUNITIES + 1)
            roll = rng.random()
            with lock:
                target = untaken.pop() if 0.1 <= roll < 0.2 and untaken else None
            if target is not None:  # a physician of the request's community accepts it
                c, request = target
                at = (datetime.fromisoformat(request["opened_at"]) + timedelta(minutes=30)).isoformat()
                started = time.monotonic()
                status, _ = api.call(
                    "POST", f"/requests/{request['id']}/accept", doctors[c][rng.randrange(PHYSICIANS)], {"appointment_at": at}
                )
                with lock:
                    accepts.append(time.monotonic() - started)
            elif roll < 0.2:
                status, answer = api.call("POST", "/requests", operators[c], body(c))
                if status == 201:
                    with lock:
                        recent[c].append(answer)
                        untaken.append((c, answer))
            elif roll < 0.6:
                status, _ = api.call("GET", "/me/offers", doctors[c][rng.randrange(PHYSICIANS)])
            else:
                with lock:
                    shown = recent[c][-1] if recent[c] else None
                path = f"/requests/{shown['id']}" if shown else "/me/offers"
                status, _ = api.call("GET", path, operators[c] if shown else doctors[c][0])
            with lock:
                statuses[status] += 1

    started = time.monotonic()
    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    return {"rate": sum(statuses.values()) / elapsed, "statuses": statuses, "accepts": accepts}


def ceiling(api: harness.Api, seconds: float, threads: int) -> float:
    """Return /healthz req/s with `threads` clients and nothing else running."""
    count, lock = [0], threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        n = 0
        while time.monotonic() < stop_at:
            api.call("GET", "/healthz")
            n += 1
        with lock:
            count[0] += n

    started = time.monotonic()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return count[0] / (time.monotonic() - started)


def measure(base: str, seed_data: dict[str, Any], mode: str, seconds: float, visible: float, mix_threads: int) -> dict[str, Any]:
    """Keep the region's pages live in `mode`; return the figures."""
    rng = random.Random(7)
    hidden = HIDDEN_S[mode]
    pages = [(cookie, "/m/etat", 1.0 if rng.random() < visible else hidden) for cookie in seed_data["phones"]]
    pages += [(cookie, "/console/etat", 1.0) for cookie in seed_data["consoles"]]
    live = Pages(base, pages, mode)
    workers = live.run(threads=24)
    time.sleep(2)  # every page has polled once (its first answer: 200 in both modes)
    alone = seconds / 3
    cpu_before, polls_before = cpu_by_role(), sum(live.statuses.values())
    time.sleep(alone)
    cpu = cpu_by_role()
    cpu.subtract(cpu_before)
    polls = sum(live.statuses.values()) - polls_before
    figures = {
        "web_ms_per_page_minute": cpu["web (gunicorn)"] * 1000 / len(pages) / (alone / 60),
        "postgres_ms_per_page_minute": cpu["postgres"] * 1000 / len(pages) / (alone / 60),
        "polls_per_s": polls / alone,
    }
    done = mix(harness.Api(base), seed_data, seconds - alone, mix_threads)
    live.stop.set()
    for worker in workers:
        worker.join(timeout=35)
    figures.update(
        mix_rate=done["rate"],
        mix_statuses=dict(sorted(done["statuses"].items())),
        accept_p99=pct(done["accepts"], 99),
        accept_p50=pct(done["accepts"], 50),
        accepts=len(done["accepts"]),
        live_statuses=dict(sorted(live.statuses.items())),
        late_p99=pct(live.late, 99) if live.late else 0.0,
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("DISPATCH_BENCH_POSTGRES_URL"))
    parser.add_argument("--seconds", type=float, default=45.0, help="per mode: a third live pages alone, then with the mix")
    parser.add_argument("--visible", type=float, default=0.2, help="share of the phone pages in view")
    parser.add_argument("--mix-threads", type=int, default=8)
    parser.add_argument("--only", choices=("before", "after"))
    args = parser.parse_args()
    if not args.postgres:
        sys.exit("Give --postgres URL or DISPATCH_BENCH_POSTGRES_URL (source scripts/pg-cluster.sh; pg_cluster_start).")
    upgrade_fresh(args.postgres)
    print("seeding 50 communities, 5,050 professionals...", file=sys.stderr)
    seed_data = seed(args.postgres)
    logs = Path(tempfile.mkdtemp(prefix="bench-regional-"))
    env = harness.service_env(args.postgres)
    web, base = harness.start_gunicorn(env, logs, workers=2 * (os.cpu_count() or 1))
    worker = harness.start_worker(env, logs, args.postgres)
    try:
        floor = ceiling(harness.Api(base), 5.0, args.mix_threads)
        results = {}
        for mode in ("before", "after"):
            if args.only and mode != args.only:
                continue
            print(f"   {mode}", file=sys.stderr)
            results[mode] = measure(base, seed_data, mode, args.seconds, args.visible, args.mix_threads)
    finally:
        worker.stop()
        web.stop()
    print(
        f"\n/healthz ceiling: {floor:.0f} req/s ({args.mix_threads} threads); {len(seed_data['phones'])} phone pages "
        f"({args.visible:.0%} visible), {len(seed_data['consoles'])} consoles; logs in {logs}\n"
    )
    print("| figure | " + " | ".join(results) + " |")
    print("|---|" + "---|" * len(results))
    rows = [
        ("live polls answered per second", lambda r: f"{r['polls_per_s']:.0f}"),
        ("web CPU per live page per minute", lambda r: f"{r['web_ms_per_page_minute']:.0f} ms"),
        ("postgres CPU per live page per minute", lambda r: f"{r['postgres_ms_per_page_minute']:.0f} ms"),
        (
            "accept p99 (p50), under the live pages",
            lambda r: f"{r['accept_p99'] * 1000:.0f} ({r['accept_p50'] * 1000:.0f}) ms, {r['accepts']} accepts",
        ),
        ("mix throughput / ceiling", lambda r: f"{r['mix_rate']:.0f} / {floor:.0f} = {r['mix_rate'] / floor:.2f}"),
        ("live answers by status", lambda r: str(r["live_statuses"])),
        ("mix answers by status", lambda r: str(r["mix_statuses"])),
        ("polls late (client pool saturated), p99", lambda r: f"{r['late_p99'] * 1000:.0f} ms"),
    ]
    for name, cell in rows:
        print(f"| {name} | " + " | ".join(cell(r) for r in results.values()) + " |")


if __name__ == "__main__":
    main()
