"""Endpoints of the figures CPTS staff audit: the report (JSON, CSV, XLSX or PDF) and the requests as CSV or XLSX."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, request, stream_with_context
from flask_smorest import Blueprint
from marshmallow import fields, validate

from dispatch.communities.edge import managed_community
from dispatch.errors import Problem, flatten
from dispatch.periods import FIRST_DAY, LAST_DAY, MAX_DAYS, OUT_OF_RANGE
from dispatch.reports.document import PDF_LAYOUT, PDF_TYPE, report_document
from dispatch.reports.exports import (
    CSV_TYPE,
    REPORT_LAYOUT,
    REQUESTS_LAYOUT,
    XLSX_TYPE,
    report_csv,
    report_xlsx,
    requests_csv,
    requests_xlsx,
)
from dispatch.reports.service import compute_report
from dispatch.reports.tables import REPORT_SLUGS, REPORT_TABLES
from dispatch.schemas import Id, Integer, Schema
from dispatch.web import current_user, now

bp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Chiffres de la CPTS et exports")

_DATE_ERRORS: dict[str, Any] = {"invalid": "Date attendue au format AAAA-MM-JJ.", "required": "Ce champ est obligatoire."}
_YEARS = validate.Range(min=FIRST_DAY, max=LAST_DAY, error=OUT_OF_RANGE)


class PeriodQuery(Schema):
    start = fields.Date(data_key="from", required=True, validate=_YEARS, error_messages=_DATE_ERRORS)
    end = fields.Date(data_key="to", required=True, validate=_YEARS, error_messages=_DATE_ERRORS)

    @ma.validates_schema
    def ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "start" in data and "end" in data:
            if data["start"] > data["end"]:
                raise ma.ValidationError({"to": ["La date de fin précède la date de début."]})
            if (data["end"] - data["start"]).days + 1 > MAX_DAYS:
                raise ma.ValidationError({"to": [f"La période couvre au plus {MAX_DAYS} jours."]})


FORMATS = ("json", "csv", "xlsx")


class ReportQuery(PeriodQuery):
    format = fields.String(load_default="json", validate=validate.OneOf(FORMATS, error="Format attendu : json, csv ou xlsx."))
    table = fields.String(
        load_default="summary",
        validate=validate.OneOf(REPORT_TABLES, error="Tableau attendu : summary, by_physician ou by_month."),
    )


class TimeToAcceptOut(Schema):
    median = Integer(allow_none=True)
    p90 = Integer(allow_none=True)


class PhysicianFiguresOut(Schema):
    physician_id = Id()
    name = fields.String()
    kind = fields.String()
    profession = fields.String(metadata={"description": "code de profession (TRE_G15) : 10 médecin, 60 infirmier..."})
    offered = Integer()
    accepted = Integer()
    refused = Integer()
    released = Integer(metadata={"description": "hand-backs: accepted, then released before the appointment"})


class MonthFiguresOut(Schema):
    month = fields.String(metadata={"description": "AAAA-MM, dans le fuseau de la communauté"})
    opened = Integer()
    accepted = Integer()
    expired = Integer()
    cancelled = Integer()
    acceptance_rate = fields.Float(
        allow_none=True, metadata={"description": "accepted / (opened - cancelled), comme acceptance_rate de la période"}
    )


def _counts() -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=Integer())


class SynthesesOut(Schema):
    sent = Integer(metadata={"description": "taken by the platform's MSSanté operator, and no report since says refused or failed"})
    pending = Integer(metadata={"description": "waiting in the outbox"})
    failed = Integer(metadata={"description": "not sent, or bounced (a delivery status notification, RFC 3464)"})
    delivered = Integer(
        metadata={"description": "of `sent`: arrival confirmed (a delivery report, or the GP's software processed it)"}
    )
    read = Integer(metadata={"description": "of `delivered`: a read receipt came back (MDN displayed, RFC 8098)"})
    refused = Integer(
        metadata={"description": "the GP's software refused it (MDN processed/error: document not integrated) or deleted it"}
    )
    not_sendable = Integer(metadata={"description": "no treating GP, or no MSSanté address for them"})
    not_needed = Integer(metadata={"description": "the treating GP saw the patient themselves"})


class CallsOut(Schema):
    received = Integer()
    with_request = Integer()
    without_request = _counts()


class RequestCountsOut(Schema):
    """The request figures every breakdown of the report repeats (per profession, per regulation)."""

    opened = Integer()
    accepted = Integer()
    expired = Integer()
    cancelled = Integer()
    open = Integer()
    acceptance_rate = fields.Float(allow_none=True, metadata={"description": "accepted / (opened - cancelled)"})


class ProfessionFiguresOut(RequestCountsOut):
    accepted_by_treating = Integer(metadata={"description": "par le médecin traitant ou le professionnel habituel"})
    accepted_in_community = Integer()
    offered = Integer(metadata={"description": "offres faites aux membres de la profession"})
    refusals = Integer()
    time_to_accept_s = fields.Nested(TimeToAcceptOut)
    outcomes = _counts()
    no_show_rate = fields.Float(allow_none=True)


class DistanceBandOut(Schema):
    band = fields.String(
        metadata={"description": "distance de l'offre acceptée (km) : 0-2, 2-5, 5-10, 10-20, 20+ (borne basse incluse), unknown"}
    )
    accepted = Integer()
    median = Integer(allow_none=True, metadata={"description": "délai médian avant acceptation (s)"})
    p90 = Integer(allow_none=True)
    mean = Integer(allow_none=True, metadata={"description": "délai moyen avant acceptation (s)"})


class RegulationFiguresOut(RequestCountsOut):
    seen = Integer()
    no_show = Integer()


class RegulationOut(Schema):
    sas = fields.Nested(
        RegulationFiguresOut,
        metadata={
            "description": "Demandes régulées par le SAS (source sas, médecin régulateur nommé) : éligibles au supplément SNP"
        },
    )
    other = fields.Nested(RegulationFiguresOut, metadata={"description": "Toutes les autres sources"})


class ReportOut(Schema):
    community_id = Id()
    start = fields.String(data_key="from", attribute="from")
    end = fields.String(data_key="to", attribute="to")
    opened = Integer()
    accepted = Integer()
    expired = Integer()
    cancelled = Integer()
    open = Integer()
    acceptance_rate = fields.Float(allow_none=True, metadata={"description": "accepted / (opened - cancelled)"})
    accepted_by_treating = Integer()
    accepted_in_community = Integer()
    accepted_by_kind = _counts()
    refusals = Integer()
    time_to_accept_s = fields.Nested(TimeToAcceptOut)
    outcomes = _counts()
    no_show_rate = fields.Float(allow_none=True)
    by_motive = _counts()
    by_source = _counts()
    by_regulation = fields.Nested(
        RegulationOut, metadata={"description": "Les mêmes chiffres pour les demandes régulées par le SAS et pour les autres"}
    )
    treating_physician = _counts()
    syntheses = fields.Nested(SynthesesOut)
    by_physician = fields.List(fields.Nested(PhysicianFiguresOut))
    by_month = fields.List(fields.Nested(MonthFiguresOut))
    by_profession = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(ProfessionFiguresOut),
        metadata={"description": "par code de profession (TRE_G15)"},
    )
    acceptance_by_distance = fields.List(fields.Nested(DistanceBandOut))
    calls = fields.Nested(CallsOut)
    callbacks = _counts()


def _period(schema: ma.Schema) -> dict[str, Any]:
    """Read the query string, or answer 422 with the message of each field."""
    try:
        return schema.load(request.args.to_dict(), unknown=ma.EXCLUDE)  # type: ignore[no-any-return]
    except ma.ValidationError as exc:
        errors = {f"query.{key}": value for key, value in flatten(exc.messages).items()}
        raise Problem(422, "invalid", "Certains champs sont invalides.", errors=errors) from None


def _query_doc(*, with_format: bool) -> list[dict[str, Any]]:
    params = [
        {"in": "query", "name": name, "required": True, "schema": {"type": "string", "format": "date"}, "description": text}
        for name, text in (
            ("from", "Premier jour inclus (AAAA-MM-JJ, fuseau de la communauté)"),
            ("to", f"Dernier jour inclus ; au plus {MAX_DAYS} jours après `from`"),
        )
    ]
    if with_format:
        params.append(
            {
                "in": "query",
                "name": "format",
                "required": False,
                "schema": {"type": "string", "enum": list(FORMATS), "default": "json"},
            }
        )
        params.append(
            {
                "in": "query",
                "name": "table",
                "required": False,
                "schema": {"type": "string", "enum": list(REPORT_TABLES), "default": "summary"},
                "description": "Le tableau exporté en CSV (un tableau par fichier) ; sans effet en JSON et XLSX",
            }
        )
    return params


_REPORT_DOC = "Le rapport de la période en JSON ; avec `format=csv` ou `format=xlsx`, les mêmes chiffres. " + REPORT_LAYOUT


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@bp.route("/communities/<int:community_id>/report", methods=["GET"])
@bp.doc(parameters=_query_doc(with_format=True))
@bp.response(200, ReportOut, description=_REPORT_DOC)
@bp.alt_response(200, schema={"type": "string"}, content_type="text/csv", success=True, description=_REPORT_DOC)
@bp.alt_response(200, schema={"type": "string", "format": "binary"}, content_type=XLSX_TYPE, success=True, description=_REPORT_DOC)
def report(community_id: int) -> Any:
    """Report the community's figures over a period (admins and the community's coordinators)."""
    community = managed_community(current_user(), community_id)
    args = _period(ReportQuery())
    figures = compute_report(community=community, start=args["start"], end=args["end"])
    period = f"{community.id}-{args['start']}-{args['end']}"
    if args["format"] == "csv":
        name = f"rapport-{REPORT_SLUGS[args['table']]}-{period}.csv"
        return Response(report_csv(figures, args["table"]), content_type=CSV_TYPE, headers=_attachment(name))
    if args["format"] == "xlsx":
        return Response(report_xlsx(figures), content_type=XLSX_TYPE, headers=_attachment(f"rapport-{period}.xlsx"))
    return figures


@bp.route("/communities/<int:community_id>/report.pdf", methods=["GET"])
@bp.doc(parameters=_query_doc(with_format=False))
@bp.response(200, {"type": "string", "format": "binary"}, content_type=PDF_TYPE, description=PDF_LAYOUT)
def report_pdf(community_id: int) -> Response:
    """Report the community's figures over a period as a PDF in French, to print or send (admins and coordinators)."""
    community = managed_community(current_user(), community_id)
    args = _period(PeriodQuery())
    name, body = report_document(community=community, start=args["start"], end=args["end"], now=now())
    return Response(body, content_type=PDF_TYPE, headers=_attachment(name))


