"""Regenerate the screenshots of the physician's phone pages (390 × 844) into docs/screenshots/.

Usage: .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Builds a throw-away demo (SQLite in a temporary folder, a clock fixed on Monday 23 November 2026 at 15:00 in
Paris, recording fakes in place of FCM, Twilio and MSSanté), serves it on a loopback port and drives the
Debian Chromium through chromedriver, as tests/pages/test_browser.py does.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from dispatch import create_app  # noqa: E402
from dispatch.cli import upgrade_fresh  # noqa: E402
from dispatch.notify.inbox import Recorder  # noqa: E402
from dispatch.runtime import Ports  # noqa: E402
from tests.conftest import PASSWORD, T0, TEST_SETTINGS, Builders, FakeClock, OwnContextClient  # noqa: E402

WIDTH, HEIGHT = 390, 844
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def vapid_public_key() -> str:
    """Return a fresh application server key, as the settings page shows it to the browser."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode()


def patient(first: str, last: str, phone: str, city: str, birth: str, sex: str = "F") -> dict[str, Any]:
    return {
        "first_name": first,
        "last_name": last,
        "birth_date": birth,
        "sex": sex,
        "phone": phone,
        "postcode": "94500",
        "city": city,
    }


def build_world(make: Builders, clock: FakeClock) -> dict[str, Any]:
    """Create a community, a physician with a past, a taken and an offered patient, at T0 = 15:00 in Paris."""
    community = make.community("CPTS Champigny")
    operator = make.member(community, "operator", name="Nadia Opératrice")
    gp = make.member(community, "physician", name="Dr Paul Durand", address="12 rue Jean Jaurès, Champigny")
    make.member(community, "physician", name="Dr Awa Diallo", kind="cami")
    outside = {"status": "declared", "name": "Dr Jean Morel", "mssante": "jean.morel@medecin.mssante.fr"}

    clock.set(T0 - timedelta(days=1, hours=2))
    make.tokens.clear()  # tokens expire: each phase signs in again
    seen = make.open(
        operator,
        community,
        motive="urinary",
        description="Brûlures mictionnelles depuis hier, pas de fièvre",
        patient=patient("Claire", "Petit", "+33687654321", "Champigny-sur-Marne", "1979-06-12"),
        treating_physician=outside,
    )
    make.accept(gp, seen["id"], minutes=60)
    clock.advance(minutes=75)
    make.call(
        "POST",
        f"/requests/{seen['id']}/outcome",
        gp,
        json={
            "outcome": "seen",
            "synthesis": "Cystite simple. ECBU prescrit, fosfomycine. À revoir par le médecin traitant si récidive.",
        },
    )
    make.deliver()

    clock.set(T0 - timedelta(hours=5))
    make.tokens.clear()  # tokens expire: each phase signs in again
    absent = make.open(
        operator,
        community,
        motive="trauma",
        description="Entorse de cheville",
        patient=patient("Karim", "Benali", "+33611223344", "Chennevières-sur-Marne", "2001-02-03", "M"),
    )
    make.accept(gp, absent["id"], minutes=30)
    clock.advance(minutes=45)
    make.call("POST", f"/requests/{absent['id']}/outcome", gp, json={"outcome": "no_show"})

    clock.set(T0 - timedelta(minutes=20))
    make.tokens.clear()  # tokens expire: each phase signs in again
    taken = make.open(
        operator,
        community,
        motive="respiratory",
        description="Toux fébrile depuis 3 jours, 38,7 °C, pas de dyspnée",
        patient=patient("Lucie", "Martin", "+33612345678", "Champigny-sur-Marne", "1988-04-02"),
        treating_physician=outside,
    )
    make.accept(gp, taken["id"], minutes=50)  # 15:30 in Paris

    clock.set(T0)
    make.tokens.clear()  # tokens expire: each phase signs in again
    offered = make.open(
        operator,
        community,
        treating=gp,
        motive="ent",
        description="Otalgie droite depuis 2 jours, fièvre 38,5, pas d'écoulement",
        patient=patient("Jeanne", "Roux", "+33699887766", "Champigny-sur-Marne", "2017-09-14"),
    )
    make.deliver()
    world = {"gp": gp, "taken": taken["id"], "offered": offered["id"], "absent": absent["id"]}
    return world | other_professions(make, clock, community, operator)


def other_professions(make: Builders, clock: FakeClock, community: Any, operator: Any) -> dict[str, Any]:
    """A nurse offered a dressing 4 km away, and an EHPAD's nurse who opened a teleconsultation (issues 26 and 27)."""
    from dispatch.demo import ADDRESSES
    from dispatch.geo.loading import load_file

    load_file(ADDRESSES)  # the demo's streets: the patient placed as the national address base places them
    nurse = make.member(community, "physician", profession="60", name="Émilie Garnier", lat=48.8193, lon=2.52584, kind="titulaire")
    ehpad = make.member(community, "requester", finess="750712184", name="Inès Martin (EHPAD Les Tilleuls)", profession=None)
    clock.set(T0 - timedelta(minutes=10))
    make.tokens.clear()
    body = make.request_body(
        community,
        profession="60",
        acts=["pansement"],
        motive="dermatology",
        description="Pansement d'ulcère de jambe à refaire, pas de fièvre",
        patient=patient("Lucienne", "Girard", "+33698761234", "Ormesson-sur-Marne", "1938-03-21")
        | {"postcode": "94490", "address": "8 avenue Olivier d'Ormesson"},
    )
    body.pop("treating_physician")
    body["usual_professional"] = {"status": "none"}
    dressing = make.call("POST", "/requests", operator, json=body).json
    ehpad_body = make.request_body(
        community,
        source="ehpad",
        motive="respiratory",
        description="Toux fébrile depuis hier, résidente de l'EHPAD",
        patient=patient("Jeanne", "Lemoine", "+33698765432", "Champigny-sur-Marne", "1936-02-11"),
        consent=True,
        modality="teleconsultation",
        observations={"systolic": 128, "diastolic": 76, "heart_rate": 96, "temperature_c": 38.4, "spo2": 93},
    )
    make.call("POST", "/requests", ehpad, json=ehpad_body)
    clock.set(T0)
    make.tokens.clear()
    make.deliver()
    return {"nurse_login": nurse.user.login, "dressing": dressing["id"], "ehpad_login": ehpad.login}


