"""Benchmarks of issue 5 on SQLite and PostgreSQL, printed as one table with the floors measured in the same run.

    python bench/run.py [--postgres URL] [--no-sqlite] [--seconds 15]

SQLite runs `dispatch serve` (one process); PostgreSQL runs gunicorn (2 x cores web processes) and two
`dispatch worker`, then `dispatch serve` for its memory figure. Pushes go to the local FCM peer.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from argon2 import PasswordHasher  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from dispatch.cli import upgrade, upgrade_fresh  # noqa: E402
from dispatch.clock import utcnow  # noqa: E402
from tests.peers.fcm import FcmPeer  # noqa: E402
from tests.system import harness  # noqa: E402

PASSWORD = "mot de passe du banc"
CONCURRENT = 50


def pct(values: list[float], q: float) -> float:
    """Return the q-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))] if ordered else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def rss_mb(pids: list[int]) -> float:
    """Return the summed resident memory of processes, in MB."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def cpu_by_role() -> Counter[str]:
    """Return the CPU seconds (user + system) spent so far by each role of process on this machine."""
    tick = os.sysconf("SC_CLK_TCK")
    spent: Counter[str] = Counter()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        if int(entry.name) == os.getpid():
            role = "bench (load generator, FCM peer)"
        elif "gunicorn" in argv:
            role = "web (gunicorn)"
        elif "dispatch.cli worker" in argv:
            role = "worker"
        elif "dispatch.cli serve" in argv:
            role = "serve"
        elif stat.split()[1] in ("(postgres)", "(postmaster)"):
            role = "postgres"
        else:
            role = "other"
        spent[role] += seconds
    return spent


def children(pid: int) -> list[int]:
    """Return the direct children of a process (gunicorn's web processes)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def sign_in(api: harness.Api, members: list[harness.Member]) -> None:
    """Sign every member in once (argon2 is deliberately slow: never per call)."""

    def one(member: harness.Member) -> None:
        status, body = api.call("POST", "/auth/token", body={"login": member.login, "password": PASSWORD})
        assert status == 200, body
        member.token = body["access_token"]

    run_threads([lambda m=m: one(m) for m in members], width=4)


def run_threads(jobs: list[Callable[[], Any]], width: int) -> None:
    """Run the jobs on `width` threads."""
    queue = list(reversed(jobs))
    lock = threading.Lock()

    def drain() -> None:
        while True:
            with lock:
                if not queue:
                    return
                job = queue.pop()
            job()

    threads = [threading.Thread(target=drain) for _ in range(width)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def concurrent_calls(count: int, call: Callable[[int], tuple[int, Any]]) -> list[tuple[float, int, Any]]:
    """Fire `count` calls at the same instant; return (latency, status, body) of each."""
    barrier = threading.Barrier(count)
    out: list[tuple[float, int, Any]] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        barrier.wait()
        started = time.monotonic()
        status, body = call(i)
        with lock:
            out.append((time.monotonic() - started, status, body))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


def first_push(peer: FcmPeer, request_id: int, phase: str) -> float | None:
    with peer.lock:
        for call in peer.calls:
            data = call.message.get("data") or {}
            if data.get("request_id") == str(request_id) and data.get("phase") == phase and call.status == 200:
                return call.at
    return None


class Bench:
    """The measurements on one running deployment."""

    def __init__(self, api: harness.Api, url: str, peer: FcmPeer, seconds: float) -> None:
        self.api, self.url, self.peer, self.seconds = api, url, peer, seconds
        hashed = PasswordHasher().hash(PASSWORD)  # production cost, once; every bench user shares it
        self.crowd = harness.seed_world(url, physicians=CONCURRENT, password_hash=hashed, tokens=False)
        self.pair = harness.seed_world(url, physicians=2, password_hash=hashed, tokens=False)
        self.mix = harness.seed_world(url, physicians=10, password_hash=hashed, tokens=False)
        sign_in(
            api,
            [w.operator for w in (self.crowd, self.pair, self.mix)]
            + self.crowd.physicians
            + self.pair.physicians
            + self.mix.physicians,
        )
        harness.query(url, "ANALYZE")  # statistics as autovacuum keeps them in a running service
        self.results: dict[str, str] = {}

    def open(self, world: harness.World, treating: harness.Member | None = None) -> dict[str, Any]:
        status, body = self.api.call("POST", "/requests", world.operator.token, world.request_body(treating))
        assert status == 201, body
        return body  # type: ignore[no-any-return]

    def floor_latency(self) -> list[float]:
        latencies = []
        for _ in range(100):
            started = time.monotonic()
            self.api.call("GET", "/healthz")
            latencies.append(time.monotonic() - started)
        return latencies

    def open_to_push(self, count: int = 50) -> None:
        floor = self.floor_latency()
        lags = []
        for _ in range(count):
            started = time.monotonic()
            opened = self.open(self.pair)
            arrived = harness.wait_for(
                lambda o=opened: first_push(self.peer, o["id"], "community"), timeout=30, interval=0.002, what="the first push"
            )
            lags.append(arrived - started)
        self.results["push"] = (
            f"p50 {ms(pct(lags, 50))}, p99 {ms(pct(lags, 99))} "
            f"(floor: HTTP round trip p50 {ms(pct(floor, 50))}, p99 {ms(pct(floor, 99))})"
        )

    def escalation_lag(self, count: int = 200) -> None:
        gp = self.pair.physicians[0]
        ids = [self.open(self.pair, treating=gp)["id"] for _ in range(count)]
        wall = utcnow()
        deadline = (wall + timedelta(seconds=2)).replace(microsecond=0) + timedelta(seconds=1)
        deadline_mono = time.monotonic() + (deadline - wall).total_seconds()
        naive = deadline.replace(tzinfo=None)
        engine = create_engine(self.url)
        with engine.begin() as conn:  # every exclusive phase ends in the same second
            conn.execute(
                text(f"UPDATE requests SET exclusive_until = :d, next_deadline = :d WHERE id IN ({','.join(map(str, ids))})"),
                {"d": naive},
            )
        engine.dispose()
        arrivals = harness.wait_for(lambda: self._all_arrived(ids), timeout=120, interval=0.05, what="the community offers")
        lags = [max(0.0, at - deadline_mono) for at in arrivals]
        self.results["lag"] = f"p50 {ms(pct(lags, 50))}, p99 {ms(pct(lags, 99))} (first {ms(min(lags))}; tick every 1 s)"

    def _offers_arrived(self, request_id: int, kind: str = "offer") -> int:
        with self.peer.lock:
            return sum(
                1
                for call in self.peer.calls
                if call.status == 200
                and (call.message.get("data") or {}).get("request_id") == str(request_id)
                and (call.message.get("data") or {}).get("type") == kind
            )

    def _withdrawals_arrived(self, request_id: int) -> int:
        return self._offers_arrived(request_id, kind="offer_withdrawn")

    def _all_arrived(self, ids: list[int]) -> list[float] | None:
        arrivals = [first_push(self.peer, i, "community") for i in ids]
        return None if any(a is None for a in arrivals) else arrivals  # type: ignore[return-value]

    def accept_race(self, rounds: int = 20) -> None:
        floor_cpu = cpu_by_role()
        floors = [lat for _ in range(3) for lat, _, _ in concurrent_calls(CONCURRENT, lambda i: self.api.call("GET", "/healthz"))]
        spent_on_floor = cpu_by_role()
        spent_on_floor.subtract(floor_cpu)
        floor_work = sum(spent_on_floor.values()) / 3  # CPU seconds of one burst of 50 /healthz, every process counted
        latencies, winners, cpu = [], Counter[int](), Counter[str]()
        for _ in range(rounds):
            opened = self.open(self.crowd)
            # A physician accepts once the push has reached their phone: every offer first, then the race.
            harness.wait_for(
                lambda o=opened: self._offers_arrived(o["id"]) >= CONCURRENT,
                timeout=30,
                interval=0.02,
                what="the offers of the race",
            )
            at = (datetime.fromisoformat(opened["opened_at"]) + timedelta(minutes=30)).isoformat()
            before = cpu_by_role()
            answers = concurrent_calls(
                CONCURRENT,
                lambda i, o=opened, a=at: self.api.call(
                    "POST", f"/requests/{o['id']}/accept", self.crowd.physicians[i].token, {"appointment_at": a}
                ),
            )
            # Until the withdrawals have reached the phones: they share the cores with the answers.
            harness.wait_for(
                lambda o=opened: self._withdrawals_arrived(o["id"]) >= CONCURRENT - 1,
                timeout=30,
                interval=0.02,
                what="the withdrawals of the race",
            )
            spent = cpu_by_role()
            spent.subtract(before)
            cpu.update(spent)
            latencies += [lat for lat, _, _ in answers]
            winners[sum(1 for _, status, _ in answers if status == 200)] += 1
        verdict = "one winner every time" if set(winners) == {1} else f"winners per round: {dict(winners)}"
        spent = ", ".join(f"{role} {seconds * 1000 / rounds:.0f}" for role, seconds in cpu.most_common() if seconds > 0)
        # On one machine the latency of a burst follows the CPU it needs: the race's work over the floor's says how
        # far its p99 can come down towards the floor's (the withdrawals' pushes share the cores with the answers).
        work = sum(cpu.values()) / rounds / floor_work if floor_work > 0 else float("nan")
        self.results["accept"] = (
            f"p99 {ms(pct(latencies, 99))}, p50 {ms(pct(latencies, 50))}, {verdict} "
            f"(floor: {CONCURRENT} concurrent /healthz p99 {ms(pct(floors, 99))}: p99 / floor "
            f"{pct(latencies, 99) / pct(floors, 99):.1f}; CPU per race with its withdrawals, ms: {spent}; "
            f"all of it {work:.1f} x the CPU of the floor's {CONCURRENT} /healthz)"
        )

    def throughput(self, memory_of: Callable[[], list[int]], threads: int = 16) -> None:
        floor = self._load(threads, min(5.0, self.seconds / 3), lambda rng: ("GET", "/healthz", None, None))
        idle = rss_mb(memory_of())
        recent: list[dict[str, Any]] = [self.open(self.mix)]
        untaken, lock = list(recent), threading.Lock()

        def created(request: dict[str, Any]) -> None:
            with lock:
                recent.append(request)
                untaken.append(request)

        doctors, operator = self.mix.physicians, self.mix.operator

        def pick(rng: random.Random) -> tuple[str, str, str | None, Any]:
            # Opens and accepts balance, so a physician's offers stay a handful, as in a real day.
            with lock:
                roll, request = rng.random(), recent[-1 - rng.randrange(min(len(recent), 5))]
            doctor = doctors[rng.randrange(len(doctors))]
            if roll < 0.10:
                return "POST", "/requests", operator.token, self.mix.request_body()
            if roll < 0.20:
                with lock:
                    target = untaken.pop() if untaken else request
                at = (datetime.fromisoformat(target["opened_at"]) + timedelta(minutes=30)).isoformat()
                return "POST", f"/requests/{target['id']}/accept", doctor.token, {"appointment_at": at}
            if roll < 0.60:
                return "GET", "/me/offers", doctor.token, None
            return "GET", f"/requests/{request['id']}", operator.token, None

        peak = [idle]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.2):
                peak[0] = max(peak[0], rss_mb(memory_of()))

        sampler = threading.Thread(target=sample)
        sampler.start()
        cpu_before = cpu_by_role()
        rate, statuses = self._load(threads, self.seconds, pick, created)
        cpu = cpu_by_role()
        cpu.subtract(cpu_before)
        stop.set()
        sampler.join()
        calls = sum(statuses.values())
        self.results["cpu"] = ", ".join(
            f"{role} {seconds * 1000 / calls:.1f}" for role, seconds in cpu.most_common() if seconds > 0
        )
        errors = sum(n for status, n in statuses.items() if status >= 500)
        self.results["rate"] = (
            f"{rate:.0f} req/s, {errors} errors of {sum(statuses.values())} "
            f"({dict(sorted(statuses.items()))}; ceiling: /healthz {floor[0]:.0f} req/s)"
        )
        self.results["rss"] = (idle, peak[0])

    def _load(
        self,
        threads: int,
        seconds: float,
        pick: Callable[[random.Random], Any],
        created: Callable[[dict[str, Any]], None] | None = None,
    ) -> tuple[float, Counter[int]]:
        statuses: Counter[int] = Counter()
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds

        def client(seed: int) -> None:
            rng, local = random.Random(seed), Counter[int]()
            while time.monotonic() < stop_at:
                method, path, token, body = pick(rng)
                status, answer = self.api.call(method, path, token, body)
                local[status] += 1
                if created is not None and status == 201:
                    created(answer)
            with lock:
                statuses.update(local)

        started = time.monotonic()
        run_threads([lambda s=s: client(s) for s in range(threads)], width=threads)
        return sum(statuses.values()) / (time.monotonic() - started), statuses


def run_backend(name: str, url: str, seconds: float, logs: Path, only: set[str], web_workers: int | None = None) -> dict[str, Any]:
    """Measure one database engine; return the figures."""
    print(f"== {name}: {url.split('@')[-1]}", file=sys.stderr)
    with FcmPeer() as peer:
        env = harness.service_env(url, fcm_url=None if os.environ.get("BENCH_INBOX") else peer.url)
        processes: list[harness.Process] = []
        try:
            if name == "SQLite":
                serve, base = harness.start_serve(env, logs)
                processes.append(serve)
                memory_of = lambda: [serve.pid]  # noqa: E731
            else:
                web, base = harness.start_gunicorn(env, logs, workers=web_workers or 2 * (os.cpu_count() or 1))
                processes += [
                    web,
                    harness.start_worker(env, logs, url, name="worker-1"),
                    harness.start_worker(env, logs, url, name="worker-2"),
                ]
                memory_of = lambda: [web.pid, *children(web.pid)]  # noqa: E731
            bench = Bench(harness.Api(base), url, peer, seconds)
            for step in (bench.open_to_push, bench.escalation_lag, bench.accept_race):
                if only and step.__name__ not in only:
                    continue
                print(f"   {step.__name__}", file=sys.stderr)
                step()
            if only and "throughput" not in only:
                return bench.results
            print("   throughput", file=sys.stderr)
            bench.throughput(memory_of)
            # The memory figure is `dispatch serve`'s: measure it on PostgreSQL too.
            if name != "SQLite" and not (only and "serve" not in only):
                gunicorn_rss, gunicorn_rate, gunicorn_cpu = (bench.results[key] for key in ("rss", "rate", "cpu"))
                for process in processes:
                    process.stop()
                serve, base = harness.start_serve(env, logs, port=None)
                processes = [serve]
                bench.api = harness.Api(base)
                bench.seconds = max(5.0, seconds / 3)
                bench.throughput(lambda: [serve.pid])
                bench.results["rss"] = (*bench.results["rss"], gunicorn_rss)
                bench.results["rate"] = f"{gunicorn_rate}; `dispatch serve` alone: {bench.results['rate']}"
                bench.results["cpu"] = f"{gunicorn_cpu}; `dispatch serve` alone: {bench.results['cpu']}"
            return bench.results
        finally:
            for process in processes:
                process.stop()


def main() -> None:
    """Run the benchmarks and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("DISPATCH_BENCH_POSTGRES_URL"))
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the throughput run")
    parser.add_argument("--web-workers", type=int, help="gunicorn web processes (default: 2 x cores)")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated steps to run: open_to_push, escalation_lag, accept_race, throughput, serve (default: all)",
    )
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    only = {step for step in args.only.split(",") if step}
    results: dict[str, dict[str, Any]] = {}
    if not args.no_sqlite:
        url = f"sqlite:///{logs / 'bench.sqlite3'}"
        upgrade(url)
        results["SQLite"] = run_backend("SQLite", url, args.seconds, logs, only)
    if args.postgres:
        upgrade_fresh(args.postgres)
        results["PostgreSQL"] = run_backend("PostgreSQL", args.postgres, args.seconds, logs, only, args.web_workers)
    print_table(results)
    print(f"\nlogs: {logs}", file=sys.stderr)


def print_table(results: dict[str, dict[str, Any]]) -> None:
    rows = [
        ("open → first push at the local FCM peer", "p99 ≤ 100 ms", "push"),
        ("escalation lag, 200 requests due in the same second", "p99 ≤ 1 s", "lag"),
        (f"accept, {CONCURRENT} concurrent physicians", "p99 ≤ 100 ms, one winner", "accept"),
        ("API throughput, mix 10 % open, 10 % accept, 40 % offers, 40 % get", "≥ 300 req/s on PostgreSQL", "rate"),
        ("CPU per call of the mix, by process, ms", "", "cpu"),
        ("resident memory of `dispatch serve`, idle → under load", "≤ 200 MB", "rss"),
    ]
    engines = list(results)
    print("| figure | goal | " + " | ".join(engines) + " |")
    print("|---|---|" + "---|" * len(engines))
    for label, goal, key in rows:
        cells = []
        for engine in engines:
            value = results[engine].get(key, "—")
            if key == "rss":
                value = f"{value[0]:.0f} MB → {value[1]:.0f} MB" + (
                    f" (gunicorn, all web processes: {value[2][0]:.0f} MB → {value[2][1]:.0f} MB)" if len(value) > 2 else ""
                )
            cells.append(str(value))
        print(f"| {label} | {goal} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
