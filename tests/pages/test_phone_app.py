"""The physician's installable app on the server side: worker, offline shell, notifications, live answers, fixes."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from dispatch.audit.models import AccessRecord
from dispatch.db import db
from dispatch.notify.models import OutboxMessage
from dispatch.pages.patients import ics_event
from dispatch.requests.models import Request
from tests.conftest import PASSWORD
from tests.pages.test_console import field_error

IDENTITY = ("Lucie", "Martin", "+33612345678", "06 12 34 56 78", "1988")


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    community = make.community()
    world = {
        "community": community,
        "operator": make.member(community, "operator"),
        "gp": make.member(community, "physician", name="Dr Paul Durand", address="12 rue Jaurès"),
        "other": make.member(community, "physician", name="Dr Awa Diallo", kind="cami"),
    }
    world["opened"] = make.open(world["operator"], community, treating=world["gp"])
    return world


def subscription(endpoint: str = "https://fcm.googleapis.com/fcm/send/abc123") -> dict[str, Any]:
    """Return a browser's PushSubscription.toJSON() with a real P-256 key."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    return {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": b64(point), "auth": b64(b"0123456789abcdef")}}


def post_json(client: Any, path: str, body: Any, *, csrf: bool = True) -> Any:
    headers = {"Accept": "application/json", **({"X-CSRF-Token": client.csrf} if csrf else {})}
    return client.http.post(path, json=body, headers=headers)


# --- The app shell: manifest, worker, offline page, what may be cached ------------------------------------------


def test_every_page_a_physician_sees_links_the_manifest_and_icons(world: dict[str, Any], as_user: Any, page_client: Any) -> None:
    gp = as_user(world["gp"])
    for html in (page_client.get("/connexion").get_data(as_text=True), gp.get("/m/").get_data(as_text=True)):
        assert '<link rel="manifest" href="/static/manifest.webmanifest">' in html
        assert 'rel="apple-touch-icon" href="/static/apple-touch-icon.png"' in html
        assert 'rel="icon" href="/static/favicon.ico"' in html and '<meta name="theme-color" content="#14284b">' in html
    assert 'data-sw="/m/sw.js"' in gp.get("/m/").get_data(as_text=True)
    assert 'data-sw="' not in as_user(world["operator"]).get("/console").get_data(as_text=True)


def test_the_service_worker_is_served_from_the_physician_scope(page_client: Any) -> None:
    response = page_client.get("/m/sw.js")
    assert response.status_code == 200 and response.mimetype == "application/javascript"
    assert 'const SCOPE = "/m/"' in response.get_data(as_text=True)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_the_offline_shell_has_a_banner_and_nobody_in_it(world: dict[str, Any], as_user: Any) -> None:
    gp = as_user(world["gp"])
    response = gp.get("/m/offline")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["X-Dispatch-Cacheable"] == "anonymised"
    assert '<div class="offline-banner" role="status">Hors ligne</div>' in html
    for secret in (*IDENTITY, "Dr Paul Durand", "csrf_token"):
        assert secret not in html


def test_only_the_anonymised_list_may_be_cached(world: dict[str, Any], as_user: Any, make: Any) -> None:
    gp = as_user(world["gp"])
    rid = world["opened"]["id"]
    listed = gp.get("/m/")
    assert listed.headers["X-Dispatch-Cacheable"] == "anonymised" and "ORL" in listed.get_data(as_text=True)
    page = gp.get(f"/m/requests/{rid}")
    assert "Lucie Martin" in page.get_data(as_text=True)
    assert "X-Dispatch-Cacheable" not in page.headers and page.headers["Cache-Control"] == "no-store"
    gp.post(f"/m/requests/{rid}/accepter", {"time": "15:30"})
    listed = gp.get("/m/")  # the patient I took is listed too, by appointment and town only
    html = listed.get_data(as_text=True)
    assert "Rendez-vous aujourd&#39;hui lundi 23/11 à 15:30" in html
    for secret in IDENTITY:
        assert secret not in html
    for path in ("/m/patients", "/m/notifications", f"/m/requests/{rid}"):
        assert "X-Dispatch-Cacheable" not in gp.get(path).headers


