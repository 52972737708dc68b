"""No 500 from hostile input (issue 14, point 10): deep JSON, ids beyond 64 bits, dates of year 1 or 9999."""

from __future__ import annotations

from typing import Any

import pytest

from tests.pages.conftest import PageClient

HUGE = str(2**64 + 1)


@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/requests", "/api/v1/me/devices"])
def test_deeply_nested_json_is_a_400_problem(make: Any, world: dict[str, Any], path: str) -> None:
    for body in ("[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000):
        response = make.client.post(path, data=body, content_type="application/json", headers=make.headers(world["a"]["operator"]))
        assert response.status_code == 400, (path, response.status_code)
        assert response.mimetype == "application/problem+json" and response.json["code"] == "invalid_json"


def test_a_stranger_is_still_told_401_first(make: Any) -> None:
    response = make.client.post("/api/v1/requests", data="[" * 100_000, content_type="application/json")
    assert response.status_code == 401


def _signed_in(app: Any, who: Any) -> PageClient:
    client = PageClient(app)
    assert client.sign_in(who.login).status_code == 302
    return client


def test_page_ids_and_community_beyond_64_bits_are_404(app: Any, make: Any, world: dict[str, Any]) -> None:
    operator = _signed_in(app, world["a"]["operator"])
    coordinator = _signed_in(app, world["a"]["coordinator"])
    admin = _signed_in(app, world["admin"])
    for client, path in (
        (operator, f"/console/demandes/{HUGE}"),
        (operator, f"/console?community={HUGE}"),
        (operator, "/console?community=-1"),
        (coordinator, f"/pilotage?community={HUGE}"),
        (admin, f"/pilotage?community={HUGE}"),
        (admin, f"/console/demandes/{HUGE}"),
    ):
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert "introuvable" in response.get_data(as_text=True).lower()


YEARS_1_AND_9999 = ["from=0001-01-01&to=0001-12-31", "from=9999-01-01&to=9999-12-31", "from=2026-01-01&to=9999-12-31"]


@pytest.mark.parametrize("dates", YEARS_1_AND_9999)
def test_pilotage_dates_of_year_1_or_9999_are_a_french_form_error(app: Any, world: dict[str, Any], dates: str) -> None:
    coordinator = _signed_in(app, world["a"]["coordinator"])
    response = coordinator.get(f"/pilotage?{dates}")
    assert response.status_code == 422
    assert "Date hors de la plage acceptée (2000 à 2100)." in response.get_data(as_text=True)
    for export in ("/pilotage/rapport.csv", "/pilotage/demandes.csv"):
        assert coordinator.get(f"{export}?{dates}").status_code in (200, 422)
