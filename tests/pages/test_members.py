"""The members pages (issue 17, point 3): edit, deactivate after a confirmation page, reactivate, invitations shown
in the list, and a roster import that reads French Excel's files and never posts twice."""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from dispatch.auth.models import User
from dispatch.communities import roster
from dispatch.communities.models import Physician
from dispatch.db import db
from tests.conftest import luhn_rpps
from tests.pages.test_console import field_error

NNBSP = "\u202f"


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    community = make.community("CPTS Champigny")
    return {
        "community": community,
        "operator": make.member(community, "operator", name="Olga Opératrice"),
        "gp": make.member(community, "physician", name="Dr Paul Durand"),
        "coordinator": make.member(community, "coordinator"),
    }


def text(response: Any) -> str:
    """Return a page's HTML with its entities decoded and non-breaking spaces as plain ones."""
    return html.unescape(str(response.get_data(as_text=True))).replace(NNBSP, " ").replace("\u00a0", " ")


def users() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0


def test_edit_a_physician_with_errors_next_to_fields(world: dict[str, Any], as_user: Any, make: Any) -> None:
    coordinator = as_user(world["coordinator"])
    gp = world["gp"]
    response = coordinator.get(f"/pilotage/membres/{gp.user.id}/modifier")
    page = text(response)
    assert response.status_code == 200 and "Modifier la fiche de Dr Paul Durand" in page and gp.rpps in page
    assert 'name="rpps"' not in page  # shown, not editable
    form = {"name": "Dr Paul Durand-Martin", "phone": "12", "email": "", "kind": "cami", "mssante": "paul@gmail.com", "address": ""}
    bad = coordinator.post(f"/pilotage/membres/{gp.user.id}/modifier", form)
    assert bad.status_code == 422
    assert field_error(bad.get_data(as_text=True), "phone") == "Numéro de téléphone invalide."
    assert "messagerie sécurisée de santé (domaine mssante.fr)" in field_error(bad.get_data(as_text=True), "mssante")
    form.update(phone="06 99 88 77 66", mssante="paul.durand@medecin.mssante.fr")
    # The account is in use: its contacts are its holder's and the admin's to change (issue 23).
    refused = coordinator.post(f"/pilotage/membres/{gp.user.id}/modifier", form)
    assert refused.status_code == 403 and "utilisé par son titulaire" in text(refused)
    db.session.expire_all()
    assert db.session.get(Physician, gp.id).user.name == "Dr Paul Durand"  # nothing of the form was kept
    admin = as_user(make.admin())
    edit = f"/pilotage/membres/{gp.user.id}/modifier?community={world['community'].id}"
    assert "Historique du compte" in text(admin.get(edit))
    done = admin.post(edit, form)
    assert done.status_code == 302
    db.session.expire_all()
    physician = db.session.get(Physician, gp.id)
    assert physician.user.name == "Dr Paul Durand-Martin" and physician.user.phone == "+33699887766"
    assert physician.kind == "cami" and physician.mssante == "paul.durand@medecin.mssante.fr" and physician.address is None
    assert "Fiche de Dr Paul Durand-Martin enregistrée." in text(admin.get(done.headers["Location"]))


def test_edit_an_operator_shows_no_physician_fields_and_outsiders_are_not_found(
    world: dict[str, Any], as_user: Any, make: Any
) -> None:
    coordinator = as_user(world["coordinator"])
    page = text(coordinator.get(f"/pilotage/membres/{world['operator'].id}/modifier"))
    assert 'name="kind"' not in page and 'name="mssante"' not in page
    outsider = make.member(make.community(), "operator")
    assert coordinator.get(f"/pilotage/membres/{outsider.id}/modifier").status_code == 404
    assert coordinator.post(f"/pilotage/membres/{outsider.id}/modifier", {"name": "X"}).status_code == 404
    assert as_user(world["operator"]).get(f"/pilotage/membres/{world['gp'].user.id}/modifier").status_code == 403


