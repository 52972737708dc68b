"""Issue 23, points 1, 2, 4 (links), 9 and 10: a coordinator cannot take an account over by redirecting its links.

Attacked from outside, over HTTP and the pages: a coordinator who changes an operator's phone to theirs and sends
a reset link there (1); the treating GP's MSSanté address and the community's "allow_non_mssante" (2); links made
in bulk (4); links that outlive the password or the contact they went to (9); a coordinator who deactivates,
reactivates or renames a peer (10).
"""

from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import func, select

from dispatch.auth import accounts
from dispatch.auth.models import AccountEvent, PasswordReset, User
from dispatch.db import db
from dispatch.events import Event
from dispatch.notify.models import OutboxMessage
from tests.conftest import PASSWORD, luhn_rpps
from tests.pages.conftest import PageClient

ATTACKER = "06 66 66 66 66"
RESET = re.compile(r"/reinitialisation/([A-Za-z0-9_-]+)")
INVITATION = re.compile(r"/definir-mot-de-passe/([A-Za-z0-9_-]+)")
NEW = "un tout nouveau mot de passe"


def member_path(world: dict[str, Any], member: Any, suffix: str = "") -> str:
    user_id = member if isinstance(member, int) else getattr(member, "user", member).id
    return f"/communities/{world['a']['community'].id}/members/{user_id}{suffix}"


def outbox() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def signed_in(app: Any, who: Any) -> PageClient:
    client = PageClient(app)
    assert client.sign_in(getattr(who, "user", who).login, PASSWORD).status_code == 302
    client.get("/pilotage/membres")
    return client


def link_in(message: Any, pattern: re.Pattern[str] = RESET) -> str:
    found = pattern.search(message.body)
    assert found, message.body
    return found.group(1)


# --- 1. No takeover through a member's contacts --------------------------------------------------------------------


def test_a_coordinator_cannot_send_an_operators_link_to_their_own_phone(app: Any, make: Any, world: dict[str, Any]) -> None:
    a = world["a"]
    operator, physician = a["operator"], a["physician"]
    for member, body in (
        (operator, {"phone": ATTACKER}),
        (operator, {"email": "moi@pirate.example"}),
        (physician, {"phone": ATTACKER}),
        (physician, {"mssante": "pirate@medecin.mssante.fr"}),
    ):
        refused = make.call("PATCH", member_path(world, member), a["coordinator"], json=body)
        assert refused.status_code == 403 and refused.mimetype == "application/problem+json", body
        assert refused.json["code"] == "account_in_use" and "titulaire" in refused.json["detail"]
    for suffix in ("/password-reset", "/invitation"):
        refused = make.call("POST", member_path(world, operator, suffix), a["coordinator"], json={"channel": "sms"})
        assert (refused.status_code, refused.json["code"]) == (403, "account_in_use"), suffix
    # The pages apply the same rule: the form is refused, the button is not offered, a forged post sends nothing.
    pages = signed_in(app, a["coordinator"])
    listing = pages.get("/pilotage/membres").get_data(as_text=True)
    assert f"/pilotage/membres/{operator.id}/reinitialiser" not in listing
    edited = pages.post(f"/pilotage/membres/{operator.id}/modifier", {"name": operator.name, "phone": ATTACKER})
    assert edited.status_code == 403 and "utilisé par son titulaire" in edited.get_data(as_text=True)
    forged = pages.post(f"/pilotage/membres/{operator.id}/reinitialiser", {"channel": "sms"})
    assert "utilisé par son titulaire" in pages.get(forged.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, operator.id).phone is None and physician.mssante.startswith("medecin")
    assert outbox() == [] and db.session.scalar(select(func.count()).select_from(PasswordReset)) == 0


