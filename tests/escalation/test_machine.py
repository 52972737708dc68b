"""The escalation machine as tables at exact instants."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatch.escalation import machine
from dispatch.escalation.machine import Decision, Effect, Plan, Refusal, Snapshot
from tests.conftest import T0

PLAN = Plan(exclusive_s=3600, response_s=7200)
GP, OTHER = 1, 2


def at(seconds: int):  # noqa: ANN201
    return T0 + timedelta(seconds=seconds)


def exclusive() -> Snapshot:
    opening = machine.open_request(now=T0, plan=PLAN, treating_eligible=True)
    return Snapshot(opening.state, opening.exclusive_until, opening.expires_at, treating_physician_id=GP)


def community() -> Snapshot:
    return Snapshot("community", at(3600), at(7200), treating_physician_id=GP)


def test_opening_with_an_eligible_treating_gp_is_exclusive_for_the_window() -> None:
    decision = machine.open_request(now=T0, plan=PLAN, treating_eligible=True)
    assert (decision.state, decision.exclusive_until, decision.expires_at, decision.next_deadline) == (
        "exclusive", at(3600), at(7200), at(3600))
    assert decision.effects == (Effect.OFFER_TREATING,)


@pytest.mark.parametrize("eligible, plan", [(False, PLAN), (True, Plan(exclusive_s=0, response_s=7200))])
def test_opening_without_exclusive_phase_goes_to_the_community(eligible: bool, plan: Plan) -> None:
    decision = machine.open_request(now=T0, plan=plan, treating_eligible=eligible)
    assert (decision.state, decision.exclusive_until, decision.next_deadline) == ("community", None, at(7200))
    assert decision.effects == (Effect.OFFER_COMMUNITY,)


@pytest.mark.parametrize("seconds, expected", [
    (3599, None),
    (3600, "community"),
    (3601, "community"),
    (7199, "community"),
    (7200, "expired"),
    (7201, "expired"),
    (99999, "expired"),  # down for a day: straight to expired, no pointless offers
])
def test_advance_from_exclusive(seconds: int, expected: str | None) -> None:
    decision = machine.advance(exclusive(), now=at(seconds))
    assert (decision.state if decision else None) == expected


@pytest.mark.parametrize("seconds, expected", [(7199, None), (7200, "expired"), (7201, "expired")])
def test_advance_from_community(seconds: int, expected: str | None) -> None:
    decision = machine.advance(community(), now=at(seconds))
    assert (decision.state if decision else None) == expected
    if decision:
        assert decision.effects == (Effect.WITHDRAW_ALL, Effect.TELL_OPERATOR)
        assert decision.next_deadline is None


def test_advance_to_community_offers_to_the_community_and_waits_for_expiry() -> None:
    decision = machine.advance(exclusive(), now=at(3600))
    assert isinstance(decision, Decision)
    assert decision.effects == (Effect.OFFER_COMMUNITY,)
    assert decision.next_deadline == at(7200)


@pytest.mark.parametrize("state", machine.CLOSED_STATES)
def test_closed_requests_never_advance(state: str) -> None:
    assert machine.advance(Snapshot(state, at(3600), at(7200)), now=at(10**6)) is None


@pytest.mark.parametrize("snapshot, physician, seconds, expected", [
    (exclusive(), GP, 0, "accepted"),
    (exclusive(), GP, 3599, "accepted"),
    (exclusive(), OTHER, 3599, Refusal.NOT_ELIGIBLE),
    (exclusive(), OTHER, 3600, "accepted"),  # the deadline passed, the tick has not run yet
    (exclusive(), GP, 7199, "accepted"),
    (exclusive(), GP, 7200, Refusal.CLOSED),
    (community(), GP, 3600, "accepted"),  # the treating GP may still accept in the community phase
    (community(), OTHER, 7199, "accepted"),
    (community(), OTHER, 7200, Refusal.CLOSED),
    (Snapshot("accepted", None, at(7200), accepted_by_id=GP), OTHER, 10, Refusal.ALREADY_ACCEPTED),
    (Snapshot("seen", None, at(7200), accepted_by_id=GP), OTHER, 10, Refusal.ALREADY_ACCEPTED),
    (Snapshot("expired", None, at(7200)), OTHER, 7300, Refusal.CLOSED),
    (Snapshot("cancelled", None, at(7200)), OTHER, 10, Refusal.CLOSED),
])
def test_accept(snapshot: Snapshot, physician: int, seconds: int, expected: object) -> None:
    decision = machine.accept(snapshot, physician_id=physician, now=at(seconds), treating_registered=True)
    assert (decision.state if isinstance(decision, Decision) else decision) == expected


def test_accept_tells_the_patient_and_an_unregistered_treating_gp() -> None:
    decision = machine.accept(community(), physician_id=OTHER, now=at(4000), treating_registered=False)
    assert isinstance(decision, Decision)
    assert decision.effects == (Effect.WITHDRAW_OTHERS, Effect.TELL_PATIENT, Effect.TELL_OUTSIDE_TREATING)
    registered = machine.accept(community(), physician_id=OTHER, now=at(4000), treating_registered=True)
    assert isinstance(registered, Decision) and Effect.TELL_OUTSIDE_TREATING not in registered.effects


@pytest.mark.parametrize("snapshot, physician, seconds, expected_state", [
    (exclusive(), GP, 10, "community"),  # the treating GP's refusal opens the community at once
    (exclusive(), OTHER, 10, Refusal.NOT_ELIGIBLE),
    (community(), OTHER, 4000, "community"),
    (community(), GP, 4000, "community"),
    (community(), OTHER, 7200, Refusal.CLOSED),
    (Snapshot("accepted", None, at(7200), accepted_by_id=GP), OTHER, 10, Refusal.CLOSED),
])
def test_refuse(snapshot: Snapshot, physician: int, seconds: int, expected_state: object) -> None:
    decision = machine.refuse(snapshot, physician_id=physician, now=at(seconds))
    assert (decision.state if isinstance(decision, Decision) else decision) == expected_state


def test_treating_refusal_offers_to_the_community() -> None:
    decision = machine.refuse(exclusive(), physician_id=GP, now=at(10))
    assert isinstance(decision, Decision)
    assert decision.effects == (Effect.OFFER_COMMUNITY,) and decision.next_deadline == at(7200)


@pytest.mark.parametrize("state, expected", [
    ("exclusive", "cancelled"), ("community", "cancelled"), ("accepted", Refusal.CLOSED),
    ("expired", Refusal.CLOSED), ("cancelled", Refusal.CLOSED), ("seen", Refusal.CLOSED),
    ("no_show", Refusal.CLOSED),
])
def test_cancel(state: str, expected: object) -> None:
    decision = machine.cancel(Snapshot(state, at(3600), at(7200)))
    assert (decision.state if isinstance(decision, Decision) else decision) == expected


@pytest.mark.parametrize("state, physician, outcome, expected", [
    ("accepted", GP, "seen", "seen"),
    ("accepted", GP, "no_show", "no_show"),
    ("accepted", OTHER, "seen", Refusal.NOT_ELIGIBLE),
    ("community", GP, "seen", Refusal.NOT_ACCEPTED),
    ("exclusive", GP, "seen", Refusal.NOT_ACCEPTED),
    ("expired", GP, "seen", Refusal.NOT_ACCEPTED),
    ("seen", GP, "seen", Refusal.ALREADY_RECORDED),
    ("no_show", GP, "seen", Refusal.ALREADY_RECORDED),
])
def test_record_outcome(state: str, physician: int, outcome: str, expected: object) -> None:
    snapshot = Snapshot(state, None, at(7200), accepted_by_id=GP)
    decision = machine.record_outcome(snapshot, physician_id=physician, outcome=outcome)
    assert (decision.state if isinstance(decision, Decision) else decision) == expected


def test_exclusive_window_longer_than_response_is_capped() -> None:
    decision = machine.open_request(now=T0, plan=Plan(exclusive_s=9000, response_s=7200), treating_eligible=True)
    assert decision.exclusive_until == at(7200) == decision.expires_at
