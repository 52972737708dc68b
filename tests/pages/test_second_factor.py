"""The second factor in the pages (issue 23, point 15): the sign-in's second step, enrolment with a QR code."""

from __future__ import annotations

import re
from typing import Any

import pyotp

from tests.conftest import PASSWORD

SECRET = re.compile(r'<code id="totp-secret">([A-Z2-7 ]+)</code>')
CODES = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")


def secret_of(page: str) -> pyotp.TOTP:
    found = SECRET.search(page)
    assert found, page
    return pyotp.TOTP(found.group(1).replace(" ", ""))


def enrol_from_account(client: Any, clock: Any) -> tuple[pyotp.TOTP, list[str]]:
    page = client.get("/compte/double-authentification").get_data(as_text=True)
    assert "<svg" in page and "<img" not in page.split('id="totp-qr"')[1].split("</div>")[0]  # inline, nothing fetched
    totp = secret_of(page)
    done = client.post("/compte/double-authentification", {"totp": totp.at(clock.now())})
    assert done.status_code == 200
    codes = CODES.findall(done.get_data(as_text=True))
    assert len(codes) == 10
    clock.advance(seconds=30)
    return totp, codes


def test_an_account_enrols_from_its_page_then_signs_in_in_two_steps(make: Any, as_user: Any, page_client: Any, clock: Any) -> None:
    coordinator = make.member(make.community(), "coordinator")
    mine = as_user(coordinator)
    assert 'id="enable-totp"' in mine.get("/compte").get_data(as_text=True)
    totp, codes = enrol_from_account(mine, clock)
    assert "Codes de secours restants&nbsp;: 10" in mine.get("/compte").get_data(as_text=True)

    first = page_client.sign_in(coordinator.login)
    assert first.status_code == 302 and first.headers["Location"].endswith("/connexion/code")
    assert page_client.get("/pilotage").status_code == 302  # the password alone opened no session
    step = page_client.get("/connexion/code")
    assert 'autocomplete="one-time-code"' in step.get_data(as_text=True)
    wrong = page_client.post("/connexion/code", {"totp": codes[0][::-1]})
    assert wrong.status_code == 401 and "Code incorrect" in wrong.get_data(as_text=True)
    done = page_client.post("/connexion/code", {"totp": totp.at(clock.now())})
    assert done.status_code == 302 and done.headers["Location"].endswith("/pilotage")
    assert page_client.get("/pilotage").status_code == 200


def test_the_second_step_expires_and_cannot_be_reached_without_the_password(make: Any, page_client: Any, clock: Any) -> None:
    from tests.security.test_second_factor import enrol

    operator = make.member(make.community(), "operator")
    totp = pyotp.TOTP(enrol(operator, clock))
    page_client.get("/connexion")
    alone = page_client.post("/connexion/code", {"totp": totp.at(clock.now())})
    assert alone.status_code == 302 and alone.headers["Location"].endswith("/connexion")
    assert page_client.sign_in(operator.login).headers["Location"].endswith("/connexion/code")
    page_client.get("/connexion/code")
    clock.advance(seconds=301)
    late = page_client.post("/connexion/code", {"totp": totp.at(clock.now())})
    assert late.status_code == 302 and late.headers["Location"].endswith("/connexion")
    assert page_client.get("/console").status_code == 302


def test_wrong_codes_at_the_second_step_are_throttled(make: Any, page_client: Any, clock: Any, app: Any) -> None:
    from tests.security.test_second_factor import enrol

    operator = make.member(make.community(), "operator")
    totp = pyotp.TOTP(enrol(operator, clock))
    page_client.sign_in(operator.login)
    page_client.get("/connexion/code")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert page_client.post("/connexion/code", {"totp": "99999-99999"}).status_code == 401
    slowed = page_client.post("/connexion/code", {"totp": totp.at(clock.now())})
    assert slowed.status_code == 429 and "Trop de tentatives" in slowed.get_data(as_text=True)


def test_in_production_a_coordinator_enrols_at_sign_in_and_keeps_its_recovery_codes(
    make: Any, page_client: Any, clock: Any, app: Any
) -> None:
    coordinator = make.member(make.community(), "coordinator")
    app.config["DISPATCH_ENV"] = "production"
    assert page_client.sign_in(coordinator.login).headers["Location"].endswith("/connexion/code")
    page = page_client.get("/connexion/code").get_data(as_text=True)
    assert "Activer la double authentification" in page and "<svg" in page
    totp = secret_of(page)
    assert secret_of(page_client.get("/connexion/code").get_data(as_text=True)).secret == totp.secret  # a reload: same
    assert page_client.post("/connexion/code", {"totp": "000000" if totp.now() != "000000" else "111111"}).status_code == 422
    done = page_client.post("/connexion/code", {"totp": totp.at(clock.now())})
    assert done.status_code == 200
    codes = CODES.findall(done.get_data(as_text=True))
    assert len(codes) == 10 and 'href="/pilotage"' in done.get_data(as_text=True)
    assert page_client.get("/pilotage").status_code == 200
    # Required here: it cannot be turned off, and the API now asks for the code.
    assert "Désactiver la double authentification" not in page_client.get("/compte").get_data(as_text=True)
    off = page_client.post("/compte/double-authentification/desactiver", {"totp": codes[0]})
    assert off.status_code == 302
    assert make.client.post("/api/v1/auth/token", json={"login": coordinator.login, "password": PASSWORD}).json["code"] == (
        "totp_required"
    )


def test_in_development_an_unenrolled_coordinator_signs_in_with_its_password(make: Any, page_client: Any) -> None:
    coordinator = make.member(make.community(), "coordinator")
    assert page_client.sign_in(coordinator.login).headers["Location"].endswith("/pilotage")


def test_new_recovery_codes_replace_the_old_ones_and_a_holder_may_turn_it_off(
    make: Any, as_user: Any, page_client: Any, clock: Any
) -> None:
    physician = make.member(make.community(), "physician")
    mine = as_user(physician)
    totp, old = enrol_from_account(mine, clock)
    renewed = mine.post("/compte/double-authentification/codes-de-secours", {"totp": totp.at(clock.now())})
    new = CODES.findall(renewed.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    api = make.client.post("/api/v1/auth/token", json={"login": physician.user.login, "password": PASSWORD, "totp": old[0]})
    assert api.json["code"] == "bad_totp"
    clock.advance(seconds=30)
    assert mine.post("/compte/double-authentification/desactiver", {"totp": new[0]}).status_code == 302
    assert 'id="enable-totp"' in mine.get("/compte").get_data(as_text=True)
    again = make.client.post("/api/v1/auth/token", json={"login": physician.user.login, "password": PASSWORD})
    assert again.status_code == 200
