"""An outside treating GP named by RPPS without an address: the worker finds their MSSanté box in the Annuaire Santé
(a local peer speaking its FHIR API), the community keeps it, and the synthesis reaches it (issue 15)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from dispatch.communities.models import DirectoryEntry
from dispatch.db import db
from dispatch.notify.annuaire import AnnuaireSante
from dispatch.notify.inbox import Recorder
from dispatch.notify.models import OutboxMessage
from dispatch.requests.models import Request, Synthesis
from tests.conftest import luhn_rpps
from tests.peers.annuaire import AnnuairePeer, mss_box, plain_email, practitioner, practitioner_role
from tests.peers.guard import forbid_outbound

GP_RPPS = luhn_rpps(7001)
PERSONAL = "paul.durand@medecin.mssante.fr"
ORGANISATIONAL = "accueil.maison-sante@pro.mssante.fr"
SYNTHESIS = "Otite moyenne aiguë droite ; amoxicilline 6 jours."


@pytest.fixture
def peer(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnnuairePeer]:
    forbid_outbound(monkeypatch)
    with AnnuairePeer() as running:
        yield running


@pytest.fixture
def ports(peer: AnnuairePeer, clock: Any) -> dict[str, Any]:
    """The recording fakes, and the real directory adapter pointed at the peer."""
    directory = AnnuaireSante(peer.base_url, peer.state.api_key, clock=clock.now, timeout=2)
    return {"push": Recorder(), "sms": Recorder(), "mail": Recorder(), "directory": directory}


def publish_gp(peer: AnnuairePeer) -> None:
    """The directory knows Dr Durand: his own box, a plain email, and his health centre's organisational box."""
    gp = practitioner(GP_RPPS, "DURAND", "Paul", [plain_email("paul.durand@orange.fr"), mss_box(PERSONAL, "PER")])
    peer.add(gp, practitioner_role(gp, [mss_box(ORGANISATIONAL, "ORG")]))


def outside_gp(**fields: Any) -> dict[str, Any]:
    return {"treating_physician": {"status": "declared", "rpps": GP_RPPS, "name": "Dr Paul Durand", **fields}}


def world(make: Any) -> dict[str, Any]:
    community = make.community()
    return {
        "community": community,
        "operator": make.member(community, "operator"),
        "cami": make.member(community, "physician", name="Dr Jeanne Martin", kind="cami"),
    }


def entry_of(community: Any) -> DirectoryEntry:
    db.session.expire_all()
    entry = db.session.scalar(select(DirectoryEntry).where(DirectoryEntry.community_id == community.id))
    assert entry is not None
    return entry


def lookups() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "directory").order_by(OutboxMessage.id)))


def trail(make: Any, who: Any, request_id: int) -> list[dict[str, Any]]:
    answer = make.call("GET", f"/requests/{request_id}/events", who)
    assert answer.status_code == 200, answer.json
    return answer.json  # type: ignore[no-any-return]


def types(make: Any, who: Any, request_id: int) -> list[str]:
    return [e["type"] for e in trail(make, who, request_id)]


def see(make: Any, physician: Any, request_id: int, clock: Any) -> None:
    assert make.accept(physician, request_id).status_code == 200
    clock.advance(minutes=30)
    seen = make.call("POST", f"/requests/{request_id}/outcome", physician, json={"outcome": "seen", "synthesis": SYNTHESIS})
    assert seen.status_code == 200, seen.json


def synthesis_of(request_id: int) -> Synthesis:
    db.session.expire_all()
    row = db.session.scalar(select(Synthesis).where(Synthesis.request_id == request_id))
    assert row is not None
    return row


def test_the_address_is_found_after_the_request_opened_and_the_synthesis_reaches_it(
    make: Any, peer: AnnuairePeer, clock: Any, ports: dict[str, Any]
) -> None:
    publish_gp(peer)
    w = world(make)
    opened = make.open(w["operator"], w["community"], **outside_gp())
    assert peer.searches == []  # the operator's POST never waits for the directory
    (lookup,) = lookups()
    assert lookup.status == "pending" and lookup.payload["rpps"] == GP_RPPS
    assert entry_of(w["community"]).lookup_status == "pending"

    make.deliver()
    (search,) = peer.searches
    assert search.key_ok and GP_RPPS in search.params["identifier"][0]
    entry = entry_of(w["community"])
    assert (entry.mssante, entry.mssante_source, entry.mssante_type, entry.lookup_status) == (PERSONAL, "annuaire", "PER", "found")
    assert entry.looked_up_at == clock.now()
    assert db.session.get(Request, opened["id"]).treating_mssante == PERSONAL  # type: ignore[union-attr]
    (found,) = [e for e in trail(make, w["operator"], opened["id"]) if e["type"] == "mssante_found"]
    assert found["data"] == {"to": PERSONAL, "source": "annuaire", "kind": "PER"} and found["actor"] is None

    see(make, w["cami"], opened["id"], clock)
    make.deliver()
    synthesis = synthesis_of(opened["id"])
    assert (synthesis.status, synthesis.to_address) == ("sent", PERSONAL)
    # The 'taken' notice at acceptance, then the synthesis: both to the GP's own box, never the centre's.
    assert [m["To"] for m in ports["mail"].sent] == [PERSONAL, PERSONAL]
    assert len(peer.searches) == 1


