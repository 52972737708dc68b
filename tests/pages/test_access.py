"""Sign-in, sessions, CSRF, security headers and who reaches which page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PASSWORD

PAGES = {
    "/console": ("operator", "coordinator", "admin"),
    "/m/": ("physician",),
    "/pilotage": ("coordinator", "admin"),
    "/pilotage/membres": ("coordinator", "admin"),
    "/admin/communautes": ("admin",),
}


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    community = make.community()
    return {
        "community": community,
        "operator": make.member(community, "operator"),
        "physician": make.member(community, "physician"),
        "coordinator": make.member(community, "coordinator"),
        "admin": make.admin(),
    }


def test_each_role_lands_on_its_home_page(world: dict[str, Any], as_user: Any) -> None:
    homes = {"operator": "/console", "physician": "/m/", "coordinator": "/pilotage", "admin": "/admin/communautes"}
    for role, home in homes.items():
        client = as_user(world[role])
        assert client.get("/").headers["Location"] == home


@pytest.mark.parametrize("path", sorted(PAGES))
def test_pages_are_reserved_to_their_roles(world: dict[str, Any], as_user: Any, page_client: Any, path: str) -> None:
    response = page_client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion?next=")
    for role in ("operator", "physician", "coordinator", "admin"):
        response = as_user(world[role]).get(path)
        expected = 200 if role in PAGES[path] else 403
        assert response.status_code == expected, (role, path)
        if expected == 403:
            assert "Accès refusé" in response.get_data(as_text=True)


def test_sign_in_sets_a_safe_cookie_and_follows_next(world: dict[str, Any], page_client: Any) -> None:
    page_client.get("/connexion")
    response = page_client.post("/connexion?next=/pilotage/membres", {"login": world["coordinator"].login, "password": PASSWORD})
    assert response.headers["Location"] == "/pilotage/membres"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # served on the loopback dev address in tests
    assert "Strict-Transport-Security" not in response.headers  # no https to insist on


def test_sign_in_refuses_a_next_off_site(world: dict[str, Any], page_client: Any) -> None:
    page_client.get("/connexion")
    response = page_client.post("/connexion?next=//evil.example/x", {"login": world["operator"].login, "password": PASSWORD})
    assert response.headers["Location"] == "/console"


def test_cookie_is_secure_off_loopback(database_url: str, clock: Any) -> None:
    from dispatch import create_app
    from tests.conftest import TEST_SETTINGS

    app = create_app(
        {**TEST_SETTINGS, "DISPATCH_DATABASE_URL": database_url, "DISPATCH_PUBLIC_URL": "https://snp.cpts-champigny.fr"}
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    app.extensions["dispatch"].ports.close()


def test_bad_password_then_rate_limit_show_french_messages(world: dict[str, Any], page_client: Any, app: Any) -> None:
    page_client.get("/connexion")
    response = page_client.post("/connexion", {"login": world["operator"].login, "password": "wrong"})
    assert response.status_code == 401 and "Identifiant ou mot de passe incorrect." in response.get_data(as_text=True)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        response = page_client.post("/connexion", {"login": world["operator"].login, "password": "wrong"})
    assert response.status_code == 429
    assert "Trop de tentatives de connexion" in response.get_data(as_text=True)
    response = page_client.post("/connexion", {"login": world["operator"].login, "password": PASSWORD})
    assert response.status_code == 429  # even the right password waits, as on the API


def test_every_post_needs_the_session_csrf_token(world: dict[str, Any], as_user: Any, page_client: Any) -> None:
    page_client.get("/connexion")
    response = page_client.post("/connexion", {"login": world["operator"].login, "password": PASSWORD}, csrf=False)
    assert response.status_code == 403 and "Le formulaire a expiré" in response.get_data(as_text=True)
    coordinator = as_user(world["coordinator"])
    for path, form in (("/console", {"triage": "snp"}), ("/pilotage/membres", {"role": "operator"}), ("/deconnexion", {})):
        assert coordinator.post(path, form, csrf=False).status_code == 403
        assert coordinator.post(path, {**form, "csrf_token": "forged"}).status_code == 403
    physician = as_user(world["physician"])
    assert physician.post("/m/disponibilite", {"available": "0"}, csrf=False).status_code == 403
    assert world["physician"].available is True


def test_sign_out_revokes_the_session(world: dict[str, Any], as_user: Any) -> None:
    client = as_user(world["operator"])
    assert client.get("/console").status_code == 200
    assert client.post("/deconnexion").headers["Location"] == "/connexion"
    assert client.get("/console").status_code == 302


def test_a_deactivated_member_is_signed_out_and_cannot_sign_in(world: dict[str, Any], as_user: Any, page_client: Any) -> None:
    operator = as_user(world["operator"])
    coordinator = as_user(world["coordinator"])
    response = coordinator.post(f"/pilotage/membres/{world['operator'].id}/desactiver", {"confirm": "oui"})
    assert response.status_code == 302
    assert operator.get("/console").status_code == 302
    page_client.get("/connexion")
    refused = page_client.post("/connexion", {"login": world["operator"].login, "password": PASSWORD})
    assert refused.status_code == 403 and "Ce compte a été désactivé" in refused.get_data(as_text=True)


def test_pages_send_security_headers_and_no_store(world: dict[str, Any], as_user: Any, page_client: Any) -> None:
    for response in (page_client.get("/connexion"), as_user(world["operator"]).get("/console")):
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
        assert "<script>" not in response.get_data(as_text=True)  # scripts come from static files only


def test_the_api_still_answers_bearer_calls_without_csrf(world: dict[str, Any], make: Any) -> None:
    opened = make.open(world["operator"], world["community"])
    assert opened["state"] == "community"


def test_the_dev_inbox_is_not_served_without_dispatch_dev_inbox(world: dict[str, Any], page_client: Any) -> None:
    # Inbox backends alone (a site waiting for its MSSanté setup) must not publish every message (issue 14, point 2).
    assert "/dev/inbox" not in page_client.get("/connexion").get_data(as_text=True)
    assert page_client.get("/dev/inbox").status_code == 404


def test_unknown_pages_answer_a_french_page(world: dict[str, Any], as_user: Any) -> None:
    response = as_user(world["operator"]).get("/console/demandes/999")
    assert response.status_code == 404 and "Demande introuvable." in response.get_data(as_text=True)
