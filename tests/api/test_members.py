"""Members and accounts in the API (issue 17, point 3): edit, deactivate and reactivate, invite by a single-use link
that expires; the nasty cases (another community, a wrong role, bad values, a link used twice or too late)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dispatch.auth.models import User
from dispatch.auth.service import PASSWORD_ALPHABET, generate_password
from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.notify.models import OutboxMessage
from dispatch.notify.ports import DeliveryResult, Outcome
from dispatch.requests.models import Offer
from tests.conftest import PASSWORD, luhn_rpps
from tests.pages.conftest import PageClient

NEW = "mon mot de passe choisi"
LINK = re.compile(r"https?://\S+/definir-mot-de-passe/([A-Za-z0-9_-]+)")


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    """Two communities, A and B, each with a coordinator, an operator and two physicians; an admin."""
    out: dict[str, Any] = {"admin": make.admin()}
    for key in ("a", "b"):
        community = make.community()
        out[key] = {
            "community": community,
            "coordinator": make.member(community, "coordinator"),
            "operator": make.member(community, "operator"),
            "physician": make.member(community, "physician"),
            "other": make.member(community, "physician"),
        }
    return out


def path(world: dict[str, Any], member: Any, suffix: str = "", community: str = "a") -> str:
    user = getattr(member, "user", member)
    return f"/communities/{world[community]['community'].id}/members/{user.id}{suffix}"


def sign_in(make: Any, login: str, password: str) -> Any:
    return make.client.post("/api/v1/auth/token", json={"login": login, "password": password})


def invite_new(make: Any, world: dict[str, Any], **fields: Any) -> Any:
    body = {"role": "physician", "login": "ldurand", "name": "Dr Léa Durand", "rpps": luhn_rpps(7001), "kind": "remplacant"}
    body.setdefault("phone", "06 12 34 99 01")
    body.update(fields)
    body = {k: v for k, v in body.items() if v is not None}
    return make.call("POST", f"/communities/{world['a']['community'].id}/members", world["a"]["coordinator"], json=body)


def link_of(message: Any) -> str:
    found = LINK.search(getattr(message, "body", "") or message.get_body(preferencelist=("plain",)).get_content())
    assert found, message
    return found.group(1)


# --- Edit ---------------------------------------------------------------------------------------------------------


def test_a_coordinator_edits_a_physician(make: Any, world: dict[str, Any]) -> None:
    """The name, kind and practice address of an account in use: its coordinator; its contacts: the admin (issue 23)."""
    a = world["a"]
    details = {"name": "Dr Jeanne Nouveau-Nom", "kind": "cami", "address": "2 place du Marché, Champigny"}
    contacts = {"phone": "07 81 22 33 44", "mssante": "jeanne.nouveau@medecin.mssante.fr", "email": "jeanne@example.fr"}
    refused = make.call("PATCH", path(world, a["physician"]), a["coordinator"], json={**details, **contacts})
    assert (refused.status_code, refused.json["code"]) == (403, "account_in_use")
    response = make.call("PATCH", path(world, a["physician"]), a["coordinator"], json=details)
    assert response.status_code == 200, response.json
    response = make.call("PATCH", path(world, a["physician"]), world["admin"], json=contacts)
    assert response.status_code == 200, response.json
    answer = response.json
    assert answer["name"] == "Dr Jeanne Nouveau-Nom" and answer["phone"] == "+33781223344"
    assert answer["physician"]["kind"] == "cami" and answer["physician"]["mssante"] == "jeanne.nouveau@medecin.mssante.fr"
    assert answer["physician"]["rpps"] == a["physician"].rpps  # the RPPS stays
    listed = {m["user_id"]: m for m in make.call("GET", f"/communities/{a['community'].id}/members", a["coordinator"]).json}
    assert listed[a["physician"].user.id]["physician"]["address"] == "2 place du Marché, Champigny"
    # null clears an optional field; the admin may edit too
    cleared = make.call("PATCH", path(world, a["physician"]), world["admin"], json={"email": None, "phone": None})
    assert cleared.status_code == 200 and cleared.json["email"] is None and cleared.json["phone"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "06 12"}, "phone"),
        ({"phone": "01 23 45 67 89 00"}, "phone"),
        ({"phone": "appelez-moi"}, "phone"),
        ({"mssante": "pas une adresse"}, "mssante"),
        ({"mssante": "jeanne@gmail.com"}, "mssante"),  # outside the MSSanté space
        ({"email": "jeanne@"}, "email"),
        ({"kind": "chef"}, "kind"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"rpps": luhn_rpps(4242)}, "rpps"),  # the RPPS never changes
        ({"login": "autre"}, "login"),
        ({"role": "coordinator"}, "role"),
    ],
)
def test_bad_values_are_refused_field_by_field(make: Any, world: dict[str, Any], body: dict[str, Any], field: str) -> None:
    a = world["a"]
    response = make.call("PATCH", path(world, a["physician"]), a["coordinator"], json=body)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert field in response.json["errors"], response.json
    assert db.session.get(User, a["physician"].user.id).name.startswith("Dr Médecin")


def test_physician_fields_on_an_operator_and_non_mssante_where_allowed(make: Any, world: dict[str, Any]) -> None:
    a = world["a"]
    refused = make.call("PATCH", path(world, a["operator"]), a["coordinator"], json={"kind": "cami"})
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"kind"}
    a["community"].allow_non_mssante = True
    db.session.commit()
    allowed = make.call("PATCH", path(world, a["physician"]), world["admin"], json={"mssante": "dr@cabinet.example.fr"})
    assert allowed.status_code == 200 and allowed.json["physician"]["mssante"] == "dr@cabinet.example.fr"


def test_another_communitys_member_is_not_found_and_roles_are_checked(make: Any, world: dict[str, Any]) -> None:
    a, b = world["a"], world["b"]
    change = {"name": "Piraté"}
    # A's coordinator, B's member through A's URL: not one of A's members.
    for suffix, method in (("", "PATCH"), ("", "GET"), ("/deactivate", "POST"), ("/reactivate", "POST"), ("/invitation", "POST")):
        response = make.call(
            method, path(world, b["physician"], suffix), a["coordinator"], json=change if method == "PATCH" else None
        )
        assert response.status_code == 404, (suffix, method, response.json)
        # B's coordinator on A's community: it does not exist for them.
        response = make.call(
            method, path(world, a["physician"], suffix), b["coordinator"], json=change if method == "PATCH" else None
        )
        assert response.status_code == 404, (suffix, method, response.json)
        # A's operator and physicians: authenticated, but not allowed.
        for who in (a["operator"], a["other"]):
            response = make.call(method, path(world, a["physician"], suffix), who, json=change if method == "PATCH" else None)
            assert response.status_code == 403 and response.mimetype == "application/problem+json", (suffix, method)
    assert make.client.patch(f"/api/v1{path(world, a['physician'])}", json=change).status_code == 401
    assert db.session.get(User, b["physician"].user.id).name != "Piraté"
    assert db.session.get(User, a["physician"].user.id).active and db.session.get(User, b["physician"].user.id).active


# --- Deactivate and reactivate ---------------------------------------------------------------------------------------


def test_deactivated_member_cannot_sign_in_nor_get_offers_history_kept_then_reactivated(make: Any, world: dict[str, Any]) -> None:
    a = world["a"]
    physician = a["physician"]
    earlier = make.open(a["operator"], a["community"])
    make.clock.advance(hours=1)
    assert make.accept(physician, earlier["id"], minutes=30).status_code == 200
    token = make.token(physician)
    response = make.call("POST", path(world, physician, "/deactivate"), a["coordinator"])
    assert response.status_code == 200 and response.json["active"] is False
    assert make.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    refused = sign_in(make, physician.user.login, PASSWORD)
    assert refused.status_code == 403 and refused.json["code"] == "account_disabled"
    opened = make.open(a["operator"], a["community"], treating=physician)
    assert opened["state"] == "community"  # a deactivated treating GP holds no exclusive hour
    offered = make.call("GET", "/me/offers", a["other"]).json
    assert [o["id"] for o in offered] == [opened["id"]]
    from dispatch.requests.models import Offer

    assert db.session.scalars(select(Offer).where(Offer.physician_id == physician.id, Offer.request_id == opened["id"])).all() == []
    history = make.call("GET", f"/requests/{earlier['id']}", a["operator"]).json
    assert history["accepted_by"]["physician_id"] == physician.id  # their history stays
    # Reactivated: signs in again (the old token stays revoked) and is offered the next requests.
    back = make.call("POST", path(world, physician, "/reactivate"), a["coordinator"])
    assert back.status_code == 200 and back.json["active"] is True
    assert make.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert sign_in(make, physician.user.login, PASSWORD).status_code == 200
    later = make.open(a["operator"], a["community"], treating=physician)
    assert later["state"] == "exclusive"


def test_one_cannot_deactivate_oneself(make: Any, world: dict[str, Any]) -> None:
    a = world["a"]
    response = make.call("POST", path(world, a["coordinator"], "/deactivate"), a["coordinator"])
    assert response.status_code == 409 and response.json["code"] == "self_deactivation"
    assert make.call("DELETE", path(world, a["coordinator"]), a["coordinator"]).status_code == 409


# --- Invitations --------------------------------------------------------------------------------------------------


def test_invite_set_password_sign_in_and_the_link_works_once(app: Any, make: Any, world: dict[str, Any], ports: Any) -> None:
    created = invite_new(make, world)
    assert created.status_code == 201, created.json
    assert created.json["invitation"]["channel"] == "sms"
    assert created.json["invitation"]["expires_at"] == "2026-11-30T14:00:00Z"  # 7 days
    user = db.session.get(User, created.json["user_id"])
    assert user.password_set_at is None
    listed = make.call("GET", f"/communities/{world['a']['community'].id}/members/{user.id}", world["a"]["coordinator"]).json
    assert listed["pending"] is True and listed["invitation"]["status"] == "sending"
    make.deliver()
    sms = ports["sms"].sent[-1]
    assert sms.to == "+33612349901" and "ldurand" in sms.body and "7 jours" in sms.body
    secret = link_of(sms)
    # The outbox keeps no usable link once the SMS is sent.
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "invitation"))
    assert secret not in str(message.payload)
    listed = make.call("GET", f"/communities/{world['a']['community'].id}/members/{user.id}", world["a"]["coordinator"]).json
    assert listed["invitation"]["status"] == "sent" and listed["invitation"]["sent_at"] == "2026-11-23T14:00:00Z"
    assert sign_in(make, "ldurand", NEW).status_code == 401  # no password before they choose one
    page = PageClient(app)
    shown = page.get(f"/definir-mot-de-passe/{secret}")
    assert shown.status_code == 200 and "ldurand" in shown.get_data(as_text=True)
    short = page.post(f"/definir-mot-de-passe/{secret}", {"new_password": "court", "new_password_again": "court"})
    assert short.status_code == 422
    done = page.post(f"/definir-mot-de-passe/{secret}", {"new_password": NEW, "new_password_again": NEW})
    assert done.status_code == 302 and done.headers["Location"].endswith("/connexion")
    assert sign_in(make, "ldurand", NEW).status_code == 200
    # Used once: the link is dead, on both pages.
    assert PageClient(app).get(f"/definir-mot-de-passe/{secret}").status_code == 404
    again = PageClient(app)
    again.get("/connexion")
    assert (
        again.post(
            f"/definir-mot-de-passe/{secret}",
            {"new_password": "un autre mot de passe", "new_password_again": "un autre mot de passe"},
        ).status_code
        == 404
    )
    assert PageClient(app).get(f"/reinitialisation/{secret}").status_code == 404
    assert sign_in(make, "ldurand", "un autre mot de passe").status_code == 401
    listed = make.call("GET", f"/communities/{world['a']['community'].id}/members/{user.id}", world["a"]["coordinator"]).json
    assert listed["pending"] is False and listed["invitation"]["status"] == "accepted"
    # Once the password is chosen, the account is in use: no link from a coordinator; the admin is told a reset is
    # what they need.
    resent = make.call("POST", f"/communities/{world['a']['community'].id}/members/{user.id}/invitation", world["a"]["coordinator"])
    assert resent.status_code == 403 and resent.json["code"] == "account_in_use"
    resent = make.call("POST", f"/communities/{world['a']['community'].id}/members/{user.id}/invitation", world["admin"])
    assert resent.status_code == 409 and resent.json["code"] == "password_set"


@pytest.mark.parametrize(("elapsed", "usable"), [(timedelta(days=7, seconds=-1), True), (timedelta(days=7), False)])
def test_the_link_expires_after_seven_days(
    app: Any, make: Any, world: dict[str, Any], ports: Any, elapsed: timedelta, usable: bool
) -> None:
    created = invite_new(make, world, phone=None, email="lea.durand@example.fr")
    assert created.json["invitation"]["channel"] == "mail"
    make.deliver()
    mail = ports["mail"].sent[-1]
    assert mail["To"] == "lea.durand@example.fr"
    secret = link_of(mail)
    make.clock.advance(seconds=elapsed.total_seconds())
    page = PageClient(app)
    page.get("/connexion")  # a form's token, since an expired link's page has no form
    assert page.get(f"/definir-mot-de-passe/{secret}").status_code == (200 if usable else 404)
    done = page.post(f"/definir-mot-de-passe/{secret}", {"new_password": NEW, "new_password_again": NEW})
    assert done.status_code == (302 if usable else 404)
    assert (sign_in(make, "ldurand", NEW).status_code == 200) is usable
    if not usable:
        make.tokens.clear()  # a week later, the coordinator's token has expired too
        member = make.call(
            "GET", f"/communities/{world['a']['community'].id}/members/{created.json['user_id']}", world["a"]["coordinator"]
        )
        assert member.json["invitation"]["status"] == "expired"


def test_resending_kills_the_earlier_link_and_deactivation_kills_all(
    app: Any, make: Any, world: dict[str, Any], ports: Any
) -> None:
    a = world["a"]
    created = invite_new(make, world, email="lea.durand@example.fr")
    user_path = f"/communities/{a['community'].id}/members/{created.json['user_id']}"
    make.deliver()
    first = link_of(ports["sms"].sent[-1])
    make.clock.advance(minutes=5)  # one link per member every 5 minutes
    resent = make.call("POST", f"{user_path}/invitation", a["coordinator"], json={"channel": "mail"})
    assert resent.status_code == 202 and resent.json["channel"] == "mail"
    make.deliver()
    second = link_of(ports["mail"].sent[-1])
    assert PageClient(app).get(f"/definir-mot-de-passe/{first}").status_code == 404
    assert PageClient(app).get(f"/definir-mot-de-passe/{second}").status_code == 200
    assert make.call("POST", f"{user_path}/deactivate", a["coordinator"]).status_code == 200
    assert PageClient(app).get(f"/definir-mot-de-passe/{second}").status_code == 404
    refused = make.call("POST", f"{user_path}/invitation", a["coordinator"])
    assert refused.status_code == 409 and refused.json["code"] == "member_inactive"
    make.call("POST", f"{user_path}/reactivate", a["coordinator"])
    assert PageClient(app).get(f"/definir-mot-de-passe/{second}").status_code == 404  # reactivation revives no old link
    make.clock.advance(minutes=5)
    assert make.call("POST", f"{user_path}/invitation", a["coordinator"]).status_code == 202


def test_a_failed_invitation_shows_as_failed(make: Any, world: dict[str, Any], ports: Any) -> None:
    created = invite_new(make, world)
    ports["sms"].script = [DeliveryResult(outcome=Outcome.PERMANENT, detail="21211 invalid number")]
    make.deliver()
    member = make.call(
        "GET", f"/communities/{world['a']['community'].id}/members/{created.json['user_id']}", world["a"]["coordinator"]
    )
    assert member.json["invitation"]["status"] == "failed"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"phone": None}, "phone"),  # nowhere to send it
        ({"invite": "mail"}, "email"),
        ({"invite": "sms", "phone": None, "email": "x@example.fr"}, "phone"),
        ({"invite": "sms", "password": "un mot de passe long"}, "invite"),
        ({"password": "court"}, "password"),
        ({"mssante": "lea@gmail.com"}, "mssante"),
    ],
)
def test_inviting_needs_somewhere_to_send(make: Any, world: dict[str, Any], fields: dict[str, Any], field: str) -> None:
    response = invite_new(make, world, **fields)
    assert response.status_code == 422 and field in response.json["errors"], response.json
    assert db.session.scalar(select(User).where(User.login == "ldurand")) is None


def test_an_account_created_with_a_password_gets_no_invitation(make: Any, world: dict[str, Any], ports: Any) -> None:
    response = invite_new(make, world, password="un mot de passe provisoire")
    assert response.status_code == 201 and "invitation" not in response.json
    make.deliver()
    assert ports["sms"].sent == [] and sign_in(make, "ldurand", "un mot de passe provisoire").status_code == 200


def test_invitation_roles(make: Any, world: dict[str, Any]) -> None:
    a = world["a"]
    created = invite_new(make, world)
    user_path = f"/communities/{a['community'].id}/members/{created.json['user_id']}/invitation"
    make.clock.advance(minutes=5)  # one link per member every 5 minutes
    for who, status in ((a["operator"], 403), (a["physician"], 403), (world["b"]["coordinator"], 404), (world["admin"], 202)):
        assert make.call("POST", user_path, who).status_code == status


def test_generated_passwords_have_no_ambiguous_characters() -> None:
    assert not set("IlO0o1") & set(PASSWORD_ALPHABET) and len(PASSWORD_ALPHABET) == 56
    samples = {generate_password() for _ in range(200)}
    assert len(samples) == 200 and all(len(p) == 16 and set(p) <= set(PASSWORD_ALPHABET) for p in samples)
    assert set("".join(samples)) == set(PASSWORD_ALPHABET)  # 3,200 draws reach every one of the 56 characters


def test_a_coordinator_cannot_take_over_another_coordinators_account(make: Any, world: dict[str, Any]) -> None:
    """Changing a fellow coordinator's phone or email, then sending a link there, would take the account: refused."""
    a = world["a"]
    peer = make.member(a["community"], "coordinator", phone="06 12 34 56 00", email="peer@cpts.example.fr")
    for method, suffix, body in (
        ("PATCH", "", {"phone": "06 99 99 99 99"}),
        ("PATCH", "", {"email": "pirate@example.fr"}),
        ("POST", "/password-reset", {"channel": "sms"}),
        ("POST", "/invitation", {}),
    ):
        refused = make.call(method, path(world, peer, suffix), a["coordinator"], json=body)
        assert (refused.status_code, refused.json["code"]) == (403, "peer_account"), (suffix, body, refused.json)
    db.session.expire_all()
    assert (peer.phone, peer.email) == ("06 12 34 56 00", "peer@cpts.example.fr")  # as created
    assert db.session.scalar(select(OutboxMessage.id)) is None  # no link went anywhere
    # Nor rename them (issue 23); the admin manages their contacts; everyone manages their own.
    renamed = make.call("PATCH", path(world, peer), a["coordinator"], json={"name": "Claire Nouveau"})
    assert (renamed.status_code, renamed.json["code"]) == (403, "peer_coordinator")
    assert make.call("PATCH", path(world, peer), world["admin"], json={"phone": "06 11 11 11 11"}).status_code == 200
    mine = make.call("PATCH", path(world, a["coordinator"]), a["coordinator"], json={"email": "moi@cpts.example.fr"})
    assert mine.status_code == 200
    db.session.expire_all()
    assert [m.address for m in db.session.scalars(select(OutboxMessage))] == ["06 12 34 56 00"]  # the previous phone, told
    db.session.execute(OutboxMessage.__table__.delete())
    db.session.commit()
    # The pages say the same, and send nothing.
    page = PageClient(make.app)
    assert page.sign_in(a["coordinator"].login).status_code == 302
    page.get(f"/pilotage/membres?community={a['community'].id}")
    page.post(f"/pilotage/membres/{peer.id}/reinitialiser", {"channel": "sms"})
    edited = page.post(f"/pilotage/membres/{peer.id}/modifier", {"name": peer.name, "phone": "06 98 98 98 98"})
    assert edited.status_code == 403 and "géré par l" in edited.get_data(as_text=True)
    db.session.expire_all()
    assert peer.phone == "+33611111111" and db.session.scalar(select(OutboxMessage.id)) is None


