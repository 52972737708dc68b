"""The dashboard in headless Chromium on the demo year, on a phone (390 × 844) and a desktop: it fits the screen,
its chart labels read at 12 px at least, its tables turn into cards, and a skip link leads to the content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.demo import load_demo
from tests.pages import test_browser
from tests.pages.test_browser import no_horizontal_scroll, sign_in, snap

server, browser = test_browser.server, test_browser.browser  # the browser tests' fixtures, shared

pytestmark = pytest.mark.browser

# The rendered size of every chart label that is drawn: its computed font size times the SVG's scale on screen.
LABELS = """
const sizes = [...document.querySelectorAll('svg text')]
  .filter(t => t.getBoundingClientRect().width > 0)
  .map(t => { const m = t.getScreenCTM(); return parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b); });
return {count: sizes.length, smallest: Math.min(...sizes)};
"""
# Elements that stick out of the screen on the right, but for those inside a container that scrolls or clips them.
OUTSIDE = """
const width = document.documentElement.clientWidth;
const held = el => { for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
  if (getComputedStyle(p).overflowX !== 'visible') return true; } return false; };
return [...document.querySelectorAll('body *')].filter(el => {
  const r = el.getBoundingClientRect(); return r.width > 0 && r.right > width + 1 && !held(el);
}).map(el => el.tagName + '.' + el.className).slice(0, 10);
"""


@pytest.mark.parametrize(("name", "width", "height"), [("phone", 390, 844), ("desktop", 1366, 900)])
def test_the_dashboard_fits_the_screen_with_legible_charts(
    app: Any,
    make: Any,
    server: str,
    browser: Any,
    tmp_path: Path,
    name: str,
    width: int,
    height: int,  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By

    load_demo(app)
    community = db.session.scalar(select(Community).where(Community.name == "CPTS Champigny"))
    assert community is not None
    coordinator = make.member(community, "coordinator", name="Claire Coordinatrice")
    driver = browser(name, width, height)
    sign_in(driver, server, coordinator.login, "/pilotage")
    assert "/pilotage" in driver.current_url
    assert int(driver.find_element(By.ID, "kpi-opened").text.replace("\u202f", "")) > 1000  # the year to date

    assert no_horizontal_scroll(driver, width), driver.execute_script("return document.documentElement.scrollWidth")
    assert driver.execute_script(OUTSIDE) == []
    labels = driver.execute_script(LABELS)
    assert labels["count"] > 100 and labels["smallest"] >= 12, labels
    months = driver.find_element(By.CSS_SELECTOR, ".chart-scroll")
    fits = driver.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth", months)
    assert fits == (name == "desktop")  # on a phone the monthly chart scrolls inside its card, not the page
    if name == "phone":  # and it starts on the latest months (issue 22, item 13)
        at_end = "return arguments[0].scrollLeft + arguments[0].clientWidth >= arguments[0].scrollWidth - 1"
        assert driver.execute_script(at_end, months)
    rows = driver.find_elements(By.CSS_SELECTOR, "#by-physician tbody tr")
    display = driver.execute_script("return getComputedStyle(arguments[0]).display", rows[0])
    # One card per member offered a request: six physicians, four nurses and the physiotherapist (the fifth nurse, in
    # Rungis, is beyond every patient's 10 km and was never offered one).
    assert len(rows) == 11 and display == ("block" if name == "phone" else "table-row")
    snap(driver, tmp_path / f"pilotage-{name}.png")
    assert (tmp_path / f"pilotage-{name}.png").stat().st_size > 20000


def test_the_skip_link_appears_on_focus_and_leads_to_the_content(make: Any, server: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    community = make.community()
    coordinator = make.member(community, "coordinator")
    driver = browser("skip", 390, 844)
    sign_in(driver, server, coordinator.login, "/pilotage")
    skip = driver.find_element(By.CSS_SELECTOR, "a.skip-link")
    assert skip.text == "" or skip.location["y"] < 0  # out of sight until focused
    assert driver.execute_script("return arguments[0].getBoundingClientRect().bottom <= 0", skip)
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert driver.switch_to.active_element == skip and skip.text == "Aller au contenu"
    box = driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.top, r.bottom, r.height];", skip)
    assert box[0] >= 0 and box[2] >= 24  # on screen, a target a finger can hit
    skip.send_keys(Keys.ENTER)
    assert driver.current_url.endswith("#contenu")
    assert driver.switch_to.active_element.get_attribute("id") == "contenu"
