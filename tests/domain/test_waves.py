"""The machine's waves by distance, at exact instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dispatch.requests import machine
from dispatch.requests.decisions import Audience, OfferTo, Plan, Snapshot, Wave
from dispatch.requests.machine.waves import distance_km, reached
from dispatch.requests.states import EventType

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
NURSE = Plan(exclusive_s=21600, response_s=43200, waves=(Wave(21600, 10.0),))
TWO = Plan(exclusive_s=3600, response_s=43200, waves=(Wave(3600, 5.0), Wave(10800, 15.0)))


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def snapshot_of(plan: Plan, decision: machine.Decision, *, placed: bool = True) -> Snapshot:
    values = decision.values
    return Snapshot(
        state=decision.state,
        exclusive_until=decision.exclusive_until,
        expires_at=decision.expires_at,
        treating_physician_id=7,
        opened_at=T0,
        community_at=values.get("community_at"),
        waves=plan.waves,
        next_wave_at=values.get("next_wave_at"),
        patient_placed=placed,
    )


def test_haversine_is_the_crow_s_flight() -> None:
    # One degree of latitude on the mean sphere; Paris (Notre-Dame) to Champigny-sur-Marne, about 12 km.
    assert distance_km(48.0, 2.0, 49.0, 2.0) == pytest.approx(111.195, abs=0.001)
    assert distance_km(48.8530, 2.3499, 48.8172, 2.5156) == pytest.approx(12.6, abs=0.2)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(21599, None), (21600, EventType.COMMUNITY_OPENED), (21601, EventType.COMMUNITY_OPENED)],
)
def test_the_usual_nurse_s_six_hours_then_the_first_wave_at_the_second_it_opens(seconds: int, expected: str | None) -> None:
    opened = machine.open_request(now=T0, plan=NURSE, treating_eligible=True, placed=True)
    assert opened.state == "exclusive" and opened.next_deadline == at(21600)
    decision = machine.advance(snapshot_of(NURSE, opened), now=at(seconds))
    if expected is None:
        assert decision is None
        return
    assert decision is not None and decision.events[0].type == expected
    assert decision.events[1].type == EventType.WAVE_OPENED and decision.events[1].data["radius_km"] == 10.0
    assert decision.effects == (OfferTo(Audience.COMMUNITY, radius_km=10.0, unplaced_members=True),)
    assert decision.values["next_wave_at"] is None and decision.columns()["next_deadline"] == at(43200)


def test_no_usual_professional_the_first_wave_opens_at_once() -> None:
    opened = machine.open_request(now=T0, plan=NURSE, treating_eligible=False, placed=True)
    assert opened.state == "community"
    assert opened.effects == (OfferTo(Audience.COMMUNITY, radius_km=10.0, unplaced_members=True),)


@pytest.mark.parametrize(("seconds", "opens"), [(10799, False), (10800, True)])
def test_the_second_wave_opens_at_its_instant_and_is_the_tick_s_next_deadline(seconds: int, opens: bool) -> None:
    opened = machine.open_request(now=T0, plan=TWO, treating_eligible=True, placed=True)
    first = machine.advance(snapshot_of(TWO, opened), now=at(3600))
    assert first is not None and first.effects == (OfferTo(Audience.COMMUNITY, radius_km=5.0, unplaced_members=False),)
    assert first.values["next_wave_at"] == at(10800)
    assert first.columns()["next_deadline"] == at(10800)  # the tick looks at the wave, before the expiry
    decision = machine.advance(snapshot_of(TWO, first), now=at(seconds))
    if not opens:
        assert decision is None
        return
    assert decision is not None and decision.state == "community"
    assert decision.effects == (OfferTo(Audience.COMMUNITY, radius_km=15.0, unplaced_members=True),)
    assert decision.values == {"waves_opened": 2, "next_wave_at": None}
    assert decision.columns()["next_deadline"] == at(43200)


def test_an_unplaced_patient_goes_to_the_whole_profession_and_the_operator_is_told() -> None:
    opened = machine.open_request(now=T0, plan=NURSE, treating_eligible=True, placed=False)
    decision = machine.advance(snapshot_of(NURSE, opened, placed=False), now=at(21600))
    assert decision is not None
    assert decision.effects == (OfferTo(Audience.COMMUNITY),)
    assert [event.type for event in decision.events] == [EventType.COMMUNITY_OPENED, EventType.UNPLACED]


def test_a_refusal_by_the_usual_nurse_opens_the_first_wave_at_once() -> None:
    opened = machine.open_request(now=T0, plan=NURSE, treating_eligible=True, placed=True)
    shot = snapshot_of(NURSE, opened)
    shot = Snapshot(**{**shot.__dict__, "actor_offer": machine.ActorOffer("notified", "exclusive")})
    decision = machine.refuse(shot, physician_id=7, now=at(3600))
    assert isinstance(decision, machine.Decision)
    assert OfferTo(Audience.COMMUNITY, radius_km=10.0, unplaced_members=True) in decision.effects


def test_an_offer_reaches_within_its_radius_bound_included_never_beyond() -> None:
    patient = (48.8172, 2.5156)
    north = 180 / (3.141592653589793 * 6371.0088)  # degrees of latitude per km
    places = {
        1: (patient[0] + 9.9 * north, patient[1]),
        2: (patient[0] + 10.1 * north, patient[1]),
        3: (48.8172 + 10 * north, 2.5156),
    }
    chosen, distances = reached([1, 2, 3, 4], places=places, patient=patient, offer=OfferTo(Audience.COMMUNITY, 10.0, False))
    assert chosen == [1, 3] and distances[1] == pytest.approx(9.9, abs=0.001)
    chosen, _ = reached([1, 2, 3, 4], places=places, patient=patient, offer=OfferTo(Audience.COMMUNITY, 10.0, True))
    assert chosen == [1, 3, 4]  # 4's practice is not placed: with the last wave
    chosen, distances = reached([1, 2, 4], places=places, patient=patient, offer=OfferTo(Audience.COMMUNITY))
    assert chosen == [1, 2, 4] and set(distances) == {1, 2}


def test_a_maintenance_moves_the_next_wave_with_the_deadlines() -> None:
    opened = machine.open_request(now=T0, plan=TWO, treating_eligible=False, placed=True)
    shot = snapshot_of(TWO, opened)
    assert shot.next_wave_at == at(10800)
    moved = machine.postpone(shot, by=timedelta(minutes=30), reason="maintenance")
    assert moved is not None and moved.values["next_wave_at"] == at(10800 + 1800)
    assert moved.columns()["next_deadline"] == at(10800 + 1800)
