"""Schemathesis against the running service, with a token of each role: no 5xx, no answer off the document.

Bounded for CI (a few examples per operation); scripts/schemathesis.sh runs the same for longer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from dispatch.demo import PASSWORD

HERE = Path(__file__).resolve().parent
ST = Path(sys.executable).with_name("st")
ROLES = {
    "admin": "admin",
    "coordinator": "coordination",
    "operator": "operateur",
    "physician": "dr.durand",
    "requester": "ehpad",
}
# Every check but positive_data_acceptance: valid-looking data may still break a business rule
# (a phone number phonenumbers rejects, a synthesis missing when the patient was seen).
# ensure_resource_availability: the stateful phase infers a link from POST /requests to every
# /requests/{request_id}/... operation, the consultation PDF included, which exists only once the physician
# wrote a synthesis (404 until then, by design); every other link is still followed by use_after_free.
CHECKS = ["--checks", "all", "--exclude-checks", "positive_data_acceptance,ensure_resource_availability"]


def sign_in(base: str, login: str) -> str:
    """Return a bearer token of the live server."""
    body = json.dumps({"login": login, "password": PASSWORD}).encode()
    request = urllib.request.Request(
        f"{base}/api/v1/auth/token", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 -- loopback only
        return json.load(response)["access_token"]  # type: ignore[no-any-return]


def run_schemathesis(base: str, *extra: str, examples: int) -> subprocess.CompletedProcess[str]:
    """Run `st run` against the live server with our hooks (problem+json check, ids that exist)."""
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "st_hooks", "PYTHONPATH": str(HERE)}
    command = [
        str(ST),
        "run",
        f"{base}/api/v1/openapi.json",
        *CHECKS,
        "--max-examples",
        str(examples),
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--no-color",
        *extra,
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=240, cwd=HERE)


@pytest.fixture(scope="module")
def tokens(live_server: str) -> dict[str, str]:
    """Sign in once per role before the fuzzer hammers the sign-in endpoint."""
    return {role: sign_in(live_server, login) for role, login in ROLES.items()}


@pytest.mark.slow
@pytest.mark.fuzz
@pytest.mark.parametrize("role", sorted(ROLES))
def test_fuzz_as_each_role(live_server: str, tokens: dict[str, str], role: str) -> None:
    # Signing out would revoke the token mid-run; the anonymous run covers that operation.
    result = run_schemathesis(
        live_server, "--header", f"Authorization: Bearer {tokens[role]}", "--exclude-name", "DELETE /api/v1/auth/token", examples=5
    )
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-2000:]
    assert "Tested:" in result.stdout


@pytest.mark.slow
@pytest.mark.fuzz
def test_fuzz_anonymous(live_server: str) -> None:
    # Every protected operation answers 401 at once: coverage and a little fuzzing are enough.
    result = run_schemathesis(live_server, "--phases", "coverage,fuzzing", examples=3)
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-2000:]