def test_the_admin_moves_a_phone_the_previous_one_is_told_and_the_admin_reads_the_trail(
    app: Any, make: Any, world: dict[str, Any], ports: Any
) -> None:
    a = world["a"]
    physician = a["physician"]
    before = physician.user.phone
    moved = make.call("PATCH", member_path(world, physician), world["admin"], json={"phone": "07 81 22 33 44"})
    assert moved.status_code == 200 and moved.json["phone"] == "+33781223344"
    make.deliver()
    (notice,) = ports["sms"].sent
    assert notice.to == before and "numéro de portable de votre compte" in notice.body
    assert "par l'administrateur" in notice.body and "http" not in notice.body  # no link in it, and no patient
    sent = make.call("POST", member_path(world, physician, "/password-reset"), world["admin"], json={})
    assert sent.status_code == 202
    # The admin reads who changed what (before, after) and which link went where; a coordinator may not.
    trail = make.call("GET", member_path(world, physician, "/trail"), world["admin"])
    assert trail.status_code == 200, trail.json
    link, edit = trail.json
    assert edit["action"] == "edited" and edit["by"] == {"id": world["admin"].id, "name": "Admin", "role": "admin"}
    assert edit["data"] == {"field": "phone", "before": before, "after": "+33781223344"}
    assert link["action"] == "link" and link["data"] == {"purpose": "reset", "channel": "sms", "to": "+33781223344"}
    assert link["user"] == {"id": physician.user.id, "name": physician.user.name}
    everyone = make.call("GET", f"/communities/{a['community'].id}/member-trail", world["admin"]).json
    assert [e["id"] for e in everyone] == [link["id"], edit["id"]]
    for path in (member_path(world, physician, "/trail"), f"/communities/{a['community'].id}/member-trail"):
        refused = make.call("GET", path, a["coordinator"])
        assert (refused.status_code, refused.json["code"]) == (403, "admin_only"), path
        assert make.call("GET", path, world["b"]["coordinator"]).status_code == 404
    # Not another community's trail through this one's URL.
    other = f"/communities/{a['community'].id}/members/{world['b']['physician'].user.id}/trail"
    assert make.call("GET", other, world["admin"]).status_code == 404
    # The admin's members page shows it; a coordinator's does not.
    page = signed_in(app, world["admin"]).get(f"/pilotage/membres?community={a['community'].id}").get_data(as_text=True)
    assert "Historique des comptes" in page and "+33781223344" in page and before in page
    assert "Historique des comptes" not in signed_in(app, a["coordinator"]).get("/pilotage/membres").get_data(as_text=True)


def test_an_invited_members_contacts_are_still_the_coordinators_and_a_link_dies_with_its_contact(
    app: Any, make: Any, world: dict[str, Any], ports: Any
) -> None:
    """Point 9, and rule 1's other side: nobody reads anything through an account not in use yet."""
    a = world["a"]
    body = {"role": "operator", "login": "nouvelle", "name": "Nina Nouvelle", "phone": "06 10 20 30 40"}
    created = make.call("POST", f"/communities/{a['community'].id}/members", a["coordinator"], json=body)
    assert created.status_code == 201
    make.deliver()
    first = link_in(ports["sms"].sent[-1], INVITATION)
    fixed = make.call("PATCH", member_path(world, created.json["user_id"]), a["coordinator"], json={"phone": "06 10 20 30 41"})
    assert fixed.status_code == 200
    assert PageClient(app).get(f"/definir-mot-de-passe/{first}").status_code == 404  # died with the number it went to
    make.deliver()
    assert ports["sms"].sent[-1].to == "+33610203040" and "a été changé" in ports["sms"].sent[-1].body


def test_links_die_when_the_holder_chooses_a_password(app: Any, make: Any, world: dict[str, Any], ports: Any) -> None:
    """Point 9: a reset link sent before the holder changed their password is dead afterwards."""
    operator = world["a"]["operator"]
    operator.email = "olga@example.fr"
    db.session.commit()
    assert make.call("POST", member_path(world, operator, "/password-reset"), world["admin"], json={}).status_code == 202
    make.deliver()
    secret = RESET.search(ports["mail"].sent[-1].get_content())
    assert secret is not None
    assert PageClient(app).get(f"/reinitialisation/{secret.group(1)}").status_code == 200
    changed = make.call("POST", "/me/password", operator, json={"current_password": PASSWORD, "new_password": NEW})
    assert changed.status_code == 204, changed.json
    assert PageClient(app).get(f"/reinitialisation/{secret.group(1)}").status_code == 404
    # And a link the admin sends to an email then replaced dies with it.
    make.clock.advance(minutes=5)
    assert make.call("POST", member_path(world, operator, "/password-reset"), world["admin"], json={}).status_code == 202
    make.deliver()
    second = RESET.search(ports["mail"].sent[-1].get_content())
    assert second is not None
    assert make.call("PATCH", member_path(world, operator), world["admin"], json={"email": "o@example.fr"}).status_code == 200
    assert PageClient(app).get(f"/reinitialisation/{second.group(1)}").status_code == 404
    make.deliver()
    assert ports["mail"].sent[-1]["To"] == "olga@example.fr" and "coordonnées" in str(ports["mail"].sent[-1]["Subject"])


