"""One tap from the offer's SMS (issue 22, item 8): a single-use link, bound to one physician and one request, valid
until the request's deadline, that opens that request and nothing else."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dispatch.auth.models import Token
from dispatch.db import db
from dispatch.notify.ports import SmsMessage
from dispatch.requests.models import OfferLink, Request
from tests.pages.conftest import PageClient
from tests.pages.test_browser import browser, no_horizontal_scroll, server, wait_for  # noqa: F401 -- fixtures used below

LINK = re.compile(r"http://[^ ]+(/l/[A-Za-z0-9_-]{22})$")


def offered_by_sms(make: Any, ports: Any) -> tuple[Any, Any, dict[str, Any], dict[int, str]]:
    """Open a request to two physicians without a phone app; return them, the request and each one's link path."""
    community = make.community()
    operator = make.member(community, "operator")
    first, second = make.member(community, "physician"), make.member(community, "physician")
    opened = make.open(operator, community)
    make.deliver()
    paths: dict[int, str] = {}
    for message in ports["sms"].sent:
        if isinstance(message, SmsMessage):
            found = LINK.search(message.body)
            assert found, message.body
            owner = first if message.to == first.user.phone else second
            paths[owner.id] = found.group(1)
    assert set(paths) == {first.id, second.id} and paths[first.id] != paths[second.id]
    return first, second, opened, paths


def tap(app: Any, path: str) -> tuple[PageClient, Any]:
    """Open the link as the phone's browser does: the page, then the POST its script makes."""
    phone = PageClient(app)
    shown = phone.get(path)
    assert shown.status_code == 200, shown.get_data(as_text=True)
    assert 'id="offer-link"' in shown.get_data(as_text=True)
    response = phone.post(path)
    if response.status_code == 302:
        phone.get(response.headers["Location"])  # the request's page, with the new session's CSRF token
    return phone, response


def test_the_link_opens_that_request_for_that_physician_once(app: Any, make: Any, ports: Any) -> None:
    first, _, opened, paths = offered_by_sms(make, ports)
    phone, response = tap(app, paths[first.id])
    assert response.status_code == 302 and response.headers["Location"] == f"/m/requests/{opened['id']}"
    page = phone.get(f"/m/requests/{opened['id']}")
    assert page.status_code == 200 and "Accepter" in page.get_data(as_text=True)
    assert phone.get(f"/m/requests/{opened['id']}/etat").status_code == 200
    # The session is a pages' one limited to the request: never a bearer token for the API.
    token = db.session.scalars(select(Token).where(Token.user_id == first.user.id)).one()
    assert token.scope == "offer"

    again = PageClient(app).get(paths[first.id])  # once only, even from another phone
    assert again.status_code == 410 and "déjà servi" in again.get_data(as_text=True)
    assert PageClient(app).post(paths[first.id], csrf=False).status_code in (403, 410)


def test_the_session_opens_nothing_else(app: Any, make: Any, ports: Any) -> None:
    first, _, opened, paths = offered_by_sms(make, ports)
    phone, _ = tap(app, paths[first.id])
    for elsewhere in ("/m/", "/m/patients", "/compte", f"/m/requests/{opened['id'] + 1}", "/console"):
        response = phone.get(elsewhere)
        assert response.status_code == 302 and response.headers["Location"].startswith("/connexion"), elsewhere
    sign_in = phone.get("/connexion").get_data(as_text=True)
    assert f"ouvre que la demande n°&nbsp;{opened['id']}" in sign_in
    # A form of another page is refused too: the session reaches only its request.
    assert phone.post("/m/disponibilite", {"available": "0"}).status_code in (302, 401)


def test_the_physician_accepts_and_refusing_stays_on_the_request(app: Any, make: Any, ports: Any) -> None:
    first, second, opened, paths = offered_by_sms(make, ports)
    phone, _ = tap(app, paths[second.id])
    refused = phone.post(f"/m/requests/{opened['id']}/refuser", {})
    assert refused.status_code == 302 and refused.headers["Location"] == f"/m/requests/{opened['id']}"
    phone, _ = tap(app, paths[first.id])
    accepted = phone.post(f"/m/requests/{opened['id']}/accepter", {"in": "30", "place": ""})
    assert accepted.status_code == 302
    assert db.session.get(Request, opened["id"]).accepted_by_id == first.id


def test_a_link_past_the_deadline_or_unknown_opens_nothing(app: Any, make: Any, ports: Any, clock: Any) -> None:
    first, _, opened, paths = offered_by_sms(make, ports)
    link = db.session.scalars(select(OfferLink).where(OfferLink.physician_id == first.id)).one()
    assert link.expires_at == db.session.get(Request, opened["id"]).expires_at
    assert PageClient(app).get("/l/" + "A" * 22).status_code == 404
    clock.advance(seconds=int((link.expires_at - clock.now()).total_seconds()))
    late = PageClient(app).get(paths[first.id])
    assert late.status_code == 410 and "délai" in late.get_data(as_text=True)
    assert db.session.scalars(select(Token).where(Token.user_id == first.user.id)).all() == []


def test_a_physician_signed_in_on_the_phone_keeps_the_full_session(app: Any, make: Any, ports: Any) -> None:
    first, _, opened, paths = offered_by_sms(make, ports)
    phone = PageClient(app)
    phone.sign_in(first.user.login)
    phone.get(paths[first.id])
    response = phone.post(paths[first.id])
    assert response.headers["Location"] == f"/m/requests/{opened['id']}"
    assert phone.get("/m/").status_code == 200  # the list still opens: the full session was kept


@pytest.mark.browser
def test_one_tap_in_chromium_on_a_phone_opens_the_request_and_only_it(
    app: Any,
    make: Any,
    ports: Any,
    server: str,  # noqa: F811 -- the shared fixture
    browser: Any,  # noqa: F811 -- the shared fixture
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    first, _, opened, paths = offered_by_sms(make, ports)
    phone = browser("sms-link", 390, 844)
    phone.get(server + paths[first.id])  # the page spends the link by itself: one tap in the SMS is enough
    wait_for(phone, lambda d: d.current_url.endswith(f"/m/requests/{opened['id']}"))
    assert phone.find_element(By.ID, "accept").is_displayed()
    assert no_horizontal_scroll(phone, 390)
    phone.save_screenshot(str(tmp_path / "offer-from-sms.png"))
    phone.get(server + "/m/")
    wait_for(phone, lambda d: "/connexion" in d.current_url)
    assert f"n'ouvre que la demande n°\u00a0{opened['id']}" in phone.find_element(By.TAG_NAME, "main").get_attribute("textContent")
    phone.get(server + paths[first.id])
    assert "déjà servi" in phone.find_element(By.TAG_NAME, "main").text
