"""A request's history in French words: every event type the code records, as the operator reads it (one place).

Events come from the escalation machine (`EventSpec`), from the services (`record_event`: relaunches, the opening's
notes) and from the outbox sender (`<message kind>_<outcome>`: what became of an SMS or a secure message). An event
type not listed here still reads as French ("Étape du suivi"), never as its code; tests/pages/test_history.py checks
that every type the code can record has its own words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dispatch import professions, texts

NB = "\u00a0"  # before a colon, as French typography wants
GENERIC = "Étape du suivi de la demande"

EVENT_LABELS = {
    "opened": "Demande ouverte",
    "treating_address_changed": "Adresse MSSanté du médecin traitant modifiée",
    "synthesis_to_new_address": "Synthèse envoyée à une adresse MSSanté changée il y a moins de 30 jours",
    "community_opened": "Proposée à toute la communauté",
    "accepted": "Acceptée",
    "refused": "Refusée par un médecin",
    "offer_withdrawn": "Proposition retirée à un médecin",
    "expired": "Expirée sans médecin",
    "cancelled": "Annulée",
    "seen": "Patient vu",
    "no_show": "Patient absent au rendez-vous",
    "synthesis_written": "Synthèse rédigée",
    "outcome_corrected": "Issue corrigée par le médecin",
    "released": "Le médecin s'est désisté",
    "called_back": "Patient rappelé",
    "relaunched": "Demande relancée",
    "relaunch_of": "Relance d'une demande précédente",
    "mssante_found": "Adresse MSSanté trouvée dans l'Annuaire Santé",
    "mssante_not_found": "Aucune adresse MSSanté dans l'Annuaire Santé",
    "mssante_lookup_failed": "Annuaire Santé injoignable",
    "patient_birth_date_completed": "Date de naissance du patient complétée par le médecin",
    "patient_rectified": "Identité du patient corrigée",
    "patient_erased": "Identité du patient effacée",
    "deadlines_moved": "Échéances reportées",
    "wave_opened": "Proposée aux professionnels proches du patient (vague)",
    "unplaced": "Adresse du patient non localisée : proposée à toute la profession, sans vagues",
    "address_not_located": "Adresse non localisée",
    "placed": "Adresse du patient localisée",
}

# What each kind of outbox message is, for the events of its delivery ("SMS de rendez-vous au patient : non remis").
MESSAGE_LABELS = {
    "offer": "Proposition envoyée à un médecin",
    "offer_sms": "SMS de proposition à un médecin",
    "offer_withdrawn": "Retrait de la proposition sur le téléphone d'un médecin",
    "offer_withdrawn_sms": "SMS de retrait de la proposition",
    "taken": "Message sécurisé au médecin traitant (patient pris en charge)",
    "taken_sms": "SMS au médecin traitant (patient pris en charge)",
    "synthesis": "Synthèse au médecin traitant (messagerie sécurisée)",
    "synthesis_sms": "SMS de la synthèse",
    "patient_appointment": "SMS de rendez-vous au patient",
    "patient_appointment_sms": "SMS de rendez-vous au patient",
    "patient_released": "SMS d'annulation du rendez-vous au patient",
    "patient_released_sms": "SMS d'annulation du rendez-vous au patient",
    "expired_operator": "SMS à l'opérateur (demande expirée)",
    "expired_operator_sms": "SMS à l'opérateur (demande expirée)",
    "released_operator": "SMS à l'opérateur (désistement du médecin)",
    "released_operator_sms": "SMS à l'opérateur (désistement du médecin)",
    "accepted_requester": "SMS au demandeur (demande acceptée)",
    "accepted_requester_sms": "SMS au demandeur (demande acceptée)",
    "expired_requester": "SMS au demandeur (demande expirée)",
    "expired_requester_sms": "SMS au demandeur (demande expirée)",
    "test": "Notification d'essai",
    "test_sms": "SMS d'essai",
    "contact_changed": "Avis de changement de coordonnées au contact remplacé",
    "contact_changed_sms": "SMS d'avis de changement de coordonnées",
}
DELIVERY_LABELS = {
    "sent": "envoyé",
    "failed": "échec de l'envoi",
    "undelivered": "non remis au destinataire",
    "delivered": "remis au destinataire",
    "read": "lu par le destinataire",
    "refused": "refusé par le destinataire",
    "expired": "non envoyé avant l'échéance de la demande",
}
# The patient's fields an operator may correct (the rectification's event names them, never their values).
PATIENT_FIELDS = {
    "first_name": "prénom",
    "last_name": "nom",
    "birth_date": "date de naissance",
    "sex": "sexe",
    "phone": "téléphone",
}
ERASURE_REASONS = {
    "retention": "La durée de conservation de la communauté est atteinte.",
    "subject_erasure": "À la demande du patient (droit à l'effacement).",
}

CALLBACK_LABELS = {
    "reoriented_sas": "Réorienté vers le SAS",
    "reoriented_15": "Réorienté vers le 15",
    "advice_given": "Conseil donné",
    "unreachable": "Injoignable",
    "relaunched": "Relancé",
}
# Reasons some events carry, as the operator reads them.
REASON_LABELS = {"not_mobile": "ce numéro n'est pas un mobile, il ne reçoit pas de SMS" + NB + ": appelez le patient"}
SYNTHESIS_LABELS = {
    "pending": "elle part au médecin traitant par messagerie sécurisée",
    "not_needed": "le médecin traitant a vu le patient lui-même",
    "not_sendable": "aucune adresse MSSanté du médecin traitant" + NB + ": elle ne peut pas lui être envoyée",
}


def lower_first(text: str) -> str:
    """Return a label to go inside a sentence: 'Réorienté vers le SAS' → 'réorienté vers le SAS'."""
    return text[:1].lower() + text[1:]


# Events that name another request: the history links to it.
LINKS = {"relaunched": "Voir la nouvelle demande n° {}", "relaunch_of": "Voir la demande relancée, n° {}"}


def _delivery(type_: str) -> tuple[str, str] | None:
    """Split a delivery event type into its message kind and outcome, if it is one."""
    for outcome in DELIVERY_LABELS:
        kind = type_.removesuffix("_" + outcome)
        if kind != type_ and kind in MESSAGE_LABELS:
            return kind, outcome
    return None


def label(type_: str) -> str:
    """Return an event type in French words; an unknown type gets a generic label, never its code."""
    if type_ in EVENT_LABELS:
        return EVENT_LABELS[type_]
    delivery = _delivery(type_)
    if delivery is not None:
        return f"{MESSAGE_LABELS[delivery[0]]}{NB}: {DELIVERY_LABELS[delivery[1]]}"
    return GENERIC


def known(type_: str) -> bool:
    """Tell whether an event type has words of its own (not the generic label)."""
    return label(type_) != GENERIC


def _time(value: Any, tz: str, fmt: str = "%H:%M") -> str:
    """Return an ISO time carried by an event as the community's local time ('' if absent or unreadable)."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return ""
    return texts.local(at, tz).strftime(fmt) if at.tzinfo else ""