# --- Notifications: the subscription and the test push ------------------------------------------------------------


def test_a_physician_registers_this_browser_with_the_csrf_token(world: dict[str, Any], as_user: Any, page_client: Any) -> None:
    gp = as_user(world["gp"])
    gp.get("/m/notifications")
    sub = subscription()
    assert post_json(gp, "/m/appareils", {"subscription": sub}, csrf=False).status_code == 403
    created = post_json(gp, "/m/appareils", {"subscription": sub})
    assert created.status_code == 201
    assert post_json(gp, "/m/appareils", {"subscription": sub}).json == {"id": created.json["id"]}  # 200, same device
    refused = post_json(gp, "/m/appareils", {"subscription": subscription("https://evil.example/push")})
    assert refused.status_code == 422 and "non autorisée" in refused.json["detail"]
    assert post_json(gp, "/m/appareils", {"subscription": {"endpoint": "x"}}).status_code == 422
    operator = as_user(world["operator"])
    assert post_json(operator, "/m/appareils", {"subscription": sub}).status_code == 403
    stranger = post_json(page_client, "/m/appareils", {"subscription": sub}, csrf=False)
    assert stranger.status_code == 401 and stranger.json["code"] == "unauthorized"
    html = gp.get("/m/notifications").get_data(as_text=True)
    assert "Navigateur (application web)" in html and 'data-register-url="/m/appareils"' in html


def test_the_test_push_goes_through_the_outbox(world: dict[str, Any], as_user: Any, make: Any) -> None:
    gp = as_user(world["gp"])
    gp.get("/m/notifications")
    response = gp.post("/m/notifications/essai")
    assert "Aucun appareil n&#39;est inscrit" in gp.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "test")).all() == []
    make.device(world["gp"])
    assert gp.post("/m/notifications/essai", csrf=False).status_code == 403
    # This phone's page says its notifications are off: no test that would say "partie" and never show here.
    off = gp.post("/m/notifications/essai", {"phone_state": "denied"})
    assert "Les notifications sont désactivées sur ce téléphone" in gp.get(off.headers["Location"]).get_data(as_text=True)
    assert db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "test")).all() == []
    response = gp.post("/m/notifications/essai", {"phone_state": "granted"})
    page = gp.get(response.headers["Location"]).get_data(as_text=True)
    assert "Notification d&#39;essai partie vers votre appareil inscrit" in page and "envoyée" not in page
    html = gp.get("/m/notifications").get_data(as_text=True)
    assert 'id="notify-test-off" hidden' in html and 'name="phone_state"' in html  # the page's script fills them in
    message = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "test")).one()
    assert message.channel == "push" and message.physician_id == world["gp"].id
    assert message.payload["data"]["type"] == "test" and message.payload["urgent"] is False
    assert message.payload["collapse_key"] == "test" and message.payload["expires_at"] == "2026-11-23T14:10:00Z"


# --- Live answers ------------------------------------------------------------------------------------------------


def test_the_list_state_changes_when_a_request_is_opened_and_names_nobody(world: dict[str, Any], as_user: Any, make: Any) -> None:
    gp = as_user(world["gp"])
    first = gp.get("/m/etat", headers={"Accept": "application/json"}).json
    assert first["offers"] == 1 and f'data-signature="{first["signature"]}"' in gp.get("/m/").get_data(as_text=True)
    make.open(world["operator"], world["community"], treating=world["gp"])
    second = gp.get("/m/etat").json
    assert second["offers"] == 2 and second["signature"] != first["signature"]


