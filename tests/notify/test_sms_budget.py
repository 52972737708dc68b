"""Issue 23, point 4 (a): a daily SMS budget per community, counted by the sender whatever queued the SMS; once
spent, SMS fail visibly ("over_budget") and the admin is told once that day, by mail and on their page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dispatch.db import db
from dispatch.notify.models import OutboxMessage
from tests.conftest import PASSWORD
from tests.pages.conftest import PageClient


def invite(make: Any, coordinator: Any, community: Any, n: int) -> Any:
    body = {"role": "operator", "login": f"invite-{n}", "name": f"Op {n}", "phone": f"+3361200{n:04d}", "invite": "sms"}
    return make.call("POST", f"/communities/{community.id}/members", coordinator, json=body)


def test_the_budget_stops_sms_past_it_and_tells_the_admin_once_a_day(make: Any, ports: Any, clock: Any) -> None:
    admin, community = make.admin(), make.community()
    admin.email = "admin@snp.example.fr"
    db.session.commit()
    coordinator = make.member(community, "coordinator")
    refused = make.call("PATCH", f"/communities/{community.id}", coordinator, json={"sms_daily_budget": 100000})
    assert refused.status_code == 403 and refused.json["code"] == "admin_only"
    patched = make.call("PATCH", f"/communities/{community.id}", admin, json={"sms_daily_budget": 3})
    assert patched.status_code == 200 and patched.json["sms_daily_budget"] == 3
    for n in range(5):
        assert invite(make, coordinator, community, n).status_code == 201
    make.deliver()
    assert len(ports["sms"].sent) == 3
    statuses = db.session.scalars(select(OutboxMessage.status).where(OutboxMessage.channel == "sms").order_by(OutboxMessage.id))
    assert list(statuses) == ["sent", "sent", "sent", "over_budget", "over_budget"]
    told = [m for m in ports["mail"].sent if m["To"] == "admin@snp.example.fr"]
    assert len(told) == 1 and community.name in str(told[0]["Subject"]) and "3 SMS par jour" in told[0].get_content()
    # The coordinator's list says those invitations failed, not that they are on their way.
    listed = make.call("GET", f"/communities/{community.id}/members?limit=50", coordinator).json
    states = sorted(m["invitation"]["status"] for m in listed if m["invitation"])
    assert states == ["failed", "failed", "sent", "sent", "sent"]
    # A patient's SMS is counted too, and the admin is not told again that day.
    operator = make.member(community, "operator", password=PASSWORD)
    physician = make.member(community, "physician")
    opened = make.open(operator, community)
    make.accept(physician, opened["id"], minutes=30)
    make.deliver()
    assert len(ports["sms"].sent) == 3
    assert len([m for m in ports["mail"].sent if m["To"] == "admin@snp.example.fr"]) == 1
    # The admin's page says it.
    page = PageClient(make.app)
    assert page.sign_in(admin.login).status_code == 302
    shown = page.get("/admin/communautes").get_data(as_text=True)
    assert f'data-budget-spent="{community.id}"' in shown and "Budget SMS du jour épuisé" in shown
    # Another community's budget is its own.
    other = make.community()
    theirs = make.member(other, "coordinator")
    assert invite(make, theirs, other, 9).status_code == 201
    make.deliver()
    assert len(ports["sms"].sent) == 4
    # The next local day, the budget starts again (and the banner is gone).
    clock.advance(days=1)
    make.tokens.clear()  # yesterday's tokens have expired
    assert invite(make, coordinator, community, 7).status_code == 201
    make.deliver()
    assert len(ports["sms"].sent) == 5
    page = PageClient(make.app)
    assert page.sign_in(admin.login).status_code == 302
    shown = page.get("/admin/communautes").get_data(as_text=True)
    assert community.name in shown and f'data-budget-spent="{community.id}"' not in shown


def test_the_budget_defaults_to_500_and_is_documented(make: Any) -> None:
    admin, community = make.admin(), make.community()
    assert make.call("GET", f"/communities/{community.id}", admin).json["sms_daily_budget"] == 500
    schemas = make.call("GET", "/openapi.json", None).json["components"]["schemas"]
    assert (
        "sms_daily_budget" in schemas["CommunityPatch"]["properties"]
        and "sms_daily_budget" in schemas["CommunityOut"]["properties"]
    )
    assert make.call("PATCH", f"/communities/{community.id}", admin, json={"sms_daily_budget": -1}).status_code == 422
