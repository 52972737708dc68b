"""Benchmark of the fan-out: from a request's community phase to the 800th push at a local FCM peer.

    python bench/fanout.py                           # a temporary SQLite file
    python bench/fanout.py --database-url "$PG_URL"  # on PostgreSQL (the database is emptied first)

A community of 800 physicians with one device each; the local FCM peer adds 20 ms to every call.
The floor is firebase-admin's send_each of the same 800 messages straight to the peer (batches of
500). The system is advance_due (the exclusive hour has passed: the request opens to the community,
800 offers written to the outbox) then deliver_pending, until the peer has received the 800th push.
Goal: the system within 2 s and within 1.5 times the floor. Each figure is the median of the rounds.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firebase_admin import messaging  # noqa: E402

from dispatch import create_app  # noqa: E402
from dispatch.auth.models import Membership, User  # noqa: E402
from dispatch.cli import upgrade_fresh  # noqa: E402
from dispatch.clock import utcnow  # noqa: E402
from dispatch.communities import service as communities  # noqa: E402
from dispatch.communities.models import Device, Physician  # noqa: E402
from dispatch.db import db  # noqa: E402
from dispatch.escalation import service as escalation  # noqa: E402
from dispatch.escalation.models import Request  # noqa: E402
from dispatch.notify.fcm import BATCH_SIZE, FcmPush  # noqa: E402
from dispatch.notify.models import OutboxMessage  # noqa: E402
from dispatch.notify.ports import PushMessage  # noqa: E402
from dispatch.notify.service import deliver_pending  # noqa: E402
from dispatch.wiring import senders  # noqa: E402
from tests.peers.fcm import FcmPeer  # noqa: E402

PROJECT = "snp-bench"
PASSWORD = "bench password"


class ManualClock:
    """The service's clock, moved by the benchmark past the exclusive hour of each round."""

    def __init__(self) -> None:
        self.current = utcnow()

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


