"""The demo's year of history: about 2,000 requests shaped like Champigny's, loaded once, seen by the report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from dispatch import texts
from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.demo import load_demo
from dispatch.escalation.models import Offer, Request
from dispatch.reports.service import compute_report


def test_the_demo_year_fills_the_report_once(app: Any, clock: Any) -> None:
    with app.app_context():
        lines = load_demo(app)
        assert "Historique de démonstration : 2000 demandes sur les douze derniers mois." in lines
        assert not any("Historique" in line for line in load_demo(app))  # twice: no duplicates
        assert db.session.scalar(select(func.count(Request.id))) == 2000
        assert db.session.scalar(select(func.count(Request.id)).where(Request.next_deadline.is_not(None))) == 0
        offers = db.session.scalar(select(func.count(Offer.id)))
        community = db.session.scalar(select(Community).where(Community.name == "CPTS Champigny"))
        assert community is not None
        today = texts.local(clock.now(), community.timezone).date()
        report = compute_report(community=community, start=today - timedelta(days=366), end=today)
    assert report["opened"] == 2000 and report["open"] == 0 and offers > 2000
    assert 0.77 <= report["acceptance_rate"] <= 0.83
    assert 0.13 <= report["no_show_rate"] <= 0.19
    kinds = report["accepted_by_kind"]
    assert kinds["cami"] > report["accepted"] / 2 and kinds["cami"] == max(kinds.values())
    months = {row["month"][5:]: row["opened"] for row in report["by_month"] if row["opened"]}
    assert months["01"] > 1.8 * months["08"]  # the winter epidemics
    assert report["time_to_accept_s"]["median"] is not None and sum(report["by_source"].values()) == 2000
