"""The community's report of a period as a PDF file: its figures read from the database, then drawn (pdf.py)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from dispatch import texts
from dispatch.communities.models import Community
from dispatch.reports.delays import delay_buckets
from dispatch.reports.pdf import report_pdf
from dispatch.reports.service import compute_report
from dispatch.reports.slots import export_slot

PDF_TYPE = "application/pdf"
# Described in the OpenAPI document of the endpoint; keep both in step.
PDF_LAYOUT = (
    "Le rapport de la période en PDF (A4, en français), à transmettre tel quel au bureau de la CPTS ou à l'ARS : "
    "chiffres clés (demandes ouvertes, acceptées, taux d'acceptation, délai d'acceptation médian et 90e centile, "
    "patients absents), graphiques (par mois, motif, origine, statut du médecin, médecin traitant, issue, délai, "
    "appels et rappels), tableaux par médecin et par mois, définitions des indicateurs. Nom du fichier : "
    "`rapport-<communauté>-<from>-<to>.pdf`."
)


def report_document(*, community: Community, start: date, end: date, now: datetime) -> tuple[str, bytes]:
    """Return the file name and the PDF of the community's report over the local days `start` to `end`."""
    with export_slot():  # drawing a PDF is the most CPU an export takes
        body = report_pdf(
            compute_report(community=community, start=start, end=end),
            community=community.name,
            delays=delay_buckets(community=community, start=start, end=end),
            issued_at=texts.local(now, community.timezone),
        )
    return pdf_name(community.name, community.id, start, end), body


def pdf_name(community: str, community_id: int, start: date, end: date) -> str:
    """Return the report's file name: 'rapport-cpts-champigny-2023-01-01-2023-12-31.pdf' (the id if the name has no letter)."""
    ascii_name = unicodedata.normalize("NFKD", community).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:60].strip("-") or str(community_id)
    return f"rapport-{slug}-{start.isoformat()}-{end.isoformat()}.pdf"
