"""The PDF report: its text read back (pypdf) says the figures the report API says, in French; access and errors."""

from __future__ import annotations

import io
import re
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from dispatch import texts
from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.demo import load_demo
from dispatch.french import duration, number, percent, period
from dispatch.professions import PROFESSIONS
from dispatch.reports.definitions import CALLBACKS, CALLS, DEFINITIONS, OUTCOMES
from dispatch.reports.pdf import report_pdf
from dispatch.reports.tables import kind_label

PDF = "/communities/{}/report.pdf?from={}&to={}"


def words(pdf: bytes) -> str:
    """Return the PDF's text without its spaces (no-break ones included) and line ends.

    Text extraction guesses where a space goes between strings drawn apart ("390Demandes"): the figures and words
    are compared in that order, whatever the spacing.
    """
    reader = PdfReader(io.BytesIO(pdf))
    return flat(" ".join(page.extract_text() for page in reader.pages))


def rows(pdf: bytes) -> str:
    """Return the PDF's text line by line as laid out on the page (pypdf's layout mode), without its spaces.

    A chart's labels are drawn (and read in stream order) apart from its figures: laid out, each label meets the
    figure printed at the end of its bar on the same line ("ORL 360 (18 %)").
    """
    reader = PdfReader(io.BytesIO(pdf))
    return flat(" ".join(page.extract_text(extraction_mode="layout") for page in reader.pages))


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_pdf_says_the_figures_of_the_report_on_the_demo_year(app: Any, make: Any, clock: Any) -> None:
    load_demo(app, history=True)
    community = db.session.scalar(select(Community).where(Community.name == "CPTS Champigny"))
    assert community is not None
    coordinator = make.member(community, "coordinator")
    today = texts.local(clock.now(), community.timezone).date()
    start, end = today - timedelta(days=365), today
    report = make.call("GET", f"/communities/{community.id}/report?from={start}&to={end}", coordinator).json
    assert report["opened"] > 2000 and report["callbacks"]["pending"] > 0  # a real year, call-backs included

    started = time.perf_counter()
    response = make.call("GET", PDF.format(community.id, start, end), coordinator)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'attachment; filename="rapport-cpts-champigny-{start}-{end}.pdf"'
    print(f"\nPDF of the demo year: {elapsed * 1000:.0f} ms, {len(response.data) // 1024} KiB")
    assert elapsed < 5
    text = words(response.data)

    said = period(start, end)
    assert flat(said[:1].upper() + said[1:]) in text and "CPTSChampigny" in text
    delays, outcomes = report["time_to_accept_s"], report["outcomes"]
    headline = [number(report["opened"]), number(report["accepted"]), percent(report["acceptance_rate"]), number(report["expired"])]
    assert flat(" ".join([*headline, "Demandes ouvertes Demandes acceptées Taux d'acceptation Expirées sans médecin"])) in text
    more = [duration(delays["median"]), duration(delays["p90"]), number(outcomes["no_show"]), percent(report["no_show_rate"])]
    assert flat(" ".join([*more, "Délai médian d'acceptation"])) in text
    assert "%" in percent(report["acceptance_rate"]) and "," in percent(report["acceptance_rate"])  # "80,7 %"

    opened, accepted, calls = report["opened"], report["accepted"], report["calls"]
    charts = [
        *[(texts.MOTIVE_LABELS[k], v, opened) for k, v in report["by_motive"].items()],
        *[(texts.SOURCE_LABELS[k], v, opened) for k, v in report["by_source"].items()],
        *[(texts.TREATING_LABELS[k], v, opened) for k, v in report["treating_physician"].items()],
        *[(kind_label(k), v, None) for k, v in report["accepted_by_kind"].items()],
        *[(OUTCOMES[k], v, accepted) for k, v in outcomes.items()],
        ("Avec une demande", calls["with_request"], calls["received"]),
        *[(CALLS[k], v, calls["received"]) for k, v in calls["without_request"].items()],
        *[(CALLBACKS[k], v, None) for k, v in report["callbacks"].items()],
    ]
    laid_out = rows(response.data)
    for label, value, total in charts:
        share = f" ({percent(value / total, 0)})" if total else ""
        assert flat(f"{label} {number(value)}{share}") in laid_out, (label, value)
    assert flat(f"Appels reçus : {number(calls['received'])}") in text

    for row in report["by_physician"]:
        status = kind_label(row["kind"]) if row["profession"] == "10" else PROFESSIONS[row["profession"]]  # a nurse: her profession
        line = [row["name"], status, *(number(row[k]) for k in ("offered", "accepted", "refused", "released"))]
        assert flat(" ".join(line)) in text, row
    for row in report["by_month"]:
        year, month = (int(part) for part in row["month"].split("-"))
        share = percent(row["acceptance_rate"]) if row["acceptance_rate"] is not None else "—"
        line = [texts.MONTHS[month - 1], str(year), *(number(row[k]) for k in ("opened", "accepted", "expired")), share]
        assert flat(" ".join(line)) in text, row
    regulation = report["by_regulation"]
    assert regulation["sas"]["opened"] > 0 and regulation["other"]["opened"] > 0  # the demo's SAS requests, and the rest
    assert flat("Régulation SAS") in text and flat("Demandes Ouvertes Acceptées Part acceptée Expirées Patients vus") in text
    for group, label in (("sas", "Régulées par le SAS"), ("other", "Autres")):
        figures = regulation[group]
        share = percent(figures["acceptance_rate"]) if figures["acceptance_rate"] is not None else "—"
        line = [label, number(figures["opened"]), number(figures["accepted"]), share]
        assert flat(" ".join([*line, number(figures["expired"]), number(figures["seen"])])) in text, group
    for term, definition in DEFINITIONS:
        assert flat(f"{term} {definition}") in text, term
    assert flat("Demandes acceptées / (demandes ouvertes − demandes annulées)") in text
    assert "lapin" not in text.lower()


