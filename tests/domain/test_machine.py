"""The escalation machine as tables at exact instants."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from dispatch.requests import machine
from dispatch.requests.machine import (
    ActorOffer,
    AnswerOffer,
    Decision,
    EventSpec,
    OfferTo,
    Plan,
    Refusal,
    ReOffer,
    SmsPatient,
    SmsPatientReleased,
    Snapshot,
    StoreSynthesis,
    TellOperator,
    TellOutsideTreating,
    Withdraw,
    WithdrawFrom,
)
from tests.conftest import T0

PLAN = Plan(exclusive_s=3600, response_s=7200)
GP, OTHER = 1, 2
NOTIFIED = ActorOffer("notified", "community")


def at(seconds: int):  # noqa: ANN201
    return T0 + timedelta(seconds=seconds)


def exclusive() -> Snapshot:
    opening = machine.open_request(now=T0, plan=PLAN, treating_eligible=True)
    return Snapshot(
        opening.state,
        opening.exclusive_until,
        opening.expires_at,
        treating_physician_id=GP,
        opened_at=T0,
        patient_reachable=True,
        actor_offer=ActorOffer("notified", "exclusive"),
    )


def community(offer: ActorOffer | None = NOTIFIED, **changes: object) -> Snapshot:
    fields: dict[str, object] = {
        "treating_physician_id": GP,
        "opened_at": T0,
        "community_at": at(3600),
        "patient_reachable": True,
        "actor_offer": offer,
        **changes,
    }
    return Snapshot("community", at(3600), at(7200), **fields)  # type: ignore[arg-type]


def test_opening_with_an_eligible_treating_gp_is_exclusive_for_the_window() -> None:
    decision = machine.open_request(now=T0, plan=PLAN, treating_eligible=True)
    assert (decision.state, decision.exclusive_until, decision.expires_at, decision.next_deadline) == (
        "exclusive",
        at(3600),
        at(7200),
        at(3600),
    )
    assert decision.effects == (OfferTo("treating"),)
    assert decision.events[0].type == "opened" and decision.values == {"opened_at": T0, "community_at": None}


@pytest.mark.parametrize("eligible, plan", [(False, PLAN), (True, Plan(exclusive_s=0, response_s=7200))])
def test_opening_without_exclusive_phase_goes_to_the_community(eligible: bool, plan: Plan) -> None:
    decision = machine.open_request(now=T0, plan=plan, treating_eligible=eligible)
    assert (decision.state, decision.exclusive_until, decision.next_deadline) == ("community", None, at(7200))
    assert decision.effects == (OfferTo("community"),)
    assert decision.values["community_at"] == T0


@pytest.mark.parametrize(
    "seconds, expected",
    [
        (3599, None),
        (3600, "community"),
        (3601, "community"),
        (7199, "community"),
        (7200, "expired"),
        (7201, "expired"),
        (99999, "expired"),  # down for a day: straight to expired, no pointless offers
    ],
)
def test_advance_from_exclusive(seconds: int, expected: str | None) -> None:
    decision = machine.advance(exclusive(), now=at(seconds))
    assert (decision.state if decision else None) == expected


@pytest.mark.parametrize("seconds, expected", [(7199, None), (7200, "expired"), (7201, "expired")])
def test_advance_from_community(seconds: int, expected: str | None) -> None:
    decision = machine.advance(community(), now=at(seconds))
    assert (decision.state if decision else None) == expected
    if decision:
        assert decision.effects == (Withdraw("expired"), TellOperator())
        assert decision.next_deadline is None and decision.values == {"closed_at": at(seconds)}
        assert decision.events == (EventSpec("expired", {"deadline": "2026-11-23T16:00:00Z"}),)


def test_advance_to_community_offers_to_the_community_and_waits_for_expiry() -> None:
    decision = machine.advance(exclusive(), now=at(3600))
    assert isinstance(decision, Decision)
    assert decision.effects == (OfferTo("community"),)
    assert decision.next_deadline == at(7200) and decision.values == {"community_at": at(3600)}


@pytest.mark.parametrize("state", machine.CLOSED_STATES)
def test_closed_requests_never_advance(state: str) -> None:
    assert machine.advance(Snapshot(state, at(3600), at(7200)), now=at(10**6)) is None


@pytest.mark.parametrize(
    "snapshot, physician, seconds, expected",
    [
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
        (community(offer=None), OTHER, 4000, Refusal.NOT_ELIGIBLE),  # never offered
        (community(offer=ActorOffer("withdrawn", "community")), OTHER, 4000, Refusal.NOT_ELIGIBLE),
        (community(offer=ActorOffer("refused", "community")), OTHER, 4000, "accepted"),  # changed their mind
    ],
)
def test_accept(snapshot: Snapshot, physician: int, seconds: int, expected: object) -> None:
    decision = machine.accept(snapshot, physician_id=physician, now=at(seconds), appointment_at=at(9000), place="x")
    assert (decision.state if isinstance(decision, Decision) else decision) == expected


def test_accepting_twice_changes_nothing() -> None:
    decision = machine.accept(
        Snapshot("accepted", None, at(7200), accepted_by_id=OTHER),
        physician_id=OTHER,
        now=at(10),
        appointment_at=at(9000),
        place=None,
    )
    assert isinstance(decision, Decision) and not decision.changes and decision.state == "accepted"


def test_accept_records_the_phase_the_winner_took_it_in() -> None:
    by_gp = machine.accept(exclusive(), physician_id=GP, now=at(10), appointment_at=at(9000), place="Cabinet")
    assert isinstance(by_gp, Decision)
    assert by_gp.values == {
        "accepted_by_id": GP,
        "accepted_at": at(10),
        "accepted_phase": "exclusive",
        "appointment_at": at(9000),
        "place": "Cabinet",
        "closed_at": at(10),
    }
    assert by_gp.events == (
        EventSpec(
            "accepted", {"physician_id": GP, "phase": "exclusive", "appointment_at": "2026-11-23T16:30:00Z", "place": "Cabinet"}
        ),
    )
    late = machine.accept(community(), physician_id=GP, now=at(4000), appointment_at=at(9000), place=None)
    assert isinstance(late, Decision) and late.values["accepted_phase"] == "community"


def test_accept_tells_the_patient_and_an_unregistered_treating_gp() -> None:
    outside = community(treating_physician_id=None, outside_treating_reachable=True)
    decision = machine.accept(outside, physician_id=OTHER, now=at(4000), appointment_at=at(9000), place=None)
    assert isinstance(decision, Decision)
    assert decision.effects == (
        AnswerOffer(OTHER, "accepted", previous="notified"),
        Withdraw("accepted", except_physician=OTHER),
        SmsPatient(),
        TellOutsideTreating(),
    )
    registered = machine.accept(community(), physician_id=OTHER, now=at(4000), appointment_at=at(9000), place=None)
    assert isinstance(registered, Decision) and TellOutsideTreating() not in registered.effects
    no_phone = machine.accept(
        community(patient_reachable=False), physician_id=OTHER, now=at(4000), appointment_at=at(9000), place=None
    )
    assert isinstance(no_phone, Decision) and SmsPatient() not in no_phone.effects


@pytest.mark.parametrize(
    "snapshot, physician, seconds, expected_state",
    [
        (exclusive(), GP, 10, "community"),  # the treating GP's refusal opens the community at once
        (exclusive(), OTHER, 10, Refusal.NOT_ELIGIBLE),
        (community(), OTHER, 4000, "community"),
        (community(), GP, 4000, "community"),
        (community(), OTHER, 7200, Refusal.CLOSED),
        (Snapshot("accepted", None, at(7200), accepted_by_id=GP), OTHER, 10, Refusal.CLOSED),
        (community(offer=None), OTHER, 4000, Refusal.NOT_ELIGIBLE),
        (community(offer=ActorOffer("withdrawn", "community")), OTHER, 4000, Refusal.NOT_ELIGIBLE),
    ],
)
def test_refuse(snapshot: Snapshot, physician: int, seconds: int, expected_state: object) -> None:
    decision = machine.refuse(snapshot, physician_id=physician, now=at(seconds))
    assert (decision.state if isinstance(decision, Decision) else decision) == expected_state


def test_refusing_twice_changes_nothing() -> None:
    decision = machine.refuse(community(offer=ActorOffer("refused", "community")), physician_id=OTHER, now=at(4000))
    assert isinstance(decision, Decision) and not decision.changes


def test_treating_refusal_offers_to_the_community() -> None:
    decision = machine.refuse(exclusive(), physician_id=GP, now=at(10), reason="Complet")
    assert isinstance(decision, Decision)
    assert decision.effects == (AnswerOffer(GP, "refused", "Complet", previous="notified"), OfferTo("community"))
    assert decision.next_deadline == at(7200) and decision.values == {"community_at": at(10)}
    assert [event.type for event in decision.events] == ["refused", "community_opened"]


@pytest.mark.parametrize(
    "state, expected",
    [
        ("exclusive", "cancelled"),
        ("community", "cancelled"),
        ("accepted", Refusal.CLOSED),
        ("expired", Refusal.CLOSED),
        ("cancelled", Refusal.CLOSED),
        ("seen", Refusal.CLOSED),
        ("no_show", Refusal.CLOSED),
    ],
)
def test_cancel(state: str, expected: object) -> None:
    decision = machine.cancel(Snapshot(state, at(3600), at(7200)), now=at(10), reason="Patient rappelé")
    assert (decision.state if isinstance(decision, Decision) else decision) == expected
    if isinstance(decision, Decision):
        assert decision.effects == (Withdraw("cancelled"),)
        assert decision.values == {"cancel_reason": "Patient rappelé", "closed_at": at(10)}


@pytest.mark.parametrize(
    "state, physician, outcome, expected",
    [
        ("accepted", GP, "seen", "seen"),
        ("accepted", GP, "no_show", "no_show"),
        ("accepted", OTHER, "seen", Refusal.NOT_ELIGIBLE),
        ("community", GP, "seen", Refusal.NOT_ACCEPTED),
        ("exclusive", GP, "seen", Refusal.NOT_ACCEPTED),
        ("expired", GP, "seen", Refusal.NOT_ACCEPTED),
        ("seen", GP, "seen", Refusal.ALREADY_RECORDED),
        ("no_show", GP, "seen", Refusal.OUTCOME_FINAL),  # no instant of the first record: nothing to correct
    ],
)
def test_record_outcome(state: str, physician: int, outcome: str, expected: object) -> None:
    snapshot = Snapshot(state, None, at(7200), accepted_by_id=GP)
    decision = machine.record_outcome(snapshot, physician_id=physician, outcome=outcome, synthesis="RAS", now=at(9000))
    assert (decision.state if isinstance(decision, Decision) else decision) == expected


@pytest.mark.parametrize(
    "treating, address, status",
    [
        (OTHER, "dr.other@medecin.mssante.fr", "pending"),
        (None, "dr.outside@medecin.mssante.fr", "pending"),
        (None, None, "not_sendable"),
        (GP, "dr.gp@medecin.mssante.fr", "not_needed"),  # the treating GP saw their own patient
    ],
)
def test_a_seen_patient_keeps_a_synthesis_for_whoever_must_get_it(treating: int | None, address: str | None, status: str) -> None:
    snapshot = Snapshot(
        "accepted",
        None,
        at(7200),
        accepted_by_id=GP,
        treating_physician_id=treating,
        treating_address=address,
        birth_date_known=True,
    )
    decision = machine.record_outcome(snapshot, physician_id=GP, outcome="seen", synthesis="Otite", now=at(9000))
    assert isinstance(decision, Decision)
    assert decision.effects == (StoreSynthesis(GP, "Otite", status, address),)
    assert decision.values == {"outcome": "seen", "outcome_at": at(9000), "synthesis_status": status}
    assert [event.type for event in decision.events] == ["seen", "synthesis_written"]
    no_show = machine.record_outcome(snapshot, physician_id=GP, outcome="no_show", synthesis=None, now=at(9000))
    assert isinstance(no_show, Decision) and no_show.effects == ()


BORN = date(1988, 4, 2)


@pytest.mark.parametrize(
    "treating, address, known, outcome, birth, expected",
    [
        # A synthesis goes over MSSanté: the CDA needs the birth date, given now or known already.
        (OTHER, "dr.other@medecin.mssante.fr", False, "seen", None, Refusal.BIRTH_DATE_REQUIRED),
        (None, "dr.outside@medecin.mssante.fr", False, "seen", None, Refusal.BIRTH_DATE_REQUIRED),
        (OTHER, "dr.other@medecin.mssante.fr", False, "seen", BORN, ["patient_birth_date_completed", "seen", "synthesis_written"]),
        (OTHER, "dr.other@medecin.mssante.fr", True, "seen", None, ["seen", "synthesis_written"]),
        (OTHER, "dr.other@medecin.mssante.fr", True, "seen", BORN, ["seen", "synthesis_written"]),  # known: ignored
        # Nothing sent, nothing required; a date given still completes the request.
        (None, None, False, "seen", None, ["seen", "synthesis_written"]),
        (GP, "dr.gp@medecin.mssante.fr", False, "seen", None, ["seen", "synthesis_written"]),
        (OTHER, "dr.other@medecin.mssante.fr", False, "no_show", None, ["no_show"]),
        (None, None, False, "seen", BORN, ["patient_birth_date_completed", "seen", "synthesis_written"]),
    ],
)
def test_a_synthesis_sent_to_the_treating_gp_needs_the_birth_date(
    treating: int | None, address: str | None, known: bool, outcome: str, birth: date | None, expected: object
) -> None:
    snapshot = Snapshot(
        "accepted", None, at(7200), accepted_by_id=GP, treating_physician_id=treating, treating_address=address,
        birth_date_known=known,
    )  # fmt: skip
    decision = machine.record_outcome(snapshot, physician_id=GP, outcome=outcome, synthesis="Otite", now=at(9000), birth_date=birth)
    # What the page asks for: a synthesis to send (an address, not the treating GP's own patient) and no date yet.
    assert machine.birth_date_needed(snapshot, physician_id=GP) is (not known and address is not None and treating != GP)
    if not isinstance(decision, Decision):
        assert decision == expected
        return
    assert [event.type for event in decision.events] == expected
    completed = "patient_birth_date_completed" in expected
    assert decision.values.get("patient_birth_date") == (birth if completed else None)
    # The event says that the date was completed, never the date: coordinators read events' data.
    assert all(event.data == {} for event in decision.events if event.type == "patient_birth_date_completed")


@pytest.mark.parametrize(
    "snapshot, seconds, expected",
    [
        (exclusive(), 0, "community"),  # deactivated as the request opened
        (exclusive(), 3599, "community"),  # a second before the hour ends: at once, not at its end
        (exclusive(), 3600, "community"),  # the hour ended, the tick has not run yet
        (exclusive(), 7199, "community"),
        (exclusive(), 7200, None),  # expired: the tick closes it, nobody is offered it again
        (community(), 4000, None),  # already everyone's
        (Snapshot("accepted", at(3600), at(7200), treating_physician_id=GP, accepted_by_id=GP), 4000, None),
        (Snapshot("exclusive", at(3600), at(7200)), 10, None),  # nobody held it (not a real case: no treating GP)
        (Snapshot("cancelled", at(3600), at(7200), treating_physician_id=GP), 10, None),
    ],
)
def test_a_deactivated_treating_gp_holds_no_request(snapshot: Snapshot, seconds: int, expected: str | None) -> None:
    decision = machine.treating_unavailable(snapshot, now=at(seconds))
    assert (decision.state if decision else None) == expected
    if decision is not None:
        assert decision.effects == (WithdrawFrom(GP, "unavailable"), OfferTo("community"))
        assert decision.events == (EventSpec("community_opened", {"after": "treating_unavailable"}),)
        assert decision.expires_at == at(7200) and decision.next_deadline == at(7200)
        assert decision.values == {"community_at": at(seconds)}


@pytest.mark.parametrize(
    "snapshot, seconds, withdrawn",
    [
        (community(), 3600, True),  # the community phase has just begun
        (community(), 7199, True),  # a second before the expiry
        (community(), 7200, False),  # expired: the tick withdraws every offer
        (community(offer=ActorOffer("notified", "exclusive")), 4000, True),  # the treating GP's offer of their hour
        (community(offer=ActorOffer("refused", "community")), 4000, False),  # nothing pending on their phone
        (community(offer=ActorOffer("withdrawn", "community")), 4000, False),  # deactivated twice
        (community(offer=None), 4000, False),  # never offered it
        (exclusive(), 10, False),  # the treating GP's hour: treating_unavailable decides
        (Snapshot("accepted", at(3600), at(7200), accepted_by_id=OTHER, actor_offer=NOTIFIED), 4000, False),
    ],
)
def test_a_deactivated_physicians_pending_offer_is_withdrawn(snapshot: Snapshot, seconds: int, withdrawn: bool) -> None:
    decision = machine.physician_unavailable(snapshot, physician_id=OTHER, now=at(seconds))
    assert (decision is not None) is withdrawn
    if decision is not None:
        assert decision.effects == (WithdrawFrom(OTHER, "unavailable"),)
        assert decision.events == (EventSpec("offer_withdrawn", {"physician_id": OTHER, "reason": "unavailable"}),)
        # The request itself does not move: same state, same deadlines, no other column.
        assert (decision.state, decision.exclusive_until, decision.expires_at) == ("community", at(3600), at(7200))
        assert decision.values == {} and decision.next_deadline == at(7200)


@pytest.mark.parametrize(
    "state, expected", [("exclusive", at(3600)), ("community", at(7200)), ("accepted", None), ("expired", None)]
)
def test_current_deadline_is_the_end_of_the_phase(state: str, expected: object) -> None:
    assert machine.current_deadline(state, at(3600), at(7200)) == expected
    assert machine.current_deadline("exclusive", at(9000), at(7200)) == at(7200)  # never past the expiry


def test_exclusive_window_longer_than_response_is_capped() -> None:
    decision = machine.open_request(now=T0, plan=Plan(exclusive_s=9000, response_s=7200), treating_eligible=True)
    assert decision.exclusive_until == at(7200) == decision.expires_at


@pytest.mark.parametrize("seconds, expected", [(8999, Refusal.TOO_EARLY), (9000, "seen"), (9001, "seen")])
def test_the_outcome_is_known_from_the_appointment_on(seconds: int, expected: object) -> None:
    snapshot = Snapshot("accepted", None, at(7200), accepted_by_id=GP, appointment_at=at(9000))
    decision = machine.record_outcome(snapshot, physician_id=GP, outcome="seen", synthesis="RAS", now=at(seconds))
    assert (decision.state if isinstance(decision, Decision) else decision) == expected


def accepted(appointment: int = 9000, **changes: object) -> Snapshot:
    """A request OTHER accepted in the community phase at T0+65 min, with its appointment at `appointment` seconds."""
    fields: dict[str, object] = {
        "treating_physician_id": GP,
        "accepted_by_id": OTHER,
        "opened_at": T0,
        "community_at": at(3600),
        "patient_reachable": True,
        "appointment_at": at(appointment),
        **changes,
    }
    return Snapshot("accepted", at(3600), at(7200), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "snapshot, physician, seconds, expected, expires",
    [
        (accepted(), OTHER, 4000, "community", at(7200)),  # what is left of the window: until T0+2 h
        (accepted(), OTHER, 6299, "community", at(7200)),  # 15 min 1 s left: kept
        (accepted(), OTHER, 6300, "community", at(7200)),  # exactly 15 min left
        (accepted(), OTHER, 6301, "community", at(7201)),  # less than 15 min left: 15 min from now
        (accepted(), OTHER, 7200, "community", at(8100)),  # after the expiry: 15 min again
        (accepted(), OTHER, 8999, "community", at(9899)),  # the last second before the appointment
        (accepted(), OTHER, 9000, Refusal.TOO_LATE, None),  # the appointment has come
        (accepted(), OTHER, 9001, Refusal.TOO_LATE, None),
        (accepted(), GP, 4000, Refusal.NOT_ACCEPTED_BY_YOU, None),  # another physician (even the treating GP)
        (accepted(accepted_by_id=GP), GP, 4000, "community", at(7200)),  # the treating GP hands back: no exclusive hour
        (community(), OTHER, 4000, Refusal.NOT_ACCEPTED, None),
        (exclusive(), GP, 10, Refusal.NOT_ACCEPTED, None),
        (Snapshot("expired", None, at(7200)), OTHER, 7300, Refusal.NOT_ACCEPTED, None),
        (Snapshot("cancelled", None, at(7200)), OTHER, 10, Refusal.NOT_ACCEPTED, None),
        (Snapshot("seen", None, at(7200), accepted_by_id=OTHER), OTHER, 9500, Refusal.NOT_ACCEPTED, None),
        (Snapshot("no_show", None, at(7200), accepted_by_id=OTHER), OTHER, 9500, Refusal.NOT_ACCEPTED, None),
    ],
)
def test_release(snapshot: Snapshot, physician: int, seconds: int, expected: object, expires: object) -> None:
    decision = machine.release(snapshot, physician_id=physician, now=at(seconds), reason="Urgence au cabinet")
    assert (decision.state if isinstance(decision, Decision) else decision) == expected
    if isinstance(decision, Decision):
        assert decision.expires_at == expires == decision.next_deadline


def test_release_offers_the_patient_to_the_community_again_and_tells_everyone() -> None:
    decision = machine.release(accepted(), physician_id=OTHER, now=at(4000), reason="Urgence au cabinet")
    assert isinstance(decision, Decision)
    assert (decision.state, decision.exclusive_until, decision.expires_at) == ("community", at(3600), at(7200))
    assert decision.effects == (
        AnswerOffer(OTHER, "released", previous="accepted"),
        ReOffer(except_physician=OTHER),
        OfferTo("community"),
        SmsPatientReleased(),
        TellOperator("released"),
    )
    assert decision.values == {
        "accepted_by_id": None,
        "accepted_at": None,
        "accepted_phase": None,
        "appointment_at": None,
        "place": None,
        "closed_at": None,
        "releases": 1,
    }
    assert decision.events == (
        EventSpec(
            "released",
            {
                "physician_id": OTHER,
                "reason": "Urgence au cabinet",
                "appointment_at": "2026-11-23T16:30:00Z",
                "expires_at": "2026-11-23T16:00:00Z",
            },
        ),
    )


def test_release_of_a_request_taken_in_the_exclusive_hour_opens_the_community() -> None:
    snapshot = accepted(accepted_by_id=GP, community_at=None, patient_reachable=False, releases=1)
    decision = machine.release(snapshot, physician_id=GP, now=at(600), reason="Imprévu")
    assert isinstance(decision, Decision)
    assert decision.state == "community" and decision.values["community_at"] == at(600)
    assert decision.values["releases"] == 2
    assert SmsPatientReleased() not in decision.effects  # no phone: nobody to text


def test_a_released_request_can_be_accepted_by_another_physician_but_not_by_the_releaser() -> None:
    released = machine.release(accepted(), physician_id=OTHER, now=at(4000), reason="Imprévu")
    assert isinstance(released, Decision)
    after = Snapshot(released.state, released.exclusive_until, released.expires_at, treating_physician_id=GP)
    taken = machine.accept(replace(after, actor_offer=NOTIFIED), physician_id=3, now=at(4100), appointment_at=at(9000), place=None)
    assert isinstance(taken, Decision) and taken.state == "accepted"
    releaser = replace(after, actor_offer=ActorOffer("released", "community"))
    assert machine.accept(releaser, physician_id=OTHER, now=at(4100), appointment_at=at(9000), place=None) == Refusal.NOT_ELIGIBLE


@pytest.mark.parametrize(
    ("appointment", "expected"),
    [
        (-600 - 1, Refusal.APPOINTMENT_PAST),  # 10 min 1 s ago
        (-600, None),  # 10 min ago: a time typed as it passes, a patient already in the waiting room
        (0, None),
        (24 * 3600, None),  # the next morning for a request of the evening
        (24 * 3600 + 1, Refusal.APPOINTMENT_TOO_FAR),
    ],
)
def test_the_appointment_window_is_one_rule_for_every_screen(appointment: int, expected: object) -> None:
    assert machine.appointment_refusal(at(appointment), now=T0) == expected
    decision = machine.accept(community(), physician_id=OTHER, now=at(3600), appointment_at=at(3600 + appointment), place=None)
    assert (decision if isinstance(decision, Refusal) else None) == expected


def test_a_request_already_taken_answers_so_whatever_the_appointment() -> None:
    taken = replace(community(), state="accepted", accepted_by_id=GP)
    assert machine.accept(taken, physician_id=OTHER, now=T0, appointment_at=at(-86400), place=None) == Refusal.ALREADY_ACCEPTED


@pytest.mark.parametrize(
    ("state", "seconds", "offer", "expected"),
    [
        ("community", 7199, "notified", True),
        ("community", 7199, "refused", True),  # they may change their mind while it is open
        ("community", 7200, "notified", False),  # expired, even before the tick moves it
        ("community", 0, "withdrawn", False),
        ("community", 0, "accepted", False),
        ("community", 0, None, False),  # never offered
        ("exclusive", 0, "notified", True),
        ("accepted", 0, "notified", False),
        ("cancelled", 0, "refused", False),
    ],
)
def test_open_to_me_at_exact_instants(state: str, seconds: int, offer: str | None, expected: bool) -> None:
    assert machine.open_to(state, at(7200), offer, now=at(seconds)) is expected


@pytest.mark.parametrize(
    ("state", "physician", "outcome", "seconds_after", "expected"),
    [
        ("no_show", GP, "seen", 0, "seen"),  # "Patient absent" was a mis-tap
        ("no_show", GP, "seen", 24 * 3600 - 1, "seen"),
        ("no_show", GP, "seen", 24 * 3600, Refusal.OUTCOME_FINAL),
        ("seen", GP, "no_show", 3600, "no_show"),
        ("seen", GP, "seen", 3600, Refusal.ALREADY_RECORDED),
        ("no_show", GP, "no_show", 3600, Refusal.ALREADY_RECORDED),
        ("no_show", OTHER, "seen", 3600, Refusal.NOT_ELIGIBLE),
    ],
)
def test_a_mis_tapped_outcome_is_corrected_within_24_hours_of_its_record(
    state: str, physician: int, outcome: str, seconds_after: int, expected: object
) -> None:
    recorded = at(9000)
    shot = Snapshot(state, None, at(7200), accepted_by_id=GP, outcome_at=recorded, has_synthesis=state == "seen")
    decision = machine.record_outcome(
        shot, physician_id=physician, outcome=outcome, synthesis="RAS", now=recorded + timedelta(seconds=seconds_after)
    )
    assert (decision.state if isinstance(decision, Decision) else decision) == expected
    if isinstance(decision, Decision):
        assert decision.events[0] == EventSpec("outcome_corrected", {"physician_id": GP, "from": state, "to": outcome})
        assert "outcome_at" not in decision.values  # the 24 h count from the first record


def test_a_correction_writes_the_synthesis_once() -> None:
    recorded = at(9000)
    absent = Snapshot(
        "no_show",
        None,
        at(7200),
        accepted_by_id=OTHER,
        outcome_at=recorded,
        treating_address="gp@x.mssante.fr",
        birth_date_known=True,
    )
    seen = machine.record_outcome(absent, physician_id=OTHER, outcome="seen", synthesis="Otite", now=recorded + timedelta(hours=1))
    assert isinstance(seen, Decision) and any(isinstance(e, StoreSynthesis) for e in seen.effects)
    # Back to absent, then seen again: the synthesis already written (and sent) stands, none is written twice.
    again = replace(absent, has_synthesis=True, birth_date_known=False)
    decision = machine.record_outcome(again, physician_id=OTHER, outcome="seen", synthesis="x", now=recorded + timedelta(hours=2))
    assert isinstance(decision, Decision) and decision.effects == () and decision.state == "seen"
    undone = replace(again, state="seen")
    back = machine.record_outcome(undone, physician_id=OTHER, outcome="no_show", synthesis=None, now=recorded + timedelta(hours=3))
    assert isinstance(back, Decision) and back.effects == () and "synthesis_status" not in back.values
