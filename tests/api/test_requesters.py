"""Issue 27: requests opened by other professionals (an EHPAD's nurse), a teleconsultation, the SAS's regulator.

The "done when" of the issue, step by step: an EHPAD nurse opens a request from her phone (consent required), a
physician accepts it as a teleconsultation (the link on a host the community allows), the nurse and the patient get
the link, the synthesis reaches the GP saying so; and a requester sees only their own requests.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from sqlalchemy import select, text

from dispatch.db import db
from dispatch.notify.models import OutboxMessage
from dispatch.privacy.erasure import erase_requests
from dispatch.requests.models import Request, Synthesis
from dispatch.synthesis.cda import build_cda
from dispatch.synthesis.document import TREATING_UNAVAILABLE, build_pdf
from dispatch.synthesis.service import synthesis_doc
from tests.synthesis.ans_kit.kit import AnsKit
from tests.synthesis.test_document import pdf_text

FINESS = "750712184"  # a real FINESS number (its Luhn key holds)
REGULATOR = {"rpps": "10000009992", "name": "Dr Hélène Régulatrice"}
ALLOWED = "https://visio.teleconsult.example.fr/salle/8f3a"


def ehpad_body(community: Any, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "community_id": community.id,
        "source": "ehpad",
        "motive": "respiratory",
        "description": "Toux fébrile depuis hier, résidente de l'EHPAD",
        "patient": {
            "first_name": "Jeanne",
            "last_name": "Lemoine",
            "birth_date": "1936-02-11",
            "sex": "F",
            "phone": "+33698765432",
        },
        "treating_physician": {"status": "none"},
        "consent": True,
        "modality": "teleconsultation",
        "observations": {"systolic": 128, "diastolic": 76, "heart_rate": 96, "temperature_c": 38.4, "spo2": 93, "note": "Dyspnée"},
    }
    body.update(changes)
    return body


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    community = make.community()
    coordinator = make.member(community, "coordinator")
    response = make.call(
        "PATCH", f"/communities/{community.id}", coordinator, json={"teleconsultation_hosts": [".Teleconsult.example.fr"]}
    )
    assert response.status_code == 200, response.json
    assert response.json["teleconsultation_hosts"] == [".teleconsult.example.fr"]
    nurse = make.member(community, "requester", finess=FINESS, name="Inès Ehpad", phone="+33611112222", profession=None)
    other = make.member(community, "requester", rpps="10000009992", profession="21", name="Paul Pharmacie")
    return {
        "community": community,
        "coordinator": coordinator,
        "operator": make.member(community, "operator"),
        "nurse": nurse,
        "other": other,
        "gp": make.member(community, "physician", name="Dr Paul Durand"),
        "physician": make.member(community, "physician", name="Dr Anne Visio"),
    }


def messages(kind: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


def test_coordinators_create_requesters_with_an_rpps_or_a_finess(make: Any, world: dict[str, Any]) -> None:
    community, coordinator = world["community"], world["coordinator"]

    def create(**fields: Any) -> Any:
        body = {"role": "requester", "login": f"req-{len(fields)}-{sorted(fields)}", "password": "x" * 12, "name": "Demandeur"}
        return make.call("POST", f"/communities/{community.id}/members", coordinator, json=body | fields)

    assert create().json["errors"]["rpps"]  # neither an RPPS nor a FINESS
    assert create(finess="750712185").json["errors"]["finess"] == ["Numéro FINESS invalide (9 caractères, clé de Luhn)."]
    assert create(rpps="10000009993", profession="60").json["errors"]["rpps"]
    assert create(rpps=world["gp"].rpps, profession="60").status_code == 409  # an RPPS already a member's
    created = create(finess="130786049")
    assert created.status_code == 201 and created.json["role"] == "requester"
    listed = make.call("GET", f"/communities/{community.id}/members/{created.json['user_id']}", coordinator).json
    assert listed["requester"] == {"profession": None, "rpps": None, "finess": "130786049"}
    nurse = create(rpps="10000090018", profession="60")
    assert nurse.status_code == 201, nurse.json
    me = make.call("GET", "/me", world["nurse"]).json
    assert me["role"] == "requester" and me["requester"] == {"profession": None, "rpps": None, "finess": FINESS}
    assert me["communities"] == [{"id": community.id, "name": community.name, "role": "requester"}]
    # Not a host: refused, the community's hosts unchanged.
    bad = make.call("PATCH", f"/communities/{community.id}", coordinator, json={"teleconsultation_hosts": ["https://x.fr/"]})
    assert bad.status_code == 422 and "teleconsultation_hosts" in str(bad.json["errors"])


def test_an_ehpad_nurse_opens_a_teleconsultation_that_a_physician_accepts_with_its_link(
    make: Any, world: dict[str, Any], clock: Any
) -> None:
    community, nurse = world["community"], world["nurse"]
    # 1. Without the patient's consent: refused.
    missing = make.call("POST", "/requests", nurse, json=ehpad_body(community, consent=False))
    assert missing.status_code == 422 and missing.json["code"] == "consent_required"
    assert missing.json["title"] and missing.headers["Content-Type"].startswith("application/problem+json")
    assert make.call("POST", "/requests", nurse, json={**ehpad_body(community), "consent": None}).status_code == 422
    not_hers = make.call("POST", "/requests", nurse, json=ehpad_body(community, source="cot"))
    assert not_hers.status_code == 422 and "source" in not_hers.json["errors"]

    opened = make.call("POST", "/requests", nurse, json=ehpad_body(community))
    assert opened.status_code == 201, opened.json
    request_id = opened.json["id"]
    assert opened.json["modality"] == "teleconsultation" and opened.json["source"] == "ehpad"
    assert opened.json["requester"] == {"name": "Inès Ehpad", "profession": None, "rpps": None, "finess": FINESS}
    assert opened.json["consent_at"] == "2026-11-23T14:00:00Z"
    stored = db.session.get(Request, request_id)
    assert stored is not None and stored.requester_id is not None and stored.opened_by_id == nurse.id

    # The offered physician sees the modality, not the patient nor the observations.
    physician = world["physician"]
    offered = make.call("GET", f"/requests/{request_id}", physician).json
    assert offered["anonymised"] and offered["modality"] == "teleconsultation" and offered["observations"] is None

    # 2. Accepted without a link, with one on a host the community does not allow, or a tricky one: 422.
    at = clock.now().isoformat()
    for url in (
        None,
        "https://evil.example.com/salle",
        "http://visio.teleconsult.example.fr/",
        "https://a@visio.teleconsult.example.fr/",
    ):
        body = {"appointment_at": at} | ({"teleconsultation_url": url} if url else {})
        refused = make.call("POST", f"/requests/{request_id}/accept", physician, json=body)
        assert refused.status_code == 422, (url, refused.json)
        assert refused.json["errors"]["teleconsultation_url"]
    accepted = make.call(
        "POST", f"/requests/{request_id}/accept", physician, json={"appointment_at": at, "teleconsultation_url": ALLOWED}
    )
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["teleconsultation_url"] == ALLOWED
    assert accepted.json["observations"]["spo2"] == 93 and accepted.json["observations"]["note"] == "Dyspnée"

    # 3. The nurse follows her request: who accepted, when, the link.
    mine = make.call("GET", f"/requests/{request_id}", nurse).json
    assert mine["state"] == "accepted" and mine["accepted_by"]["name"] == "Dr Anne Visio"
    assert mine["teleconsultation_url"] == ALLOWED and mine["patient"]["last_name"] == "Lemoine"
    assert [r["id"] for r in make.call("GET", "/requests", nurse).json] == [request_id]

    # 4. The nurse's SMS and the patient's carry the link; the nurse's names no patient.
    (told,) = messages("accepted_requester")
    assert told.address == "+33611112222" and ALLOWED in told.payload["body"]
    assert f"demande no {request_id} " in told.payload["body"] and "Lemoine" not in told.payload["body"]
    (patient,) = messages("patient_appointment")
    assert patient.address == "+33698765432" and ALLOWED in patient.payload["body"]
    assert "téléconsultation" in patient.payload["body"]


def test_an_in_person_request_takes_no_link(make: Any, world: dict[str, Any], clock: Any) -> None:
    opened = make.call("POST", "/requests", world["nurse"], json=ehpad_body(world["community"], modality="in_person")).json
    body = {"appointment_at": clock.now().isoformat(), "teleconsultation_url": ALLOWED}
    refused = make.call("POST", f"/requests/{opened['id']}/accept", world["physician"], json=body)
    assert refused.status_code == 422 and refused.json["errors"]["teleconsultation_url"]
    assert make.accept(world["physician"], opened["id"]).status_code == 200
    (told,) = messages("accepted_requester")
    assert "téléconsultation" not in told.payload["body"]


def test_a_requester_sees_only_their_own_requests(make: Any, world: dict[str, Any]) -> None:
    community, nurse, other = world["community"], world["nurse"], world["other"]
    hers = make.call("POST", "/requests", nurse, json=ehpad_body(community)).json
    his = make.call("POST", "/requests", other, json=ehpad_body(community, source="pharmacy")).json
    by_operator = make.open(world["operator"], community)
    for request_id in (his["id"], by_operator["id"]):
        hidden = make.call("GET", f"/requests/{request_id}", nurse)
        assert hidden.status_code == 404 and hidden.json["code"] == "not_found"
        assert make.call("GET", f"/requests/{request_id}/events", nurse).status_code == 404
        assert make.call("POST", f"/requests/{request_id}/cancel", nurse, json={"reason": "x"}).status_code == 404
    assert [r["id"] for r in make.call("GET", "/requests", nurse).json] == [hers["id"]]
    assert [r["id"] for r in make.call("GET", "/requests", other).json] == [his["id"]]
    # Each full view of her own patient is in the access trail.
    make.call("GET", f"/requests/{hers['id']}", nurse)
    trail = make.call("GET", f"/requests/{hers['id']}/access", world["coordinator"]).json
    seen = [(a["user"]["id"], a["what"]) for a in trail]
    assert seen[0] == (nurse.id, "request") and (nurse.id, "list") in seen and {who for who, _ in seen} == {nurse.id}
    # She opens nothing for the console, and an operator cannot pass for a requester.
    assert make.call("GET", f"/communities/{community.id}/report?from=2026-11-01&to=2026-11-30", nurse).status_code == 403
    assert make.call("POST", "/requests", world["operator"], json=ehpad_body(community)).status_code == 201


def test_the_requester_is_told_when_their_request_expires(make: Any, world: dict[str, Any], clock: Any) -> None:
    opened = make.call("POST", "/requests", world["nurse"], json=ehpad_body(world["community"])).json
    clock.advance(seconds=7200)
    assert make.tick() == 1
    (told,) = messages("expired_requester")
    assert told.address == "+33611112222" and f"demande no {opened['id']} " in told.payload["body"]
    assert "Lemoine" not in told.payload["body"] and "Jeanne" not in told.payload["body"]


@pytest.mark.parametrize(
    ("observations", "field"),
    [
        ({"systolic": 49, "diastolic": 40}, "systolic"),
        ({"systolic": 261, "diastolic": 90}, "systolic"),
        ({"systolic": 120, "diastolic": 120}, "diastolic"),
        ({"systolic": 120}, "diastolic"),
        ({"heart_rate": 19}, "heart_rate"),
        ({"heart_rate": 251}, "heart_rate"),
        ({"temperature_c": 29.9}, "temperature_c"),
        ({"temperature_c": 43.6}, "temperature_c"),
        ({"spo2": 49}, "spo2"),
        ({"spo2": 101}, "spo2"),
        ({"note": "x" * 1001}, "note"),
    ],
)
def test_observations_outside_plausible_bounds_are_refused(
    make: Any, world: dict[str, Any], observations: dict[str, Any], field: str
) -> None:
    response = make.call("POST", "/requests", world["nurse"], json=ehpad_body(world["community"], observations=observations))
    assert response.status_code == 422 and f"observations.{field}" in response.json["errors"], response.json


def test_observations_at_their_bounds_are_kept(make: Any, world: dict[str, Any]) -> None:
    bounds = {"systolic": 260, "diastolic": 30, "heart_rate": 20, "temperature_c": 43.5, "spo2": 50, "note": "x" * 1000}
    response = make.call("POST", "/requests", world["nurse"], json=ehpad_body(world["community"], observations=bounds))
    assert response.status_code == 201 and response.json["observations"] == bounds


def test_a_request_from_the_sas_names_its_regulator(make: Any, world: dict[str, Any], clock: Any) -> None:
    community, operator = world["community"], world["operator"]
    missing = make.call("POST", "/requests", operator, json=make.request_body(community, source="sas"))
    assert missing.status_code == 422 and missing.json["errors"]["sas_regulator"]
    bad_key = make.request_body(community, source="sas", sas_regulator={"rpps": "10000009993", "name": "Dr X"})
    assert make.call("POST", "/requests", operator, json=bad_key).json["errors"]["sas_regulator.rpps"]
    not_sas = make.request_body(community, source="cot", sas_regulator=REGULATOR)
    assert make.call("POST", "/requests", operator, json=not_sas).json["errors"]["sas_regulator"]

    opened = make.open(operator, community, source="sas", sas_regulator=REGULATOR)
    assert opened["sas_regulator"] == REGULATOR
    # Shown to the physician it is offered to (no patient in it) and to the one who accepts.
    assert make.call("GET", f"/requests/{opened['id']}", world["physician"]).json["sas_regulator"] == REGULATOR
    assert make.accept(world["physician"], opened["id"]).json["sas_regulator"] == REGULATOR
    make.open(operator, community)  # another source
    report = make.call("GET", f"/communities/{community.id}/report?from=2026-11-01&to=2026-11-30", world["coordinator"]).json
    assert report["by_source"]["sas"] == 1
    assert report["by_regulation"]["sas"] | {"acceptance_rate": None} == {
        "opened": 1,
        "accepted": 1,
        "expired": 0,
        "cancelled": 0,
        "open": 0,
        "seen": 0,
        "no_show": 0,
        "acceptance_rate": None,
    }
    assert report["by_regulation"]["sas"]["acceptance_rate"] == 1.0
    assert report["by_regulation"]["other"]["opened"] == 1 and report["by_regulation"]["other"]["open"] == 1


def sent_cda(mail: Any) -> bytes:
    archive = next(part for part in mail.iter_attachments() if part.get_filename() == "IHE_XDM.zip")
    with zipfile.ZipFile(io.BytesIO(archive.get_content())) as xdm:
        return xdm.read("IHE_XDM/SUBSET01/DOC0001.XML")


def test_the_synthesis_of_a_teleconsultation_says_so_and_why_the_gp_did_not(
    make: Any, world: dict[str, Any], clock: Any, ports: Any
) -> None:
    """The treating GP had the request first and declined: the teleconsultation by another physician is allowed."""
    gp, physician = world["gp"], world["physician"]
    treating = {"status": "declared", "rpps": gp.rpps, "name": gp.user.name}
    body = ehpad_body(world["community"], treating_physician=treating)
    opened = make.call("POST", "/requests", world["nurse"], json=body).json
    assert opened["state"] == "exclusive"
    assert make.call("POST", f"/requests/{opened['id']}/refuse", gp, json={"reason": "Au cabinet"}).status_code == 200
    json = {"appointment_at": clock.now().isoformat(), "teleconsultation_url": ALLOWED}
    assert make.call("POST", f"/requests/{opened['id']}/accept", physician, json=json).status_code == 200
    seen = {"outcome": "seen", "synthesis": "Bronchite aiguë, pas de signe de gravité."}
    assert make.call("POST", f"/requests/{opened['id']}/outcome", physician, json=seen).status_code == 200
    make.deliver()
    (mail,) = [m for m in ports["mail"].sent if m["To"] == gp.mssante]
    cda = sent_cda(mail).decode()
    assert "Compte rendu de consultation - téléconsultation - soins non programmés" in cda
    # The consultation report is the treating GP's: the requester reads the request, not the report.
    assert make.call("GET", f"/requests/{opened['id']}/synthesis.pdf", world["nurse"]).status_code == 404
    pdf = make.call("GET", f"/requests/{opened['id']}/synthesis.pdf", physician)
    text = pdf_text(pdf.data)
    assert "Téléconsultation" in text
    assert "Médecin traitant non disponible à temps : il a décliné la demande." in text


def test_the_teleconsultation_synthesis_passes_the_ans_kit(make: Any, world: dict[str, Any], clock: Any, tmp_path: Any) -> None:
    """The synthesis of a teleconsultation as stored (its trail read for why the GP did not see the patient) passes the
    national kit, with the custodian the mail would name."""
    gp, physician = world["gp"], world["physician"]
    body = ehpad_body(world["community"], treating_physician={"status": "declared", "rpps": gp.rpps, "name": gp.user.name})
    body |= {"source": "ehpad"}
    opened = make.call("POST", "/requests", world["nurse"], json=body).json
    clock.advance(seconds=3600)  # the GP's exclusive hour passes without an answer
    assert make.tick() == 1
    json = {"appointment_at": clock.now().isoformat(), "teleconsultation_url": ALLOWED}
    assert make.call("POST", f"/requests/{opened['id']}/accept", physician, json=json).status_code == 200
    seen = {"outcome": "seen", "synthesis": "Bronchite aiguë."}
    assert make.call("POST", f"/requests/{opened['id']}/outcome", physician, json=seen).status_code == 200
    request = db.session.get(Request, opened["id"])
    assert request is not None
    synthesis = db.session.scalar(select(Synthesis).where(Synthesis.request_id == request.id))
    assert synthesis is not None
    doc = synthesis_doc(synthesis, request, custodian_id="312345678900011")
    assert doc.teleconsultation and doc.treating_unavailable == TREATING_UNAVAILABLE["exclusive_passed"]
    assert AnsKit(tmp_path).failures(build_cda(doc, build_pdf(doc))) == []


def test_observations_are_encrypted_at_rest_and_erased_with_the_patient(make: Any, world: dict[str, Any], clock: Any) -> None:
    opened = make.call("POST", "/requests", world["nurse"], json=ehpad_body(world["community"])).json
    raw = db.session.execute(text("SELECT observations FROM requests WHERE id = :id"), {"id": opened["id"]}).scalar_one()
    assert raw and "Dyspnée" not in raw and "spo2" not in raw
    assert erase_requests([opened["id"]], now=clock.now(), reason="test") == 1
    db.session.commit()
    assert make.call("GET", f"/requests/{opened['id']}", world["nurse"]).json["observations"] is None
    raw = db.session.execute(text("SELECT observations FROM requests WHERE id = :id"), {"id": opened["id"]}).scalar_one()
    assert raw is None
