"""CSV and XLSX exports of the report and of the period's requests, for French spreadsheets, with no patient identity.

CSV is what French Excel and LibreOffice open as they are: UTF-8 with a BOM, `;` between cells, a decimal
comma, dates as JJ/MM/AAAA, one table per file. XLSX holds one sheet per table with typed cells (dates as
dates, rates as percentages) and a frozen header row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from sqlalchemy import and_, select

from dispatch.communities.models import Community, Physician
from dispatch.db import db
from dispatch.french import LOCALE
from dispatch.periods import utc_bounds
from dispatch.reports.slots import Held, export_slot
from dispatch.reports.tables import REQUEST_HEADERS, MonthOf, Rate, Table, report_tables, request_row
from dispatch.requests.models import Request, Synthesis

# Described in the OpenAPI document of the endpoints; keep both in step.
REPORT_LAYOUT = (
    "CSV (UTF-8 avec BOM, séparateur `;`, virgule décimale, dates JJ/MM/AAAA), un tableau par fichier choisi par "
    "`table` : `summary` (Indicateur ; Valeur : chaque chiffre du rapport avec un libellé en français, les taux en "
    "pourcentage), `by_physician` (une ligne par médecin), `by_month` (une ligne par mois, fuseau de la communauté). "
    "XLSX : un classeur avec une feuille par tableau (Indicateurs, Par médecin, Par mois), cellules typées."
)
REQUESTS_LAYOUT = (
    "Une ligne par demande ouverte dans la période, sans identité du patient ni du médecin, en-têtes et libellés "
    "en français : n° de demande, ouverture (heure de la communauté), source, motif, médecin traitant (déclaré, "
    "aucun, inconnu), état, phase d'acceptation, prise par le médecin traitant (Oui, Non), statut du médecin qui "
    "l'a prise, délai avant acceptation en minutes, issue, synthèse. Cases vides quand sans objet."
)
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = "\ufeff"
_BATCH = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMATS = ((Rate, "0.00%"), (MonthOf, "mm/yyyy"), (datetime, "dd/mm/yyyy hh:mm"), (date, "dd/mm/yyyy"), (float, "0.0"))


def report_csv(report: dict[str, Any], table: str = "summary") -> str:
    """Render one table of a report (as computed by compute_report) as CSV for French spreadsheets."""
    chosen = next(t for t in report_tables(report) if t.key == table)
    return BOM + _lines([chosen.headers, *chosen.rows])


def report_xlsx(report: dict[str, Any]) -> bytes:
    """Render a report as an XLSX workbook, one sheet per table."""
    with export_slot():
        return _workbook(report_tables(report))


def csv_value(value: Any) -> str:
    """Return a typed value as a French spreadsheet reads it in a CSV cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if isinstance(value, Rate):
        return _decimal(round(value * 100, 2))
    if isinstance(value, float):
        return _decimal(value)
    if isinstance(value, MonthOf):
        return f"{value:%m/%Y}"
    if isinstance(value, datetime):
        return f"{value:%d/%m/%Y %H:%M}"
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    if isinstance(value, str):
        return _neutralised(value)
    return str(value)


def _decimal(value: float) -> str:
    """Return a decimal as a French spreadsheet reads it: '66,67', '50,0'; every digit kept, no grouping."""
    return format_decimal(value, format="0.0", locale=LOCALE, decimal_quantization=False)


def _neutralised(value: str) -> str:
    # A spreadsheet would run a text cell that starts like a formula: neutralise it.
    return "'" + value if value.startswith(_FORMULA_START) else value


def _lines(rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows([csv_value(value) for value in row] for row in rows)
    return out.getvalue()


def _width(value: Any) -> int:
    """Return how many characters a cell shows (a date as dd/mm/yyyy, a rate as 12,34 %)."""
    if isinstance(value, datetime | date):
        return 10
    if isinstance(value, float):
        return 8
    return len(str(value)) if value is not None else 0


def _workbook(tables: list[Table]) -> bytes:
    book = Workbook(write_only=True)
    for table in tables:
        sheet = book.create_sheet(table.title)
        sheet.freeze_panes = "A2"
        # Columns as wide as what they hold (a header, or the widest value), within reason; a filter on each header.
        widths = [len(header) for header in table.headers]
        for row in table.rows:
            widths = [max(width, _width(value)) for width, value in zip(widths, row, strict=False)]
        for index, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = max(10, min(60, width + 3))
        if table.rows:
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(table.headers))}{len(table.rows) + 1}"
        sheet.append(list(table.headers))
        for row in table.rows:
            sheet.append([_xlsx_cell(sheet, value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # text, never a formula, whatever it starts with
        return cell
    for kind, number_format in _FORMATS:
        if isinstance(value, kind):
            cell.number_format = number_format
            break
    return cell


def _request_rows(*, community: Community, start: date, end: date) -> Iterator[list[tuple[Any, ...]]]:
    """Yield the typed rows of the requests opened in the local days `start` to `end`, a batch at a time."""
    lower, upper = utc_bounds(start, end, community.timezone)
    zone = ZoneInfo(community.timezone)
    query = (
        select(
            Request.id,
            Request.opened_at,
            Request.source,
            Request.motive,
            Request.treating_status,
            Request.state,
            Request.accepted_phase,
            Request.accepted_by_id,
            Request.treating_physician_id,
            Physician.kind,
            Request.accepted_at,
            Request.outcome,
            Synthesis.status,
        )
        .outerjoin(Physician, Physician.id == Request.accepted_by_id)
        .outerjoin(Synthesis, Synthesis.request_id == Request.id)
        .where(and_(Request.community_id == community.id, Request.opened_at >= lower, Request.opened_at < upper))
        .order_by(Request.opened_at, Request.id)
        .execution_options(yield_per=_BATCH)
    )
    for batch in db.session.execute(query).partitions():
        yield [request_row(row, zone) for row in batch]


def requests_csv(*, community: Community, start: date, end: date) -> Held:
    """Return the CSV of the requests opened in the local days `start` to `end`, a batch of lines at a time, holding an
    export slot until it is closed (503 now if none is free)."""
    return Held(_requests_csv(community=community, start=start, end=end))


def _requests_csv(*, community: Community, start: date, end: date) -> Iterator[str]:
    yield BOM + _lines([REQUEST_HEADERS])
    for rows in _request_rows(community=community, start=start, end=end):
        yield _lines(rows)


def requests_xlsx(*, community: Community, start: date, end: date) -> bytes:
    """Return the XLSX workbook of the requests opened in the local days `start` to `end`."""
    with export_slot():
        rows = [row for batch in _request_rows(community=community, start=start, end=end) for row in batch]
        return _workbook([Table("requests", "Demandes", "demandes", REQUEST_HEADERS, rows)])
