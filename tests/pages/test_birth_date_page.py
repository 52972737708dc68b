"""The physician's outcome form asks for the patient's birth date when the operator did not note it and the synthesis
goes to the treating GP (the national CDA requires it); in a real Chromium too, on a phone and on a desktop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dispatch.db import db
from dispatch.requests.models import Request, Synthesis
from tests.api.test_outcome_birth_date import opened_without_birth_date
from tests.pages import test_browser as shared
from tests.pages.test_browser import no_horizontal_scroll, sign_in, snap, wait_for
from tests.pages.test_console import field_error

server, browser = shared.server, shared.browser  # the real server and Chromium fixtures of test_browser.py

LABEL = "Date de naissance du patient (pour le document envoyé au médecin traitant)"


@pytest.fixture
def taken(make: Any, clock: Any) -> dict[str, Any]:
    """A request opened without a birth date, accepted by a CAMI physician; the appointment has come."""
    w = opened_without_birth_date(make)
    clock.advance(minutes=5)
    return w


def test_the_form_asks_for_the_birth_date_and_the_page_requires_it_when_seen(taken: dict[str, Any], as_user: Any) -> None:
    cami = as_user(taken["cami"])
    rid = taken["request"]["id"]
    html = cami.get(f"/m/requests/{rid}").get_data(as_text=True)
    assert LABEL in html and 'name="patient_birth_date" type="date"' in html and 'max="2026-11-23"' in html
    response = cami.post(f"/m/requests/{rid}/issue", {"outcome": "seen", "synthesis": "Otite moyenne aiguë."})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    said = field_error(page, "patient_birth_date")
    assert said == "Indiquez la date de naissance du patient (pour le document envoyé au médecin traitant)."
    assert "Otite moyenne aiguë." in page  # what was typed stays in the form
    response = cami.post(f"/m/requests/{rid}/issue", {"outcome": "seen", "synthesis": "Otite.", "patient_birth_date": "2030-01-01"})
    assert response.status_code == 422 and "dans le futur" in field_error(response.get_data(as_text=True), "patient_birth_date")
    assert db.session.get(Request, rid, populate_existing=True).state == "accepted"
    response = cami.post(f"/m/requests/{rid}/issue", {"outcome": "seen", "synthesis": "Otite.", "patient_birth_date": "1988-04-02"})
    assert response.status_code == 302
    request = db.session.get(Request, rid, populate_existing=True)
    assert request.state == "seen" and str(request.patient_birth_date) == "1988-04-02"
    assert db.session.query(Synthesis).one().status == "pending"
    operator = as_user(taken["operator"])
    history = operator.get(f"/console/demandes/{rid}").get_data(as_text=True)
    assert "Date de naissance du patient complétée par le médecin" in history


def test_no_question_when_the_birth_date_is_known_or_nothing_is_sent(make: Any, as_user: Any, clock: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    cami = make.member(community, "physician", kind="cami")
    known = make.open(operator, community)  # with a birth date
    body = make.request_body(community)
    del body["patient"]["birth_date"]
    unknown_no_gp = make.call("POST", "/requests", operator, json=body).json  # no treating GP: nothing to send
    for opened in (known, unknown_no_gp):
        assert make.accept(cami, opened["id"]).status_code == 200
        page = as_user(cami).get(f"/m/requests/{opened['id']}").get_data(as_text=True)
        assert 'id="outcome-form"' in page and LABEL not in page


@pytest.mark.browser
def test_the_birth_date_field_on_a_phone_and_a_desktop(
    taken: dict[str, Any],
    server: str,
    browser: Any,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    rid = taken["request"]["id"]
    for name, width, height in (("phone", 390, 844), ("desktop", 1280, 900)):
        driver = browser(name, width, height)
        sign_in(driver, server, taken["cami"].user.login, f"/m/requests/{rid}")
        field = driver.find_element(By.ID, "f-birth")
        label = driver.find_element(By.CSS_SELECTOR, "label[for=f-birth]")
        assert label.text == LABEL and field.is_displayed() and field.is_enabled()
        assert no_horizontal_scroll(driver, width)
        if name == "phone":
            driver.find_element(By.CSS_SELECTOR, "input[name=outcome][value=seen]").click()
            driver.find_element(By.ID, "f-synthesis").send_keys("Otite moyenne aiguë.")
            driver.find_element(By.CSS_SELECTOR, "#outcome-form button[type=submit]").click()
            error = wait_for(driver, lambda d: d.find_element(By.ID, "err-patient_birth_date"))
            assert "date de naissance" in error.text
            assert driver.find_element(By.ID, "f-birth").get_attribute("aria-invalid") == "true"
            assert no_horizontal_scroll(driver, width)
        snap(driver, tmp_path / f"birth-{name}.png")
    driver.execute_script("document.getElementById('f-birth').value = '1988-04-02'")
    driver.find_element(By.CSS_SELECTOR, "input[name=outcome][value=seen]").click()
    driver.find_element(By.ID, "f-synthesis").send_keys("Otite moyenne aiguë.")
    driver.find_element(By.CSS_SELECTOR, "#outcome-form button[type=submit]").click()
    wait_for(driver, lambda d: "Issue enregistrée" in d.find_element(By.TAG_NAME, "body").text)
    assert db.session.get(Request, rid, populate_existing=True).state == "seen"
