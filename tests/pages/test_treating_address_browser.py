"""The request's page in headless Chromium: the treating GP's address found in the Annuaire Santé, on a phone and a desk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dispatch.notify.annuaire import AnnuaireSante
from dispatch.notify.inbox import Recorder
from tests.api.test_directory_lookup import PERSONAL, outside_gp, publish_gp, world
from tests.conftest import PASSWORD
from tests.pages import test_browser
from tests.peers.annuaire import AnnuairePeer

pytestmark = pytest.mark.browser
server, browser, wait_for = test_browser.server, test_browser.browser, test_browser.wait_for  # its fixtures and helper


@pytest.fixture
def peer() -> Iterator[AnnuairePeer]:
    with AnnuairePeer() as running:
        yield running


@pytest.fixture
def ports(peer: AnnuairePeer, clock: Any) -> dict[str, Any]:
    directory = AnnuaireSante(peer.base_url, peer.state.api_key, clock=clock.now, timeout=2)
    return {"push": Recorder(), "sms": Recorder(), "mail": Recorder(), "directory": directory}


@pytest.mark.parametrize(("name", "width", "height"), [("phone", 390, 844), ("desk", 1280, 900)])
def test_the_address_and_its_source_read_on_a_phone_and_a_desk(
    make: Any, peer: AnnuairePeer, server: str, browser: Any, tmp_path: Path, name: str, width: int, height: int
) -> None:
    from selenium.webdriver.common.by import By

    publish_gp(peer)
    w = world(make)
    opened = make.open(w["operator"], w["community"], **outside_gp())
    make.deliver()
    driver = browser(name, width, height)
    driver.get(f"{server}/connexion")
    driver.find_element(By.NAME, "login").send_keys(w["operator"].login)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(driver, lambda d: "/connexion" not in d.current_url)
    driver.get(f"{server}/console/demandes/{opened['id']}")
    facts = wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, "dl.facts"))
    assert f"MSSanté : {PERSONAL} (Annuaire Santé, boîte personnelle)" in facts.text.replace("\u00a0", " ")
    history = driver.find_element(By.CSS_SELECTOR, ".timeline").text
    assert "Adresse MSSanté trouvée dans l'Annuaire Santé" in history and "mssante_found" not in history
    overflow = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{overflow} px of horizontal overflow at {width} px"
    driver.save_screenshot(str(tmp_path / f"request-{name}.png"))