def test_an_invited_member_gets_no_offer_until_they_have_chosen_a_password(
    app: Any, make: Any, world: dict[str, Any], ports: Any
) -> None:
    """Issue 22: an invitation not yet taken up is no phone to ring (and no hour held for them as treating GP)."""
    a = world["a"]
    created = invite_new(make, world)
    assert created.status_code == 201, created.json
    invited = db.session.scalar(select(Physician).where(Physician.user_id == created.json["user_id"]))
    held = make.open(a["operator"], a["community"], treating=invited)
    assert held["state"] == "community"  # no exclusive hour for an account nobody can sign in to yet
    offered = {o.physician_id for o in db.session.scalars(select(Offer).where(Offer.request_id == held["id"]))}
    assert invited.id not in offered and {a["physician"].id, a["other"].id} <= offered
    make.deliver()
    secret = link_of(next(sms for sms in ports["sms"].sent if "definir-mot-de-passe" in sms.body))
    page = PageClient(app)
    page.get(f"/definir-mot-de-passe/{secret}")
    done = page.post(f"/definir-mot-de-passe/{secret}", {"new_password": NEW, "new_password_again": NEW})
    assert done.status_code == 302
    after = make.open(a["operator"], a["community"], treating=invited)
    assert after["state"] == "exclusive"
    assert {o.physician_id for o in db.session.scalars(select(Offer).where(Offer.request_id == after["id"]))} == {invited.id}
