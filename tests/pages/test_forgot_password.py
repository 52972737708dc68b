"""A forgotten password from the sign-in page (issue 22, item 8): a link by SMS (or mail), rationed, the same answer
whether the account exists or not."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from dispatch.db import db
from dispatch.notify.models import OutboxMessage
from tests.conftest import PASSWORD
from tests.pages.conftest import PageClient

SAID = "Si ce compte existe, un lien pour choisir un nouveau mot de passe vient d&#39;être envoyé"
NEW = "un nouveau mot de passe sûr"


def ask(app: Any, login: str) -> str:
    page = PageClient(app)
    assert 'id="forgot"' in page.get("/connexion").get_data(as_text=True)  # the link on the sign-in page
    page.get("/mot-de-passe-oublie")
    response = page.post("/mot-de-passe-oublie", {"login": login})
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"
    return str(page.get("/connexion").get_data(as_text=True))


def links() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "password_reset")))


def test_a_forgotten_password_is_reset_from_a_link_sent_to_the_members_mobile(app: Any, make: Any, ports: Any) -> None:
    community = make.community()
    physician = make.member(community, "physician", phone="0612340001")
    assert SAID in ask(app, physician.user.login.upper())  # the login typed in capitals
    (message,) = links()
    assert message.channel == "sms" and message.address.endswith("612340001")  # the account's own mobile
    make.deliver()
    sms = ports["sms"].sent[-1]
    assert "vous avez demandé un nouveau mot de passe" in sms.body
    secret = re.search(r"/reinitialisation/([A-Za-z0-9_-]+)", sms.body).group(1)  # type: ignore[union-attr]
    page = PageClient(app)
    page.get(f"/reinitialisation/{secret}")
    done = page.post(f"/reinitialisation/{secret}", {"new_password": NEW, "new_password_again": NEW})
    assert done.status_code == 302
    assert PageClient(app).sign_in(physician.user.login, NEW).status_code == 302
    assert PageClient(app).sign_in(physician.user.login, PASSWORD).status_code == 401


def test_the_answer_is_the_same_for_a_stranger_and_the_links_are_rationed(app: Any, make: Any, clock: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator", phone="0612340002")
    assert SAID in ask(app, "personne")  # no such account: the same words, nothing sent
    assert links() == []
    ask(app, operator.login)
    ask(app, operator.login)  # within 10 minutes of the last: nothing more to the same phone
    assert len(links()) == 1
    for _ in range(3):
        clock.advance(minutes=11)
        ask(app, operator.login)
    assert len(links()) == 3  # three a day at most
    clock.advance(hours=24)
    ask(app, operator.login)
    assert len(links()) == 4