def test_a_second_request_for_the_same_gp_asks_the_directory_nothing(make: Any, peer: AnnuairePeer, clock: Any) -> None:
    publish_gp(peer)
    w = world(make)
    make.open(w["operator"], w["community"], **outside_gp())
    make.deliver()
    clock.advance(hours=3)
    second = make.open(w["operator"], w["community"], **outside_gp())
    assert db.session.get(Request, second["id"]).treating_mssante == PERSONAL  # type: ignore[union-attr]
    make.deliver()
    assert len(peer.searches) == 1 and len(lookups()) == 1  # the community's directory answered
    assert "mssante_found" not in types(make, w["operator"], second["id"])


def test_while_a_lookup_is_under_way_no_second_one_is_asked(make: Any, peer: AnnuairePeer) -> None:
    publish_gp(peer)
    w = world(make)
    first = make.open(w["operator"], w["community"], **outside_gp())
    second = make.open(w["operator"], w["community"], **outside_gp())
    assert len(lookups()) == 1
    make.deliver()
    assert len(peer.searches) == 1
    for request_id in (first["id"], second["id"]):  # both waited for it, both have it
        assert db.session.get(Request, request_id).treating_mssante == PERSONAL  # type: ignore[union-attr]
        assert "mssante_found" in types(make, w["operator"], request_id)


def test_each_community_keeps_its_own_directory(make: Any, peer: AnnuairePeer) -> None:
    publish_gp(peer)
    here, there = world(make), world(make)
    make.open(here["operator"], here["community"], **outside_gp())
    make.deliver()
    make.open(there["operator"], there["community"], **outside_gp())
    make.deliver()
    assert len(peer.searches) == 2
    assert entry_of(there["community"]).mssante == PERSONAL


def test_a_gp_without_a_box_in_the_directory_is_said_and_not_asked_again_for_a_week(
    make: Any, peer: AnnuairePeer, clock: Any, ports: dict[str, Any]
) -> None:
    peer.add(practitioner(GP_RPPS, "DURAND", "Paul", [plain_email("paul.durand@orange.fr")]))
    w = world(make)
    opened = make.open(w["operator"], w["community"], **outside_gp())
    make.deliver()
    entry = entry_of(w["community"])
    assert (entry.mssante, entry.lookup_status) == (None, "not_found")
    (missing,) = [e for e in trail(make, w["operator"], opened["id"]) if e["type"] == "mssante_not_found"]
    assert missing["data"] == {"rpps": GP_RPPS}

    see(make, w["cami"], opened["id"], clock)  # the synthesis cannot be sent; the directory is not asked again
    make.deliver()
    assert synthesis_of(opened["id"]).status == "not_sendable" and len(peer.searches) == 1 and ports["mail"].sent == []

    clock.advance(days=6)
    make.tokens.clear()  # signed in again
    make.open(w["operator"], w["community"], **outside_gp())
    make.deliver()
    assert len(peer.searches) == 1  # within the week: the community's directory says "none" by itself
    clock.advance(days=1)  # a week later the GP has opened a box
    make.tokens.clear()
    peer.state.practitioners[0]["telecom"].append(mss_box(PERSONAL, "PER"))
    later = make.open(w["operator"], w["community"], **outside_gp())
    make.deliver()
    assert len(peer.searches) == 2
    assert db.session.get(Request, later["id"]).treating_mssante == PERSONAL  # type: ignore[union-attr]


def test_a_directory_down_is_retried_and_never_fails_the_operator(make: Any, peer: AnnuairePeer, clock: Any) -> None:
    publish_gp(peer)
    peer.fail_next(503, times=2)
    w = world(make)
    opened = make.open(w["operator"], w["community"], **outside_gp())  # 201 (make.open checks it)
    make.deliver()
    (lookup,) = lookups()
    assert (lookup.status, lookup.attempts) == ("pending", 1) and "503" in (lookup.last_error or "")
    assert lookup.next_attempt_at > clock.now()  # backed off
    make.deliver()
    assert len(peer.searches) == 1  # not before its time
    clock.advance(minutes=10)
    make.deliver()
    clock.advance(minutes=10)
    make.deliver()
    assert len(peer.searches) == 3 and lookups()[0].status == "sent"
    assert entry_of(w["community"]).mssante == PERSONAL
    assert "mssante_found" in types(make, w["operator"], opened["id"])