def test_numbers_are_grouped_with_narrow_no_break_spaces_in_the_pdf(app: Any) -> None:
    report = _empty_report(opened=4000, accepted=3204, expired=796)
    pdf = report_pdf(report, community="CPTS Test", delays=[], issued_at=datetime(2024, 1, 2, 9, 30, tzinfo=timezone.utc))
    raw = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "4\u202f000" in raw and "80,1\u202f%" in raw and flat("Du 1er janvier au 31 décembre 2023") in flat(raw)
    assert flat("Édité le 2 janvier 2024 à 09:30") in flat(raw)


def test_an_empty_period_prints_dashes_not_zero_rates(app: Any) -> None:
    pdf = report_pdf(_empty_report(), community="CPTS Test", delays=[], issued_at=datetime(2024, 1, 2, tzinfo=timezone.utc))
    text = words(pdf)
    assert flat("0 0 — 0 Demandes ouvertes") in text and flat("— — 0 — Délai médian") in text
    assert flat("Aucune demande proposée sur la période.") in text
    assert flat("Régulées par le SAS 0 0 — 0 0 Autres 0 0 — 0 0") in text


def test_a_report_without_the_regulation_figures_prints_no_sas_table(app: Any) -> None:
    report = _empty_report()
    del report["by_regulation"]
    pdf = report_pdf(report, community="CPTS Test", delays=[], issued_at=datetime(2024, 1, 2, tzinfo=timezone.utc))
    assert flat("Régulation SAS") not in words(pdf)


@pytest.fixture
def staff(make: Any) -> dict[str, Any]:
    community = make.community("CPTS Vallée de la Marne")
    return {
        "community": community,
        "admin": make.admin(),
        "coordinator": make.member(community, "coordinator"),
        "operator": make.member(community, "operator"),
        "physician": make.member(community, "physician"),
        "stranger": make.member(make.community(), "coordinator"),
    }


