"""Benchmark of the fan-out: from a request's community phase to the 800th push at a local push peer.

    python bench/fanout.py                           # FCM, a temporary SQLite file
    python bench/fanout.py --database-url "$PG_URL"  # on PostgreSQL (the database is emptied first)
    python bench/fanout.py --channel webpush         # browsers: Web Push to the local push-service peer

A community of 800 physicians with one device each; the local peer adds 20 ms to every call. The system is
advance_due (the exclusive hour has passed: the request opens to the community, 800 offers written to the
outbox) then deliver_pending, until the peer has received the 800th push. Goal: the system within 2 s and
within 1.5 times the floor. Each figure is the median of the rounds.

The floor, per channel: for FCM (Android devices), firebase-admin's send_each of the same 800 messages
straight to the peer (batches of 500); for Web Push (browser subscriptions), pywebpush.webpush of the same
800 payloads with the same VAPID key, on as many threads as the adapter has senders and one shared
requests.Session: the best a caller of pywebpush could do with no database and no outbox. The Web Push peer
decrypts every body (the proof that each push is readable), in this process: its CPU counts in the CPU per
push printed for that channel.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextvars
import json
import logging
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pywebpush
import requests
import requests.adapters
from py_vapid import Vapid02
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firebase_admin import messaging  # noqa: E402

from dispatch import create_app  # noqa: E402
from dispatch.auth.models import Membership, User  # noqa: E402
from dispatch.cli import upgrade_fresh  # noqa: E402
from dispatch.clock import utcnow  # noqa: E402
from dispatch.communities import membership  # noqa: E402
from dispatch.communities import service as communities  # noqa: E402
from dispatch.communities.models import Device, Physician  # noqa: E402
from dispatch.db import db  # noqa: E402
from dispatch.notify.fcm import BATCH_SIZE, FcmPush  # noqa: E402
from dispatch.notify.models import OutboxMessage  # noqa: E402
from dispatch.notify.ports import PushMessage  # noqa: E402
from dispatch.notify.service import deliver_pending  # noqa: E402
from dispatch.notify.vapid import KEY_FILE, load_or_create_vapid_key  # noqa: E402
from dispatch.notify.webpush import JWT_LIFETIME, SENDERS, topic  # noqa: E402
from dispatch.requests import operator_actions, tick  # noqa: E402
from dispatch.wiring import senders  # noqa: E402
from tests.peers.fcm import FcmPeer  # noqa: E402
from tests.peers.webpush import Subscriber, WebPushPeer  # noqa: E402

PROJECT = "snp-bench"
PASSWORD = "bench password"
VAPID_SUBJECT = "mailto:banc@snp.example.fr"
SINGLE_CALLS = 5  # sequential pywebpush calls per round, for the sequential estimate


class Round(NamedTuple):
    """One round's figures, in seconds: wall time to the last push, and process CPU time, of each part."""

    floor: float
    floor_cpu: float
    system: float
    advance: float  # of the system, the advance_due part
    system_cpu: float