def test_deactivation_asks_for_a_confirmation_naming_the_member(world: dict[str, Any], as_user: Any) -> None:
    coordinator = as_user(world["coordinator"])
    gp = world["gp"]
    listing = coordinator.get("/pilotage/membres").get_data(as_text=True)
    # The list links to a confirmation page: no one-click form posts a deactivation.
    assert f'href="/pilotage/membres/{gp.user.id}/desactiver?community=' in listing
    assert f'action="/pilotage/membres/{gp.user.id}/desactiver' not in listing
    page = coordinator.get(f"/pilotage/membres/{gp.user.id}/desactiver")
    assert page.status_code == 200 and "Désactiver le compte de Dr Paul Durand ?" in text(page)
    assert db.session.get(User, gp.user.id).active
    unconfirmed = coordinator.post(f"/pilotage/membres/{gp.user.id}/desactiver")  # without the confirmation field
    assert unconfirmed.status_code == 200 and db.session.get(User, gp.user.id).active
    done = coordinator.post(f"/pilotage/membres/{gp.user.id}/desactiver", {"confirm": "oui"})
    assert done.status_code == 302
    db.session.expire_all()
    assert not db.session.get(User, gp.user.id).active
    listing = text(coordinator.get(done.headers["Location"]))
    assert "Le compte de Dr Paul Durand est désactivé. Son historique est conservé." in listing
    assert f"/pilotage/membres/{gp.user.id}/reactiver" in listing and "Désactivé" in listing
    back = coordinator.post(f"/pilotage/membres/{gp.user.id}/reactiver")
    assert back.status_code == 302 and "Le compte de Dr Paul Durand est réactivé." in text(
        coordinator.get(back.headers["Location"])
    )
    db.session.expire_all()
    assert db.session.get(User, gp.user.id).active


def test_the_confirmation_warns_of_patients_still_to_see(world: dict[str, Any], as_user: Any, make: Any) -> None:
    opened = make.open(world["operator"], world["community"])
    assert make.accept(world["gp"], opened["id"], minutes=45).status_code == 200
    page = text(as_user(world["coordinator"]).get(f"/pilotage/membres/{world['gp'].user.id}/desactiver"))
    assert "a accepté 1 demande pas encore vue" in page and "ce patient reste à sa charge" in page


def test_add_with_an_invitation_and_the_list_says_where_it_stands(
    world: dict[str, Any], as_user: Any, make: Any, ports: Any
) -> None:
    coordinator = as_user(world["coordinator"])
    coordinator.get("/pilotage/membres")
    form = {"role": "operator", "name": "Inès Invitée", "login": "iinvitee", "access": "sms"}
    missing = coordinator.post("/pilotage/membres", form)
    assert missing.status_code == 422
    assert field_error(missing.get_data(as_text=True), "phone") == "Un numéro de portable est nécessaire pour inviter par SMS."
    form["phone"] = "06 55 44 33 22"
    added = coordinator.post("/pilotage/membres", form)
    assert added.status_code == 302
    page = text(coordinator.get(added.headers["Location"]))
    assert "Inès Invitée ajouté·e à la communauté : une invitation" in page
    assert "Invitation en cours d'envoi par SMS" in page and "En attente" in page
    make.deliver()
    page = text(coordinator.get("/pilotage/membres"))
    assert "Invitation envoyée par SMS le 23/11/2026 à 15:00" in page  # T0 is 14:00 UTC
    user = db.session.scalar(select(User).where(User.login == "iinvitee"))
    too_soon = coordinator.post(f"/pilotage/membres/{user.id}/inviter")  # one link per member every 5 minutes
    assert "Un lien vient d'être envoyé à ce membre" in text(coordinator.get(too_soon.headers["Location"]))
    make.clock.advance(minutes=5)
    resend = coordinator.post(f"/pilotage/membres/{user.id}/inviter")
    assert resend.status_code == 302 and len(ports["sms"].sent) == 1
    make.deliver()
    assert len(ports["sms"].sent) == 2 and "iinvitee" in ports["sms"].sent[-1].body
    # A member who chose their password gets a reset, not an invitation; from the admin only (issue 23).
    assert f"/pilotage/membres/{world['gp'].user.id}/inviter" not in page
    assert f"/pilotage/membres/{world['gp'].user.id}/reinitialiser" not in page


def test_the_set_password_page_of_a_dead_link(page_client: Any) -> None:
    response = page_client.get("/definir-mot-de-passe/pas-un-vrai-lien")
    assert response.status_code == 404 and "Ce lien n'est plus valable" in text(response)


# --- Roster import ------------------------------------------------------------------------------------------------

