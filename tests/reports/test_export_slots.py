"""At most EXPORT_SLOTS exports are drawn at once across the web processes; past it, 503 with Retry-After (issue 24,
point 7: exports off the live pages' path)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from dispatch.errors import Problem
from dispatch.reports import slots
from dispatch.reports.exports import requests_csv
from tests.pages.conftest import as_user  # noqa: F401 -- the fixture
from tests.reports.test_exports import PERIOD, staff  # noqa: F401 -- the fixture


def test_exports_past_the_slots_answer_503_with_retry_after_and_a_stream_holds_its_slot_until_closed(
    make: Any,
    staff: dict[str, Any],  # noqa: F811 -- the fixture
    as_user: Any,  # noqa: F811 -- the fixture
) -> None:
    community, coordinator = staff["community"], staff["coordinator"]
    csv_url = f"/communities/{community.id}/requests.csv?{PERIOD}"
    held = [slots.take() for _ in range(slots.EXPORT_SLOTS)]  # every slot taken (other processes, other staff)
    try:
        for path in (
            csv_url,
            f"/communities/{community.id}/report.pdf?{PERIOD}",
            f"/communities/{community.id}/requests.xlsx?{PERIOD}",
        ):
            busy = make.call("GET", path, coordinator)
            assert busy.status_code == 503 and busy.headers["Retry-After"] == "30" and busy.json["code"] == "busy", path
        page = as_user(coordinator).http.get(f"/pilotage/rapport.pdf?{PERIOD}")
        assert page.status_code == 503 and page.headers["Retry-After"] == "30"
        assert "réessayez dans une minute" in page.get_data(as_text=True)
    finally:
        for give_back in held:
            give_back()
    assert make.call("GET", csv_url, coordinator).status_code == 200  # read to its end: its slot is free again
    stream = requests_csv(community=community, start=date(2026, 11, 1), end=date(2026, 11, 30))
    others = [slots.take() for _ in range(slots.EXPORT_SLOTS - 1)]  # a stream holds one slot until it is closed
    with pytest.raises(Problem):
        slots.take()
    next(stream)
    stream.close()  # sent, or the client went away: the server closes it
    others.append(slots.take())
    for give_back in others:
        give_back()
