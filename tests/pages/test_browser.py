"""The pages in a real headless Chromium against a real server: open, accept on a phone, follow live, audit."""

from __future__ import annotations

import base64
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--lang=fr-FR",
)


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    """Serve the test app on a free loopback port in a thread; return its base URL."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Callable[[str, int, int], Any]]:
    """Return a function that starts a fresh headless Chromium of a given window size."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("Chromium et chromedriver de Debian sont requis (make test les installe)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers: list[Any] = []

    def start(name: str, width: int, height: int) -> Any:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={tmp_path / ('profile-' + name)}")
        options.add_argument(f"--window-size={width},{height}")
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        driver.set_page_load_timeout(60)
        if width < 600:  # headless windows do not shrink below ~500 px: emulate the phone's screen instead
            driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True}
            )
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        driver.quit()


def wait_for(driver: Any, condition: Callable[[Any], Any], timeout: float = 30) -> Any:
    """Wait until `condition` holds; the live list replaces its rows, so a vanished element means "not yet".

    A page being replaced by the next one (a form's redirect) can also make ChromeDriver answer "Node with given id
    does not belong to the document" for an element found an instant before: that too means "not yet".
    """
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def settled(d: Any) -> Any:
        try:
            return condition(d)
        except WebDriverException as error:
            if "does not belong to the document" in (error.msg or ""):
                return False
            raise

    return WebDriverWait(
        driver, timeout, poll_frequency=0.2, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
    ).until(settled)


# Counts the page's live polls from now on (a fetch of an address ending in /etat, a query string or not), in the
# tab's session storage: a page reloads itself when it moved, and the count must outlive that.
COUNT_POLLS = """
sessionStorage.setItem("polls", "0"); const real = window.fetch;
window.fetch = function (url) {
  if (/\\/etat(\\?|$)/.test(String(url))) { sessionStorage.setItem("polls", String(Number(sessionStorage.getItem("polls")) + 1)); }
  return real.apply(this, arguments);
};
"""
POLLS_SINCE = "return Number(sessionStorage.getItem('polls'))"


def count_polls(driver: Any) -> None:
    """Count the page's live polls from now on (until it reloads itself; the count outlives the reload)."""
    driver.execute_script(COUNT_POLLS)


def polls_since(driver: Any) -> int:
    """Return how many live polls the page made since count_polls."""
    return int(driver.execute_script(POLLS_SINCE))


def followed_within_two_polls(driver: Any, condition: Callable[[Any], Any]) -> Any:
    """Wait until the page shows a change made after count_polls, and check it came with the first or second poll
    after it (a third may be on its way as we look): the 2 s promise of the live pages (polls a second apart), held in
    polls rather than seconds, which a loaded machine stretches for the page and the server alike."""
    shown = wait_for(driver, condition, timeout=10)
    assert polls_since(driver) <= 3, polls_since(driver)
    return shown


def sign_in(driver: Any, base: str, login: str, path: str = "/") -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + path)
    driver.find_element(By.ID, "login").send_keys(login)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary").click()
    wait_for(driver, lambda d: "/connexion" not in d.current_url)


