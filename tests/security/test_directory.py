"""The directory of outside treating GPs (issue 14, point 1): one per community, changes recorded and shown, MSSanté only.

Before: the directory was shared by every community and overwritten on each request, so an operator of
community B naming RPPS X with their own address redirected community A's notices and syntheses about X.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import select

from dispatch.cli import alembic_config
from dispatch.db import db
from dispatch.requests.models import Event, Request
from tests.conftest import luhn_rpps
from tests.pages.conftest import PageClient

X = luhn_rpps(777)


def outside(address: str | None) -> dict[str, Any]:
    body = {"status": "declared", "rpps": X, "name": "Dr Xavier Dehors"}
    return body | ({"mssante": address} if address else {})


def test_another_community_cannot_redirect_a_treating_gps_secure_mail(make: Any, world: dict[str, Any], ports: Any) -> None:
    a, b = world["a"], world["b"]
    make.open(a["operator"], a["community"], treating_physician=outside("x.dehors@cabinet.mssante.fr"))
    make.open(b["operator"], b["community"], treating_physician=outside("intercept@pirate.mssante.fr"))
    later = make.open(a["operator"], a["community"], treating_physician=outside(None))  # the RPPS only: the directory fills in
    db.session.expire_all()
    assert db.session.get(Request, later["id"]).treating_mssante == "x.dehors@cabinet.mssante.fr"
    assert make.accept(a["physician"], later["id"]).status_code == 200
    make.deliver()
    assert [m["To"] for m in ports["mail"].sent] == ["x.dehors@cabinet.mssante.fr"]  # the "taken" notice


def test_a_changed_address_is_recorded_and_shown_to_the_operator(app: Any, make: Any, world: dict[str, Any]) -> None:
    a = world["a"]
    make.open(a["operator"], a["community"], treating_physician=outside("x.dehors@cabinet.mssante.fr"))
    console = PageClient(app)
    assert console.sign_in(a["operator"].login).status_code == 302
    console.get("/console")
    form = {
        "triage": "snp",
        "source": "cot",
        "motive": "ent",
        "patient.first_name": "Lucie",
        "patient.last_name": "Martin",
        "patient.phone": "06 12 34 56 78",
        "treating_physician.status": "declared",
        "treating_physician.rpps": X,
        "treating_physician.name": "Dr Xavier Dehors",
        "treating_physician.mssante": "x.dehors@nouveau-cabinet.mssante.fr",
    }
    opened = console.post("/console", form)
    assert opened.status_code == 302, opened.get_data(as_text=True)
    page = console.get(opened.headers["Location"]).get_data(as_text=True)
    assert "diffère de celle connue (x.dehors@cabinet.mssante.fr)" in page  # the warning, once
    assert "Avant\u00a0: x.dehors@cabinet.mssante.fr" in page  # and on the request's trail
    request_id = int(opened.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    (event,) = db.session.scalars(select(Event).where(Event.request_id == request_id, Event.type == "treating_address_changed"))
    assert event.actor_id == a["operator"].id and event.at is not None  # who and when
    assert event.data == {"before": "x.dehors@cabinet.mssante.fr", "after": "x.dehors@nouveau-cabinet.mssante.fr"}
    coordinator = make.call("GET", f"/requests/{request_id}/events", a["coordinator"]).get_data(as_text=True)
    assert "cabinet.mssante.fr" not in coordinator  # the treating GP's identity: not for the anonymised view


def test_the_api_tells_the_operator_the_address_changed(make: Any, world: dict[str, Any]) -> None:
    a = world["a"]
    first = make.call(
        "POST",
        "/requests",
        a["operator"],
        json=make.request_body(a["community"], treating_physician=outside("x.dehors@cabinet.mssante.fr")),
    )
    assert first.status_code == 201 and first.json["warnings"] == []
    body = make.request_body(a["community"], treating_physician=outside("x.dehors@nouveau-cabinet.mssante.fr"))
    changed = make.call("POST", "/requests", a["operator"], json=body, headers={"Idempotency-Key": "k-1"})
    assert changed.status_code == 201
    assert changed.json["warnings"] == [
        {
            "code": "treating_address_changed",
            "before": "x.dehors@cabinet.mssante.fr",
            "after": "x.dehors@nouveau-cabinet.mssante.fr",
        }
    ]
    # Only the answer of POST /requests carries them, not the request's other views.
    replay = make.call("POST", "/requests", a["operator"], json=body, headers={"Idempotency-Key": "k-1"})
    assert replay.json["id"] == changed.json["id"]
    assert "warnings" not in make.call("GET", f"/requests/{changed.json['id']}", a["operator"]).json


def test_the_warnings_are_documented(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").json
    answer = doc["paths"]["/api/v1/requests"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    opened = doc["components"]["schemas"][answer["$ref"].rsplit("/", 1)[1]]
    warning = doc["components"]["schemas"][opened["properties"]["warnings"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert set(warning["properties"]) == {"code", "before", "after", "profession"}  # profession: address_not_located
    assert warning["properties"]["code"]["enum"] == ["treating_address_changed", "address_not_located"]


def test_an_address_outside_mssante_is_refused_unless_the_community_allows_it(make: Any, world: dict[str, Any]) -> None:
    a = world["a"]
    for address in ("x.dehors@gmail.com", "x@mssante.fr.evil.example", "x@notmssante.fr"):
        body = make.request_body(a["community"], treating_physician=outside(address))
        refused = make.call("POST", "/requests", a["operator"], json=body)
        assert refused.status_code == 422 and "treating_physician.mssante" in refused.json["errors"], address
    assert db.session.query(Request).count() == 0
    # The admin's decision alone (issue 23): a coordinator could otherwise send syntheses to any mailbox.
    refused = make.call("PATCH", f"/communities/{a['community'].id}", a["coordinator"], json={"allow_non_mssante": True})
    assert (refused.status_code, refused.json["code"]) == (403, "admin_only")
    allowed = make.call("PATCH", f"/communities/{a['community'].id}", world["admin"], json={"allow_non_mssante": True})
    assert allowed.status_code == 200 and allowed.json["allow_non_mssante"] is True
    body = make.request_body(a["community"], treating_physician=outside("x.dehors@gmail.com"))
    assert make.call("POST", "/requests", a["operator"], json=body).status_code == 201


def test_the_migration_gives_each_entry_the_community_of_its_requests(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    command.upgrade(alembic_config(url), "0005")
    engine = sa.create_engine(url)
    at = datetime(2026, 11, 1, tzinfo=UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        for cid in (1, 2):
            conn.execute(
                sa.text(
                    "INSERT INTO communities (id, name, timezone, exclusive_window_s, response_window_s, created_at) "
                    "VALUES (:id, :name, 'Europe/Paris', 3600, 7200, :at)"
                ),
                {"id": cid, "name": f"CPTS {cid}", "at": at},
            )
        conn.execute(
            sa.text(
                "INSERT INTO directory_entries (id, rpps, name, mssante, created_at, updated_at) "
                "VALUES (1, :rpps, 'Dr X', 'x@cab.mssante.fr', :at, :at)"
            ),
            {"rpps": X, "at": at},
        )
        conn.execute(
            sa.text(
                "INSERT INTO users (id, login, password_hash, name, role, active, created_at) "
                "VALUES (1, 'op', 'x', 'Op', 'operator', 1, :at)"
            ),
            {"at": at},
        )
        conn.execute(
            sa.text(
                "INSERT INTO directory_entries (id, rpps, name, mssante, created_at, updated_at) "
                "VALUES (2, NULL, 'Dr Seul', 'seul@cab.mssante.fr', :at, :at)"
            ),
            {"at": at},
        )
        # Entry 1 was shared: named by requests of both communities (two in community 2).
        for request_id, community_id in ((1, 1), (2, 2), (3, 2)):
            conn.execute(
                sa.text(
                    "INSERT INTO requests (id, community_id, state, source, motive, opened_by_id, patient_first_name, "
                    "patient_last_name, treating_status, treating_directory_id, plan_exclusive_s, plan_response_s, "
                    "opened_at, expires_at, version) VALUES (:id, :cid, 'expired', 'cot', 'ent', 1, 'A', 'B', 'declared', "
                    "1, 3600, 7200, :at, :at, 1)"
                ),
                {"id": request_id, "cid": community_id, "at": at},
            )
    command.upgrade(alembic_config(url), "0006")
    with engine.begin() as conn:
        entries = conn.execute(sa.text("SELECT id, community_id, rpps, mssante FROM directory_entries ORDER BY id")).all()
        pointers = conn.execute(sa.text("SELECT id, treating_directory_id FROM requests ORDER BY id")).all()
        flag = conn.execute(sa.text("SELECT allow_non_mssante FROM communities WHERE id = 1")).scalar_one()
    copy = entries[2]
    assert entries[:2] == [(1, 1, X, "x@cab.mssante.fr"), (2, None, None, "seul@cab.mssante.fr")]
    assert copy[1:] == (2, X, "x@cab.mssante.fr")  # community 2 got its own copy...
    assert pointers == [(1, 1), (2, copy[0]), (3, copy[0])]  # ...and its requests point at it
    assert not flag
    with engine.connect() as conn:  # the new column's foreign key, on SQLite too
        keys = sa.inspect(conn).get_foreign_keys("directory_entries")
        assert [(k["constrained_columns"], k["referred_table"]) for k in keys] == [(["community_id"], "communities")]
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.text("UPDATE directory_entries SET community_id = 99 WHERE id = 1"))
    command.downgrade(alembic_config(url), "0005")
    command.upgrade(alembic_config(url), "head")
    engine.dispose()
