"""A community's phone region reads its national-format numbers: patients' and members' (issue 15)."""

from __future__ import annotations

from typing import Any

import pytest

MEMBER = {"role": "operator", "password": "un mot de passe long", "name": "Opératrice"}


def in_region(make: Any, region: str) -> tuple[Any, Any, Any]:
    """Return an admin, a community set to `region` through the API, and one of its operators."""
    admin, community = make.admin(), make.community()
    patched = make.call("PATCH", f"/communities/{community.id}", admin, json={"region": region})
    assert patched.status_code == 200 and patched.json["region"] == region
    return admin, community, make.member(community, "operator")


def test_a_community_is_in_france_until_told_otherwise(make: Any) -> None:
    admin, community = make.admin(), make.community()
    assert make.call("GET", f"/communities/{community.id}", admin).json["region"] == "FR"

    refused = make.call("PATCH", f"/communities/{community.id}", admin, json={"region": "US"})
    assert refused.status_code == 422 and "region" in refused.json["errors"]


def test_the_region_is_documented(make: Any) -> None:
    schemas = make.call("GET", "/openapi.json", None).json["components"]["schemas"]
    assert schemas["CommunityPatch"]["properties"]["region"]["enum"] == ["FR", "RE", "GP", "MQ", "GF", "YT", "PM"]
    assert "region" in schemas["CommunityOut"]["properties"]


@pytest.mark.parametrize(
    ("region", "typed", "stored"),
    [
        ("PM", "41 23 45", "+508412345"),  # Saint-Pierre-et-Miquelon's six-digit numbers
        ("RE", "0692 12 34 56", "+262692123456"),
        ("RE", "06 12 34 56 78", "+33612345678"),  # a visitor's metropolitan mobile: its prefix says where
        ("FR", "0696 12 34 56", "+596696123456"),  # and a Martinique mobile is one wherever it is typed
        ("GP", "+33 6 12 34 56 78", "+33612345678"),
    ],
)
def test_the_patient_number_is_read_in_the_community_region(make: Any, region: str, typed: str, stored: str) -> None:
    _, community, operator = in_region(make, region)
    body = make.request_body(community)
    opened = make.open(operator, community, patient={**body["patient"], "phone": typed})
    assert opened["patient"]["phone"] == stored


def test_a_number_of_another_region_is_refused(make: Any) -> None:
    _, community, operator = in_region(make, "FR")
    body = make.request_body(community)
    answer = make.call("POST", "/requests", operator, json={**body, "patient": {**body["patient"], "phone": "41 23 45"}})
    assert answer.status_code == 422 and "patient.phone" in answer.json["errors"], answer.json


@pytest.mark.parametrize(("region", "status"), [("PM", 201), ("FR", 422)])
def test_a_member_number_is_read_in_the_community_region(make: Any, region: str, status: int) -> None:
    admin, community, _ = in_region(make, region)
    member = {**MEMBER, "login": f"op-{region.lower()}", "phone": "41 23 45"}
    answer = make.call("POST", f"/communities/{community.id}/members", admin, json=member)
    assert answer.status_code == status, answer.json
    if status == 201:
        members = make.call("GET", f"/communities/{community.id}/members", admin).json
        assert [m["phone"] for m in members if m["login"] == member["login"]] == ["+508412345"]
