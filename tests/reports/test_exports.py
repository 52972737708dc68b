"""The exports for French spreadsheets: CSV (BOM, `;`, decimal comma, one table a file) and XLSX (typed cells)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from datetime import timezone as tz
from typing import Any

import pytest
from openpyxl import load_workbook

from dispatch.reports.exports import csv_value
from dispatch.reports.tables import MonthOf, Rate

PERIOD = "from=2026-11-01&to=2026-11-30"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def staff(make: Any, seed: Any) -> dict[str, Any]:
    community = make.community()
    physician = make.member(community, "physician")
    formula = make.member(community, "physician", kind="remplacant", name='=HYPERLINK("http://x")')
    winter = datetime(2026, 11, 2, 9, tzinfo=tz.utc)
    seen = seed.request(
        community,
        winter,
        state="seen",
        treating=physician,
        accepted_by=physician,
        after_s=61.6,
        phase="exclusive",
        offers={physician: "accepted"},
        synthesis="not_needed",
    )
    absent = seed.request(
        community, winter + timedelta(hours=2), state="no_show", accepted_by=formula, after_s=90, offers={formula: "accepted"}
    )
    late = seed.request(
        community,
        winter + timedelta(days=28, hours=13, minutes=30),
        state="expired",
        source="sas",
        motive="trauma",
        treating_status="unknown",
    )  # 30 November, 23:30 in Paris
    seed.request(community, datetime(2026, 11, 30, 23, tzinfo=tz.utc), state="expired")  # 1 December in Paris
    return {
        "community": community,
        "coordinator": make.member(community, "coordinator"),
        "physician": physician,
        "formula": formula,
        "requests": (seen, absent, late),
    }


def _csv(response: Any) -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM French Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))


def _report(make: Any, staff: dict[str, Any], query: str) -> Any:
    return make.call("GET", f"/communities/{staff['community'].id}/report?{PERIOD}&{query}", staff["coordinator"])


def test_the_report_is_three_csv_tables_in_french(make: Any, staff: dict[str, Any]) -> None:
    community = staff["community"]
    response = _report(make, staff, "format=csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["Content-Disposition"]
        == f'attachment; filename="rapport-indicateurs-{community.id}-2026-11-01-2026-11-30.csv"'
    )
    rows = _csv(response)
    assert rows[0] == ["Indicateur", "Valeur"] and all(len(row) == 2 for row in rows)
    values = dict(rows[1:])
    assert values["Début de la période"] == "01/11/2026" and values["Fin de la période"] == "30/11/2026"
    assert (values["Demandes ouvertes"], values["Demandes acceptées"], values["Taux d'acceptation"]) == ("3", "2", "66,67")
    assert values["Taux de patients absents"] == "50,0" and values["Délai médian avant acceptation (min)"] == "1,3"
    assert values["Motif\u00a0: Traumatologie"] == "1" and values["Source\u00a0: SAS"] == "1"
    assert values["Acceptées par statut\u00a0: Médecin remplaçant"] == "1" and values["Synthèses\u00a0: non nécessaires"] == "1"
    assert not any(key.isascii() and "_" in key for key in values)  # no code left untranslated

    physicians = _csv(_report(make, staff, "format=csv&table=by_physician"))
    headers = ["N° du médecin", "Médecin", "Profession", "Statut", "Demandes proposées", "Demandes acceptées", "Refus"]
    assert physicians[0] == headers
    assert [str(staff["formula"].id), '\'=HYPERLINK("http://x")', "Médecin", "Médecin remplaçant", "1", "1", "0"] in physicians
    months = _csv(_report(make, staff, "format=csv&table=by_month"))
    assert months == [
        ["Mois", "Demandes ouvertes", "Demandes acceptées", "Demandes expirées", "Demandes annulées", "Taux d'acceptation"],
        ["11/2026", "3", "2", "1", "0", "66,67"],
    ]
    empty = make.call("GET", f"/communities/{community.id}/report?from=2026-10-01&to=2026-10-01&format=csv", staff["coordinator"])
    assert dict(_csv(empty)[1:])["Taux d'acceptation"] == ""


def test_the_report_as_a_workbook_of_typed_sheets(make: Any, staff: dict[str, Any]) -> None:
    response = _report(make, staff, "format=xlsx")
    assert response.status_code == 200 and response.headers["Content-Type"] == XLSX
    assert response.headers["Content-Disposition"].endswith(
        f'filename="rapport-{staff["community"].id}-2026-11-01-2026-11-30.xlsx"'
    )
    book = load_workbook(io.BytesIO(response.get_data()))
    assert book.sheetnames == ["Indicateurs", "Par médecin", "Par mois"]
    summary = book["Indicateurs"]
    assert summary.freeze_panes == "A2" and [c.value for c in summary[1]] == ["Indicateur", "Valeur"]
    cells = {row[0].value: row[1] for row in summary.iter_rows(min_row=2)}
    assert cells["Début de la période"].value == datetime(2026, 11, 1) and cells["Début de la période"].is_date
    rate = cells["Taux d'acceptation"]
    assert rate.value == pytest.approx(0.6667) and rate.number_format == "0.00%"
    assert cells["Demandes ouvertes"].value == 3 and cells["Délai médian avant acceptation (min)"].value == pytest.approx(1.3)
    physicians = book["Par médecin"]
    assert physicians.freeze_panes == "A2" and physicians["A1"].value == "N° du médecin"
    names = {row[1].value: row[1] for row in physicians.iter_rows(min_row=2)}
    formula = names['=HYPERLINK("http://x")']
    assert formula.data_type == "s"  # text, not a formula the spreadsheet would run
    assert physicians.auto_filter.ref == f"A1:G{physicians.max_row}"  # a filter on every header
    widest = max(len(str(row[1].value)) for row in physicians.iter_rows(min_row=1))
    assert physicians.column_dimensions["B"].width >= widest  # the names fit their column
    month = book["Par mois"]["A2"]
    assert month.is_date and month.value == datetime(2026, 11, 1) and month.number_format == "mm/yyyy"


def test_the_requests_as_csv_in_french_without_patient_identity(make: Any, staff: dict[str, Any]) -> None:
    community, physician = staff["community"], staff["physician"]
    seen, absent, late = staff["requests"]
    response = make.call("GET", f"/communities/{community.id}/requests.csv?{PERIOD}", staff["coordinator"])
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="demandes-{community.id}-2026-11-01-2026-11-30.csv"'
    body = response.get_data().decode("utf-8-sig")
    for identity in ("Lucie", "Martin", "+33612345678", "Dr Traitant", physician.user.name, physician.rpps):
        assert identity not in body
    rows = _csv(response)
    assert rows[0][:4] == ["N° de demande", "Ouverte le (heure locale)", "Source", "Motif"]
    assert rows[1] == [
        str(seen.id),
        "02/11/2026 10:00",
        "COT (centre d'orientation)",
        "ORL",
        "Déclaré",
        "Patient vu",
        "Médecin traitant (exclusivité)",
        "Oui",
        "Médecin titulaire",
        "1,0",
        "Patient vu",
        "Non nécessaire",
    ]
    assert rows[2][0] == str(absent.id) and rows[2][5:] == [
        "Patient absent",
        "Communauté",
        "Non",
        "Médecin remplaçant",
        "1,5",
        "Patient absent",
        "",
    ]
    assert rows[3] == [str(late.id), "30/11/2026 23:30", "SAS", "Traumatologie", "Inconnu", "Expirée", "", "", "", "", "", ""]
    assert len(rows) == 4


def test_the_requests_as_a_workbook(make: Any, staff: dict[str, Any]) -> None:
    community = staff["community"]
    response = make.call("GET", f"/communities/{community.id}/requests.xlsx?{PERIOD}", staff["coordinator"])
    assert response.status_code == 200 and response.headers["Content-Type"] == XLSX
    sheet = load_workbook(io.BytesIO(response.get_data()))["Demandes"]
    assert sheet.freeze_panes == "A2" and sheet["A1"].value == "N° de demande"
    opened = sheet["B2"]
    assert opened.is_date and opened.value == datetime(2026, 11, 2, 10, 0)
    assert sheet["A2"].value == staff["requests"][0].id and sheet["J2"].value == pytest.approx(1.0)
    assert sheet.max_row == 4
    assert "Lucie" not in {cell.value for row in sheet.iter_rows() for cell in row}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "Oui"),
        (Rate(0.8013), "80,13"),
        (2.5, "2,5"),
        (1234, "1234"),
        (date(2026, 1, 5), "05/01/2026"),
        (datetime(2026, 1, 5, 7, 3), "05/01/2026 07:03"),
        (MonthOf(2026, 2, 1), "02/2026"),
        ("=1+1", "'=1+1"),
        ("-2", "'-2"),
        ("Dr Roux", "Dr Roux"),
    ],
)
def test_csv_values_as_french_spreadsheets_read_them(value: Any, text: str) -> None:
    assert csv_value(value) == text
