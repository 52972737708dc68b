"""The Annuaire Santé adapter: its search, the box it chooses, and how it classifies the directory's failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from dispatch.notify import annuaire
from dispatch.notify.annuaire import AnnuaireSante, Mailbox, best_mailbox
from dispatch.notify.ports import Outcome
from dispatch.notify.retry_after import retry_after_s
from dispatch.wiring import ConfigurationError, build_ports
from tests.conftest import FakeClock, luhn_rpps
from tests.peers.annuaire import AnnuairePeer, mss_box, plain_email, practitioner, practitioner_role
from tests.peers.guard import forbid_outbound

RPPS = luhn_rpps(4242)
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)


@pytest.fixture
def peer(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnnuairePeer]:
    forbid_outbound(monkeypatch)
    with AnnuairePeer() as running:
        yield running


def adapter(peer: AnnuairePeer, key: str | None = None) -> AnnuaireSante:
    return AnnuaireSante(peer.base_url, key or peer.state.api_key, clock=lambda: NOW, timeout=5)


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def test_the_search_asks_for_the_practitioner_by_rpps_and_idnps_with_its_situations(peer: AnnuairePeer) -> None:
    gp = peer.add(practitioner(RPPS, "DURAND", "Paul", [mss_box("paul.durand@medecin.mssante.fr")]))
    peer.add(practitioner(luhn_rpps(4243), "DURAND", "Pauline", [mss_box("pauline.durand@medecin.mssante.fr")]))
    result = adapter(peer).find_mailbox(RPPS)
    assert result.outcome is Outcome.SENT and result.mailbox == Mailbox("paul.durand@medecin.mssante.fr", "PER")
    (search,) = peer.searches
    assert search.key_ok
    assert search.params["identifier"] == [f"https://rpps.esante.gouv.fr|{RPPS},urn:oid:1.2.250.1.71.4.2.1|8{RPPS}"]
    assert search.params["_revinclude"] == ["PractitionerRole:practitioner"]
    assert gp["identifier"][0]["value"] == f"8{RPPS}"


def test_a_box_held_by_a_situation_of_practice_is_found_through_the_revinclude(peer: AnnuairePeer) -> None:
    gp = practitioner(RPPS, "DURAND", "Paul")
    peer.add(gp, practitioner_role(gp, [mss_box("cabinet.durand@medecin.mssante.fr", "CAB")]))
    assert adapter(peer).find_mailbox(RPPS).mailbox == Mailbox("cabinet.durand@medecin.mssante.fr", "CAB")


def test_a_gp_the_directory_does_not_know_or_without_a_box_has_none(peer: AnnuairePeer) -> None:
    peer.add(practitioner(RPPS, "DURAND", "Paul", [plain_email("paul.durand@orange.fr")]))
    unknown = adapter(peer).find_mailbox(luhn_rpps(4244))
    assert unknown.outcome is Outcome.SENT and unknown.mailbox is None
    without = adapter(peer).find_mailbox(RPPS)
    assert without.outcome is Outcome.SENT and without.mailbox is None  # an ordinary email is no MSSanté box


@pytest.mark.parametrize(
    ("practitioner_boxes", "role_boxes", "chosen"),
    [
        # The GP's own box over the practice's and the service's, wherever each is listed.
        (
            [mss_box("secretariat@ch.mssante.fr", "ORG")],
            [mss_box("p.durand@medecin.mssante.fr", "PER")],
            "p.durand@medecin.mssante.fr",
        ),
        (
            [mss_box("cabinet@medecin.mssante.fr", "CAB"), mss_box("p.durand@medecin.mssante.fr", "PER")],
            [],
            "p.durand@medecin.mssante.fr",
        ),
        ([], [mss_box("accueil@ch.mssante.fr", "ORG"), mss_box("cabinet@medecin.mssante.fr", "CAB")], "cabinet@medecin.mssante.fr"),
        # An MSSanté box of no stated type (v1, or metadata left out) before an organisational one.
        ([mss_box("accueil@ch.mssante.fr", "ORG")], [mss_box("p.durand@medecin.mssante.fr", None)], "p.durand@medecin.mssante.fr"),
        # Only a service's box: better than nothing, the team passes it on.
        ([plain_email("p.durand@gmail.com")], [mss_box("accueil@ch.mssante.fr", "ORG")], "accueil@ch.mssante.fr"),
        # Two personal boxes: the directory's rank, then the Practitioner's before a situation's.
        (
            [mss_box("b@medecin.mssante.fr", "PER", rank=2), mss_box("a@medecin.mssante.fr", "PER", rank=1)],
            [],
            "a@medecin.mssante.fr",
        ),
        ([], [mss_box("role@medecin.mssante.fr", "PER")], "role@medecin.mssante.fr"),
        # A software's box is never a person's.
        ([mss_box("lgc-robot@editeur.mssante.fr", "APP")], [], None),
    ],
)
def test_of_several_boxes_the_gp_own_comes_first(
    practitioner_boxes: list[dict[str, Any]], role_boxes: list[dict[str, Any]], chosen: str | None
) -> None:
    gp = practitioner(RPPS, "DURAND", "Paul", practitioner_boxes)
    found = best_mailbox(bundle(gp, practitioner_role(gp, role_boxes)), RPPS)
    assert (found.address if found else None) == chosen


def test_boxes_of_another_physician_or_of_a_closed_situation_are_not_taken() -> None:
    gp = practitioner(RPPS, "DURAND", "Paul")
    other = practitioner(luhn_rpps(4245), "MARTIN", "Anne", [mss_box("anne.martin@medecin.mssante.fr")])
    closed = practitioner_role(gp, [mss_box("ancien.cabinet@medecin.mssante.fr", "PER")], active=False)
    foreign = practitioner_role(other, [mss_box("cabinet.martin@medecin.mssante.fr", "CAB")])
    assert best_mailbox(bundle(gp, other, closed, foreign), RPPS) is None


def test_a_v1_answer_is_read_too() -> None:
    """API v1 marks MSSanté boxes with its own email-type extension and the MailboxMSS metadata."""
    box = {
        "extension": [
            {
                "url": "https://apifhir.annuaire.sante.fr/ws-sync/exposed/structuredefinition/ContactPoint-EmailType",
                "valueCoding": {"code": "MSSANTE"},
            },
            {
                "url": "https://annuaire.sante.gouv.fr/fhir/StructureDefinition/MailboxMSS",
                "extension": [{"url": "type", "valueCodeableConcept": {"coding": [{"code": "PER"}]}}],
            },
        ],
        "system": "email",
        "value": "paul.durand@medecin.mssante.fr",
    }
    gp = {
        "resourceType": "Practitioner",
        "id": "pra-1",
        "identifier": [{"system": "urn:oid:1.2.250.1.71.4.2.1", "value": f"8{RPPS}"}],
        "telecom": [box],
    }
    assert best_mailbox(bundle(gp), RPPS) == Mailbox("paul.durand@medecin.mssante.fr", "PER")


def test_a_refused_key_is_permanent_and_said(peer: AnnuairePeer, caplog: pytest.LogCaptureFixture) -> None:
    result = adapter(peer, key="wrong-key").find_mailbox(RPPS)
    assert result.outcome is Outcome.PERMANENT and "401" in result.detail
    assert [s.key_ok for s in peer.searches] == [False]
    assert "DISPATCH_ANNUAIRE_URL" in caplog.text and "wrong-key" not in caplog.text


def test_an_overloaded_directory_is_transient_and_its_retry_after_kept(peer: AnnuairePeer) -> None:
    peer.fail_next(503, retry_after="120")
    result = adapter(peer).find_mailbox(RPPS)
    assert result.outcome is Outcome.TRANSIENT and retry_after_s(result.detail) == 120
    peer.fail_next(429, retry_after="Mon, 23 Nov 2026 14:05:00 GMT")  # an HTTP-date, measured from the clock
    assert retry_after_s(adapter(peer).find_mailbox(RPPS).detail) == 300


def test_a_directory_that_does_not_answer_is_transient() -> None:
    with AnnuairePeer() as gone:
        url = gone.base_url
    result = AnnuaireSante(url, "key", clock=lambda: NOW, timeout=2).find_mailbox(RPPS)
    assert result.outcome is Outcome.TRANSIENT and "unreachable" in result.detail


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_and_the_key_never_leaves_for_another_host(peer: AnnuairePeer, status: int) -> None:
    with AnnuairePeer(api_key="what-the-thief-wants") as thief:
        thief.add(practitioner(RPPS, "DURAND", "Paul", [mss_box("thief@evil.mssante.fr")]))
        peer.answer_next(status, headers={"Location": f"{thief.base_url}/Practitioner?identifier={RPPS}"})
        result = adapter(peer).find_mailbox(RPPS)
        assert thief.searches == []
    assert result.outcome is Outcome.PERMANENT and str(status) in result.detail and result.mailbox is None


def test_a_list_of_addresses_is_no_address(peer: AnnuairePeer) -> None:
    peer.add(
        practitioner(
            RPPS,
            "DURAND",
            "Paul",
            [
                mss_box("paul.durand@medecin.mssante.fr, thief@evil.fr", "PER"),
                mss_box("Dr Durand <paul.durand@medecin.mssante.fr>", "PER"),
                mss_box("paul.durand@medecin.mssante.fr\r\nBcc: thief@evil.fr", "PER"),
                mss_box("cabinet.durand@medecin.mssante.fr", "CAB"),
            ],
        )
    )
    assert adapter(peer).find_mailbox(RPPS).mailbox == Mailbox("cabinet.durand@medecin.mssante.fr", "CAB")
    only_lists = practitioner(luhn_rpps(4245), "ROUX", "Anne", [mss_box("a@medecin.mssante.fr,b@medecin.mssante.fr")])
    peer.add(only_lists)
    found = adapter(peer).find_mailbox(luhn_rpps(4245))
    assert found.outcome is Outcome.SENT and found.mailbox is None


def test_an_answer_over_the_size_cap_is_not_read(peer: AnnuairePeer) -> None:
    box = mss_box("paul.durand@medecin.mssante.fr")
    padding = "x" * (annuaire.MAX_ANSWER_BYTES + 1)
    huge = json.dumps({**bundle(practitioner(RPPS, "DURAND", "Paul", [box])), "padding": padding}).encode()
    peer.answer_next(200, huge, {"Content-Type": "application/fhir+json"})
    announced = adapter(peer).find_mailbox(RPPS)
    # The same, without saying its length (chunked): read up to the cap, then given up.
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(huge[i : i + 65536]), huge[i : i + 65536]) for i in range(0, len(huge), 65536))
    peer.answer_next(200, chunked + b"0\r\n\r\n", {"Content-Type": "application/fhir+json", "Transfer-Encoding": "chunked"})
    unannounced = adapter(peer).find_mailbox(RPPS)
    for result in (announced, unannounced):
        assert result.outcome is Outcome.TRANSIENT and result.mailbox is None
        assert result.detail == f"annuaire answered more than {annuaire.MAX_ANSWER_BYTES} bytes"
    small = json.dumps(bundle(practitioner(RPPS, "DURAND", "Paul", [box]))).encode()
    peer.answer_next(200, small, {"Content-Type": "application/fhir+json"})
    assert adapter(peer).find_mailbox(RPPS).mailbox == Mailbox("paul.durand@medecin.mssante.fr", "PER")


def test_the_settings_choose_the_adapter(tmp_path: Path) -> None:
    from config import settings

    clock = FakeClock()
    off = build_ports(settings.load(tmp_path, {}), clock, tmp_path)
    assert off.directory is None  # no URL: no lookup, the operator types the address
    on = build_ports(
        settings.load(
            tmp_path,
            environ={"DISPATCH_ANNUAIRE_URL": "https://gateway.api.esante.gouv.fr/fhir/v2/", "DISPATCH_ANNUAIRE_API_KEY": "k"},
        ),
        clock,
        tmp_path,
    )
    try:
        assert isinstance(on.directory, AnnuaireSante) and on.directory.base_url.endswith("/fhir/v2")
        assert on.directory.session.headers["ESANTE-API-KEY"] == "k"
    finally:
        on.close()
    with pytest.raises(ConfigurationError, match="DISPATCH_ANNUAIRE_API_KEY"):
        build_ports(
            settings.load(tmp_path, {"DISPATCH_ANNUAIRE_URL": "https://gateway.api.esante.gouv.fr/fhir/v2"}), clock, tmp_path
        )
    with pytest.raises(ConfigurationError, match="https"):
        build_ports(
            settings.load(tmp_path, {"DISPATCH_ANNUAIRE_URL": "http://annuaire.example.fr/fhir", "DISPATCH_ANNUAIRE_API_KEY": "k"}),
            clock,
            tmp_path,
        )
