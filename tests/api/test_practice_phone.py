"""The patient's SMS gives the practice's phone when it is known (issue 22, item 14): a physician's practice_phone,
entered by the coordinator (API and pages), written as the patient dials it."""

from __future__ import annotations

from typing import Any

from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.notify.ports import SmsMessage
from tests.conftest import PASSWORD, luhn_rpps

PATIENT = "+33612345678"


def patient_texts(ports: Any) -> list[str]:
    return [m.body for m in ports["sms"].sent if isinstance(m, SmsMessage) and m.to == PATIENT]


def test_the_practice_phone_reaches_the_patient_and_is_checked(make: Any, ports: Any) -> None:
    community = make.community()
    coordinator = make.member(community, "coordinator")
    operator = make.member(community, "operator")
    body = {
        "role": "physician", "login": "dr.cabinet", "password": PASSWORD, "name": "Dr Cabinet",
        "rpps": luhn_rpps(9001), "kind": "titulaire", "practice_phone": "01 45 67 89 10",
    }  # fmt: skip
    created = make.call("POST", f"/communities/{community.id}/members", coordinator, json=body)
    assert created.status_code == 201, created.json
    physician = db.session.get(Physician, created.json["physician_id"])
    assert physician.practice_phone == "+33145678910"
    listed = make.call("GET", f"/communities/{community.id}/members", coordinator).json
    assert [m["physician"]["practice_phone"] for m in listed if m["login"] == "dr.cabinet"] == ["+33145678910"]

    opened = make.open(operator, community)
    assert make.accept(physician, opened["id"], minutes=30).status_code == 200
    make.deliver()
    [text] = patient_texts(ports)
    assert text.endswith("merci de prévenir le cabinet au 01 45 67 89 10.")

    member = f"/communities/{community.id}/members/{physician.user_id}"
    wrong = make.call("PATCH", member, coordinator, json={"practice_phone": "12"})
    assert wrong.status_code == 422 and "practice_phone" in wrong.json["errors"]
    cleared = make.call("PATCH", member, coordinator, json={"practice_phone": None})
    assert cleared.status_code == 200, cleared.json
    db.session.expire_all()
    assert db.session.get(Physician, physician.id).practice_phone is None


def test_without_a_practice_phone_the_sms_says_to_tell_the_practice(make: Any, ports: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    physician = make.member(community, "physician")
    opened = make.open(operator, community)
    assert make.accept(physician, opened["id"], minutes=30).status_code == 200
    make.deliver()
    [text] = patient_texts(ports)
    assert text.endswith("merci de prévenir le cabinet.")
