"""The demo's year of history: about 2,000 requests shaped like Champigny's, loaded once, seen by the report."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select

from dispatch import texts
from dispatch.auth.models import User
from dispatch.calls.models import Call
from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.demo import load_demo
from dispatch.demo_care import load_care
from dispatch.demo_history import COUNT, PENDING_CALLBACKS, load_history
from dispatch.professions import PHYSICIAN
from dispatch.reports.models import PhysicianDayStats, RequestDayStats
from dispatch.reports.service import compute_report
from dispatch.requests.models import Offer, Request, Synthesis


def test_the_demo_year_fills_the_report_once(app: Any, clock: Any) -> None:
    with app.app_context():
        started = time.perf_counter()
        lines = load_demo(app)
        elapsed = time.perf_counter() - started
        physicians = select(func.count(Request.id)).where(Request.profession == PHYSICIAN)
        total = db.session.scalar(physicians)
        cared = db.session.scalar(select(func.count(Request.id)).where(Request.profession != PHYSICIAN))
        relaunches = db.session.scalar(select(func.count(Request.id)).where(Request.relaunch_of_id.is_not(None)))
        assert f"Historique de démonstration : {total} demandes sur les douze derniers mois." in lines
        assert f"Infirmiers et kinésithérapeute : {cared} demandes sur les six dernières semaines." in lines
        assert not any("Historique" in line or "Infirmiers" in line for line in load_demo(app))  # twice: no duplicates
        assert db.session.scalar(physicians) == total == COUNT + relaunches and 100 < cared < 250
        assert db.session.scalar(select(func.count(Request.id)).where(Request.next_deadline.is_not(None))) == 0
        offers = db.session.scalar(select(func.count(Offer.id)))
        community = db.session.scalar(select(Community).where(Community.name == "CPTS Champigny"))
        assert community is not None
        today = texts.local(clock.now(), community.timezone).date()
        report = compute_report(community=community, start=today - timedelta(days=366), end=today)
        sent = db.session.scalars(select(Synthesis).where(Synthesis.to_address.is_not(None))).all()
    assert elapsed < 20  # a few seconds on a laptop, argon2 hashing of the accounts included
    assert report["opened"] == total + cared and report["open"] == 0 and offers > 2000
    assert 0.77 <= report["acceptance_rate"] <= 0.83
    assert 0.13 <= report["no_show_rate"] <= 0.19
    kinds = report["accepted_by_kind"]
    assert kinds["cami"] > report["accepted"] / 2 and kinds["cami"] == max(kinds.values())
    months = {row["month"][5:]: row["opened"] for row in report["by_month"] if row["opened"]}
    assert months["01"] > 1.8 * months["08"]  # the winter epidemics
    assert report["time_to_accept_s"]["median"] is not None and sum(report["by_source"].values()) == total + cared
    # Every request counts its call but a relaunch; the calls triaged without a request come on top.
    calls = report["calls"]
    assert calls["with_request"] == COUNT + cared and 100 < sum(calls["without_request"].values()) < 300
    assert calls["received"] == COUNT + cared + sum(calls["without_request"].values())
    # The syntheses sent over MSSanté came back with reports: most delivered, about half read, a few refused or failed.
    syntheses = report["syntheses"]
    print(f"demo loaded in {elapsed:.1f} s; syntheses {syntheses}")  # noqa: T201
    sent_total = syntheses["sent"] + syntheses["refused"] + syntheses["failed"]
    assert sent_total == len([s for s in sent if s.status not in ("not_needed", "pending")]) > 300
    assert 0.8 <= syntheses["delivered"] / sent_total <= 0.95
    assert 0.4 <= syntheses["read"] / sent_total <= 0.6 and syntheses["read"] < syntheses["delivered"] < syntheses["sent"]
    assert 0 < syntheses["refused"] <= 0.08 * sent_total and 0 < syntheses["failed"] <= 0.08 * sent_total
    assert syntheses["pending"] == 0
    reported = [s for s in sent if s.status in ("sent", "delivered", "read", "refused", "failed")]
    for synthesis in reported:  # as dispatch.delivery keeps them: a Message-ID, when the status last moved, why not
        assert synthesis.message_id and synthesis.message_id.startswith("<synthesis-demo-")
        assert synthesis.status_at is not None and synthesis.status_at > synthesis.written_at
        assert (synthesis.status_reason is not None) == (synthesis.status in ("refused", "failed"))
    reasons = {s.status_reason for s in reported if s.status_reason}
    assert any("n'a pas pu intégrer le document" in reason for reason in reasons)
    assert any("adresse inconnue" in reason for reason in reasons) and len(reasons) >= 4


def test_the_expired_requests_were_called_back_but_the_last_ones(app: Any, clock: Any) -> None:
    """Most patients reoriented or advised, a few unreachable or relaunched, the last three to expire still to call back."""
    with app.app_context():
        load_demo(app)
        community = db.session.scalar(select(Community).where(Community.name == "CPTS Champigny"))
        assert community is not None
        today = texts.local(clock.now(), community.timezone).date()
        callbacks = compute_report(community=community, start=today - timedelta(days=366), end=today)["callbacks"]
        expired = db.session.scalars(select(Request).where(Request.state == "expired")).all()
        pending = [request for request in expired if request.callback_result is None]
        relaunched = db.session.scalars(select(Request).where(Request.callback_result == "relaunched")).all()
        relaunches = {
            request.relaunch_of_id: request
            for request in db.session.scalars(select(Request).where(Request.relaunch_of_id.is_not(None)))
        }
        originals = sorted(
            (r for r in expired if r.relaunch_of_id is None and r.profession == PHYSICIAN), key=lambda r: r.opened_at
        )
        called = {request.id: request for request in expired if request.callback_result is not None}
        calls = db.session.scalar(select(func.count(Call.id)))
    assert callbacks["pending"] == len(pending) == PENDING_CALLBACKS
    assert set(pending) == set(originals[-PENDING_CALLBACKS:])  # the last ones to expire
    assert sum(callbacks.values()) == len(expired)
    done = sum(callbacks.values()) - callbacks["pending"]
    assert callbacks["reoriented_sas"] + callbacks["advice_given"] + callbacks["reoriented_15"] > done * 0.6
    assert 0 < callbacks["unreachable"] < done * 0.25 and 0 < callbacks["relaunched"] < done * 0.25
    for request in called.values():  # called back by the operator a few minutes after the expiry
        assert request.callback_by_id is not None and timedelta(0) < request.callback_at - request.expires_at < timedelta(hours=1)
    # Each relaunch is a new request for the same patient and motive, opened when the operator called back.
    assert set(relaunches) == {request.id for request in relaunched}
    for original in relaunched:
        new = relaunches[original.id]
        assert (new.motive, new.patient_phone, new.patient_last_name) == (
            original.motive,
            original.patient_phone,
            original.patient_last_name,
        )
        assert new.opened_at == original.callback_at and new.callback_result != "relaunched"
    assert calls > 100


def test_the_demo_year_is_the_same_every_time(app: Any, clock: Any) -> None:
    """Loaded again on the same day, the history is the same, call-backs, relaunches and calls included."""

    def snapshot() -> tuple[list[Any], list[Any], list[Any]]:
        requests = db.session.execute(
            select(
                Request.opened_at, Request.state, Request.motive, Request.accepted_at, Request.callback_result, Request.callback_at
            ).order_by(Request.id)
        ).all()
        calls = db.session.execute(select(Call.received_at, Call.outcome, Call.source).order_by(Call.id)).all()
        syntheses = db.session.execute(
            select(Synthesis.status, Synthesis.status_at, Synthesis.status_reason, Synthesis.message_id).order_by(Synthesis.id)
        ).all()
        return [tuple(row) for row in requests], [tuple(row) for row in calls], [tuple(row) for row in syntheses]

    with app.app_context():
        load_demo(app)
        first = snapshot()
        community = db.session.scalar(select(Community).where(Community.name == "CPTS Champigny"))
        operator = db.session.scalar(select(User.id).where(User.login == "operateur"))
        for model in (RequestDayStats, PhysicianDayStats, Synthesis, Offer, Call):
            db.session.execute(delete(model))
        db.session.execute(delete(Request).where(Request.relaunch_of_id.is_not(None)))
        db.session.execute(delete(Request))
        db.session.commit()
        assert community is not None and operator is not None
        reloaded = load_history(community=community, operator_id=operator, now=clock.now())
        assert reloaded + load_care(community=community, operator_id=operator, now=clock.now()) == len(first[0])
        second = snapshot()
    assert first == second and len(first[0]) > COUNT
    assert {row[0] for row in first[2]} >= {"sent", "delivered", "read", "refused", "failed", "not_needed"}
    assert {row[4] for row in first[0]} == {None, "reoriented_sas", "reoriented_15", "advice_given", "unreachable", "relaunched"}
