"""The request guards answer in their order, and each request runs in a context of its own, as in production."""

from __future__ import annotations

from typing import Any

from flask import g, request_started

from dispatch import guards
from dispatch.db import db


def test_the_guards_run_in_their_order() -> None:
    assert [guard.__name__ for guard in guards.GUARDS] == [
        "not_in_maintenance",
        "ids_in_range",
        "body_within_limit",
        "json_bodies_only",
        "autocommit_reads",
        "authenticate",
        "json_not_too_deep",
    ]
    assert all(guard.__doc__ and "\n" not in guard.__doc__.strip() for guard in guards.GUARDS)


def test_a_stranger_is_told_404_413_and_415_before_401(client: Any) -> None:
    assert client.get(f"/api/v1/requests/{2**31}").status_code == 404
    assert client.get("/api/v1/requests/0").json["detail"] == "Ressource introuvable."
    assert client.delete("/api/v1/requests", data="x" * 2_000_000).status_code == 405  # an unknown method first
    too_long = client.post("/api/v1/requests", data="x" * (1024 * 1024 + 1), content_type="application/json")
    assert (too_long.status_code, too_long.json["detail"]) == (413, "Le corps de la requête dépasse 1 Mio.")
    not_json = client.post("/api/v1/requests", data="community_id=1", content_type="application/x-www-form-urlencoded")
    assert not_json.status_code == 415 and not_json.mimetype == "application/problem+json"
    stranger = client.post("/api/v1/requests", json={})
    assert stranger.status_code == 401 and stranger.headers["WWW-Authenticate"] == 'Bearer realm="snp-dispatch"'


def test_a_page_id_beyond_the_database_integers_is_the_french_404(client: Any) -> None:
    response = client.get(f"/console/demandes/{2**31}")
    assert response.status_code == 404 and "introuvable" in response.get_data(as_text=True).lower()


def test_each_request_has_its_own_app_context_and_session(app: Any, make: Any) -> None:
    seen: list[tuple[Any, Any]] = []

    def note(sender: Any, **_: Any) -> None:
        seen.append((g._get_current_object(), db.session()))

    community = make.community()
    operator = make.member(community, "operator")
    with request_started.connected_to(note, app):
        make.call("GET", "/me", operator)
        make.call("GET", "/me", operator)
    (g1, session1), (g2, session2) = seen[-2:]
    assert g1 is not g2 and session1 is not session2
    assert g._get_current_object() not in (g1, g2) and db.session() not in (session1, session2)