def snap(driver: Any, path: Path) -> None:
    """Save a screenshot of the whole page, beyond the window, through the DevTools protocol."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": metrics["width"], "height": metrics["height"], "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def no_horizontal_scroll(driver: Any, width: int) -> bool:
    """Say whether the page fits a screen `width` CSS pixels wide, without scrolling sideways."""
    assert driver.execute_script("return window.innerWidth") == width
    return bool(driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"))


def test_operator_opens_physician_accepts_on_phone_console_follows_dashboard_shows(
    make: Any, server: str, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    community = make.community("CPTS Champigny")
    operator = make.member(community, "operator", name="Nadia Opératrice")
    gp = make.member(community, "physician", name="Dr Paul Durand", address="12 rue Jean Jaurès, Champigny")
    make.member(community, "physician", name="Dr Awa Diallo", kind="cami")
    coordinator = make.member(community, "coordinator", name="Claire Coordinatrice")

    desk = browser("operator", 1366, 900)
    sign_in(desk, server, operator.login)
    assert desk.current_url.endswith("/console")
    desk.find_element(By.CSS_SELECTOR, "input[name=triage][value=snp]").click()
    Select(desk.find_element(By.ID, "f-motive")).select_by_value("ent")
    desk.find_element(By.ID, "f-description").send_keys("Otalgie droite depuis 2 jours, fièvre 38,5")
    desk.find_element(By.ID, "f-patient-first_name").send_keys("Lucie")
    desk.find_element(By.ID, "f-patient-last_name").send_keys("Martin")
    desk.find_element(By.ID, "f-patient-phone").send_keys("06 12 34 56 78")
    desk.find_element(By.ID, "f-patient-postcode").send_keys("94500")
    desk.find_element(By.ID, "f-patient-city").send_keys("Champigny-sur-Marne")
    desk.find_element(By.CSS_SELECTOR, "input[name='treating_physician.status'][value=declared]").click()
    desk.find_element(By.ID, "treating-search").send_keys("Durand")
    choice = wait_for(desk, lambda d: d.find_element(By.CSS_SELECTOR, "#treating-results li[role=option]"))
    choice.click()
    assert desk.find_element(By.ID, "f-treating_physician-rpps").get_attribute("value") == gp.rpps
    snap(desk, tmp_path / "1-console-form.png")
    desk.find_element(By.ID, "open-submit").click()
    wait_for(desk, lambda d: "/console/demandes/" in d.current_url)
    request_id = int(desk.current_url.rsplit("/", 1)[1])
    assert "Médecin traitant" in desk.find_element(By.CSS_SELECTOR, "h1 .badge").text
    snap(desk, tmp_path / "1b-request-page.png")
    desk.get(server + "/console")
    row = f"#live tr[data-id='{request_id}']"
    wait_for(desk, lambda d: "reste" in d.find_element(By.CSS_SELECTOR, row + " .countdown").text)

    phone = browser("physician", 390, 844)
    sign_in(phone, server, gp.user.login, f"/m/requests/{request_id}")
    assert phone.current_url.endswith(f"/m/requests/{request_id}")
    assert "Lucie Martin" in phone.page_source  # the treating GP sees their patient
    accept = phone.find_element(By.ID, "accept")
    assert accept.size["height"] >= 56 and accept.size["width"] >= 300  # a thumb-sized target
    assert phone.find_element(By.ID, "f-place").get_attribute("value") == "12 rue Jean Jaurès, Champigny"
    assert no_horizontal_scroll(phone, 390)
    snap(phone, tmp_path / "2-phone-offer.png")
    phone.find_element(By.ID, "in-30").click()  # no time preset: the physician picks one
    accept.click()
    wait_for(phone, lambda d: d.find_elements(By.ID, "outcome-form"))
    snap(phone, tmp_path / "3-phone-accepted.png")

    # The console, never reloaded, shows the acceptance at the next poll.
    wait_for(desk, lambda d: d.find_element(By.CSS_SELECTOR, row).get_attribute("data-state") == "accepted")
    text = wait_for(desk, lambda d: d.find_element(By.CSS_SELECTOR, row).text)
    assert "Acceptée" in text and "Dr Paul Durand" in text
    snap(desk, tmp_path / "4-console-live.png")

    desk.find_element(By.CSS_SELECTOR, ".signout button").click()
    sign_in(desk, server, coordinator.login)
    assert "/pilotage" in desk.current_url
    assert desk.find_element(By.ID, "kpi-opened").text == "1"
    assert desk.find_element(By.ID, "kpi-accepted").text == "1"
    assert "Dr Paul Durand" in desk.find_element(By.ID, "by-physician").text
    assert len(desk.find_elements(By.CSS_SELECTOR, "svg.chart")) == 9
    snap(desk, tmp_path / "5-dashboard.png")
    desk.find_element(By.LINK_TEXT, "Membres").click()
    assert "Dr Paul Durand" in desk.find_element(By.ID, "members").text
    snap(desk, tmp_path / "6-members.png")
    for name in sorted(p.name for p in tmp_path.glob("*.png")):
        assert (tmp_path / name).stat().st_size > 5000, name


def test_physician_pages_fit_a_360_pixel_screen(make: Any, server: str, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    community = make.community()
    operator = make.member(community, "operator")
    physician = make.member(community, "physician", kind="remplacant")
    opened = make.open(operator, community)
    phone = browser("small", 360, 740)
    sign_in(phone, server, physician.user.login)
    assert phone.current_url.endswith("/m/")
    assert no_horizontal_scroll(phone, 360)
    phone.find_element(By.CSS_SELECTOR, f"a.offer-card[href$='/m/requests/{opened['id']}']").click()
    assert "Lucie" not in phone.page_source and "Martin" not in phone.page_source  # only offered: anonymised
    assert no_horizontal_scroll(phone, 360)
    for button in ("accept", "refuse"):
        assert phone.find_element(By.ID, button).size["height"] >= 56
    snap(phone, tmp_path / "phone-360.png")