# --- 10. Peers ------------------------------------------------------------------------------------------------------


def test_a_coordinator_cannot_deactivate_reactivate_or_rename_a_peer(app: Any, make: Any, world: dict[str, Any]) -> None:
    a = world["a"]
    peer = make.member(a["community"], "coordinator", name="Claire Pair")
    for method, suffix, body in (
        ("POST", "/deactivate", None),
        ("DELETE", "", None),
        ("PATCH", "", {"name": "Claire Renommée"}),
    ):
        refused = make.call(method, member_path(world, peer, suffix), a["coordinator"], json=body)
        assert (refused.status_code, refused.json["code"]) == (403, "peer_coordinator"), suffix
    pages = signed_in(app, a["coordinator"])
    assert f"/pilotage/membres/{peer.id}/desactiver" not in pages.get("/pilotage/membres").get_data(as_text=True)
    forged = pages.post(f"/pilotage/membres/{peer.id}/desactiver", {"confirm": "oui"})
    assert "Seul l'administrateur" in html.unescape(pages.get(forged.headers["Location"]).get_data(as_text=True))
    db.session.expire_all()
    assert db.session.get(User, peer.id).active and db.session.get(User, peer.id).name == "Claire Pair"
    assert make.call("POST", member_path(world, peer, "/deactivate"), world["admin"]).status_code == 200
    refused = make.call("POST", member_path(world, peer, "/reactivate"), a["coordinator"])
    assert (refused.status_code, refused.json["code"]) == (403, "peer_coordinator")
    forged = pages.post(f"/pilotage/membres/{peer.id}/reactiver")
    db.session.expire_all()
    assert not db.session.get(User, peer.id).active
    assert make.call("POST", member_path(world, peer, "/reactivate"), world["admin"]).status_code == 200
    # An operator stays theirs to deactivate and reactivate.
    assert make.call("POST", member_path(world, a["operator"], "/deactivate"), a["coordinator"]).status_code == 200
    assert make.call("POST", member_path(world, a["operator"], "/reactivate"), a["coordinator"]).status_code == 200
    actions = [e.action for e in db.session.scalars(select(AccountEvent).order_by(AccountEvent.id))]
    assert actions == ["deactivated", "reactivated", "deactivated", "reactivated"]


# --- 2. Syntheses ----------------------------------------------------------------------------------------------------


def test_only_the_admin_lets_syntheses_leave_mssante(make: Any, world: dict[str, Any]) -> None:
    a = world["a"]
    path = f"/communities/{a['community'].id}"
    refused = make.call("PATCH", path, a["coordinator"], json={"allow_non_mssante": True})
    assert (refused.status_code, refused.json["code"]) == (403, "admin_only")
    assert make.call("PATCH", path, a["coordinator"], json={"allow_non_mssante": False, "name": "CPTS Renommée"}).status_code == 200
    allowed = make.call("PATCH", path, world["admin"], json={"allow_non_mssante": True})
    assert allowed.status_code == 200 and allowed.json["allow_non_mssante"] is True


def _synthesis_to(make: Any, world: dict[str, Any]) -> list[dict[str, Any]]:
    a = world["a"]
    gp = a["physician"]
    opened = make.open(a["operator"], a["community"], treating=gp)
    assert make.call("POST", f"/requests/{opened['id']}/refuse", gp, json={}).status_code == 200
    assert make.accept(a["other"], opened["id"]).status_code == 200
    written = make.call("POST", f"/requests/{opened['id']}/outcome", a["other"], json={"outcome": "seen", "synthesis": "Vu."})
    assert written.status_code == 200, written.json
    events = make.call("GET", f"/requests/{opened['id']}/events", a["operator"]).json  # the full view: with the address
    return [e for e in events if e["type"] == "synthesis_to_new_address"]