class ManualClock:
    """The service's clock, moved by the benchmark past the exclusive hour of each round."""

    def __init__(self) -> None:
        self.current = utcnow()

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class FcmChannel:
    """Android devices reached through firebase-admin and the local FCM peer; floor: send_each."""

    label = "FCM peer"

    def __init__(self, clock: ManualClock, latency_s: float, tmp: Path) -> None:  # tmp: unused, as WebPushChannel's
        self.peer = FcmPeer(latency_s=latency_s).start()
        self.floor_push = FcmPush(None, PROJECT, self.peer.url, clock=clock.now)
        self.tokens: list[str] = []

    def settings(self) -> dict[str, Any]:
        """Return the app settings that send pushes to the peer."""
        return {"DISPATCH_PUSH_BACKEND": "fcm", "DISPATCH_FCM_URL": self.peer.url, "DISPATCH_FCM_PROJECT": PROJECT}

    def devices(self, count: int) -> list[tuple[str, str]]:
        """Return (platform, token) for the treating GP (index 0) and each of `count` physicians."""
        self.tokens = [f"bench-token-{n:05d}" for n in range(count + 1)]
        return [("android", token) for token in self.tokens]

    def floor(self, offer: PushMessage, count: int) -> tuple[float, float]:
        """Send the offer to the physicians straight through firebase-admin; return (seconds to the last arrival, CPU)."""
        now = utcnow()
        fcm_messages = [self.floor_push.build_message(offer, token, now) for token in self.tokens[1 : count + 1]]
        self.reset()
        started, cpu = time.monotonic(), time.process_time()
        for start in range(0, len(fcm_messages), BATCH_SIZE):
            batch = messaging.send_each(fcm_messages[start : start + BATCH_SIZE], app=self.floor_push._app)  # noqa: SLF001
            assert batch.failure_count == 0, [r.exception for r in batch.responses if r.exception][:3]
        return self.last_arrival(count) - started, time.process_time() - cpu

    def last_arrival(self, count: int) -> float:
        """Return when the peer accepted the count-th push (monotonic clock)."""
        accepted = [call.at for call in self.peer.calls if call.status == 200]
        assert len(accepted) == count, f"the peer accepted {len(accepted)} pushes, expected {count}"
        return max(accepted)

    def reset(self) -> None:
        """Forget what the peer received."""
        self.peer.reset()

    def close(self) -> None:
        """Close the floor's firebase-admin app and stop the peer."""
        self.floor_push.close()
        self.peer.stop()


class WebPushChannel:
    """Browser subscriptions on the local push-service peer; floor: pywebpush.webpush on SENDERS threads."""

    label = "Web Push peer"

    def __init__(self, clock: ManualClock, latency_s: float, tmp: Path) -> None:
        self.clock = clock
        self.peer = WebPushPeer(clock=clock.now, latency_s=latency_s).start()  # JWT expiry checked on the service's clock
        self.key_path = tmp / KEY_FILE
        self.vapid = Vapid02(private_key=load_or_create_vapid_key(None, tmp).private_key)  # the key the app signs with
        self.subscribers: list[Subscriber] = []
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="floor-send")
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=SENDERS, max_retries=0)  # one kept connection per thread
        self.session.mount("http://", adapter)
        self.single_calls: list[float] = []  # seconds of one sequential pywebpush call, per round

    def settings(self) -> dict[str, Any]:
        """Return the app settings that send browsers' pushes to the peer, and nothing else anywhere."""
        return {
            "DISPATCH_PUSH_BACKEND": "inbox",
            "DISPATCH_WEBPUSH_BACKEND": "webpush",
            "DISPATCH_WEBPUSH_HOSTS": urlsplit(self.peer.url).hostname,
            "DISPATCH_VAPID_PRIVATE_KEY": str(self.key_path),
            "DISPATCH_VAPID_SUBJECT": VAPID_SUBJECT,
        }

    def devices(self, count: int) -> list[tuple[str, str]]:
        """Subscribe a browser on the peer for the treating GP (index 0) and each of `count` physicians."""
        self.subscribers = [self.peer.subscribe() for _ in range(count + 1)]
        return [("webpush", subscriber.token) for subscriber in self.subscribers]

    def floor(self, offer: PushMessage, count: int) -> tuple[float, float]:
        """Send the offer to the physicians' browsers with pywebpush; return (seconds to the last arrival, CPU)."""
        payload = {**offer.data, "title": offer.title, "body": offer.body}  # as the adapter writes it
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        now = self.clock.now()
        claims = {"sub": VAPID_SUBJECT, "aud": self.peer.url, "exp": int((now + JWT_LIFETIME).timestamp())}
        ttl = max(0, int((offer.expires_at - now).total_seconds())) if offer.expires_at else 0
        headers = {"Urgency": "high", "Topic": topic(offer.collapse_key)}

        def send(subscriber: Subscriber) -> None:
            pywebpush.webpush(
                subscriber.info,
                data=body,  # type: ignore[arg-type]  # bytes are what WebPusher.encode takes
                vapid_private_key=self.vapid,
                vapid_claims=dict(claims),  # pywebpush writes into the claims it is given
                ttl=ttl,
                headers=headers,
                timeout=10,
                requests_session=self.session,
            )

        self.reset()
        started, cpu = time.monotonic(), time.process_time()
        list(self.pool.map(send, self.subscribers[1 : count + 1]))
        seconds, cpu_s = self.last_arrival(count) - started, time.process_time() - cpu
        self.single_calls.append(statistics.median(timed(send, s) for s in self.subscribers[1 : SINGLE_CALLS + 1]))
        self.reset()
        return seconds, cpu_s

    def last_arrival(self, count: int) -> float:
        """Return when the peer received the count-th push (monotonic clock), each one verified and decrypted."""
        with self.peer.lock:
            deliveries = list(self.peer.deliveries)
        assert len(deliveries) == count, f"the peer received {len(deliveries)} pushes, expected {count}"
        broken = [(d.status, d.errors) for d in deliveries if d.status != 201 or d.errors or d.payload is None]
        assert not broken, f"{len(broken)} pushes did not verify or decrypt: {broken[:3]}"
        return max(d.at for d in deliveries)

    def reset(self) -> None:
        """Forget what the peer received."""
        with self.peer.lock:
            self.peer.deliveries.clear()

    def close(self) -> None:
        """Stop the floor's senders, close its connections and stop the peer."""
        self.pool.shutdown(wait=True)
        self.session.close()
        self.peer.stop()