@bp.route("/communities/<int:community_id>/requests.csv", methods=["GET"])
@bp.doc(parameters=_query_doc(with_format=False))
@bp.response(
    200,
    {"type": "string"},
    content_type="text/csv",
    description=f"Export des demandes de la période (CSV UTF-8 avec BOM, `;`, envoyé au fil de l'eau). {REQUESTS_LAYOUT}",
)
def requests_export(community_id: int) -> Response:
    """Export the community's requests of a period as CSV, without patient identity."""
    community = managed_community(current_user(), community_id)
    args = _period(PeriodQuery())
    name = f"demandes-{community.id}-{args['start']}-{args['end']}.csv"
    rows = requests_csv(community=community, start=args["start"], end=args["end"])
    return Response(stream_with_context(rows), content_type=CSV_TYPE, headers=_attachment(name))


@bp.route("/communities/<int:community_id>/requests.xlsx", methods=["GET"])
@bp.doc(parameters=_query_doc(with_format=False))
@bp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type=XLSX_TYPE,
    description=f"Export des demandes de la période (XLSX, une feuille, cellules typées). {REQUESTS_LAYOUT}",
)
def requests_workbook(community_id: int) -> Response:
    """Export the community's requests of a period as XLSX, without patient identity."""
    community = managed_community(current_user(), community_id)
    args = _period(PeriodQuery())
    name = f"demandes-{community.id}-{args['start']}-{args['end']}.xlsx"
    body = requests_xlsx(community=community, start=args["start"], end=args["end"])
    return Response(body, content_type=XLSX_TYPE, headers=_attachment(name))
