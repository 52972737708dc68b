"""The report and the requests as French tables of typed values, for the CSV and XLSX exports; no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dispatch import texts
from dispatch.professions import PHYSICIAN, PROFESSIONS

NBSP = "\u00a0"


class Rate(float):
    """A share between 0 and 1, shown as a percentage."""


class MonthOf(date):
    """The first day of a month, shown as the month."""


@dataclass(frozen=True)
class Table:
    """One table of an export: its key, its sheet title, its French headers and its rows of typed values."""

    key: str
    title: str
    slug: str
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]]


REPORT_TABLES = ("summary", "by_physician", "by_month")
REPORT_SLUGS = {"summary": "indicateurs", "by_physician": "medecins", "by_month": "mois"}  # in file names
PHYSICIAN_HEADERS = ("N° du médecin", "Médecin", "Profession", "Statut", "Demandes proposées", "Demandes acceptées", "Refus")
MONTH_HEADERS = ("Mois", "Demandes ouvertes", "Demandes acceptées", "Demandes expirées", "Demandes annulées", "Taux d'acceptation")
REQUEST_HEADERS = (
    "N° de demande",
    "Ouverte le (heure locale)",
    "Source",
    "Motif",
    "Médecin traitant",
    "État",
    "Acceptée en phase",
    "Prise par le médecin traitant",
    "Statut du médecin qui l'a prise",
    "Délai avant acceptation (min)",
    "Issue",
    "Synthèse",
)
_SYNTHESES = {
    "sent": "envoyées",
    "pending": "en attente",
    "failed": "en échec",
    "delivered": "remises (parmi les envoyées)",
    "read": "lues (parmi les remises)",
    "refused": "refusées par le logiciel du destinataire",
    "not_sendable": "non envoyables",
    "not_needed": "non nécessaires",
}
_CALLS = {"received": "reçus", "with_request": "avec une demande"}
_CALL_OUTCOMES = {
    "emergency_15": "orientés vers le 15",
    "renewal_refused": "renouvellements refusés",
    "other_orientation": "autres orientations",
}
_CALLBACKS = {
    "reoriented_sas": "réorientés vers le SAS",
    "reoriented_15": "réorientés vers le 15",
    "advice_given": "conseil donné",
    "unreachable": "patient injoignable",
    "relaunched": "demande relancée",
    "pending": "à faire",
}


def kind_label(kind: str | None) -> str | None:
    """Return a physician's kind as a capitalised French label."""
    if kind is None:
        return None
    label = texts.KIND_LABELS.get(kind, kind)
    return label[:1].upper() + label[1:]


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _rate(value: float | None) -> Rate | None:
    return None if value is None else Rate(value)


def _labelled(prefix: str, counts: dict[str, int], labels: dict[str, str]) -> list[tuple[str, Any]]:
    return [(f"{prefix}{NBSP}: {labels.get(key, key)}", value) for key, value in counts.items()]


def summary_table(report: dict[str, Any]) -> Table:
    """Return the report's headline figures, one French-labelled line per figure."""
    delays = report["time_to_accept_s"]
    rows: list[tuple[str, Any]] = [
        ("Début de la période", date.fromisoformat(report["from"])),
        ("Fin de la période", date.fromisoformat(report["to"])),
        ("Demandes ouvertes", report["opened"]),
        ("Demandes acceptées", report["accepted"]),
        ("Demandes expirées sans médecin", report["expired"]),
        ("Demandes annulées", report["cancelled"]),
        ("Demandes en cours", report["open"]),
        ("Taux d'acceptation", _rate(report["acceptance_rate"])),
        ("Acceptées par le médecin traitant", report["accepted_by_treating"]),
        ("Acceptées par un médecin de la communauté", report["accepted_in_community"]),
        *_labelled("Acceptées par statut", report["accepted_by_kind"], {k: kind_label(k) or k for k in texts.KIND_LABELS}),
        ("Refus", report["refusals"]),
        ("Délai médian avant acceptation (min)", _minutes(delays["median"])),
        ("Délai avant acceptation, 90e centile (min)", _minutes(delays["p90"])),
        ("Patients vus", report["outcomes"]["seen"]),
        ("Patients absents", report["outcomes"]["no_show"]),
        ("Issue non renseignée", report["outcomes"]["pending"]),
        ("Taux de patients absents", _rate(report["no_show_rate"])),
        *_labelled("Motif", report["by_motive"], texts.MOTIVE_LABELS),
        *_labelled("Source", report["by_source"], texts.SOURCE_LABELS),
        *_regulated(report.get("by_regulation")),
        *_labelled("Médecin traitant", report["treating_physician"], texts.TREATING_LABELS),
        *_labelled("Synthèses", report["syntheses"], _SYNTHESES),
    ]
    calls = report.get("calls")
    if calls:
        rows += _labelled("Appels", {k: v for k, v in calls.items() if not isinstance(v, dict)}, _CALLS)
        rows += _labelled("Appels sans demande", calls.get("without_request", {}), _CALL_OUTCOMES)
    if report.get("callbacks"):
        rows += _labelled("Rappels", report["callbacks"], _CALLBACKS)
    return Table("summary", "Indicateurs", "indicateurs", ("Indicateur", "Valeur"), list(rows))


