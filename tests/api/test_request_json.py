"""The JSON of a request is written without marshmallow on the hot paths: it must equal RequestOut's dump."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from dispatch.requests.schemas import RequestOut, request_json

PARIS_WINTER = timezone(timedelta(hours=1))


def shown(*, full: bool, accepted: bool) -> dict[str, object]:
    opened = datetime(2026, 11, 23, 14, 5, 7, 123456, tzinfo=UTC)
    patient: dict[str, object] = {"age": 38, "sex": "F", "postcode": "94500", "city": "Champigny-sur-Marne"}
    treating: dict[str, object] = {"status": "declared", "registered": False}
    if full:
        patient.update(first_name="Lucie", last_name="Martin", birth_date=date(1988, 4, 2), phone="+33612345678")
        treating.update(rpps="10003456786", name="Dr Durand")
    return {
        "id": 7,
        "community_id": 1,
        "state": "accepted" if accepted else "community",
        "source": "cot",
        "motive": "ent",
        "description": None,
        "opened_at": opened,
        "exclusive_until": None,
        "expires_at": opened.astimezone(PARIS_WINTER) + timedelta(hours=2),
        "patient": patient,
        "treating_physician": treating,
        "accepted_by": {"physician_id": 3, "name": "Dr Benali", "kind": "titulaire"} if accepted else None,
        "accepted_at": opened + timedelta(minutes=4) if accepted else None,
        "appointment_at": opened + timedelta(minutes=30) if accepted else None,
        "place": "12 rue de la Paix" if accepted else None,
        "outcome": None,
        "anonymised": not full,
    }


@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("accepted", [True, False])
def test_request_json_is_the_documented_dump(full: bool, accepted: bool) -> None:
    value = shown(full=full, accepted=accepted)
    assert request_json(value) == RequestOut().dump(value)
    assert RequestOut(many=True).dump([value]) == [request_json(value)]


def test_times_are_utc_with_z_whatever_their_offset() -> None:
    value = request_json(shown(full=True, accepted=True))
    assert value["opened_at"] == "2026-11-23T14:05:07.123456Z"
    assert value["expires_at"] == "2026-11-23T16:05:07.123456Z"
    assert value["patient"]["birth_date"] == "1988-04-02"