def test_an_offer_taken_by_another_says_so_without_identity(world: dict[str, Any], as_user: Any, make: Any, clock: Any) -> None:
    rid = world["opened"]["id"]
    clock.advance(hours=1)
    make.tick()
    other = as_user(world["other"])
    before = other.get(f"/m/requests/{rid}/etat").json
    assert before["open"] is True and before["message"] is None
    reads = db.session.scalar(select(AccessRecord.id).where(AccessRecord.request_id == rid).limit(1))
    assert reads is None  # polling records nothing
    make.accept(world["gp"], rid, minutes=30)
    after = other.get(f"/m/requests/{rid}/etat")
    assert (
        after.json["open"] is False and after.json["message"] == "Un confrère a accepté cette demande : elle n'est plus à prendre."
    )
    for secret in IDENTITY:
        assert secret not in after.get_data(as_text=True)
    stranger = make.member(world["community"], "physician")
    assert as_user(stranger).get(f"/m/requests/{rid}/etat", headers={"Accept": "application/json"}).status_code == 404


def test_a_refused_offer_leaves_the_list_with_a_confirmation(world: dict[str, Any], as_user: Any) -> None:
    gp = as_user(world["gp"])
    rid = world["opened"]["id"]
    response = gp.post(f"/m/requests/{rid}/refuser", {"reason": "En congé"})
    html = gp.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Refus enregistré : la demande n° {rid} (ORL) a quitté votre liste." in html
    assert 'class="offer-card leaving"' in html and f'href="/m/requests/{rid}"' not in html


# --- The fixes -----------------------------------------------------------------------------------------------------


def test_a_time_already_past_is_refused_never_moved_to_tomorrow(world: dict[str, Any], as_user: Any) -> None:
    gp = as_user(world["gp"])
    rid = world["opened"]["id"]
    response = gp.post(f"/m/requests/{rid}/accepter", {"date": "2026-11-23", "time": "05:45"})
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "appointment_at") == (
        "Ce rendez-vous (aujourd&#39;hui lundi 23/11 à 05:45) est déjà passé : il est 15:00. Indiquez une heure à venir."
    )
    assert db.session.get(Request, rid).state == "exclusive"
    assert gp.post(f"/m/requests/{rid}/accepter", {"date": "2026-11-24", "time": "09:00"}).status_code == 302
    request = db.session.get(Request, rid)
    assert request.appointment_at == datetime(2026, 11, 24, 8, 0, tzinfo=timezone.utc)
    assert "demain mardi 24/11 à 09:00" in gp.get(f"/m/requests/{rid}").get_data(as_text=True)


def test_the_outcome_opens_at_the_appointment_time(world: dict[str, Any], as_user: Any, clock: Any) -> None:
    gp = as_user(world["gp"])
    rid = world["opened"]["id"]
    gp.post(f"/m/requests/{rid}/accepter", {"time": "15:30"})
    html = gp.get(f"/m/requests/{rid}").get_data(as_text=True)
    assert "L'issue s'enregistre à partir du rendez-vous : aujourd&#39;hui lundi 23/11 à 15:30." in html
    assert 'id="outcome-fields" disabled' in html
    early = gp.post(f"/m/requests/{rid}/issue", {"outcome": "no_show"})
    assert early.status_code == 409 and db.session.get(Request, rid).state == "accepted"
    clock.advance(minutes=30)
    assert 'id="outcome-fields" disabled' not in gp.get(f"/m/requests/{rid}").get_data(as_text=True)
    assert gp.post(f"/m/requests/{rid}/issue", {"outcome": "no_show"}).status_code == 302
    assert db.session.get(Request, rid).state == "no_show"


def test_a_mis_tapped_no_show_is_corrected_from_the_offer_page(world: dict[str, Any], as_user: Any, clock: Any) -> None:
    gp = as_user(world["gp"])
    rid = world["opened"]["id"]
    gp.post(f"/m/requests/{rid}/accepter", {"time": "15:00"})
    assert gp.post(f"/m/requests/{rid}/issue", {"outcome": "no_show"}).status_code == 302
    html = gp.get(f"/m/requests/{rid}").get_data(as_text=True)
    assert 'id="correct-form"' in html and "Corriger&nbsp;: le patient est venu" in html
    assert "corriger l'issue jusqu'à demain mardi 24/11 à 15:00." in html
    done = gp.post(f"/m/requests/{rid}/issue", {"outcome": "seen", "synthesis": "Angine, pas d'antibiotique."})
    assert done.status_code == 302 and db.session.get(Request, rid).state == "seen"
    page = gp.get(done.headers["Location"]).get_data(as_text=True)
    assert "Issue corrigée." in page and "Corriger&nbsp;: le patient était absent" in page
    clock.advance(hours=24)
    assert 'id="correct-form"' not in gp.get(f"/m/requests/{rid}").get_data(as_text=True)