def start_chromium() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=fr-FR", "--window-size=600,900"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "fr-FR,fr"})
    driver = webdriver.Chrome(
        options=options, service=Service(CHROMEDRIVER, env={**os.environ, "LANGUAGE": "fr", "LANG": "fr_FR.UTF-8"})
    )
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 2, "mobile": True}
    )
    return driver


def snap(driver: Any, path: Path, *, full: bool) -> None:
    """Save what the phone's screen shows (or the whole page) as a PNG."""
    params: dict[str, Any] = {"format": "png"}
    if full:
        size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        params |= {
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        }
    path.write_bytes(base64.b64decode(driver.execute_cdp_cmd("Page.captureScreenshot", params)["data"]))
    print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def sign_in(driver: Any, base: str, login: str, lands_on: str) -> None:
    """Sign in afresh (cookies cleared) as `login`, and wait for the page the role lands on."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.delete_all_cookies()
    driver.get(base + "/connexion")
    driver.find_element(By.ID, "login").send_keys(login)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary").click()
    WebDriverWait(driver, 20).until(lambda d: d.current_url.endswith(lands_on))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    out: Path = parser.parse_args().out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="snp-shots-"))
    url = f"sqlite:///{folder / 'shots.sqlite3'}"
    upgrade_fresh(url)
    clock = FakeClock(T0)
    ports = Ports(push=Recorder(), sms=Recorder(), mail=Recorder(), vapid_public_key=vapid_public_key())
    app = create_app({**TEST_SETTINGS, "DISPATCH_DATABASE_URL": url}, clock=clock, ports=ports)
    app.test_client_class = OwnContextClient  # each call in a context of its own, as the server runs it
    with app.app_context():
        world = build_world(Builders(app, app.test_client(), clock), clock)
        login = world["gp"].user.login
    http = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{http.server_port}"
    driver = start_chromium()
    try:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        driver.get(base + "/m/")
        driver.find_element(By.ID, "login").send_keys(login)
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary").click()
        WebDriverWait(driver, 20).until(lambda d: d.current_url.endswith("/m/"))
        snap(driver, out / "1-offers.png", full=False)
        driver.get(f"{base}/m/requests/{world['offered']}")
        snap(driver, out / "2-offer.png", full=False)
        driver.get(f"{base}/m/requests/{world['taken']}")
        snap(driver, out / "3-accepted.png", full=False)
        driver.get(base + "/m/patients")
        snap(driver, out / "4-patients.png", full=True)
        driver.get(base + "/m/notifications")
        WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "notify-state").get_attribute("data-state") != "unknown")
        snap(driver, out / "5-notifications.png", full=True)
        driver.get(base + "/m/offline")
        snap(driver, out / "6-offline.png", full=False)
        driver.get(f"{base}/m/requests/{world['absent']}")  # "Patient absent" this morning: still correctable
        driver.execute_script("document.getElementById('correct-form').scrollIntoView()")
        snap(driver, out / "7-correct-outcome.png", full=False)
        # The offer's SMS link on a phone signed in to nothing: one tap opens that request, and it only.
        with app.app_context():
            from dispatch.db import db
            from dispatch.requests import links
            from dispatch.requests.models import Request

            offered = db.session.get(Request, world["offered"])
            link = links.make_link(
                request_id=offered.id, physician_id=world["gp"].id, expires_at=offered.expires_at, now=clock.now(), public_url=base
            )
            db.session.commit()
        driver.delete_all_cookies()
        driver.get(link)
        WebDriverWait(driver, 20).until(lambda d: d.current_url.endswith(f"/m/requests/{world['offered']}"))
        snap(driver, out / "8-offer-from-sms.png", full=False)
        sign_in(driver, base, world["nurse_login"], "/m/")
        snap(driver, out / "9-nurse-offers.png", full=True)  # the dressing 4 km away, the floating slot's form
        driver.get(f"{base}/m/requests/{world['dressing']}")
        snap(driver, out / "10-nurse-offer.png", full=False)
        sign_in(driver, base, world["ehpad_login"], "/demandes")
        snap(driver, out / "11-requester-list.png", full=True)
        driver.get(base + "/demandes/nouvelle")
        snap(driver, out / "12-requester-form.png", full=True)
    finally:
        driver.quit()
        http.shutdown()


if __name__ == "__main__":
    main()
