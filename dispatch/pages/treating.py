"""The treating GP's secure address on a request's page, and where it came from (typed, or the Annuaire Santé)."""

from __future__ import annotations

from dispatch.communities.models import Physician
from dispatch.db import db
from dispatch.pages import bp
from dispatch.requests.models import Request

NB = "\u00a0"
BOX_KINDS = {"PER": "boîte personnelle", "CAB": "boîte du cabinet", "ORG": "boîte d'une équipe ou d'un service"}
# What a request without an address says of the directory's lookup, by the state of the community's entry.
LOOKUP_STATES = {
    "pending": "recherche dans l'Annuaire Santé en cours",
    "not_found": "aucune boîte MSSanté dans l'Annuaire Santé" + NB + ": la synthèse ne pourra pas lui être envoyée",
    "failed": "Annuaire Santé injoignable" + NB + ": nouvelle recherche à l'envoi de la synthèse",
}


@bp.app_template_filter("treating_address")
def treating_address(request: Request) -> str:
    """Return the treating GP's MSSanté address with its source, or what is known of its lookup ('' if nothing)."""
    if request.treating_physician_id is not None:
        physician = db.session.get(Physician, request.treating_physician_id)
        return f"{physician.mssante} (fiche du membre)" if physician is not None and physician.mssante else ""
    entry = request.treating_directory
    address = request.treating_mssante
    if address:
        if entry is not None and entry.mssante_source == "annuaire" and (entry.mssante or "").lower() == address.lower():
            kind = BOX_KINDS.get(entry.mssante_type or "")
            return f"{address} (Annuaire Santé{', ' + kind if kind else ''})"
        return f"{address} (saisie par l'opérateur)"
    if entry is None or not entry.rpps:
        return ""
    return LOOKUP_STATES.get(entry.lookup_status or "", "")
