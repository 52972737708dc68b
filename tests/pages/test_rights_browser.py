"""The "Droits des patients" page in a real headless Chromium, at a desk (1366 × 768) and on a phone (390 × 844)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.pages.test_browser import browser, no_horizontal_scroll, server, sign_in, snap, wait_for  # noqa: F401
from tests.privacy.conftest import cancelled, seen_with_synthesis

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("name", "width", "height"), [("desk", 1366, 768), ("phone", 390, 844)])
def test_the_coordinator_finds_then_erases_a_patients_requests(
    make: Any,
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    tmp_path: Path,
    name: str,
    width: int,
    height: int,
) -> None:
    from selenium.webdriver.common.by import By

    community = make.community("CPTS Champigny")
    world = {
        "community": community,
        "operator": make.member(community, "operator"),
        "coordinator": make.member(community, "coordinator", name="Claire Coordinatrice"),
        "physician": make.member(community, "physician"),
    }
    seen_with_synthesis(make, world)
    cancelled(make, world)
    driver = browser(name, width, height)
    sign_in(driver, server, world["coordinator"].login, "/pilotage/droits")
    wait_for(driver, lambda d: d.find_element(By.ID, "rights-form"))
    driver.find_element(By.ID, "f-last_name").send_keys("Martin")
    driver.find_element(By.ID, "f-first_name").send_keys("Lucie")
    # A date input takes typed digits in the order of the browser's locale, which headless Chromium does not always
    # take from --lang: the value is set as the form posts it.
    driver.execute_script("arguments[0].value = '1988-04-02'", driver.find_element(By.ID, "f-birth_date"))
    driver.find_element(By.ID, "f-reference").send_keys("CNIL-2026-0042")
    driver.find_element(By.ID, "rights-search").click()
    rows = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#rights-requests tbody tr"))
    assert len(rows) == 2 and "2 demandes de Lucie Martin" in driver.find_element(By.ID, "found-title").text
    assert no_horizontal_scroll(driver, width)
    pdf, erase = driver.find_element(By.ID, "rights-pdf"), driver.find_element(By.ID, "rights-erase")
    assert pdf.is_displayed() and erase.is_displayed() and pdf.size["height"] >= 40
    snap(driver, tmp_path / f"rights-{name}.png")
    erase.click()
    confirm = wait_for(driver, lambda d: d.find_element(By.ID, "confirm-erase"))
    assert "de 2 demandes" in driver.find_element(By.ID, "confirm-title").text
    assert no_horizontal_scroll(driver, width)
    snap(driver, tmp_path / f"rights-confirm-{name}.png")
    confirm.click()
    flash = wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".flash.ok"))
    assert "effacée de 2 demandes (référence CNIL-2026-0042)" in flash.text
    snap(driver, tmp_path / f"rights-done-{name}.png")
