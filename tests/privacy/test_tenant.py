"""A tenant leaves: `dispatch community export` then `dispatch community delete`, nothing of it left in any table."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from dispatch.auth.models import Membership, User
from dispatch.communities.models import Community, Physician
from dispatch.db import db
from dispatch.privacy.tenant import delete_community, export_community, holdings
from tests.privacy.conftest import cancelled, seen_with_synthesis

ROOT = Path(__file__).resolve().parents[2]


def _held(app: Any, community_id: int) -> dict[str, Any]:
    """Return the ids the community holds: its requests, its own members and their physicians."""
    with app.app_context():
        held = holdings(community_id)
        requests = set(
            db.session.scalars(
                select(func.distinct(db.metadata.tables["requests"].c.id)).where(
                    db.metadata.tables["requests"].c.community_id == community_id
                )
            )
        )
        return {"requests": requests, "users": set(held.users), "physicians": set(held.physicians), "communities": {community_id}}


def _left(app: Any, held: dict[str, Any]) -> list[str]:
    """Walk the metadata: every row still naming the community, one of its requests or one of its own members."""
    found = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)).mappings():
                if table.name in held and row.get("id") in held[table.name]:
                    found.append(f"{table.name} {row['id']}")
                for column in table.c:
                    for key in column.foreign_keys:
                        target = key.column.table.name
                        if target in held and row[column.name] in held[target]:
                            found.append(f"{table.name}.{column.name}={row[column.name]}")
    return found


def test_export_then_delete_leaves_nothing_of_the_community_and_spares_the_others(
    app: Any, make: Any, world: Any, clock: Any
) -> None:
    community = world["community"]
    seen = seen_with_synthesis(make, world)
    cancelled(make, world)
    other = make.community("CPTS Voisine")
    other_operator = make.member(other, "operator")
    kept = make.open(other_operator, other)
    with app.app_context():
        make.deliver()
    held = _held(app, community.id)
    assert held["requests"] and held["users"] and _left(app, held)
    with app.app_context():
        body = export_community(community_id=community.id, now=clock.now())
    archive = zipfile.ZipFile(io.BytesIO(body))
    names = set(archive.namelist())
    assert {
        "README.txt",
        "communities.json",
        "requests.json",
        "events.json",
        "offers.json",
        "syntheses.json",
        "users.json",
        "memberships.json",
        "physicians.json",
        "access_records.json",
        f"syntheses/compte-rendu-{seen}.pdf",
    } <= names
    assert not names & {"tokens.json", "password_resets.json", "recovery_codes.json", "offer_links.json"}
    requests = json.loads(archive.read("requests.json"))
    assert {r["id"] for r in requests} == held["requests"] and requests[0]["patient_last_name"] == "Martin"
    assert all("password_hash" not in user for user in json.loads(archive.read("users.json")))
    readme = archive.read("README.txt").decode()
    assert community.name in readme and "requests.json" in readme and "syntheses/compte-rendu" in readme
    assert archive.read(f"syntheses/compte-rendu-{seen}.pdf").startswith(b"%PDF")
    with app.app_context():
        try:
            delete_community(community_id=community.id, confirm="CPTS autre")
        except ValueError:
            pass
        else:
            raise AssertionError("a wrong name must not delete")
        assert db.session.get(Community, community.id) is not None
        removed = delete_community(community_id=community.id, confirm=community.name)
    assert removed["requests"] == len(held["requests"]) and removed["communities"] == 1
    assert _left(app, held) == []
    with app.app_context():
        assert db.session.get(Community, other.id) is not None
        assert db.session.scalar(select(func.count()).select_from(db.metadata.tables["requests"])) == 1
    assert make.call("GET", f"/requests/{kept['id']}", other_operator).status_code == 200


def test_the_commands_export_and_delete(app: Any, make: Any, world: Any, database_url: str, tmp_path: Path) -> None:
    cancelled(make, world)
    community = world["community"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("DISPATCH_")}
    env |= {
        "DISPATCH_ENV": "development",  # the demo transports below; production would refuse them
        "DISPATCH_DATABASE_URL": database_url,
        "DISPATCH_SECRET_KEY": "cli-secret",
        "DISPATCH_PUBLIC_URL": "https://snp.cpts.example.fr",
        "DISPATCH_SMS_BACKEND": "inbox",
        "DISPATCH_MAIL_BACKEND": "inbox",
        "DISPATCH_PUSH_BACKEND": "inbox",
    }
    out = tmp_path / "export.zip"
    run = [sys.executable, "-m", "dispatch.cli", "community"]
    exported = subprocess.run(
        [*run, "export", str(community.id), "--out", str(out)], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert exported.returncode == 0, exported.stderr
    assert "requests.json" in zipfile.ZipFile(out).namelist()
    wrong = subprocess.run(
        [*run, "delete", str(community.id), "--confirm", "autre"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert wrong.returncode == 1 and "ne correspond pas" in wrong.stderr
    deleted = subprocess.run(
        [*run, "delete", str(community.id), "--confirm", community.name], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert deleted.returncode == 0, deleted.stderr
    assert "supprimée" in deleted.stdout
    with app.app_context():
        db.session.expire_all()
        assert db.session.get(Community, community.id) is None
    retention = subprocess.run(
        [sys.executable, "-m", "dispatch.cli", "retention", "run"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert retention.returncode == 0 and "Conservation appliquée" in retention.stdout, retention.stderr


def test_delete_keeps_a_member_of_another_community_and_removes_only_their_membership_of_the_deleted_one(
    app: Any, make: Any, world: Any, clock: Any
) -> None:
    community = world["community"]
    other = make.community("CPTS Voisine")
    shared = make.member(community, "physician", name="Dr Partagée")  # a physician of both communities
    own = make.member(community, "operator")  # of the leaving community alone
    other_operator = make.member(other, "operator")
    with app.app_context():
        db.session.add(Membership(user_id=shared.user.id, community_id=other.id, role="physician", created_at=clock.now()))
        db.session.commit()
    seen_with_synthesis(make, world)
    with app.app_context():
        held = holdings(community.id)
        assert shared.user.id not in held.users and shared.id not in held.physicians and own.id in held.users
        delete_community(community_id=community.id, confirm=community.name)
    with app.app_context():
        assert db.session.get(User, shared.user.id) is not None and db.session.get(Physician, shared.id) is not None
        memberships = db.session.execute(
            select(Membership.community_id, Membership.role).where(Membership.user_id == shared.user.id)
        )
        assert memberships.all() == [(other.id, "physician")]
        assert db.session.get(User, own.id) is None
    # Still a working account in the other community: it signs in and is offered that community's requests.
    opened = make.open(other_operator, other)
    assert make.call("GET", "/me", shared).json["communities"] == [{"id": other.id, "name": other.name, "role": "physician"}]
    assert opened["id"] in {offer["id"] for offer in make.call("GET", "/me/offers", shared).json}
