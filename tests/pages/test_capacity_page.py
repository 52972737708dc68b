"""The phone page's floating slot: "Je peux en prendre encore N jusqu'à HH:MM", its state, and removing it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dispatch.db import db
from dispatch.pages.capacity_page import next_at

PARIS = "Europe/Paris"


@pytest.mark.parametrize(
    ("utc", "hhmm", "expected"),
    [
        ((14, 0), "18:00", "2026-11-23T17:00:00+00:00"),  # 15:00 in Paris: today
        ((14, 0), "15:00", "2026-11-24T14:00:00+00:00"),  # now exactly: tomorrow (an end is ahead)
        ((22, 30), "08:00", "2026-11-24T07:00:00+00:00"),  # 23:30 in Paris: tomorrow morning
    ],
)
def test_a_time_is_its_next_occurrence(utc: tuple[int, int], hhmm: str, expected: str) -> None:
    at = next_at(hhmm, now=datetime(2026, 11, 23, *utc, tzinfo=UTC), tz=PARIS)
    assert at is not None and at.isoformat() == expected
    assert next_at("18h", now=datetime(2026, 11, 23, tzinfo=UTC), tz=PARIS) is None


def test_declare_show_and_remove_a_slot(make: Any, as_user: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    physician = make.member(community, "physician")
    phone = as_user(physician)
    page = phone.get("/m/").get_data(as_text=True)
    assert "Je peux en prendre encore" in page and 'name="capacity"' in page
    response = phone.post("/m/capacite", {"capacity": "2", "until": "19:00"})  # 15:00 in Paris now
    assert response.status_code == 302
    db.session.refresh(physician)
    assert physician.capacity == 2 and physician.capacity_until.isoformat() == "2026-11-23T18:00:00+00:00"
    assert "Encore 2 patients jusqu&#39;à 19:00" in phone.get("/m/").get_data(as_text=True)

    opened = make.open(operator, community)
    phone.post(f"/m/requests/{opened['id']}/accepter", {"time": "15:30"})
    assert "Encore 1 patient jusqu&#39;à 19:00" in phone.get("/m/").get_data(as_text=True)
    opened = make.open(operator, community)
    phone.post(f"/m/requests/{opened['id']}/accepter", {"time": "16:30"})
    assert "Complet jusqu&#39;à 19:00" in phone.get("/m/").get_data(as_text=True)

    phone.post("/m/capacite", {"remove": "1"})
    page = phone.get("/m/").get_data(as_text=True)
    assert "Complet" not in page and "Je peux en prendre encore" in page


@pytest.mark.parametrize(
    ("form", "said"), [({"capacity": "0", "until": "19:00"}, "entre 1 et 20"), ({"capacity": "2", "until": "x"}, "heure de fin")]
)
def test_a_wrong_slot_is_said_in_french(make: Any, as_user: Any, form: dict[str, str], said: str) -> None:
    physician = make.member(make.community(), "physician")
    phone = as_user(physician)
    response = phone.post("/m/capacite", form)
    assert response.status_code == 302
    assert said in phone.get("/m/").get_data(as_text=True)
    db.session.refresh(physician)
    assert physician.capacity is None