CP1252_ROSTER = (
    "Rôle;Identifiant;Nom;Email;Téléphone;RPPS;Statut;MSSanté;Adresse\r\n"
    f"Médecin;hlefevre;Dr Hélène Lefèvre;;06 12 00 00 01;{luhn_rpps(801)};Remplaçante;helene.lefevre@medecin.mssante.fr;"
    "12 rue de l'Église, Champigny\r\n"
    "Opératrice;fgarcon;Françoise Garçon;francoise@cpts.example.fr;;;;;\r\n"
)


def post_roster(client: Any, raw: bytes, name: str = "membres.csv") -> Any:
    client.get("/pilotage/membres")
    return client.post("/pilotage/membres/import", {"roster": (io.BytesIO(raw), name)}, content_type="multipart/form-data")


def test_a_french_excel_roster_in_windows_1252_with_semicolons_is_imported_once(
    world: dict[str, Any], as_user: Any, make: Any, ports: Any
) -> None:
    coordinator = as_user(world["coordinator"])
    before = users()
    posted = post_roster(coordinator, CP1252_ROSTER.encode("cp1252"))
    assert posted.status_code == 303 and "/pilotage/membres/import/" in posted.headers["Location"]
    result = coordinator.get(posted.headers["Location"])
    page = text(result)
    assert result.status_code == 200 and "2 membres importés." in page
    assert "Dr Hélène Lefèvre" in page and "Françoise Garçon" in page and "<code>" not in page
    assert users() == before + 2
    # Reloading the result posts nothing: the same page, no one added twice.
    assert text(coordinator.get(posted.headers["Location"])) == page and users() == before + 2
    helene = db.session.scalar(select(User).where(User.login == "hlefevre"))
    physician = db.session.scalar(select(Physician).where(Physician.user_id == helene.id))
    assert (
        physician.kind == "remplacant" and physician.address == "12 rue de l'Église, Champigny" and helene.password_set_at is None
    )
    make.deliver()
    assert [m.to for m in ports["sms"].sent] == ["+33612000001"]
    assert [m["To"] for m in ports["mail"].sent] == ["francoise@cpts.example.fr"]
    # Only its author sees an import's result.
    assert as_user(make.member(world["community"], "coordinator")).get(posted.headers["Location"]).status_code == 404


@pytest.mark.parametrize(("encoding", "separator"), [("utf-8-sig", ";"), ("utf-8", ","), ("cp1252", ","), ("utf-16", "\t")])
def test_encodings_and_separators_are_recognised(encoding: str, separator: str) -> None:
    raw = CP1252_ROSTER.replace(";", separator).encode(encoding)
    if separator == ",":  # a field holding the separator is quoted, as spreadsheets do
        raw = (
            CP1252_ROSTER.replace("12 rue de l'Église, Champigny", '"12 rue de l\'Église, Champigny"')
            .replace(";", ",")
            .encode(encoding)
        )
    rows, problems = roster.parse(raw)
    assert problems == []
    assert [line for line, _ in rows] == [2, 3]
    assert rows[0][1]["name"] == "Dr Hélène Lefèvre" and rows[0][1]["role"] == "physician" and rows[0][1]["kind"] == "remplacant"
    assert rows[0][1]["address"] == "12 rue de l'Église, Champigny" and rows[1][1]["role"] == "operator"


def test_faulty_lines_are_reported_in_french_and_nothing_is_added(world: dict[str, Any], as_user: Any) -> None:
    coordinator = as_user(world["coordinator"])
    before = users()
    raw = (
        "rôle;identifiant;nom;email;téléphone;rpps;statut;mssanté;adresse\n"
        f"médecin;ok1;Dr Bon;;06 12 00 00 02;{luhn_rpps(802)};titulaire;;\n"
        "médecin;sanscontact;Dr Sans Contact;;;" + luhn_rpps(803) + ";titulaire;;\n"
        "médecin;mauvais;Dr Mauvais;;06 12;12345678901;chef;dr@gmail.com;\n"
        f"opérateur;{world['operator'].login};Doublon;;06 12 00 00 03;;;;\n"
    ).encode("cp1252")
    page = text(coordinator.get(post_roster(coordinator, raw).headers["Location"]))
    assert "Import refusé : rien n'a été ajouté." in page
    errors = re.findall(r"<li>(Ligne [^<]+)</li>", page)
    assert "Ligne 3 — ni téléphone ni email : impossible d'envoyer l'invitation à choisir un mot de passe." in errors
    assert "Ligne 4 — téléphone : Numéro de téléphone invalide." in errors
    assert "Ligne 4 — RPPS : Numéro RPPS invalide (11 chiffres, clé de Luhn)." in errors
    assert "Ligne 4 — statut : Statut inconnu : titulaire, remplaçant, adjoint, assistant, interne ou CAMI attendu." in errors
    assert "Ligne 4 — MSSanté : L'adresse doit être une adresse de messagerie sécurisée de santé (domaine mssante.fr)." in errors
    assert not any(e.startswith("Ligne 2") for e in errors)
    assert users() == before


