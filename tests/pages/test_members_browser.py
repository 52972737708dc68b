"""The members flows in a real headless Chromium (issue 17, points 3 and 4): invite → the link from the dev inbox →
choose a password → sign in; edit; deactivate after a confirmation page; reactivate; import a Windows-1252 roster
with ';' (reloading posts nothing); and the members page on a 390 px phone: no sideways scroll, buttons reachable."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dispatch import create_app
from dispatch.auth.models import User
from dispatch.db import db
from dispatch.notify.inbox import InboxSms
from dispatch.runtime import Ports
from tests.conftest import TEST_SETTINGS, luhn_rpps, serving
from tests.pages.test_browser import browser, no_horizontal_scroll, server, sign_in, snap, wait_for  # noqa: F401

pytestmark = pytest.mark.browser

NEW = "un mot de passe bien à moi"
ROSTER = (
    "Rôle;Identifiant;Nom;Email;Téléphone;RPPS;Statut;MSSanté;Adresse\r\n"
    f"Médecin;hlefevre;Dr Hélène Lefèvre;;06 12 00 00 01;{luhn_rpps(901)};Remplaçante;;12 rue de l'Église\r\n"
    "Opératrice;fgarcon;Françoise Garçon;francoise@cpts.example.fr;;;;;\r\n"
)


@pytest.fixture
def app(database_url: str, clock: Any, ports: Any) -> Iterator[Any]:
    """The test application with the dev inbox, as `make run` serves it."""
    settings = {**TEST_SETTINGS, "DISPATCH_DEV_INBOX": "1", "DISPATCH_DATABASE_URL": database_url}
    application = create_app(settings, clock=clock, ports=Ports(**ports))
    with serving(application):
        yield application


def users() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(User)) or 0


def row(driver: Any, name: str) -> Any:
    from selenium.webdriver.common.by import By

    for tr in driver.find_elements(By.CSS_SELECTOR, "#members tr.member"):
        if name in tr.find_element(By.CSS_SELECTOR, "td").text:
            return tr
    raise AssertionError(f"{name} is not in the list")


def test_members_flows_in_chromium(
    app: Any,
    make: Any,
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    clock: Any,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    app.config["DISPATCH_PUBLIC_URL"] = server  # the links sent point at this test server
    community = make.community("CPTS Champigny")
    coordinator = make.member(community, "coordinator", name="Claire Coordinatrice")
    make.member(community, "operator", name="Olga Opératrice")
    for n in range(3):
        make.member(
            community, "physician", name=f"Dr Médecin Avec Un Nom Assez Long {n}", email=f"medecin{n}@cabinet-medical-exemple.fr"
        )
    gp = make.member(community, "physician", name="Dr Paul Durand")

    desk = browser("desk", 1280, 900)
    sign_in(desk, server, coordinator.login, "/pilotage/membres")
    assert "/pilotage/membres" in desk.current_url

    # Invite a physician by SMS.
    Select(desk.find_element(By.ID, "f-role")).select_by_value("physician")
    for field, value in {
        "name": "Dr Inès Nouvelle",
        "login": "inouvelle",
        "phone": "06 12 34 56 01",
        "rpps": luhn_rpps(902),
    }.items():
        desk.find_element(By.ID, f"f-{field}").send_keys(value)
    Select(desk.find_element(By.ID, "f-kind")).select_by_value("remplacant")
    assert desk.find_element(By.CSS_SELECTOR, "input[name=access][value=sms]").is_selected()
    desk.find_element(By.CSS_SELECTOR, "#ajouter button[type=submit]").click()
    wait_for(desk, lambda d: "une invitation" in d.find_element(By.CSS_SELECTOR, ".flash.ok").text)
    assert "Invitation en cours d'envoi par SMS" in row(desk, "Dr Inès Nouvelle").text
    make.deliver(sms=InboxSms(clock.now))
    desk.refresh()
    assert re.search(r"Invitation envoyée par SMS le 23/11/2026 à 15:00", row(desk, "Dr Inès Nouvelle").text)
    snap(desk, tmp_path / "members-desktop.png")

    # The link, as the dev inbox shows the SMS; opened on a phone.
    desk.get(server + "/dev/inbox")
    sms = next(p.text for p in desk.find_elements(By.CSS_SELECTOR, ".msg.sms pre") if "inouvelle" in p.text)
    link = re.search(r"https?://\S+/definir-mot-de-passe/\S+", sms)
    assert link, sms
    phone = browser("phone", 390, 844)
    phone.get(link.group(0))
    assert phone.find_element(By.ID, "invited-login").text == "inouvelle"
    assert no_horizontal_scroll(phone, 390)
    snap(phone, tmp_path / "set-password-390.png")
    phone.find_element(By.ID, "new_password").send_keys(NEW)
    phone.find_element(By.ID, "new_password_again").send_keys(NEW)
    phone.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(phone, lambda d: "/connexion" in d.current_url)
    assert "inouvelle" in phone.find_element(By.CSS_SELECTOR, ".flash.ok").text
    phone.find_element(By.ID, "login").send_keys("inouvelle")
    phone.find_element(By.ID, "password").send_keys(NEW)
    phone.find_element(By.CSS_SELECTOR, "button[type=submit].primary").click()
    wait_for(phone, lambda d: d.current_url.endswith("/m/"))
    phone.get(link.group(0))  # the link worked once
    assert "plus valable" in phone.find_element(By.CSS_SELECTOR, ".flash.error").text

    # Edit a member.
    desk.get(server + "/pilotage/membres")
    row(desk, "Dr Paul Durand").find_element(By.PARTIAL_LINK_TEXT, "Modifier").click()
    # His account is in use: its contacts are his and the admin's to change (issue 23), read-only here.
    phone_field = desk.find_element(By.ID, "f-phone")
    assert phone_field.get_attribute("readonly") is not None and "ne sont changés que par son titulaire" in desk.page_source
    phone_field.send_keys("07 81 22 33 44")  # typing changes nothing
    Select(desk.find_element(By.ID, "f-kind")).select_by_value("cami")
    save = desk.find_element(By.CSS_SELECTOR, ".member-edit button[type=submit]")
    desk.execute_script("arguments[0].scrollIntoView({block: 'center'})", save)  # the longer form: below the fold
    save.click()
    wait_for(desk, lambda d: "Fiche de Dr Paul Durand enregistrée." in d.find_element(By.CSS_SELECTOR, ".flash.ok").text)
    assert "07 81 22 33 44" not in row(desk, "Dr Paul Durand").text and "CAMI" in row(desk, "Dr Paul Durand").text

    # Deactivate: a confirmation page naming the member, then the list; reactivate.
    row(desk, "Dr Paul Durand").find_element(By.PARTIAL_LINK_TEXT, "Désactiver").click()
    assert "Désactiver le compte de Dr Paul Durand" in desk.find_element(By.TAG_NAME, "h1").text
    assert db.session.get(User, gp.user.id).active
    desk.find_element(By.ID, "confirm-deactivate").click()
    wait_for(desk, lambda d: "est désactivé" in d.find_element(By.CSS_SELECTOR, ".flash.ok").text)
    assert "Désactivé" in row(desk, "Dr Paul Durand").text
    db.session.expire_all()
    assert not db.session.get(User, gp.user.id).active
    row(desk, "Dr Paul Durand").find_element(By.XPATH, ".//button[starts-with(normalize-space(.), 'Réactiver')]").click()
    wait_for(desk, lambda d: "est réactivé" in d.find_element(By.CSS_SELECTOR, ".flash.ok").text)
    db.session.expire_all()
    assert db.session.get(User, gp.user.id).active

    # Import a roster saved by French Excel: Windows-1252, ';'.
    roster = tmp_path / "membres.csv"
    roster.write_bytes(ROSTER.encode("cp1252"))
    before = users()
    desk.find_element(By.ID, "f-roster").send_keys(str(roster))
    desk.find_element(By.CSS_SELECTOR, "#import button[type=submit]").click()
    wait_for(desk, lambda d: "/pilotage/membres/import/" in d.current_url)
    assert "2 membres importés." in desk.find_element(By.ID, "roster-done").text
    assert "Dr Hélène Lefèvre" in desk.find_element(By.ID, "imported").text
    assert users() == before + 2
    desk.refresh()  # a GET: nothing is posted again
    assert "2 membres importés." in desk.find_element(By.ID, "roster-done").text
    assert users() == before + 2
    snap(desk, tmp_path / "import-desktop.png")
    # A faulty file: the report names each line; nothing is added.
    roster.write_bytes(
        (ROSTER.splitlines()[0] + "\r\nMédecin;sanscontact;Dr Sans Contact;;;12345678901;chef;;\r\n").encode("cp1252")
    )
    desk.get(server + "/pilotage/membres")
    desk.find_element(By.ID, "f-roster").send_keys(str(roster))
    desk.find_element(By.CSS_SELECTOR, "#import button[type=submit]").click()
    wait_for(desk, lambda d: "/pilotage/membres/import/" in d.current_url)
    report = desk.find_element(By.ID, "roster-errors").text
    assert "Ligne 2 — ni téléphone ni email" in report and "Ligne 2 — RPPS" in report and users() == before + 2

    # The members page on a 390 × 844 phone: no sideways scroll, every Désactiver button on screen.
    small = browser("coordinator-phone", 390, 844)
    sign_in(small, server, coordinator.login, "/pilotage/membres")
    assert no_horizontal_scroll(small, 390), small.execute_script("return document.documentElement.scrollWidth")
    buttons = small.find_elements(By.XPATH, "//a[starts-with(normalize-space(.), 'Désactiver')]")
    assert len(buttons) >= 6
    for button in buttons:
        box = small.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.left, r.right, r.height];", button)
        assert box[0] >= 0 and box[1] <= 390 and box[2] >= 44, box
    snap(small, tmp_path / "members-390.png")
    small.get(server + f"/pilotage/membres/{gp.user.id}/desactiver")
    assert no_horizontal_scroll(small, 390)
    snap(small, tmp_path / "deactivate-390.png")
    small.get(server + f"/pilotage/membres/{gp.user.id}/modifier")
    assert no_horizontal_scroll(small, 390)
    snap(small, tmp_path / "edit-390.png")
    small.get(desk.current_url)  # the import's report, on a phone (the coordinator's own import)
    assert no_horizontal_scroll(small, 390)
    snap(small, tmp_path / "import-report-390.png")
    shots = ("members-desktop.png", "import-desktop.png", "set-password-390.png", "members-390.png", "deactivate-390.png")
    for name in (*shots, "edit-390.png", "import-report-390.png"):
        assert (tmp_path / name).stat().st_size > 5000, name


FITS = """
const card = document.querySelector('#members').closest('.card'), style = getComputedStyle(card);
const box = card.getBoundingClientRect();
const inner = box.right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth);
const cells = [...document.querySelectorAll('#members td.actions')];
const controls = [...document.querySelectorAll('#members td.actions .btn, #members td.actions select')];
return {
  width: window.innerWidth, table: document.querySelector('#members').getBoundingClientRect().right, inner: inner,
  cells: Math.max(...cells.map(td => td.getBoundingClientRect().right)),
  controls: Math.max(...controls.map(c => c.getBoundingClientRect().right)),
  displays: [...new Set(cells.map(td => getComputedStyle(td).display))],
  scroll: document.documentElement.scrollWidth,
};
"""


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (1265, 900)])
def test_the_members_table_fits_its_card_at_desktop_width(
    make: Any,
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    tmp_path: Path,
    width: int,
    height: int,
) -> None:
    """Every column, the buttons' included, within the card's padding (the edge case: an invitation with its channel)."""
    community = make.community("CPTS Champigny")
    coordinator = make.member(
        community, "coordinator", name="Claire Coordinatrice", email="claire@cpts.example.fr", phone="0612000011"
    )
    make.member(
        community, "operator", name="Olga Opératrice", email="olga.operatrice@cpts-champigny.example.fr", phone="0612000012"
    )
    for n in range(3):  # invited, never signed in: "Renvoyer l'invitation" and its channel
        make.member(
            community,
            "physician",
            password=None,
            invite="sms",
            by=coordinator,
            public_url=server,
            name=f"Dr Médecin Avec Un Nom Assez Long {n}",
            email=f"medecin{n}@cabinet-medical-exemple.fr",
        )
    make.member(community, "physician", name="Dr Paul Durand", email="paul.durand@cabinet-medical-exemple.fr")
    desk = browser("desk", width, height)
    sign_in(desk, server, coordinator.login, "/pilotage/membres")
    fit = desk.execute_script(FITS)
    print(f"window {width} px: {fit}")  # noqa: T201
    snap(desk, tmp_path / f"members-{width}.png")
    assert fit["table"] <= fit["inner"] + 0.5 and fit["cells"] <= fit["inner"] + 0.5, fit
    assert fit["displays"] == ["table-cell"], fit  # a real cell: the row's line runs under the buttons too
    assert fit["controls"] <= fit["inner"] - 6, fit  # the buttons keep the cell's padding: they never touch the edge
    assert fit["scroll"] <= fit["width"], fit


def test_the_members_list_is_searched_as_one_types(
    make: Any,
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    """Issue 22, item 13: a search in the members list, accents and case aside, by name, RPPS or phone digits."""
    from selenium.webdriver.common.by import By

    community = make.community("CPTS Champigny")
    coordinator = make.member(community, "coordinator", name="Claire Coordinatrice")
    durand = make.member(community, "physician", name="Dr Paul Durand")
    make.member(community, "physician", name="Dr Hélène Béranger")
    make.member(community, "operator", name="Olga Opératrice")
    driver = browser("members", 1280, 900)
    sign_in(driver, server, coordinator.login, "/pilotage/membres")
    search = driver.find_element(By.ID, "members-filter")

    def shown() -> list[str]:
        rows = driver.find_elements(By.CSS_SELECTOR, "#members tbody tr.member")
        return [r.find_element(By.CSS_SELECTOR, "td.name").text for r in rows if r.is_displayed()]

    assert len(shown()) == 4
    search.send_keys("helene")
    assert shown() == ["Dr Hélène Béranger"] and driver.find_element(By.ID, "members-count").text == "1 membre trouvé"
    search.clear()
    search.send_keys(durand.rpps)
    assert shown() == ["Dr Paul Durand"]
    search.clear()
    search.send_keys("dr")
    assert sorted(shown()) == ["Dr Hélène Béranger", "Dr Paul Durand"]