def test_an_action_that_met_an_expired_session_returns_to_the_offer(world: dict[str, Any], as_user: Any, clock: Any) -> None:
    gp = as_user(world["gp"])
    rid = world["opened"]["id"]
    gp.get(f"/m/requests/{rid}")
    clock.advance(hours=12, seconds=1)  # the session's token lived 12 h
    response = gp.post(f"/m/requests/{rid}/accepter", {"time": "15:30"})
    assert response.status_code == 302 and response.headers["Location"] == f"/connexion?next=/m/requests/{rid}?reprise%3D1"


def test_a_form_posted_without_any_session_sends_to_sign_in_and_back(world: dict[str, Any], page_client: Any) -> None:
    rid = world["opened"]["id"]
    response = page_client.post(f"/m/requests/{rid}/accepter", {"time": "15:30"}, csrf=False)
    assert response.status_code == 302
    next_url = response.headers["Location"]
    sign_in = page_client.get(next_url).get_data(as_text=True)
    assert "Votre session a expiré" in sign_in
    back = page_client.post(next_url, {"login": world["gp"].user.login, "password": PASSWORD})
    assert back.headers["Location"] == f"/m/requests/{rid}?reprise=1"
    page = page_client.get(back.headers["Location"]).get_data(as_text=True)
    assert "Ce que vous aviez saisi est remis dans le formulaire" in page
    assert page_client.post("/m/disponibilite", {"available": "0"}, csrf=False).status_code == 403  # signed in: CSRF holds


def test_pages_answer_french_html_errors(world: dict[str, Any], as_user: Any, page_client: Any, make: Any) -> None:
    missing = page_client.get("/m/nulle-part")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "Page introuvable" in missing.get_data(as_text=True) and 'href="/connexion"' in missing.get_data(as_text=True)
    wrong = as_user(world["gp"]).get(f"/m/requests/{world['opened']['id']}/accepter")
    assert wrong.status_code == 405 and "Adresse à ouvrir autrement" in wrong.get_data(as_text=True)
    forbidden = as_user(world["operator"]).get("/m/")
    assert forbidden.status_code == 403 and "Se connecter avec un autre compte" in forbidden.get_data(as_text=True)
    api = make.call("GET", "/nulle-part", world["operator"])
    assert api.status_code == 404 and api.mimetype == "application/problem+json"


def test_the_winner_calls_the_patient_in_national_format_and_gets_an_ics(world: dict[str, Any], as_user: Any) -> None:
    gp = as_user(world["gp"])
    rid = world["opened"]["id"]
    gp.post(f"/m/requests/{rid}/accepter", {"time": "15:30"})
    html = gp.get(f"/m/requests/{rid}").get_data(as_text=True)
    assert '<a class="btn call-btn big" id="call" href="tel:0612345678">Appeler le patient<small>06 12 34 56 78</small></a>' in html
    ics = gp.get(f"/m/requests/{rid}/rendez-vous.ics")
    assert ics.status_code == 200 and ics.headers["Content-Type"] == "text/calendar; charset=utf-8"
    body = ics.get_data(as_text=True)
    assert "DTSTART:20261123T143000Z\r\n" in body and "DTEND:20261123T145000Z\r\n" in body
    # The host of DISPATCH_PUBLIC_URL, not the request's
    assert f"UID:snp-dispatch-request-{rid}@127.0.0.1\r\n" in body and "LOCATION:12 rue Jaurès\r\n" in body
    for secret in IDENTITY:
        assert secret not in body
    assert as_user(world["other"]).get(f"/m/requests/{rid}/rendez-vous.ics").status_code == 403  # only the winner


