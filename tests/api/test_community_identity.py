"""A community's own identity (issue 25, point 4): set by the admin alone, validated, published in the OpenAPI; the
SMS of its requests and members signed with its sender."""

from __future__ import annotations

from typing import Any

import pytest

from dispatch.communities.identity import custodian_problem, identity_of, sms_sender_problem

IDENTITY = {"custodian_id": "1750000123", "mssante_from": "CPTS-Nord@cpts-nord.mssante.fr ", "sms_sender": "CPTSNORD"}


def test_the_admin_sets_it_a_coordinator_cannot_and_empty_gives_the_installations_back(make: Any) -> None:
    admin, community = make.admin(), make.community()
    coordinator = make.member(community, "coordinator")

    refused = make.call("PATCH", f"/communities/{community.id}", coordinator, json={"sms_sender": "CPTSNORD"})
    assert (refused.status_code, refused.json["code"]) == (403, "admin_only")

    patched = make.call("PATCH", f"/communities/{community.id}", admin, json=IDENTITY)
    assert patched.status_code == 200, patched.json
    assert {key: patched.json[key] for key in IDENTITY} == {
        "custodian_id": "1750000123",
        "mssante_from": "cpts-nord@cpts-nord.mssante.fr",  # a mailbox address: lower-case, the name of its certificate
        "sms_sender": "CPTSNORD",
    }
    cleared = make.call("PATCH", f"/communities/{community.id}", admin, json={"sms_sender": "", "custodian_id": None})
    assert (cleared.json["sms_sender"], cleared.json["custodian_id"]) == (None, None)
    shown = make.call("GET", f"/communities/{community.id}", coordinator).json
    assert shown["mssante_from"] == "cpts-nord@cpts-nord.mssante.fr"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("custodian_id", "312345678900012"),  # a SIRET whose key is wrong
        ("custodian_id", "212345678"),  # neither 3 + SIRET nor 1 + FINESS
        ("mssante_from", "../../etc/passwd@x.fr"),  # never a path
        ("mssante_from", "pas une adresse"),
        ("sms_sender", "AB"),  # too short
        ("sms_sender", "CPTS Nord-Est"),  # a space, a dash, too long
        ("sms_sender", "12345678901234567"),
    ],
)
def test_values_that_cannot_be_used_are_refused_in_french(make: Any, field: str, value: str) -> None:
    admin, community = make.admin(), make.community()
    refused = make.call("PATCH", f"/communities/{community.id}", admin, json={field: value})
    assert refused.status_code == 422
    assert field in str(refused.json)


def test_validators_and_the_installations_defaults() -> None:
    assert custodian_problem("312345678900015") is None and custodian_problem("1750000123") is None
    assert custodian_problem("335600000000001") is None  # La Poste: its SIRET add up to a multiple of 5
    assert sms_sender_problem("+33612345678") is None and sms_sender_problem("36111") is None
    config = {"DISPATCH_CUSTODIAN_ID": "312345678900011", "DISPATCH_SMTP_FROM": "snp@x.mssante.fr", "DISPATCH_SMS_FROM": ""}
    assert identity_of(None, config).sms_sender is None
    assert identity_of(None, config).mssante_from == "snp@x.mssante.fr"


def test_published_in_the_openapi(make: Any) -> None:
    schemas = make.call("GET", "/openapi.json", None).json["components"]["schemas"]
    patch = next(value for key, value in schemas.items() if key.startswith("CommunityPatch"))
    out = next(value for key, value in schemas.items() if key.startswith("CommunityOut"))
    for field in IDENTITY:
        assert field in patch["properties"] and field in out["properties"]
        assert patch["properties"][field]["description"]
