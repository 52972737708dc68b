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


def test_a_community_is_created_in_its_region(make: Any) -> None:
    from dispatch.communities.models import Community
    from dispatch.db import db

    admin = make.admin()
    created = make.call("POST", "/communities", admin, json={"name": "CPTS de Saint-Pierre", "region": "PM"})
    assert created.status_code == 201 and created.json["region"] == "PM", created.json
    assert make.call("GET", f"/communities/{created.json['id']}", admin).json["region"] == "PM"
    community = db.session.get(Community, created.json["id"])
    operator = make.member(community, "operator")
    body = make.request_body(community)
    # Six digits are a Saint-Pierre-et-Miquelon number there, and no number at all in metropolitan France.
    opened = make.open(operator, community, patient={**body["patient"], "phone": "41 23 45"})
    assert opened["patient"]["phone"] == "+508412345"


def test_a_community_created_without_a_region_is_in_metropolitan_france(make: Any) -> None:
    created = make.call("POST", "/communities", make.admin(), json={"name": "CPTS de Champigny"})
    assert created.status_code == 201 and created.json["region"] == "FR"


@pytest.mark.parametrize("region", ["US", "fr", "", 974, None])
def test_an_unknown_region_is_refused_on_creation(make: Any, region: Any) -> None:
    answer = make.call("POST", "/communities", make.admin(), json={"name": f"CPTS {region!r}", "region": region})
    assert answer.status_code == 422, answer.json
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert list(answer.json["errors"]) == ["region"]
    assert answer.json["errors"]["region"][0].startswith("Région inconnue") or region in (974, None)


def test_the_region_of_a_new_community_is_documented(make: Any) -> None:
    schemas = make.call("GET", "/openapi.json", None).json["components"]["schemas"]
    region = schemas["CommunityIn"]["properties"]["region"]
    assert region["enum"] == ["FR", "RE", "GP", "MQ", "GF", "YT", "PM"] and region["default"] == "FR"
