"""The staff pages: the dashboard's figures and charts, CSV downloads, members, roster import, communities."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from dispatch.auth.models import User
from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.reports.delays import bucket_counts
from tests.conftest import luhn_rpps
from tests.pages.test_console import field_error


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    community = make.community("CPTS Champigny")
    return {
        "community": community,
        "operator": make.member(community, "operator"),
        "gp": make.member(community, "physician", name="Dr Paul Durand"),
        "cami": make.member(community, "physician", name="Dr Awa Diallo", kind="cami"),
        "coordinator": make.member(community, "coordinator"),
    }


def test_dashboard_shows_the_report_and_its_charts(world: dict[str, Any], as_user: Any, make: Any, clock: Any) -> None:
    first = make.open(world["operator"], world["community"])
    make.open(world["operator"], world["community"])
    clock.advance(minutes=20)
    assert make.accept(world["cami"], first["id"]).status_code == 200
    html = as_user(world["coordinator"]).get("/pilotage?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert 'id="kpi-opened">2<' in html and 'id="kpi-accepted">1<' in html and "acceptées · 50,0\u202f%" in html
    charts = html.count('<svg class="chart"') + html.count('<svg class="chart months"')
    assert charts == 9  # by month, kind, delay, motive, source, treating GP, outcome, calls, call-backs
    assert "Dr Awa Diallo" in html and "20\u00a0min" in html  # the physician's row, the median delay
    assert "15–30\u00a0min" in html and ">nov.</text>" in html and ">2026</text>" in html


def test_a_wrong_period_is_explained(world: dict[str, Any], as_user: Any) -> None:
    coordinator = as_user(world["coordinator"])
    response = coordinator.get("/pilotage?from=2026-12-01&to=2026-11-01")
    assert response.status_code == 422 and "La fin de la période doit suivre son début." in response.get_data(as_text=True)
    assert "Date invalide (AAAA-MM-JJ)." in coordinator.get("/pilotage?from=demain").get_data(as_text=True)


def test_csv_and_xlsx_downloads_use_the_session(world: dict[str, Any], as_user: Any, make: Any) -> None:
    make.open(world["operator"], world["community"])
    coordinator = as_user(world["coordinator"])
    dashboard = coordinator.get("/pilotage?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    for link in ("rapport.xlsx?", "table=summary", "table=by_physician", "table=by_month", "demandes.csv?", "demandes.xlsx?"):
        assert link in dashboard
    report = coordinator.get("/pilotage/rapport.csv?from=2026-11-01&to=2026-11-30")
    assert report.mimetype == "text/csv" and "attachment" in report.headers["Content-Disposition"]
    assert "\r\nDemandes ouvertes;1\r\n" in report.get_data().decode("utf-8-sig")
    months = coordinator.get("/pilotage/rapport.csv?from=2026-11-01&to=2026-11-30&table=by_month").get_data().decode("utf-8-sig")
    assert months.startswith("Mois;Demandes ouvertes") and "11/2026;1;0;0" in months
    assert coordinator.get("/pilotage/rapport.csv?table=tout").status_code == 422
    rows = coordinator.get("/pilotage/demandes.csv?from=2026-11-01&to=2026-11-30").get_data()
    assert rows.startswith("\ufeffN° de demande;".encode()) and len(rows.strip().splitlines()) == 2 and b"Martin" not in rows
    for path in ("rapport.xlsx", "demandes.xlsx"):
        book = load_workbook(io.BytesIO(coordinator.http.get(f"/pilotage/{path}?from=2026-11-01&to=2026-11-30").get_data()))
        assert book.worksheets[0].freeze_panes == "A2"
    assert as_user(world["operator"]).get("/pilotage/rapport.csv").status_code == 403
    assert as_user(world["operator"]).http.get("/pilotage/demandes.xlsx").status_code == 403


def test_bucket_counts() -> None:
    counts = dict(bucket_counts([0, 299.9, 300, 3599, 3600, 7200, 90000]))
    counts = {label.replace("\u00a0", " "): n for label, n in counts.items()}  # no-break spaces in the labels
    assert counts == {"< 5 min": 2, "5–15 min": 1, "15–30 min": 0, "30 min–1 h": 1, "1–2 h": 1, "> 2 h": 2}


def test_adding_a_member_with_errors_next_to_fields(world: dict[str, Any], as_user: Any) -> None:
    coordinator = as_user(world["coordinator"])
    coordinator.get("/pilotage/membres")
    form = {
        "role": "physician",
        "name": "Dr Léa Petit",
        "login": "lpetit",
        "access": "password",
        "password": "court",
        "rpps": "12345678901",
    }
    response = coordinator.post("/pilotage/membres", form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "password") == "Le mot de passe doit compter entre 10 et 256 caractères."
    form["password"] = "un mot de passe long"
    html = coordinator.post("/pilotage/membres", form).get_data(as_text=True)
    assert field_error(html, "rpps") == "Numéro RPPS invalide (11 chiffres, clé de Luhn)."
    assert field_error(html, "kind") == "Le statut du médecin est obligatoire."
    form.update(rpps=luhn_rpps(987), kind="remplacant")
    assert coordinator.post("/pilotage/membres", form).status_code == 302
    assert "Dr Léa Petit" in coordinator.get("/pilotage/membres").get_data(as_text=True)
    response = coordinator.post("/pilotage/membres", {**form, "rpps": luhn_rpps(988)})
    assert response.status_code == 409
    assert field_error(response.get_data(as_text=True), "login") == "Cet identifiant est déjà utilisé."


def test_deactivated_physician_gets_no_offers(world: dict[str, Any], as_user: Any, make: Any) -> None:
    as_user(world["coordinator"]).post(f"/pilotage/membres/{world['cami'].user.id}/desactiver", {"confirm": "oui"})
    opened = make.open(world["operator"], world["community"])
    offered = make.call("GET", "/me/offers", world["gp"]).json
    assert [o["id"] for o in offered] == [opened["id"]]
    from dispatch.requests.models import Offer

    assert db.session.scalar(select(func.count()).select_from(Offer).where(Offer.physician_id == world["cami"].id)) == 0


def test_a_coordinator_cannot_deactivate_outsiders_or_themself(world: dict[str, Any], as_user: Any, make: Any) -> None:
    outsider = make.member(make.community(), "operator")
    coordinator = as_user(world["coordinator"])
    coordinator.get("/pilotage/membres")
    page = coordinator.post(f"/pilotage/membres/{outsider.id}/desactiver", {"confirm": "oui"})
    assert page.status_code == 404 and "n&#39;est pas membre de la communauté" in page.get_data(as_text=True)
    coordinator.post(f"/pilotage/membres/{world['coordinator'].id}/desactiver", {"confirm": "oui"})
    assert db.session.get(User, outsider.id).active and db.session.get(User, world["coordinator"].id).active


def roster(client: Any, text: str) -> Any:
    """Post a roster and follow the redirect to its result page (POST/redirect/GET)."""
    import io

    client.get("/pilotage/membres")
    posted = client.post(
        "/pilotage/membres/import", {"roster": (io.BytesIO(text.encode()), "membres.csv")}, content_type="multipart/form-data"
    )
    assert posted.status_code == 303, posted.status_code
    return client.get(posted.headers["Location"])


def test_roster_import_reports_each_faulty_line_and_adds_nothing(world: dict[str, Any], as_user: Any) -> None:
    before = db.session.scalar(select(func.count()).select_from(User))
    text = (
        "role;identifiant;nom;email;telephone;rpps;statut;mssante;adresse\n"
        f"médecin;mdupont;Dr Marc Dupont;;06 11 22 33 44;{luhn_rpps(501)};titulaire;;\n"
        "médecin;jmartin;Dr Jeanne Martin;;06 11 22 33 45;12345678901;remplaçant;;\n"
        f"opérateur;{world['operator'].login};Autre opératrice;;06 11 22 33 46;;;;\n"
        "plombier;x;X;pas-un-email;;;;;\n"
    )
    response = roster(as_user(world["coordinator"]), text)
    html = response.get_data(as_text=True).replace("\u202f", " ")
    assert "Import refusé" in html
    assert "Ligne 3 — RPPS : Numéro RPPS invalide (11 chiffres, clé de Luhn)." in html
    assert "Ligne 5 — rôle : Rôle inconnu : médecin, opérateur ou coordinateur attendu." in html
    assert "Ligne 5 — email : Adresse électronique invalide." in html
    assert "Ligne 2" not in html
    assert db.session.scalar(select(func.count()).select_from(User)) == before
    # With the format errors fixed, the clash with an existing login is reported on its line.
    fixed = "\n".join(text.splitlines()[:2] + [text.splitlines()[3]])
    assert "Ligne 3 — Cet identifiant est déjà utilisé." in roster(as_user(world["coordinator"]), fixed).get_data(as_text=True)


def test_roster_import_adds_and_invites_everyone_without_showing_passwords(world: dict[str, Any], as_user: Any) -> None:
    text = (
        "role,identifiant,nom,telephone,email,rpps,statut\n"
        f"médecin,mdupont,Dr Marc Dupont,06 11 22 33 44,,{luhn_rpps(601)},remplaçant\n"
        "coordinateur,cbrun,Claire Brun,,claire.brun@cpts.example.fr,,\n"
    )
    response = roster(as_user(world["coordinator"]), text)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "2 membres importés." in html
    assert "<code>" not in html and "Dr Marc Dupont" in html and "mot de passe" in html
    dupont = db.session.scalar(select(User).where(User.login == "mdupont"))
    assert dupont.role == "physician" and dupont.memberships[0].community_id == world["community"].id


def test_roster_without_the_required_columns(world: dict[str, Any], as_user: Any) -> None:
    html = roster(as_user(world["coordinator"]), "nom;email\nX;x@y.fr\n").get_data(as_text=True).replace("\u202f", " ")
    assert "Colonnes manquantes : rôle, identifiant" in html


def test_admin_lists_and_creates_communities(world: dict[str, Any], as_user: Any, make: Any) -> None:
    admin = as_user(make.admin())
    assert "CPTS Champigny" in admin.get("/admin/communautes").get_data(as_text=True)
    response = admin.post(
        "/admin/communautes",
        {"name": "CPTS Essonne", "timezone": "Europe/Paris", "exclusive_window_s": "120", "response_window_s": "60"},
    )
    assert response.status_code == 422
    assert "plus courte que la fenêtre de réponse" in field_error(response.get_data(as_text=True), "exclusive_window_s")
    response = admin.post(
        "/admin/communautes",
        {"name": "CPTS Essonne", "timezone": "Europe/Paris", "exclusive_window_s": "30", "response_window_s": "240"},
    )
    assert response.status_code == 302
    created = db.session.scalar(select(Community).where(Community.name == "CPTS Essonne"))
    assert (created.exclusive_window_s, created.response_window_s) == (1800, 14400)


def test_admin_creates_a_community_in_an_overseas_region(world: dict[str, Any], as_user: Any, make: Any) -> None:
    admin = as_user(make.admin())
    html = admin.get("/admin/communautes").get_data(as_text=True)
    for name in (
        "France métropolitaine",
        "La Réunion",
        "Guadeloupe",
        "Martinique",
        "Guyane",
        "Mayotte",
        "Saint-Pierre-et-Miquelon",
    ):
        assert f">{name}</option>" in html
    assert '<option value="FR" selected>' in html  # the default
    form = {"name": "CPTS Nord Réunion", "timezone": "Indian/Reunion", "exclusive_window_s": "60", "response_window_s": "120"}
    response = admin.post("/admin/communautes", {**form, "region": "XX"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Région inconnue" in field_error(html, "region") and '<option value="XX"' not in html
    response = admin.post("/admin/communautes", {**form, "region": "RE"})
    assert response.status_code == 302
    created = db.session.scalar(select(Community).where(Community.name == "CPTS Nord Réunion"))
    assert created.region == "RE" and created.timezone == "Indian/Reunion"
    rows = admin.get("/admin/communautes").get_data(as_text=True).split("<tr>")
    assert any("CPTS Nord Réunion" in row and '<td data-label="Région">La Réunion</td>' in row for row in rows)
    assert any("CPTS Champigny" in row and '<td data-label="Région">France métropolitaine</td>' in row for row in rows)
