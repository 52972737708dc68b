"""What the request endpoints of the API and the pages share: the request or 404, the actor, refusals as problems."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dispatch.db import db
from dispatch.errors import Problem
from dispatch.events import Actor
from dispatch.requests.models import Request
from dispatch.requests.service import Rejected
from dispatch.web import client_label

if TYPE_CHECKING:
    from dispatch.auth.models import User

_REFUSALS = {
    "closed": (409, "La demande n'est plus ouverte."),
    "already_accepted": (409, "La demande a déjà été acceptée par un autre médecin."),
    "not_eligible": (403, "Cette demande ne vous est pas proposée en ce moment."),
    "not_accepted": (409, "La demande n'a pas été acceptée."),
    "not_accepted_by_you": (409, "Vous n'avez pas accepté cette demande\u00a0: ce n'est pas à vous de vous en désister."),
    "already_recorded": (409, "L'issue de la consultation est déjà enregistrée."),
    "too_early": (409, "L'issue de la consultation s'enregistre à partir de l'heure du rendez-vous."),
    "still_open": (409, "La demande est encore ouverte."),
    "not_expired": (409, "Seule une demande expirée sans médecin se rappelle."),
    "too_late": (409, "L'heure du rendez-vous est passée : vous ne pouvez plus vous désister, indiquez l'issue."),
    "birth_date_required": (
        422,
        "La date de naissance du patient est obligatoire\u00a0: la synthèse part au médecin traitant par messagerie "
        "sécurisée, et le document national (CDA) l'exige. Lisez-la sur sa carte Vitale.",
    ),
}
# Refusals that name a field of the body: the problem's `errors` point at it, as for a validation error.
_FIELDS = {
    "birth_date_required": (
        "patient_birth_date",
        "Indiquez la date de naissance du patient (pour le document envoyé au médecin traitant).",
    ),
}


def load_request(request_id: int) -> Request:
    """Return the request or answer 404."""
    request = db.session.get(Request, request_id)
    if request is None:
        raise Problem(404, "not_found", "Demande introuvable.")
    return request


def actor(user: User) -> Actor:
    """Return the audit-trail actor for the current HTTP call."""
    return Actor(user_id=user.id, role=user.role, client=client_label())


def rejected(exc: Rejected) -> Problem:
    """Translate a machine refusal into its HTTP problem."""
    status, detail = _REFUSALS.get(exc.code, (409, "Conflit."))
    field = _FIELDS.get(exc.code)
    return Problem(status, exc.code, detail, errors={field[0]: [field[1]]} if field else None)