def test_a_password_column_is_refused_and_unreadable_files_are_explained() -> None:
    _rows, problems = roster.parse("role;identifiant;nom;mot_de_passe\nmédecin;x;X;secret123456\n".encode())
    assert problems == [roster.NO_PASSWORDS]
    _rows, problems = roster.parse(b"\x81\x8d\x8f\x90\x9d")  # bytes neither UTF-8 nor Windows-1252 define
    assert problems == [roster.UNREADABLE]
    _rows, problems = roster.parse(b"")
    assert problems == ["Le fichier est vide."]


def test_the_template_is_what_french_excel_opens(world: dict[str, Any], as_user: Any) -> None:
    response = as_user(world["coordinator"]).get("/pilotage/membres/modele.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="modele-membres.csv"' in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = next(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert header == ["rôle", "identifiant", "nom", "email", "téléphone", "rpps", "statut", "mssanté", "adresse", "profession"]
    # Filled in and read back, the template imports.
    filled = raw + f"médecin;tpl;Dr Modèle;;06 12 00 00 09;{luhn_rpps(809)};interne;;\r\n".encode()
    rows, problems = roster.parse(filled)
    assert problems == [] and rows[0][1]["kind"] == "interne"
    assert as_user(world["operator"]).get("/pilotage/membres/modele.csv").status_code == 403


def test_thousands_of_faulty_lines_are_reported_in_a_bounded_page(world: dict[str, Any], as_user: Any) -> None:
    coordinator = as_user(world["coordinator"])
    raw = ("rôle;identifiant;nom\n" + "opérateur;;Sans Identifiant\n" * roster.MAX_ROWS).encode()
    result = coordinator.get(post_roster(coordinator, raw).headers["Location"])
    page = text(result)
    lines = re.findall(r"<li>(Ligne [^<]+)</li>", page)
    assert result.status_code == 200 and len(lines) == 200 and lines[0].startswith("Ligne 2 — ")
    assert "… et 800 autres erreurs : corrigez d'abord celles-ci." in page
    assert len(result.data) < 100_000


def test_a_file_over_the_limit_is_explained_in_french(world: dict[str, Any], as_user: Any) -> None:
    coordinator = as_user(world["coordinator"])
    coordinator.get("/pilotage/membres")
    # The multipart body built here in memory: the test client would spool a 5.6 MB file to disk and not close it.
    boundary = "----limite"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{coordinator.csrf}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="roster"; filename="membres.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + b"role;identifiant;nom\n"
        + b"operateur;x;y\n" * 400_000
        + f"\r\n--{boundary}--\r\n".encode()
    )  # 5.6 MB
    response = coordinator.http.post(
        "/pilotage/membres/import", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 413 and response.mimetype == "text/html"
    assert "Envoi trop volumineux" in text(response) and "dépasse 1 Mio" in text(response)


def test_a_coordinator_sets_the_practice_phone_that_the_patient_will_get(world: dict[str, Any], as_user: Any) -> None:
    """Issue 22, item 14: not a contact of the account (no link goes there), so the coordinator may set it."""
    coordinator = as_user(world["coordinator"])
    gp = world["gp"]
    edit = f"/pilotage/membres/{gp.user.id}/modifier"
    assert "Téléphone du cabinet (donné au patient)" in text(coordinator.get(edit))
    form = {"name": gp.user.name, "phone": gp.user.phone, "email": "", "kind": gp.kind, "mssante": gp.mssante or "",
            "address": gp.address or "", "practice_phone": "abc"}  # fmt: skip
    bad = coordinator.post(edit, form)
    assert bad.status_code == 422 and field_error(bad.get_data(as_text=True), "practice_phone") == "Numéro de téléphone invalide."
    form["practice_phone"] = "01 45 67 89 10"
    assert coordinator.post(edit, form).status_code == 302
    db.session.expire_all()
    assert db.session.get(Physician, gp.id).practice_phone == "+33145678910"