def main() -> None:
    """Parse the options, build the community, time the floor and the system, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="SQLAlchemy URL (emptied first); default: a temporary SQLite file")
    parser.add_argument("--physicians", type=int, default=800)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the FCM peer adds to every call")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the access log would drown the figures
    with tempfile.TemporaryDirectory() as tmp, FcmPeer(latency_s=args.latency) as peer:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'fanout.sqlite3'}"
        upgrade_fresh(url)
        clock = ManualClock()
        settings = {
            "DISPATCH_DATABASE_URL": url,
            "DISPATCH_SECRET_KEY": "bench",
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST": 64,
            "DISPATCH_PUSH_BACKEND": "fcm",
            "DISPATCH_FCM_URL": peer.url,
            "DISPATCH_FCM_PROJECT": PROJECT,
            "DISPATCH_SMS_BACKEND": "inbox",
            "DISPATCH_MAIL_BACKEND": "inbox",
        }
        app = create_app(settings, clock=clock)
        runtime = app.extensions["dispatch"]
        floor_push = FcmPush(None, PROJECT, peer.url, clock=clock.now)
        try:
            with app.app_context():
                run(app, peer, clock, floor_push, args)
        finally:
            floor_push.close()
            runtime.ports.close()


def run(app: Any, peer: FcmPeer, clock: ManualClock, floor_push: FcmPush, args: argparse.Namespace) -> None:
    """Build the community, warm both HTTP pools, then time the rounds."""
    started = time.monotonic()
    world = build_community(app, clock, args.physicians)
    print(
        f"community of {args.physicians} physicians built in {time.monotonic() - started:.1f} s "
        f"({db.engine.dialect.name}); FCM peer latency {args.latency * 1000:.0f} ms"
    )
    floors, systems, phases = [], [], []
    for round_index in range(args.rounds + 1):  # round 0 warms the connection pools, untimed
        request_id = open_request(app, clock, world)
        if round_index % 2:  # alternate which goes first: neither always meets a warmer process
            floor = time_floor(peer, floor_push, request_id, args.physicians)
            system, advance_s = time_system(app, peer, clock, args.physicians)
        else:
            system, advance_s = time_system(app, peer, clock, args.physicians)
            floor = time_floor(peer, floor_push, request_id, args.physicians)
        if round_index:
            floors.append(floor)
            systems.append(system)
            phases.append(advance_s)
            print(
                f"round {round_index}: floor {floor:.3f} s, system {system:.3f} s "
                f"(of which advance_due {advance_s:.3f} s), ratio {system / floor:.2f}"
            )
        close_request(app, clock, peer, request_id, world)
    floor, system = statistics.median(floors), statistics.median(systems)
    print(
        f"median of {args.rounds}: floor {floor:.3f} s, system {system:.3f} s, ratio {system / floor:.2f} "
        f"(advance_due {statistics.median(phases):.3f} s)"
    )
    met = system <= 2.0 and system <= 1.5 * floor
    print(f"goal (system <= 2 s and <= 1.5 x floor): {'met' if met else 'NOT met'}")


def build_community(app: Any, clock: ManualClock, physicians: int) -> dict[str, Any]:
    """Create the community, its operator, a treating GP and `physicians` members with one device each."""
    hasher = app.extensions["dispatch"].hasher
    community = communities.create_community(
        name="CPTS banc fan-out", timezone="Europe/Paris", exclusive_window_s=3600, response_window_s=7200, now=clock.now()
    )
    operator, _ = communities.add_member(
        community=community, role="operator", login="operator", password=PASSWORD, name="Opératrice", now=clock.now(), ph=hasher
    )
    gp_user, gp = communities.add_member(
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
    communities.register_device(physician=gp, platform="android", token="bench-token-00000", now=clock.now())
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
        )
        for n in range(1, physicians + 1)
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
        Device(
            physician_id=p.id,
            platform="android",
            token=f"bench-token-{n:05d}",
            token_key=communities.device_key(f"bench-token-{n:05d}"),
            created_at=clock.now(),
        )
        for n, p in enumerate(physicians_rows, start=1)
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
    login = client.post("/api/v1/auth/token", json={"login": "operator", "password": PASSWORD}).json
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
    answer = client.post("/api/v1/requests", json=body, headers={"Authorization": f"Bearer {login['access_token']}"})
    assert answer.status_code == 201 and answer.json["state"] == "exclusive", answer.json
    deliver_pending(now=clock.now(), senders=senders(app))
    return int(answer.json["id"])


def time_floor(peer: FcmPeer, floor_push: FcmPush, request_id: int, count: int) -> float:
    """Send the community's 800 offers straight through firebase-admin; return seconds to the last arrival."""
    payload = db.session.scalars(
        select(OutboxMessage.payload).where(OutboxMessage.request_id == request_id).order_by(OutboxMessage.id)
    ).first()
    assert payload is not None
    offer = PushMessage(
        tokens=(),
        data={**payload["data"], "phase": "community"},
        collapse_key=payload["collapse_key"],
        expires_at=datetime.fromisoformat(payload["expires_at"]),
        title=payload["title"],
        body=payload["body"],
    )
    now = utcnow()
    fcm_messages = [floor_push.build_message(offer, f"bench-token-{n:05d}", now) for n in range(1, count + 1)]
    peer.reset()
    started = time.monotonic()
    for start in range(0, len(fcm_messages), BATCH_SIZE):
        batch = messaging.send_each(fcm_messages[start : start + BATCH_SIZE], app=floor_push._app)  # noqa: SLF001
        assert batch.failure_count == 0, [r.exception for r in batch.responses if r.exception][:3]
    return last_arrival(peer, count) - started


def time_system(app: Any, peer: FcmPeer, clock: ManualClock, count: int) -> tuple[float, float]:
    """Pass the exclusive hour, then advance_due and deliver_pending; return (seconds to the last push, advance)."""
    clock.advance(3601)
    peer.reset()
    started = time.monotonic()
    moved = escalation.advance_due(now=clock.now())
    advanced = time.monotonic()
    deliver_pending(now=clock.now(), senders=senders(app))
    assert moved == 1, moved
    return last_arrival(peer, count) - started, advanced - started


def last_arrival(peer: FcmPeer, count: int) -> float:
    """Return when the peer accepted the count-th push (monotonic clock)."""
    accepted = [call.at for call in peer.calls if call.status == 200]
    assert len(accepted) == count, f"the peer accepted {len(accepted)} pushes, expected {count}"
    return max(accepted)


def close_request(app: Any, clock: ManualClock, peer: FcmPeer, request_id: int, world: dict[str, Any]) -> None:
    """Cancel the round's request and send its withdrawals (untimed), so later rounds start clean."""
    request = db.session.get(Request, request_id)
    assert request is not None
    actor = escalation.Actor(user_id=world["operator"].id, role="operator", client="bench")
    escalation.cancel(request=request, reason="banc d'essai", now=clock.now(), actor=actor)
    deliver_pending(now=clock.now(), senders=senders(app))
    peer.reset()


if __name__ == "__main__":
    main()