PRECISION_LABELS = {"housenumber": "au numéro", "street": "à la rue", "municipality": "à la commune"}


def unplaced_notice(*, profession: str, state: str) -> str:
    """Return what the operator is told of a request whose patient could not be placed, in its profession's words."""
    everyone = f"tous les {professions.plural(profession)}"
    if state == "exclusive":
        return f"Adresse non localisée{NB}: la demande ira à {everyone} après la phase exclusive, sans vagues par distance."
    return f"Adresse non localisée{NB}: la demande est proposée à {everyone}, sans vagues par distance."


def details(type_: str, data: dict[str, Any], tz: str) -> list[str]:
    """Return what an event adds to its label, in French sentences (its data as the user may see it)."""
    said: list[str] = []
    if type_ == "address_not_located":
        everyone = f"tous les {professions.plural(str(data.get('profession') or professions.PHYSICIAN))}"
        said.append(f"La demande ira à {everyone} après la phase exclusive, sans vagues par distance.")
    elif type_ == "unplaced" and data.get("profession"):
        said.append(f"Proposée à tous les {professions.plural(str(data['profession']))} à la fois, sans vagues par distance.")
    elif type_ == "placed":
        how = PRECISION_LABELS.get(str(data.get("precision")), "")
        commune = f" — {data['commune']}" if data.get("commune") else ""
        said.append(f"Localisée {how}{commune}.")
    elif type_ == "opened":
        if data.get("state") == "exclusive":
            said.append(f"Proposée d'abord au médecin traitant seul, jusqu'à {_time(data.get('exclusive_until'), tz)}.")
        else:
            said.append("Proposée à tous les médecins de la communauté.")
        if data.get("expires_at"):
            said.append(f"Réponse attendue avant {_time(data.get('expires_at'), tz)}.")
    elif type_ == "community_opened":
        if data.get("after") == "treating_refused":
            said.append("Le médecin traitant a refusé" + NB + ": tous les médecins la reçoivent.")
        elif data.get("after") == "treating_unavailable":
            said.append("Le compte du médecin traitant a été désactivé" + NB + ": tous les médecins la reçoivent.")
        else:
            said.append("L'heure réservée au médecin traitant est passée" + NB + ": tous les médecins la reçoivent.")
    elif type_ == "offer_withdrawn" and data.get("reason") == "unavailable":
        said.append("Son compte a été désactivé" + NB + ": la demande reste proposée aux autres médecins.")
    elif type_ == "accepted":
        when = _time(data.get("appointment_at"), tz, "%d/%m à %H:%M")
        if when:
            said.append(f"Rendez-vous le {when}" + (f", {data['place']}." if data.get("place") else "."))
        if data.get("phase") == "exclusive":
            said.append("Acceptée par le médecin traitant pendant son heure réservée.")
    elif type_ == "expired":
        deadline = _time(data.get("deadline"), tz)
        said.append(f"Aucun médecin n'a accepté avant {deadline}." if deadline else "Aucun médecin n'a accepté à temps.")
    elif type_ == "released":
        if data.get("expires_at"):
            said.append(f"De nouveau proposée aux médecins jusqu'à {_time(data.get('expires_at'), tz)}.")
    elif type_ == "called_back":
        result = data.get("result")
        said.append("Résultat" + NB + ": " + lower_first(CALLBACK_LABELS.get(str(result), "non précisé")) + ".")
        if data.get("note"):
            said.append("Note" + NB + f": {data['note']}")
    elif type_ == "outcome_corrected":
        words = {"seen": "patient vu", "no_show": "patient absent"}
        before, after = (words.get(str(data.get(key)), "—") for key in ("from", "to"))
        said.append(f"«{NB}{before}{NB}» remplacé par «{NB}{after}{NB}» (erreur de saisie).")
    elif type_ == "synthesis_written" and data.get("status") in SYNTHESIS_LABELS:
        said.append(SYNTHESIS_LABELS[data["status"]].capitalize() + ".")
    elif type_ == "mssante_found":
        kind = {"PER": "boîte personnelle", "CAB": "boîte du cabinet", "ORG": "boîte d'une équipe"}.get(str(data.get("kind")))
        if data.get("to"):
            said.append(f"Adresse{NB}: {data['to']}" + (f" ({kind})." if kind else "."))
        if data.get("synthesis") == "pending":
            said.append("La synthèse qui attendait cette adresse part au médecin traitant.")
        if data.get("taken") == "pending":
            said.append("Le médecin traitant est informé de la prise en charge.")
    elif type_ == "mssante_not_found":
        said.append(f"Sans adresse, la synthèse ne pourra pas lui être envoyée{NB}: saisissez-la si vous la connaissez.")
    elif type_ == "patient_birth_date_completed":
        said.append("Elle manquait à la demande" + NB + ": le document envoyé au médecin traitant l'exige.")
    elif type_ == "patient_rectified":
        fields = [PATIENT_FIELDS.get(str(name), str(name)) for name in data.get("fields") or []]
        if fields:
            said.append(f"Corrigé{'s' if len(fields) > 1 else ''}{NB}: {', '.join(fields)}.")
        if data.get("reference"):
            said.append(f"Référence{NB}: {data['reference']}")
    elif type_ == "patient_erased":
        said.append(ERASURE_REASONS.get(str(data.get("reason")), "Ses données ne sont plus conservées."))
    elif type_ == "deadlines_moved":
        minutes = max(1, round(int(data.get("by_s") or 0) / 60))
        said.append(f"Reportées de {minutes} min, le temps où le service était interrompu.")
        if data.get("expires_at"):
            said.append(f"Réponse attendue avant {_time(data.get('expires_at'), tz)}.")
    elif type_ == "mssante_lookup_failed":
        said.append("L'adresse sera recherchée de nouveau quand la synthèse sera rédigée.")
    elif type_ == "synthesis_to_new_address" and data.get("to"):
        said.append(f"Adresse{NB}: {data['to']} · vérifiez-la auprès du médecin traitant si ce changement vous surprend.")
    elif type_ == "treating_address_changed" and data.get("before"):
        said.append(f"Avant{NB}: {data['before']} · désormais{NB}: {data.get('after') or '—'}")
    if data.get("reason") and (type_ in ("refused", "cancelled", "released") or data.get("via")):
        # Delivery reports (via dsn or mdn) carry the reason in French, without the address.
        said.append("Motif" + NB + f": {data['reason']}")
    elif data.get("reason") in REASON_LABELS:
        said.append(REASON_LABELS[data["reason"]].capitalize() + ".")
    return said


def describe(type_: str, data: dict[str, Any] | None, tz: str, *, profession: str | None = None) -> dict[str, Any]:
    """Return an event as the history shows it: its label, its sentences, and the request it links to (if any);
    `profession`, the request's, words what the whole profession means ("tous les infirmiers")."""
    data = data or {}
    if type_ == "unplaced" and profession is not None:
        data = {**data, "profession": profession}
    link = data.get("request_id") if type_ in LINKS else None
    title = label(type_)
    if data.get("via") == "dsn" and type_.endswith("_failed") and _delivery(type_) is not None:
        # A bounce: the message left us but the recipient's server refused it.
        title = title.replace(DELIVERY_LABELS["failed"], DELIVERY_LABELS["undelivered"])
    if not isinstance(link, int):
        return {"label": title, "details": details(type_, data, tz), "link": None, "link_label": ""}
    return {"label": title, "details": details(type_, data, tz), "link": link, "link_label": LINKS[type_].format(link)}
