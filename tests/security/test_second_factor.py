"""The second factor (issue 23, point 15): TOTP at the API's token endpoint, in development and in production.

Production is the app's DISPATCH_ENV=production, read at each request through `config.settings.is_production`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyotp
import pytest

from config import settings
from tests.conftest import PASSWORD

TOKEN = "/api/v1/auth/token"


def enrol(user: Any, clock: Any) -> str:
    """Enrol `user`'s second factor as its holder would (the secret, then a first code); return the secret.

    The clock moves on a step: the code that confirmed the enrolment is used up.
    """
    from dispatch.auth import second_factor

    secret = second_factor.start_enrolment(user=user)
    codes = second_factor.confirm_enrolment(user=user, code=pyotp.TOTP(secret).at(clock.now()), now=clock.now())
    assert codes is not None and len(codes) == 10
    clock.advance(seconds=30)
    return secret


def post(make: Any, user: Any, **body: Any) -> Any:
    return make.client.post(TOKEN, json={"login": user.login, "password": PASSWORD, **body})


def test_dispatch_env_is_read_by_one_function_production_by_default(tmp_path: Path) -> None:
    assert settings.is_production(settings.load(tmp_path, environ={}))  # production unless told otherwise
    assert settings.is_production(settings.load(tmp_path, environ={"DISPATCH_ENV": "production"}))
    assert not settings.is_production(settings.load(tmp_path, environ={"DISPATCH_ENV": "development"}))


def test_in_development_an_account_without_a_second_factor_signs_in_with_its_password(make: Any) -> None:
    community = make.community()
    for user in (make.admin(), make.member(community, "coordinator"), make.member(community, "operator")):
        assert post(make, user).status_code == 200


def test_in_production_the_admin_and_coordinators_must_enrol_first(make: Any, app: Any) -> None:
    community = make.community()
    admin, coordinator = make.admin(), make.member(community, "coordinator")
    operator, physician = make.member(community, "operator"), make.member(community, "physician")
    app.config["DISPATCH_ENV"] = "production"
    for user in (admin, coordinator):
        response = post(make, user)
        assert response.status_code == 403 and response.json["code"] == "totp_enrolment_required", response.json
        assert "access_token" not in response.json
        assert post(make, user, totp="123456").json["code"] == "totp_enrolment_required"
    assert post(make, operator).status_code == 200  # the community does not ask its operators
    assert post(make, physician.user).status_code == 200
    # A wrong password says nothing of the second factor.
    wrong = make.client.post(TOKEN, json={"login": coordinator.login, "password": "pas le bon"})
    assert wrong.status_code == 401 and wrong.json["code"] == "bad_credentials"


def test_in_production_a_community_may_ask_its_operators_and_only_the_admin_takes_it_back(make: Any, app: Any) -> None:
    community = make.community()
    admin, coordinator, operator = make.admin(), make.member(community, "coordinator"), make.member(community, "operator")
    for who in (admin, coordinator):
        make.token(who)  # before production: their tokens stay valid
    app.config["DISPATCH_ENV"] = "production"
    assert post(make, operator).status_code == 200
    turned_on = make.call("PATCH", f"/communities/{community.id}", coordinator, json={"totp_operators": True})
    assert turned_on.status_code == 200 and turned_on.json["totp_operators"] is True
    assert post(make, operator).json["code"] == "totp_enrolment_required"
    refused = make.call("PATCH", f"/communities/{community.id}", coordinator, json={"totp_operators": False})
    assert refused.status_code == 403 and refused.json["code"] == "admin_only"
    assert make.call("PATCH", f"/communities/{community.id}", admin, json={"totp_operators": False}).status_code == 200
    assert post(make, operator).status_code == 200


@pytest.mark.parametrize("env", ["development", "production"])
def test_an_enrolled_account_always_needs_its_code(make: Any, app: Any, clock: Any, env: str) -> None:
    physician = make.member(make.community(), "physician")  # not asked of a physician: enrolled by choice
    secret = enrol(physician.user, clock)
    app.config["DISPATCH_ENV"] = env
    missing = post(make, physician.user)
    assert missing.status_code == 401 and missing.json["code"] == "totp_required"
    assert missing.headers["Content-Type"] == "application/problem+json"
    wrong = post(make, physician.user, totp="000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert wrong.status_code == 401 and wrong.json["code"] == "bad_totp"
    right = post(make, physician.user, totp=pyotp.TOTP(secret).at(clock.now()))
    assert right.status_code == 200 and right.json["access_token"]


def test_a_code_is_accepted_once_and_never_an_older_one(make: Any, clock: Any) -> None:
    coordinator = make.member(make.community(), "coordinator")
    totp = pyotp.TOTP(enrol(coordinator, clock))
    code = totp.at(clock.now())
    assert post(make, coordinator, totp=code).status_code == 200
    replay = post(make, coordinator, totp=code)
    assert replay.status_code == 401 and replay.json["code"] == "bad_totp"
    clock.advance(seconds=30)
    previous = totp.at(clock.now(), counter_offset=-1)  # inside the drift allowed, but no later than the last accepted
    assert previous == code and post(make, coordinator, totp=previous).json["code"] == "bad_totp"
    assert post(make, coordinator, totp=totp.at(clock.now())).status_code == 200
    clock.advance(seconds=300)
    assert post(make, coordinator, totp=code).json["code"] == "bad_totp"  # a code of long ago


def test_a_recovery_code_stands_for_the_phone_once(make: Any, clock: Any) -> None:
    from dispatch.auth import second_factor

    coordinator = make.member(make.community(), "coordinator")
    secret = second_factor.start_enrolment(user=coordinator)
    codes = second_factor.confirm_enrolment(user=coordinator, code=pyotp.TOTP(secret).at(clock.now()), now=clock.now())
    assert codes is not None
    assert post(make, coordinator, totp=codes[0].upper()).status_code == 200  # typed in capitals, still good
    again = post(make, coordinator, totp=codes[0])
    assert again.status_code == 401 and again.json["code"] == "bad_totp"
    assert post(make, coordinator, totp=codes[1]).status_code == 200


def test_wrong_codes_are_throttled_like_wrong_passwords(make: Any, app: Any, clock: Any) -> None:
    coordinator = make.member(make.community(), "coordinator")
    totp = pyotp.TOTP(enrol(coordinator, clock))
    wrong = "000000" if totp.at(clock.now()) != "000000" else "111111"
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert post(make, coordinator, totp=wrong).json["code"] == "bad_totp"
    slowed = post(make, coordinator, totp=totp.at(clock.now()))
    assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) > 0
    clock.advance(seconds=app.config["LOGIN_DELAY_S"])
    assert post(make, coordinator, totp=totp.at(clock.now())).status_code == 200


def test_the_openapi_publishes_the_code_and_its_errors(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").json
    op = doc["paths"]["/api/v1/auth/token"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    body = doc["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]] if "$ref" in body else body
    assert body["properties"]["totp"]["maxLength"] == 32 and "totp" not in body.get("required", [])
    assert "totp_required" in op["responses"]["401"]["description"]
    assert "bad_totp" in op["responses"]["401"]["description"]
    assert "totp_enrolment_required" in op["responses"]["403"]["description"]
    community = doc["components"]["schemas"]["CommunityPatch"]["properties"]
    assert community["totp_operators"]["type"] == "boolean"