@pytest.mark.parametrize(
    ("who", "status"), [("admin", 200), ("coordinator", 200), ("stranger", 404), ("operator", 403), ("physician", 403), (None, 401)]
)
def test_who_may_read_the_pdf(make: Any, staff: dict[str, Any], who: str | None, status: int) -> None:
    response = make.call("GET", PDF.format(staff["community"].id, "2026-11-01", "2026-11-30"), staff[who] if who else None)
    assert response.status_code == status, response.data[:200]
    if status == 200:
        assert response.data.startswith(b"%PDF-") and flat("Du 1er au 30 novembre 2026") in words(response.data)
        assert 'filename="rapport-cpts-vallee-de-la-marne-2026-11-01-2026-11-30.pdf"' in response.headers["Content-Disposition"]
    else:
        assert response.mimetype == "application/problem+json" and response.json["status"] == status


def test_an_unknown_community_is_404(make: Any, staff: dict[str, Any]) -> None:
    assert make.call("GET", PDF.format(999999, "2026-11-01", "2026-11-30"), staff["admin"]).status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "query.from"),
        ("from=2026-11-01", "query.to"),
        ("from=01/11/2026&to=2026-11-30", "query.from"),
        ("from=2026-12-01&to=2026-11-30", "query.to"),
        ("from=2023-01-01&to=2025-12-31", "query.to"),
        ("from=0001-01-01&to=0001-01-02", "query.from"),
    ],
)
def test_bad_periods_are_422_as_for_the_json_report(make: Any, staff: dict[str, Any], query: str, field: str) -> None:
    path = f"/communities/{staff['community'].id}/report"
    pdf = make.call("GET", f"{path}.pdf?{query}", staff["coordinator"])
    json = make.call("GET", f"{path}?{query}", staff["coordinator"])
    assert pdf.status_code == json.status_code == 422 and pdf.mimetype == "application/problem+json"
    assert field in pdf.json["errors"] and pdf.json["errors"] == json.json["errors"]


def test_the_pdf_is_published_in_the_openapi_document(client: Any) -> None:
    operation = client.get("/api/v1/openapi.json").json["paths"]["/api/v1/communities/{community_id}/report.pdf"]["get"]
    assert operation["responses"]["200"]["content"] == {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
    assert {"401", "403", "404", "422"} <= set(operation["responses"])
    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == {"from", "to"}


def _empty_report(opened: int = 0, accepted: int = 0, expired: int = 0) -> dict[str, Any]:
    from dispatch.communities.models import KINDS
    from dispatch.requests.models import CALLBACK_RESULTS, MOTIVES, SOURCES, TREATING_STATUSES

    rate = round(accepted / opened, 4) if opened else None
    return {
        "community_id": 1,
        "from": date(2023, 1, 1).isoformat(),
        "to": date(2023, 12, 31).isoformat(),
        "opened": opened,
        "accepted": accepted,
        "expired": expired,
        "cancelled": 0,
        "open": 0,
        "acceptance_rate": rate,
        "accepted_by_treating": 0,
        "accepted_in_community": accepted,
        "accepted_by_kind": dict.fromkeys(KINDS, 0),
        "refusals": 0,
        "time_to_accept_s": {"median": None, "p90": None},
        "outcomes": {"seen": 0, "no_show": 0, "pending": accepted},
        "no_show_rate": None,
        "by_motive": dict.fromkeys(MOTIVES, 0),
        "by_source": dict.fromkeys(SOURCES, 0),
        "treating_physician": dict.fromkeys(TREATING_STATUSES, 0),
        "syntheses": {"sent": 0, "pending": 0, "failed": 0, "not_sendable": 0, "not_needed": 0},
        "by_physician": [],
        "by_month": [
            {"month": f"2023-{m:02d}", "opened": 0, "accepted": 0, "expired": 0, "cancelled": 0, "acceptance_rate": None}
            for m in range(1, 13)
        ],
        "calls": {
            "received": opened,
            "with_request": opened,
            "without_request": dict.fromkeys(("emergency_15", "renewal_refused", "other_orientation"), 0),
        },
        "callbacks": dict.fromkeys((*CALLBACK_RESULTS, "pending"), 0),
        "by_regulation": {
            group: {
                **dict.fromkeys(("opened", "accepted", "expired", "cancelled", "open", "seen", "no_show"), 0),
                "acceptance_rate": None,
            }
            for group in ("sas", "other")
        },
    }
