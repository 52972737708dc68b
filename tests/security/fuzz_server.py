"""A real server for fuzzing: a fresh SQLite database, the demo community, a second one, on 127.0.0.1."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any

from werkzeug.serving import make_server

from dispatch import create_app
from dispatch.cli import upgrade
from dispatch.communities import membership, service
from dispatch.db import db
from dispatch.demo import PASSWORD, load_demo
from dispatch.worker import Worker

# Community B: the same roles as the demo's, so that cross-community calls have something to miss.
OTHERS = [
    ("b.coordination", "coordinator", {}),
    ("b.operateur", "operator", {}),
    ("b.medecin", "physician", {"rpps": "10007777775", "kind": "titulaire", "phone": "+33600000020"}),
]


def build(database: str) -> Any:
    """Return the app on a migrated database holding the demo, community B and two open requests."""
    url = f"sqlite:///{database}"
    upgrade(url)
    app = create_app(
        {
            "DISPATCH_ENV": "development",
            "DISPATCH_DATABASE_URL": url,
            "DISPATCH_SECRET_KEY": "fuzz-secret",
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST": 1024,
            "LOGIN_MAX_FAILURES_PER_ADDRESS": 10**6,
        }
    )
    with app.app_context():
        load_demo(app, history=False)  # the fuzzer needs the accounts, not a year of requests
        now = app.extensions["dispatch"].clock.now()
        other = service.create_community(
            name="CPTS Bry", timezone="Europe/Paris", exclusive_window_s=3600, response_window_s=7200, now=now
        )
        for login, role, extra in OTHERS:
            membership.add_member(
                community=other,
                role=role,
                login=login,
                password=PASSWORD,
                name=login,
                now=now,
                ph=app.extensions["dispatch"].hasher,
                **extra,
            )
        db.session.commit()
    Worker(app).start()  # the tick and the sender, as `dispatch serve` runs them
    client = app.test_client()
    token = client.post("/api/v1/auth/token", json={"login": "operateur", "password": PASSWORD}).json["access_token"]
    body = {
        "community_id": 1,
        "source": "cot",
        "motive": "ent",
        "description": "Otalgie",
        "patient": {
            "first_name": "Lucie",
            "last_name": "Martin",
            "birth_date": "1988-04-02",
            "phone": "+33612345678",
            "city": "Champigny-sur-Marne",
        },
        "treating_physician": {"status": "declared", "rpps": "10003456786"},
    }
    for _ in range(2):
        response = client.post("/api/v1/requests", json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.json
    client.delete("/api/v1/auth/token", headers={"Authorization": f"Bearer {token}"})
    durand = client.post("/api/v1/auth/token", json={"login": "dr.durand", "password": PASSWORD}).json["access_token"]
    with app.app_context():
        at = (app.extensions["dispatch"].clock.now() + timedelta(hours=1)).isoformat()
    client.post("/api/v1/requests/1/accept", json={"appointment_at": at}, headers={"Authorization": f"Bearer {durand}"})
    client.delete("/api/v1/auth/token", headers={"Authorization": f"Bearer {durand}"})
    return app


def main() -> None:
    """Build the app and serve it until killed; print the port once listening."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = make_server("127.0.0.1", args.port, build(args.database), threaded=True)
    print(f"LISTENING {server.server_port}", flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
