"""The dashboard's tables per profession and per distance band, on the requests of two professions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reports.test_by_profession import two_professions


@pytest.fixture
def report(make: Any, clock: Any) -> tuple[Any, dict[str, Any]]:
    return two_professions(make, clock)


def test_the_dashboard_shows_the_professions_and_the_bands(report: tuple[Any, dict[str, Any]], make: Any, as_user: Any) -> None:
    community, figures = report
    coordinator = make.member(community, "coordinator")
    page = as_user(coordinator).get(f"/pilotage?community={community.id}&from=2026-11-23&to=2026-11-23")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="by-profession"' in html and "Médecin</th>" in html and "Infirmier</th>" in html
    assert 'id="by-distance"' in html and "Moins de 2\u00a0km" in html and "Distance inconnue" in html
