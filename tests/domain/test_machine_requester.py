"""The machine for a requester's request (issue 27): the requester is told of the acceptance, a teleconsultation keeps
its link, a hand-back clears it."""

from __future__ import annotations

from dataclasses import replace

from dispatch.requests import machine
from dispatch.requests.decisions import AnswerOffer, Decision, SmsPatient, TellRequester, Withdraw
from tests.domain.test_machine import OTHER, at, community

LINK = "https://visio.example.fr/salle/1"


def test_accepting_a_requesters_teleconsultation_keeps_the_link_and_tells_the_requester() -> None:
    snapshot = community(requested=True, teleconsultation=True)
    decision = machine.accept(
        snapshot, physician_id=OTHER, now=at(4000), appointment_at=at(4600), place=None, teleconsultation_url=LINK
    )
    assert isinstance(decision, Decision)
    assert decision.effects == (
        AnswerOffer(OTHER, "accepted", previous="notified"),
        Withdraw("accepted", except_physician=OTHER),
        SmsPatient(),
        TellRequester(),
    )
    assert decision.values["teleconsultation_url"] == LINK
    assert decision.events[0].data["teleconsultation"] is True


def test_an_operators_in_person_request_has_neither_link_nor_requester() -> None:
    decision = machine.accept(
        community(), physician_id=OTHER, now=at(4000), appointment_at=at(4600), place=None, teleconsultation_url=LINK
    )
    assert isinstance(decision, Decision)
    assert TellRequester() not in decision.effects and "teleconsultation_url" not in decision.values
    assert "teleconsultation" not in decision.events[0].data


def test_a_hand_back_clears_the_link_for_the_next_physician() -> None:
    taken = replace(
        community(requested=True, teleconsultation=True, accepted_by_id=OTHER, appointment_at=at(9000)), state="accepted"
    )
    released = machine.release(taken, physician_id=OTHER, now=at(4000), reason="Imprévu")
    assert isinstance(released, Decision) and released.values["teleconsultation_url"] is None
