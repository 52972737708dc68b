"""Signing in (issue 14, points 6 and 14): an unknown login costs what a wrong password costs; a deactivated account is told so."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher, extract_parameters

from tests.conftest import PASSWORD


def test_an_unknown_login_is_checked_against_a_hash_of_the_runtime_parameters(make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dummy hash had other argon2 parameters: 20-40 ms against 0.5-1 s, so logins could be told by timing."""
    user = make.member(make.community(), "operator")
    verified: list[str] = []
    real = PasswordHasher.verify

    def spy(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        verified.append(hash if isinstance(hash, str) else hash.decode())
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    for login in (user.login, "personne-de-ce-nom"):
        response = make.client.post("/api/v1/auth/token", json={"login": login, "password": "pas le bon"})
        assert response.status_code == 401 and response.json["code"] == "bad_credentials"
    known, unknown = verified
    assert extract_parameters(unknown) == extract_parameters(known)
    hasher = make.app.extensions["dispatch"].hasher
    assert extract_parameters(unknown).time_cost == hasher.time_cost
    assert extract_parameters(unknown).memory_cost == hasher.memory_cost


def test_a_deactivated_account_is_told_so_only_with_the_right_password(make: Any) -> None:
    community = make.community()
    coordinator = make.member(community, "coordinator")
    leaving = make.member(community, "operator")
    assert make.call("DELETE", f"/communities/{community.id}/members/{leaving.id}", coordinator).status_code == 204
    right = make.client.post("/api/v1/auth/token", json={"login": leaving.login, "password": PASSWORD})
    assert right.status_code == 403 and right.json["detail"].startswith("Ce compte a été désactivé")
    wrong = make.client.post("/api/v1/auth/token", json={"login": leaving.login, "password": "pas le bon"})
    assert wrong.status_code == 401
