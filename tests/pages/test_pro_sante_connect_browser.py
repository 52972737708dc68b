"""Pro Santé Connect in a real Chromium (issue 23, point 14): the button, the provider's page over TLS, back signed in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pages import test_browser as shared
from tests.pages.test_browser import CHROMEDRIVER, CHROMIUM, FLAGS, wait_for
from tests.pages.test_pro_sante_connect import RPPS, USERS
from tests.peers.psc import Psc, running

server = shared.server  # the real server fixture of test_browser.py

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")]


@pytest.fixture
def psc(tmp_path: Path) -> Iterator[Psc]:
    with running(tmp_path, USERS) as provider:
        yield provider


@pytest.fixture
def chromium(tmp_path: Path, psc: Psc) -> Iterator[Any]:
    """A headless Chromium that trusts the provider's certificate by its public key alone (the test CA is in no store)."""
    import shutil

    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("Chromium et chromedriver de Debian sont requis (make test les installe)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile-psc'}", "--window-size=1024,800"):
        options.add_argument(flag)
    options.add_argument(f"--ignore-certificate-errors-spki-list={psc.spki_sha256}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_a_physician_signs_in_with_pro_sante_connect_in_chromium(make: Any, app: Any, server: str, chromium: Any, psc: Psc) -> None:
    from selenium.webdriver.common.by import By

    physician = make.member(make.community(), "physician", rpps=RPPS, name="Dr Paul Durand")
    app.config.update(psc.settings(), DISPATCH_PUBLIC_URL=server)
    phone = chromium
    phone.get(server + "/connexion")
    phone.find_element(By.ID, "psc").click()
    wait_for(phone, lambda d: d.current_url.startswith(psc.issuer + "/oauth2/authorize"))
    phone.find_element(By.CSS_SELECTOR, "button[name=sub][value=dr-durand]").click()
    wait_for(phone, lambda d: d.current_url == server + "/m/")
    assert physician.user.name in phone.page_source
    assert psc.token_calls[-1]["client_cert"]
    # Someone Pro Santé Connect knows but the service does not: a French page, no session.
    phone.delete_all_cookies()
    phone.get(server + "/connexion")
    phone.find_element(By.ID, "psc").click()
    wait_for(phone, lambda d: d.current_url.startswith(psc.issuer + "/oauth2/authorize"))
    phone.find_element(By.CSS_SELECTOR, "button[name=sub][value=dr-inconnu]").click()
    wait_for(phone, lambda d: "/connexion/psc/retour" in d.current_url)
    assert "aucun médecin actif de SNP" in phone.page_source