def _regulated(by_regulation: dict[str, dict[str, Any]] | None) -> list[tuple[str, Any]]:
    """Return the lines of the SAS-regulated requests apart from the others (what the SNP supplement is paid on)."""
    if not by_regulation:
        return []
    rows: list[tuple[str, Any]] = []
    for group, label in (("sas", "Régulées par le SAS"), ("other", "Autres sources")):
        figures = by_regulation[group]
        rows += [
            (f"{label} : demandes ouvertes", figures["opened"]),
            (f"{label} : demandes acceptées", figures["accepted"]),
            (f"{label} : patients vus", figures["seen"]),
            (f"{label} : taux d'acceptation", _rate(figures["acceptance_rate"])),
        ]
    return rows


def physician_table(report: dict[str, Any]) -> Table:
    """Return one line per physician offered a request of the period."""
    rows = [
        (
            row["physician_id"],
            row["name"],
            PROFESSIONS.get(row.get("profession") or PHYSICIAN, row.get("profession")),
            kind_label(row["kind"]),
            row["offered"],
            row["accepted"],
            row["refused"],
        )
        for row in report["by_physician"]
    ]
    return Table("by_physician", "Par médecin", "medecins", PHYSICIAN_HEADERS, rows)


def month_table(report: dict[str, Any]) -> Table:
    """Return one line per local month of the period."""
    rows = []
    for row in report["by_month"]:
        year, month = (int(part) for part in row["month"].split("-"))
        rows.append(
            (
                MonthOf(year, month, 1),
                row["opened"],
                row["accepted"],
                row["expired"],
                row["cancelled"],
                _rate(row["acceptance_rate"]),
            )
        )
    return Table("by_month", "Par mois", "mois", MONTH_HEADERS, rows)


def report_tables(report: dict[str, Any]) -> list[Table]:
    """Return the report as its three tables, in the order of REPORT_TABLES."""
    return [summary_table(report), physician_table(report), month_table(report)]


def request_row(row: Any, zone: ZoneInfo) -> tuple[Any, ...]:
    """Return one request, read without patient identity, as the typed values of REQUEST_HEADERS."""
    (request_id, opened_at, source, motive, treating_status, state, phase, accepted_by, treating, kind, accepted_at) = row[:11]
    outcome, synthesis = row[11:13]
    accepted = accepted_at is not None
    opened: datetime = opened_at.astimezone(zone).replace(tzinfo=None)
    return (
        request_id,
        opened,
        texts.SOURCE_LABELS.get(source, source),
        texts.MOTIVE_LABELS.get(motive, motive),
        texts.TREATING_LABELS.get(treating_status, treating_status),
        texts.STATE_LABELS.get(state, state),
        texts.PHASE_LABELS.get(phase, phase) if phase else None,
        (accepted_by == treating) if accepted else None,
        kind_label(kind),
        _minutes((accepted_at - opened_at).total_seconds()) if accepted else None,
        texts.OUTCOME_LABELS.get(outcome, outcome) if outcome else None,
        texts.SYNTHESIS_LABELS.get(synthesis, synthesis) if synthesis else None,
    )