def test_ics_text_is_escaped_and_folded() -> None:
    at = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)
    body = ics_event(uid="u", start=at, stamp=at, summary="a, b; c\\d\ne", location="é" * 80, description="", url="x").decode()
    assert "SUMMARY:a\\, b\\; c\\\\d\\ne\r\n" in body
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))


def test_mes_patients_shows_outcome_synthesis_delivery_and_the_pdf(
    world: dict[str, Any], as_user: Any, make: Any, clock: Any
) -> None:
    community, operator = world["community"], world["operator"]
    outside = {"status": "declared", "name": "Dr Jean Morel", "mssante": "jean.morel@medecin.mssante.fr"}
    seen = make.open(operator, community, treating_physician=outside)
    other = as_user(world["other"])
    make.accept(world["other"], seen["id"], minutes=0)
    response = make.call("POST", f"/requests/{seen['id']}/outcome", world["other"], json={"outcome": "seen", "synthesis": "Otite."})
    assert response.status_code == 200
    make.deliver()
    html = other.get("/m/patients").get_data(as_text=True)
    assert "Lucie Martin" in html and "Otite." in html and "Envoyée au médecin traitant (MSSanté)" in html
    assert f'href="/m/requests/{seen["id"]}/compte-rendu.pdf"' in html
    whats = db.session.scalars(select(AccessRecord.what).where(AccessRecord.request_id == seen["id"])).all()
    assert "patients" in whats
    pdf = other.http.get(f"/m/requests/{seen['id']}/compte-rendu.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert as_user(world["gp"]).http.get(f"/m/requests/{seen['id']}/compte-rendu.pdf").status_code == 404
    assert "Lucie" not in as_user(world["gp"]).get("/m/patients").get_data(as_text=True)


@pytest.mark.parametrize(
    ("treating", "hint", "said"),
    [
        ("gp", "Envoyée par messagerie sécurisée (MSSanté) au médecin traitant.", "La synthèse part au médecin traitant."),
        (None, "Le patient n&#39;a pas déclaré de médecin traitant", "Le patient n&#39;a pas déclaré de médecin traitant"),
        ("unreachable", "Pas d&#39;adresse MSSanté connue pour le médecin traitant", "Pas d&#39;adresse MSSanté connue"),
    ],
)
def test_the_page_tells_the_truth_about_the_synthesis(
    world: dict[str, Any], as_user: Any, make: Any, clock: Any, treating: str | None, hint: str, said: str
) -> None:
    """Never "la synthèse part au médecin traitant" when there is no treating GP or no address to send it to."""
    community = world["community"]
    gp_with_box = make.member(community, "physician", name="Dr Anne Boîte", mssante="dr.boite@medecin.mssante.fr")
    gp_without = make.member(community, "physician", name="Dr Sans Boîte", mssante=None)
    named = {"gp": gp_with_box, "unreachable": gp_without, None: None}[treating]
    opened = make.open(world["operator"], community, treating=named)
    if named is not None:
        make.call("POST", f"/requests/{opened['id']}/refuse", named, json={})
    other = as_user(world["other"])
    assert other.post(f"/m/requests/{opened['id']}/accepter", {"time": "15:00"}).status_code == 302
    assert hint in other.get(f"/m/requests/{opened['id']}").get_data(as_text=True)
    done = other.post(
        f"/m/requests/{opened['id']}/issue", {"outcome": "seen", "synthesis": "Angine virale.", "patient_birth_date": "1980-01-02"}
    )
    assert done.status_code == 302
    page = other.get(done.headers["Location"]).get_data(as_text=True)
    assert said in page
    if treating != "gp":
        assert "La synthèse part au médecin traitant" not in page
    patients = other.get("/m/patients").get_data(as_text=True)
    assert ("Gardée ici" in patients) is (treating is None)