def test_a_synthesis_to_an_address_changed_lately_is_noted_on_the_requests_trail(make: Any, world: dict[str, Any]) -> None:
    gp = world["a"]["physician"]
    before = gp.mssante
    assert _synthesis_to(make, world) == []  # the address it had when it joined
    changed = make.call("PATCH", member_path(world, gp), world["admin"], json={"mssante": "dr.nouvelle@medecin.mssante.fr"})
    assert changed.status_code == 200
    (noted,) = _synthesis_to(make, world)
    assert noted["data"]["to"] == "dr.nouvelle@medecin.mssante.fr" and noted["data"]["changed_by"] == "admin"
    make.clock.advance(days=31)
    make.tokens.clear()
    assert _synthesis_to(make, world) == []
    notices = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "contact_changed")).all()
    assert [n.address for n in notices] == [before]  # the previous secure mailbox is told
    assert db.session.scalar(select(func.count()).select_from(Event).where(Event.type == "synthesis_to_new_address")) == 1


# --- 4. Links rationed -----------------------------------------------------------------------------------------------


def test_links_to_a_member_are_rationed(app: Any, make: Any, world: dict[str, Any], ports: Any) -> None:
    operator = world["a"]["operator"]
    operator.phone = "06 10 00 00 01"
    db.session.commit()
    path = member_path(world, operator, "/password-reset")
    assert make.call("POST", path, world["admin"], json={}).status_code == 202
    make.clock.advance(minutes=4)
    soon = make.call("POST", path, world["admin"], json={})
    assert (soon.status_code, soon.json["code"]) == (429, "link_too_soon") and soon.mimetype == "application/problem+json"
    assert soon.headers["Retry-After"] == "60" and "1\u00a0min" in soon.json["detail"]
    make.clock.advance(minutes=1)
    assert make.call("POST", path, world["admin"], json={}).status_code == 202
    make.clock.advance(minutes=5)
    assert make.call("POST", path, world["admin"], json={}).status_code == 202
    make.clock.advance(minutes=5)
    day = make.call("POST", path, world["admin"], json={})
    assert (day.status_code, day.json["code"]) == (429, "member_links_per_day")
    assert int(day.headers["Retry-After"]) == 24 * 3600 - 15 * 60
    # The sign-in page's "Mot de passe oublié ?" goes through the same ration: nothing more leaves.
    before = len(outbox())
    assert accounts.forgot_password(login=operator.login, now=make.clock.now(), public_url="http://x") is False
    assert len(outbox()) == before
    make.clock.advance(hours=24)
    make.tokens.clear()
    assert make.call("POST", path, world["admin"], json={}).status_code == 202


def test_an_acting_account_makes_at_most_twenty_links_an_hour(make: Any, world: dict[str, Any]) -> None:
    a = world["a"]
    community = f"/communities/{a['community'].id}/members"
    for n in range(20):
        body = {"role": "operator", "login": f"op{n}", "name": f"Opératrice {n}", "phone": f"06 20 00 00 {n:02d}"}
        assert make.call("POST", community, a["coordinator"], json=body).status_code == 201, n
        make.clock.advance(seconds=90)
    body = {"role": "operator", "login": "op20", "name": "Opératrice 20", "phone": "06 20 00 00 20"}
    capped = make.call("POST", community, a["coordinator"], json=body)
    assert (capped.status_code, capped.json["code"]) == (429, "links_per_hour")
    assert (
        int(capped.headers["Retry-After"]) == 3600 - 30 * 60
        and db.session.scalar(select(User.id).where(User.login == "op20")) is None
    )
    # With a provisional password no link is made: not rationed. Another account keeps its own hour.
    with_password = {**body, "password": "un mot de passe provisoire"}
    assert make.call("POST", community, a["coordinator"], json=with_password).status_code == 201
    other = {
        "role": "physician",
        "login": "dr21",
        "name": "Dr 21",
        "phone": "06 20 00 00 21",
        "rpps": luhn_rpps(9021),
        "kind": "cami",
    }
    assert make.call("POST", community, world["admin"], json=other).status_code == 201