def test_a_synthesis_written_while_the_directory_was_down_is_sent_once_it_answers(
    make: Any, peer: AnnuairePeer, clock: Any, ports: dict[str, Any]
) -> None:
    publish_gp(peer)
    peer.fail_next(503, times=8)  # every retry of the first lookup fails: the outbox gives up
    w = world(make)
    opened = make.open(w["operator"], w["community"], **outside_gp())
    for _ in range(8):
        make.deliver()
        clock.advance(minutes=10)
    assert lookups()[0].status == "failed" and entry_of(w["community"]).lookup_status == "failed"
    assert "mssante_lookup_failed" in types(make, w["operator"], opened["id"])

    see(make, w["cami"], opened["id"], clock)  # no address: not sendable for now, the directory is asked again
    assert synthesis_of(opened["id"]).status == "not_sendable"
    assert [m.status for m in lookups()] == ["failed", "pending"]
    make.deliver()  # the directory answers: the synthesis leaves, to the address found
    make.deliver()
    synthesis = synthesis_of(opened["id"])
    assert (synthesis.status, synthesis.to_address) == ("sent", PERSONAL)
    assert [m["To"] for m in ports["mail"].sent] == [PERSONAL]
    found = [e for e in trail(make, w["operator"], opened["id"]) if e["type"] == "mssante_found"]
    assert found[0]["data"]["synthesis"] == "pending"
    assert db.session.get(Request, opened["id"]).synthesis_status == "sent"  # type: ignore[union-attr]


def test_an_accepted_request_tells_the_gp_once_the_address_arrives(
    make: Any, peer: AnnuairePeer, clock: Any, ports: dict[str, Any]
) -> None:
    publish_gp(peer)
    peer.fail_next(503)
    w = world(make)
    opened = make.open(w["operator"], w["community"], **outside_gp())
    make.deliver()  # the directory is slow: the CAMI doctor accepts before it answers
    assert make.accept(w["cami"], opened["id"]).status_code == 200
    clock.advance(minutes=10)
    make.deliver()
    make.deliver()
    assert [m["To"] for m in ports["mail"].sent] == [PERSONAL]
    assert ports["mail"].sent[0]["Message-ID"].endswith("@cpts.mssante.fr>")


def test_an_address_typed_by_the_operator_is_never_looked_up_and_wins(make: Any, peer: AnnuairePeer) -> None:
    publish_gp(peer)
    w = world(make)
    typed = "p.durand@cabinet.mssante.fr"
    make.open(w["operator"], w["community"], **outside_gp(mssante=typed))
    make.deliver()
    assert peer.searches == [] and lookups() == []
    entry = entry_of(w["community"])
    assert (entry.mssante, entry.mssante_source) == (typed, "operator")


def test_an_operator_address_typed_while_the_lookup_runs_wins_over_the_directory(make: Any, peer: AnnuairePeer) -> None:
    publish_gp(peer)
    w = world(make)
    first = make.open(w["operator"], w["community"], **outside_gp())
    typed = "p.durand@cabinet.mssante.fr"
    make.open(w["operator"], w["community"], **outside_gp(mssante=typed))
    make.deliver()
    entry = entry_of(w["community"])
    assert (entry.mssante, entry.mssante_source, entry.lookup_status) == (typed, "operator", "found")
    assert db.session.get(Request, first["id"]).treating_mssante == typed  # type: ignore[union-attr]


def test_a_refused_api_key_is_not_retried(make: Any, peer: AnnuairePeer, clock: Any) -> None:
    publish_gp(peer)
    peer.state.api_key = "rotated-key"
    w = world(make)
    opened = make.open(w["operator"], w["community"], **outside_gp())
    make.deliver()
    clock.advance(hours=1)
    make.deliver()
    assert [s.key_ok for s in peer.searches] == [False]
    assert lookups()[0].status == "failed" and "401" in (lookups()[0].last_error or "")
    assert "mssante_lookup_failed" in types(make, w["operator"], opened["id"])


def test_the_operator_page_says_where_the_address_came_from(make: Any, peer: AnnuairePeer, app: Any) -> None:
    publish_gp(peer)
    w = world(make)
    opened = make.open(w["operator"], w["community"], **outside_gp())
    page = signed_in_page(make, app, w["operator"], opened["id"])
    assert "recherche dans l'Annuaire Santé en cours" in page
    make.deliver()
    page = signed_in_page(make, app, w["operator"], opened["id"])
    assert PERSONAL in page and "Annuaire Santé, boîte personnelle" in page
    assert "Adresse MSSanté trouvée dans l'Annuaire Santé" in page  # the history, in French


def signed_in_page(make: Any, app: Any, user: Any, request_id: int) -> str:
    from tests.pages.conftest import PageClient

    client = PageClient(app)
    assert client.sign_in(user.login).status_code == 302
    answer = client.get(f"/console/demandes/{request_id}")
    assert answer.status_code == 200, answer.status_code
    return html.unescape(answer.get_data(as_text=True))