CHANNELS = {"fcm": FcmChannel, "webpush": WebPushChannel}


def main() -> None:
    """Parse the options, build the community, time the floor and the system, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="SQLAlchemy URL (emptied first); default: a temporary SQLite file")
    parser.add_argument("--channel", choices=sorted(CHANNELS), default="fcm", help="the push service (default: fcm)")
    parser.add_argument("--physicians", type=int, default=800)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the peer adds to every call")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the access log would drown the figures
    clock = ManualClock()
    with tempfile.TemporaryDirectory() as tmp:
        channel = CHANNELS[args.channel](clock, args.latency, Path(tmp))
        try:
            url = args.database_url or f"sqlite:///{Path(tmp) / 'fanout.sqlite3'}"
            upgrade_fresh(url)
            settings = {
                "DISPATCH_ENV": "development",
                "DISPATCH_DATABASE_URL": url,
                "DISPATCH_SECRET_KEY": "bench",
                "ARGON2_TIME_COST": 1,
                "ARGON2_MEMORY_COST": 64,
                "DISPATCH_SMS_BACKEND": "inbox",
                "DISPATCH_MAIL_BACKEND": "inbox",
                **channel.settings(),
            }
            app = create_app(settings, clock=clock)
            try:
                with app.app_context():
                    run(app, channel, clock, args)
            finally:
                app.extensions["dispatch"].ports.close()
        finally:
            channel.close()


def run(app: Any, channel: FcmChannel | WebPushChannel, clock: ManualClock, args: argparse.Namespace) -> None:
    """Build the community, warm both HTTP pools, then time the rounds."""
    started = time.monotonic()
    world = build_community(app, clock, channel.devices(args.physicians))
    print(
        f"community of {args.physicians} physicians built in {time.monotonic() - started:.1f} s "
        f"({db.engine.dialect.name}); {channel.label} latency {args.latency * 1000:.0f} ms"
        + (" (it verifies and decrypts every push, in this process)" if args.channel == "webpush" else "")
    )
    rounds: list[Round] = []
    for round_index in range(args.rounds + 1):  # round 0 warms the connection pools, untimed
        request_id = open_request(app, clock, world)
        offer = community_offer(request_id)
        if round_index % 2:  # alternate which goes first: neither always meets a warmer process
            floor = channel.floor(offer, args.physicians)
            system = time_system(app, channel, clock, args.physicians)
        else:
            system = time_system(app, channel, clock, args.physicians)
            floor = channel.floor(offer, args.physicians)
        if round_index:
            rounds.append(Round(*floor, *system))
            print(f"round {round_index}: {round_figures(rounds[-1], args)}")
        close_request(app, clock, channel, request_id, world)
    median = Round(*(statistics.median(column) for column in zip(*rounds, strict=True)))
    print(
        f"median of {args.rounds}: floor {median.floor:.3f} s, system {median.system:.3f} s, "
        f"ratio {median.system / median.floor:.2f} (advance_due {median.advance:.3f} s){cpu_figures(median, args)}"
    )
    if isinstance(channel, WebPushChannel):
        single = statistics.median(channel.single_calls)
        print(
            f"for information, sequential estimate: {args.physicians} x one pywebpush call ({single * 1000:.1f} ms) "
            f"= {args.physicians * single:.3f} s"
        )
    met = median.system <= 2.0 and median.system <= 1.5 * median.floor
    print(f"goal (system <= 2 s and <= 1.5 x floor): {'met' if met else 'NOT met'}")


def round_figures(figures: Round, args: argparse.Namespace) -> str:
    """Format one round's figures."""
    return (
        f"floor {figures.floor:.3f} s, system {figures.system:.3f} s (of which advance_due {figures.advance:.3f} s), "
        f"ratio {figures.system / figures.floor:.2f}{cpu_figures(figures, args)}"
    )


