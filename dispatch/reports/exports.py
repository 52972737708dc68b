"""CSV exports of the report and of the period's requests, with no patient identity."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select

from dispatch.communities.models import Community, Physician
from dispatch.db import db
from dispatch.escalation.models import Request, Synthesis
from dispatch.periods import utc_bounds

# Described in the OpenAPI document of the endpoints; keep both in step.
REPORT_LAYOUT = (
    "Trois sections séparées par une ligne vide, chacune avec sa ligne d'en-tête : "
    "1) `figure,value` : chaque chiffre du rapport JSON, les objets aplatis avec un point "
    "(`by_motive.ent`, `time_to_accept_s.median`), une valeur vide pour null ; "
    "2) `physician_id,name,kind,offered,accepted,refused` : une ligne par médecin ; "
    "3) `month,opened,accepted,expired` : une ligne par mois (fuseau de la communauté)."
)
REQUEST_COLUMNS = (
    "id",
    "opened_at",
    "opened_at_local",
    "source",
    "motive",
    "treating_status",
    "state",
    "accepted_phase",
    "accepted_by_treating",
    "accepted_by_kind",
    "seconds_to_accept",
    "outcome",
    "synthesis_status",
)
REQUESTS_LAYOUT = (
    "Une ligne par demande ouverte dans la période, sans identité du patient ni du médecin : "
    "`id`, `opened_at` (UTC, Z), `opened_at_local` (heure de la communauté, avec décalage), `source`, "
    "`motive`, `treating_status` (declared, none, unknown), `state` (état final ou actuel), "
    "`accepted_phase` (exclusive, community), `accepted_by_treating` (1 si le médecin traitant l'a prise, "
    "0 sinon), `accepted_by_kind` (statut du médecin), `seconds_to_accept`, `outcome` (seen, no_show), "
    "`synthesis_status` (pending, sent, failed, not_sendable, not_needed). Cases vides quand sans objet."
)
_BATCH = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def report_csv(report: dict[str, Any]) -> str:
    """Render a report (as computed by compute_report) as CSV, one section per table."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("figure", "value"))
    for key, value in _flatten({k: v for k, v in report.items() if k not in ("by_physician", "by_month")}):
        writer.writerow((key, "" if value is None else value))
    writer.writerow(())
    columns = ("physician_id", "name", "kind", "offered", "accepted", "refused")
    writer.writerow(columns)
    for row in report["by_physician"]:
        writer.writerow([_cell(row[column]) for column in columns])
    writer.writerow(())
    writer.writerow(("month", "opened", "accepted", "expired"))
    for row in report["by_month"]:
        writer.writerow((row["month"], row["opened"], row["accepted"], row["expired"]))
    return out.getvalue()


def _flatten(values: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in values.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _cell(value: Any) -> Any:
    # A spreadsheet would run a text cell that starts like a formula: neutralise it.
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def requests_csv(*, community: Community, start: date, end: date) -> Iterator[str]:
    """Yield the CSV of the requests opened in the local days `start` to `end`, a batch of lines at a time."""
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
    yield _lines([REQUEST_COLUMNS])
    for batch in db.session.execute(query).partitions():
        yield _lines(_request_row(row, zone) for row in batch)


def _request_row(row: Any, zone: ZoneInfo) -> tuple[Any, ...]:
    (
        request_id,
        opened_at,
        source,
        motive,
        treating_status,
        state,
        phase,
        accepted_by,
        treating,
        kind,
        accepted_at,
        outcome,
        synthesis,
    ) = row
    accepted = accepted_at is not None
    return (
        request_id,
        _utc(opened_at),
        opened_at.astimezone(zone).isoformat(),
        source,
        motive,
        treating_status,
        state,
        phase or "",
        int(accepted_by == treating) if accepted else "",
        kind or "",
        round((accepted_at - opened_at).total_seconds()) if accepted else "",
        outcome or "",
        synthesis or "",
    )


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _lines(rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()
