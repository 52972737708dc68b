"""Pro Santé Connect (issue 23, point 14), end to end over real HTTPS against a local provider (tests/peers/psc.py).

The test client plays the browser on the service's side; `requests` plays it on the provider's side (its
authorization form); the service's Authlib client talks to the provider itself: discovery, token (mTLS, PKCE),
keys, userinfo. The Chromium run is in test_pro_sante_connect_browser.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from tests.peers.psc import Psc, running

# oidc-provider-mock (the provider's side, in its server thread) calls Authlib's server API the old way.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")

RPPS = "10003456786"
USERS: list[tuple[str, dict[str, object]]] = [
    ("dr-durand", {"SubjectNameID": "8" + RPPS, "acr": "eidas1", "family_name": "DURAND"}),
    ("dr-inconnu", {"SubjectNameID": "810000000009", "acr": "eidas1"}),
    ("dr-faible", {"SubjectNameID": "8" + RPPS, "acr": "eidas2"}),
    ("adeli", {"SubjectNameID": "0" + RPPS, "acr": "eidas1"}),
]


@pytest.fixture
def psc(tmp_path: Path) -> Iterator[Psc]:
    with running(tmp_path, USERS) as provider:
        yield provider


@pytest.fixture
def configured(app: Any, psc: Psc) -> Psc:
    app.config.update(psc.settings())
    return psc


def through_psc(page_client: Any, psc: Psc, sub: str) -> Any:
    """Click the button, sign in at the provider as `sub`, come back; return the service's answer."""
    page_client.get("/connexion")
    start = page_client.get("/connexion/psc")
    assert start.status_code == 302 and start.headers["Location"].startswith(psc.issuer + "/oauth2/authorize?")
    consent = requests.post(
        start.headers["Location"], data={"sub": sub}, verify=str(psc.ca_file), allow_redirects=False, timeout=10
    )
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["Location"])
    assert back.path == "/connexion/psc/retour"
    return page_client.get(f"{back.path}?{back.query}")


def test_the_button_shows_only_when_configured(app: Any, page_client: Any, psc: Psc) -> None:
    assert "Pro Santé Connect" not in page_client.get("/connexion").get_data(as_text=True)
    assert page_client.get("/connexion/psc").status_code == 404
    app.config.update(psc.settings())
    page = page_client.get("/connexion").get_data(as_text=True)
    assert 'id="psc"' in page and "Se connecter avec Pro Santé Connect" in page


def test_an_active_physician_signs_in_for_four_hours_at_most(make: Any, page_client: Any, configured: Psc, clock: Any) -> None:
    from dispatch.auth.models import Token

    physician = make.member(make.community(), "physician", rpps=RPPS)
    done = through_psc(page_client, configured, "dr-durand")
    assert done.status_code == 302 and done.headers["Location"].endswith("/m/")
    assert page_client.get("/m/").status_code == 200
    token = make.app.extensions  # keep mypy quiet about the unused app below
    del token
    from dispatch.db import db

    row = db.session.scalars(select(Token).where(Token.user_id == physician.user.id, Token.scope == "page")).one()
    assert row.expires_at - row.created_at == timedelta(hours=4)
    # What the provider saw: the scope, the level of assurance and PKCE asked; the client's certificate at the token
    # endpoint with its id in the body and no secret.
    assert configured.authorizations[-1] == {"scope": "openid scope_all", "acr_values": "eidas1", "code_challenge_method": "S256"}
    call = configured.token_calls[-1]
    assert call["client_cert"] and call["form"]["client_id"] == ["snp-dispatch"] and "client_secret" not in call["form"]
    assert call["form"]["code_verifier"]
    clock.advance(hours=4, seconds=1)
    assert page_client.get("/m/").status_code == 302


@pytest.mark.parametrize("sub", ["dr-inconnu", "adeli"])
def test_an_unknown_rpps_is_refused_and_no_account_is_made(make: Any, page_client: Any, configured: Psc, sub: str) -> None:
    from dispatch.auth.models import User
    from dispatch.db import db

    make.member(make.community(), "physician", rpps=RPPS)
    before = db.session.scalar(select(func.count()).select_from(User))
    refused = through_psc(page_client, configured, sub)
    assert refused.status_code == 403
    text = refused.get_data(as_text=True)
    assert "aucun médecin actif de SNP" in text and "Aucun compte n" in text and "est créé à la connexion" in text
    assert db.session.scalar(select(func.count()).select_from(User)) == before
    assert page_client.get("/m/").status_code == 302


def test_a_deactivated_physician_or_another_role_is_refused(make: Any, page_client: Any, configured: Psc) -> None:
    community = make.community()
    coordinator = make.member(community, "coordinator")
    physician = make.member(community, "physician", rpps=RPPS)
    assert make.call("DELETE", f"/communities/{community.id}/members/{physician.user.id}", coordinator).status_code == 204
    assert through_psc(page_client, configured, "dr-durand").status_code == 403


def test_a_weaker_level_of_assurance_is_refused(make: Any, page_client: Any, configured: Psc) -> None:
    make.member(make.community(), "physician", rpps=RPPS)
    refused = through_psc(page_client, configured, "dr-faible")
    assert refused.status_code == 400 and "pas abouti" in refused.get_data(as_text=True)
    assert page_client.get("/m/").status_code == 302


def test_without_its_client_certificate_the_token_endpoint_refuses_the_service(
    make: Any, app: Any, page_client: Any, configured: Psc
) -> None:
    make.member(make.community(), "physician", rpps=RPPS)
    app.config.update(DISPATCH_PSC_CLIENT_CERT="", DISPATCH_PSC_CLIENT_KEY="")
    refused = through_psc(page_client, configured, "dr-durand")
    assert refused.status_code == 400
    assert configured.token_calls[-1]["client_cert"] is False
    assert page_client.get("/m/").status_code == 302


def test_a_callback_cannot_be_replayed_nor_forged(make: Any, page_client: Any, configured: Psc, app: Any) -> None:
    make.member(make.community(), "physician", rpps=RPPS)
    page_client.get("/connexion")
    start = page_client.get("/connexion/psc")
    consent = requests.post(
        start.headers["Location"], data={"sub": "dr-durand"}, verify=str(configured.ca_file), allow_redirects=False, timeout=10
    )
    back = urlsplit(consent.headers["Location"])
    # Another browser (no state in its session) comes back with this code: refused, and the code is not spent.
    stranger = app.test_client()
    assert stranger.get(f"{back.path}?{back.query}").status_code == 400
    assert page_client.get(f"{back.path}?{back.query}").status_code == 302
    assert page_client.get(f"{back.path}?{back.query}").status_code == 400  # the state is used up
    forged = parse_qs(back.query)
    assert page_client.get(f"{back.path}?code=x&state={forged['state'][0]}").status_code == 400