def cpu_figures(figures: Round, args: argparse.Namespace) -> str:
    """Format the CPU per push, for Web Push only (the FCM figures keep their earlier form)."""
    if args.channel != "webpush":
        return ""
    per_push = 1000 / args.physicians
    return (
        f"; CPU per push: system {figures.system_cpu * per_push:.2f} ms, floor {figures.floor_cpu * per_push:.2f} ms"
        " (process time, the peer's decryption included)"
    )


def build_community(app: Any, clock: ManualClock, devices: list[tuple[str, str]]) -> dict[str, Any]:
    """Create the community, its operator, a treating GP (devices[0]) and one member for each other device."""
    hasher = app.extensions["dispatch"].hasher
    community = communities.create_community(
        name="CPTS banc fan-out", timezone="Europe/Paris", exclusive_window_s=3600, response_window_s=7200, now=clock.now()
    )
    operator, _ = membership.add_member(
        community=community, role="operator", login="operator", password=PASSWORD, name="Opératrice", now=clock.now(), ph=hasher
    )
    gp_user, gp = membership.add_member(
        community=community,
        role="physician",
        login="dr0",
        password=PASSWORD,
        name="Dr Traitant",
        now=clock.now(),
        ph=hasher,
        rpps=rpps(0),
        kind="titulaire",
        phone="+33600000000",
    )
    assert gp is not None
    platform, token = devices[0]
    communities.register_device(physician=gp, platform=platform, token=token, now=clock.now())
    # The members in bulk (one password hash, one transaction): setting up is not what is measured.
    password_hash = gp_user.password_hash
    users = [
        User(
            login=f"dr{n}",
            password_hash=password_hash,
            name=f"Dr Banc {n}",
            role="physician",
            phone=f"+336{n:08d}",
            active=True,
            created_at=clock.now(),
            password_set_at=clock.now(),  # signed up: an invited member gets no offers
        )
        for n in range(1, len(devices))
    ]
    db.session.add_all(users)
    db.session.flush()
    physicians_rows = [
        Physician(user_id=u.id, rpps=rpps(n), kind="titulaire", available=True) for n, u in enumerate(users, start=1)
    ]
    db.session.add_all(physicians_rows)
    db.session.add_all(Membership(user_id=u.id, community_id=community.id, role="physician", created_at=clock.now()) for u in users)
    db.session.flush()
    db.session.add_all(
        Device(physician_id=p.id, platform=platform, token=token, token_key=communities.device_key(token), created_at=clock.now())
        for p, (platform, token) in zip(physicians_rows, devices[1:], strict=True)
    )
    db.session.commit()
    return {"community": community, "operator": operator, "gp": gp}


def rpps(n: int) -> str:
    """Return a valid 11-digit RPPS number built from `n`."""
    prefix = f"2{n:09d}"
    return next(prefix + d for d in "0123456789" if communities.rpps_valid(prefix + d))


def open_request(app: Any, clock: ManualClock, world: dict[str, Any]) -> int:
    """Open a request held by the treating GP alone, and send the GP's offer (untimed)."""
    client = app.test_client()

    def post(path: str, **kwargs: Any) -> Any:
        """Post in a context of its own, as a server would (its own `g` and session), not in the bench's."""
        return contextvars.Context().run(client.post, path, **kwargs)

    login = post("/api/v1/auth/token", json={"login": "operator", "password": PASSWORD}).json
    body = {
        "community_id": world["community"].id,
        "source": "cot",
        "motive": "ent",
        "description": "Otalgie",
        "patient": {
            "first_name": "Lucie",
            "last_name": "Martin",
            "birth_date": "1988-04-02",
            "sex": "F",
            "phone": "+33612345678",
            "postcode": "94500",
            "city": "Champigny-sur-Marne",
        },
        "treating_physician": {"status": "declared", "rpps": world["gp"].rpps},
    }
    answer = post("/api/v1/requests", json=body, headers={"Authorization": f"Bearer {login['access_token']}"})
    assert answer.status_code == 201 and answer.json["state"] == "exclusive", answer.json
    deliver_pending(now=clock.now(), senders=senders(app))
    return int(answer.json["id"])


def community_offer(request_id: int) -> PushMessage:
    """Return the offer the community will receive: the GP's exclusive offer, in the community phase."""
    payload = db.session.scalars(
        select(OutboxMessage.payload).where(OutboxMessage.request_id == request_id).order_by(OutboxMessage.id)
    ).first()
    assert payload is not None
    return PushMessage(
        tokens=(),
        data={**payload["data"], "phase": "community"},
        collapse_key=payload["collapse_key"],
        expires_at=datetime.fromisoformat(payload["expires_at"]),
        title=payload["title"],
        body=payload["body"],
    )


def time_system(app: Any, channel: FcmChannel | WebPushChannel, clock: ManualClock, count: int) -> tuple[float, float, float]:
    """Pass the exclusive hour, then advance_due and deliver_pending; return (seconds to the last push, advance, CPU)."""
    clock.advance(3601)
    channel.reset()
    started, cpu = time.monotonic(), time.process_time()
    moved = tick.advance_due(now=clock.now())
    advanced = time.monotonic()
    deliver_pending(now=clock.now(), senders=senders(app))
    cpu_s = time.process_time() - cpu  # every push has been answered, so received (and decrypted) by the peer
    assert moved == 1, moved
    return channel.last_arrival(count) - started, advanced - started, cpu_s


def timed(call: Any, *args: Any) -> float:
    """Return the seconds one call takes."""
    started = time.monotonic()
    call(*args)
    return time.monotonic() - started


def close_request(
    app: Any, clock: ManualClock, channel: FcmChannel | WebPushChannel, request_id: int, world: dict[str, Any]
) -> None:
    """Cancel the round's request and send its withdrawals (untimed), so later rounds start clean."""
    operator_actions.cancel_request(
        user=world["operator"], request_id=request_id, reason="banc d'essai", now=clock.now(), client="bench"
    )
    deliver_pending(now=clock.now(), senders=senders(app))
    channel.reset()


if __name__ == "__main__":
    main()
