"""Everything a person reads in a push, an SMS or an export, in French, built from plain values."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_time

from dispatch import french, professions
from dispatch.gsm7 import to_gsm7
from dispatch.phones import national

MOTIVE_LABELS = {
    "infectious": "Infectieux",
    "ent": "ORL",
    "respiratory": "Respiratoire",
    "trauma": "Traumatologie",
    "digestive": "Digestif",
    "dermatology": "Dermatologie",
    "rheumatology": "Rhumatologie",
    "urinary": "Urinaire",
    "other": "Autre motif",
}

KIND_LABELS = {
    "titulaire": "médecin titulaire",
    "remplacant": "médecin remplaçant",
    "adjoint": "médecin adjoint",
    "assistant": "médecin assistant",
    "interne": "interne",
    "cami": "médecin du CAMI",
}

STATE_LABELS = {
    "exclusive": "Médecin traitant",
    "community": "Communauté",
    "accepted": "Acceptée",
    "expired": "Expirée",
    "cancelled": "Annulée",
    "seen": "Patient vu",
    "no_show": "Patient absent",
}
SOURCE_LABELS = {
    "cot": "COT (centre d'orientation)",
    "sas": "SAS",
    "samu": "SAMU / centre 15",
    "pharmacy": "Pharmacie",
    "nurse": "Infirmier·e",
    "ehpad": "EHPAD",
    "emergency_dept": "Service d'urgences",
    "other": "Autre",
}
TREATING_LABELS = {"declared": "Déclaré", "none": "Aucun", "unknown": "Inconnu"}
PHASE_LABELS = {"exclusive": "Médecin traitant (exclusivité)", "community": "Communauté"}
OUTCOME_LABELS = {"seen": "Patient vu", "no_show": "Patient absent"}
# The phone regions of dispatch.phones.REGIONS, in that order.
REGION_LABELS = {
    "FR": "France métropolitaine",
    "RE": "La Réunion",
    "GP": "Guadeloupe",
    "MQ": "Martinique",
    "GF": "Guyane",
    "YT": "Mayotte",
    "PM": "Saint-Pierre-et-Miquelon",
}
SYNTHESIS_LABELS = {
    "pending": "En attente",
    "sent": "Envoyée",
    "delivered": "Remise",
    "read": "Lue",
    "refused": "Refusée",
    "failed": "En échec",
    "not_sendable": "Non envoyable",
    "not_needed": "Non nécessaire",
}

# What became of a synthesis, as the operator's page of the request says it (the physician's page says it to them).
SYNTHESIS_DELIVERY = {
    "pending": "en cours d'envoi au médecin traitant",
    "sent": "envoyée au médecin traitant (MSSanté)",
    "delivered": "remise au médecin traitant (MSSanté)",
    "read": "lue par le médecin traitant",
    "refused": "refusée",  # the reason says by whom and why
    "failed": "non remise au médecin traitant",
    "not_sendable": "non envoyée, faute d'adresse MSSanté du médecin traitant",
    "not_needed": "non envoyée\u00a0: le médecin traitant a vu le patient lui-même",
}
NBSP = "\u00a0"  # before ":", as French typography wants
TELECONSULTATION = "teleconsultation"  # a request's modality (dispatch.requests.models.MODALITIES) for a video call
MODALITY_LABELS = {"in_person": "Consultation au cabinet", TELECONSULTATION: "Téléconsultation"}

DAYS = french.DAYS  # lundi ... dimanche, indexed by date.weekday()
MONTHS = french.MONTHS  # janvier ... décembre


def local(at: datetime, tz: str) -> datetime:
    """Return `at` in the community's time zone."""
    return at.astimezone(ZoneInfo(tz))


def hhmm(at: datetime, tz: str) -> str:
    """Return the local time of day as 16:30."""
    return format_time(at, "HH:mm", tzinfo=ZoneInfo(tz), locale=french.LOCALE)


def long_date(at: datetime, tz: str) -> str:
    """Return the local date as 'lundi 23 novembre 2026'."""
    return format_datetime(at, "EEEE d MMMM y", tzinfo=ZoneInfo(tz), locale=french.LOCALE)


def when(at: datetime, tz: str, now: datetime) -> str:
    """Return 'aujourd'hui à 16:30' or 'lundi 23 novembre 2026 à 16:30'."""
    if local(at, tz).date() == local(now, tz).date():
        return f"aujourd'hui à {hhmm(at, tz)}"
    return f"{long_date(at, tz)} à {hhmm(at, tz)}"


def asked(*, profession: str, motive: str, acts: list[str] | None) -> str:
    """Return what a request asks, in its profession's words: a physician's motive, a nurse's acts ("Prise de sang")."""
    if profession != professions.PHYSICIAN and acts:
        return ", ".join(professions.act_labels(acts))
    return MOTIVE_LABELS.get(motive, motive)


def request_title(*, profession: str, motive: str, acts: list[str] | None) -> str:
    """Return the title of a request on the professional's phone page: the motive, or the profession and what is asked."""
    if profession == professions.PHYSICIAN:
        return MOTIVE_LABELS.get(motive, motive)
    return f"{professions.REQUEST_TITLES.get(profession, profession)} : {asked(profession=profession, motive=motive, acts=acts)}"


def distance_band(distance_km: float) -> str:
    """Return how far the patient is, rounded to the kilometre: '≈ 4 km', '< 1 km' under one kilometre."""
    if distance_km < 1:
        return f"<{NBSP}1{NBSP}km"
    return f"≈{NBSP}{int(distance_km + 0.5)}{NBSP}km"


def where(*, distance_km: float | None, commune: str | None) -> str | None:
    """Return where an anonymised offer's patient is: '≈ 4 km — Ormesson-sur-Marne', the band or the commune alone
    when only one is known, None when neither is; never the street."""
    parts = [distance_band(distance_km) if distance_km is not None else None, commune or None]
    shown = [part for part in parts if part]
    return " — ".join(shown) if shown else None


def offer_push(
    *,
    motive: str,
    city: str | None,
    deadline: datetime,
    tz: str,
    profession: str = professions.PHYSICIAN,
    acts: list[str] | None = None,
    distance_km: float | None = None,
    modality: str = "in_person",
) -> tuple[str, str]:
    """Return the title and body of an offer's notification, in its profession's words, with how far the patient is
    and their commune when known, opening with "Téléconsultation" for one; no patient identity."""
    parts = [MODALITY_LABELS[TELECONSULTATION]] if modality == TELECONSULTATION else []
    parts.append(asked(profession=profession, motive=motive, acts=acts))
    place = where(distance_km=distance_km, commune=city)
    if place:
        parts.append(place)
    parts.append(f"avant {hhmm(deadline, tz)}")
    return professions.REQUEST_TITLES.get(profession, professions.REQUEST_TITLES[professions.PHYSICIAN]), " · ".join(parts)


# SMS are written in the GSM 7-bit alphabet: one character outside it ("°", "·", "ê") sends the whole
# text in UCS-2, 70 characters a segment instead of 160, and multiplies its cost. The templates keep to
# it; to_gsm7 maps what the values bring (a town, a name, a place) to their nearest GSM letters.


def offer_sms(
    *,
    request_id: int,
    motive: str,
    city: str | None,
    deadline: datetime,
    tz: str,
    link: str,
    profession: str = professions.PHYSICIAN,
    acts: list[str] | None = None,
    distance_km: float | None = None,
    modality: str = "in_person",
) -> str:
    """Return the SMS sent to a professional without a working device, in their profession's words ("SNP infirmier"),
    with how far the patient is and their commune when known, and "téléconsultation" for one; no patient identity;
    one segment."""
    # The distance as briefly as it reads ("(4km)"): with the longest town and motive the text stays one segment.
    far = None if distance_km is None else ("<1km" if distance_km < 1 else f"{int(distance_km + 0.5)}km")
    shown = " ".join(part for part in (city, f"({far})" if far and city else far) if part)
    place = f" - {shown}" if shown else ""
    who = "" if profession == professions.PHYSICIAN else f" {professions.word(profession)}"
    # A teleconsultation names itself instead of "demande" and drops "à prendre": never longer than the same offer in
    # person, so it takes no more segments.
    what, take = ("téléconsultation", "avant") if modality == TELECONSULTATION else ("demande", "à prendre avant")
    return to_gsm7(
        f"SNP{who} : {what} {request_id} - {asked(profession=profession, motive=motive, acts=acts)}{place} - "
        f"{take} {hhmm(deadline, tz)}. Voir : {link}"
    )


def patient_sms(
    *, physician_name: str, appointment_at: datetime, place: str | None, tz: str, now: datetime, practice_phone: str | None = None
) -> str:
    """Return the SMS that gives the patient their appointment, and the practice's phone when known; two segments at most."""
    where = f", {place}" if place else ""
    call = f" au {national(practice_phone)}" if practice_phone else ""
    return to_gsm7(
        f"Votre rendez-vous de soins non programmés : {physician_name}, {when(appointment_at, tz, now)}{where}. "
        f"Si vous ne pouvez pas venir, merci de prévenir le cabinet{call}."
    )


def patient_teleconsultation_sms(*, physician_name: str, appointment_at: datetime, tz: str, now: datetime, link: str) -> str:
    """Return the SMS that gives the patient their teleconsultation and its link (as long as the link makes it)."""
    return to_gsm7(
        f"Votre téléconsultation de soins non programmés : {physician_name}, {when(appointment_at, tz, now)}. Lien : {link}"
    )


def observations_text(observations: dict[str, object] | None) -> str | None:
    """Return a requester's observations in French ("TA 128/76 mmHg · FC 96/min · T° 38,4 °C · SpO2 93 % · note")."""
    if not observations:
        return None
    parts = []
    if observations.get("systolic") is not None:
        parts.append(f"TA {observations['systolic']}/{observations.get('diastolic')} mmHg")
    if observations.get("heart_rate") is not None:
        parts.append(f"FC {observations['heart_rate']}/min")
    temperature = observations.get("temperature_c")
    if isinstance(temperature, (int, float)):
        parts.append(f"T° {temperature:.1f} °C".replace(".", ","))
    if observations.get("spo2") is not None:
        parts.append(f"SpO2 {observations['spo2']} %")
    if observations.get("note"):
        parts.append(str(observations["note"]))
    return " · ".join(parts) or None


def requester_accepted_sms(
    *, request_id: int, physician_name: str, appointment_at: datetime, place: str | None, tz: str, now: datetime, link: str | None
) -> str:
    """Return the SMS telling a requester their request was accepted: by whom, when, where or the link; no patient named."""
    accepted = f"SNP : votre demande n° {request_id} est acceptée par {physician_name}, {when(appointment_at, tz, now)}"
    if link:  # last, with nothing after it: a phone would take a final full stop into the link
        return to_gsm7(f"{accepted}, en téléconsultation. Lien : {link}")
    return to_gsm7(f"{accepted}{f', {place}' if place else ''}.")


def requester_expired_sms(*, request_id: int) -> str:
    """Return the SMS telling a requester their request expired with nobody; one segment, no patient named."""
    return to_gsm7(
        f"SNP : votre demande n° {request_id} n'a trouvé aucun professionnel disponible à temps. "
        "Orientez le patient vers le 15 ou son médecin si besoin."
    )


def operator_expired_sms(*, request_id: int, motive: str) -> str:
    """Return the SMS telling the operator a request expired with nobody; one segment."""
    return to_gsm7(
        f"SNP : la demande {request_id} ({MOTIVE_LABELS.get(motive, motive)}) a expiré sans médecin. Merci de rappeler le patient."
    )


def patient_released_sms() -> str:
    """Return the SMS telling the patient their appointment is cancelled and another doctor is sought; one segment."""
    return to_gsm7(
        "Votre rendez-vous de soins non programmés est annulé : le médecin ne peut plus vous recevoir. "
        "Nous cherchons un autre médecin et vous recontactons."
    )


def operator_released_sms(*, request_id: int, motive: str) -> str:
    """Return the SMS telling the operator the accepting physician handed a request back; one segment."""
    return to_gsm7(
        f"SNP : le médecin s'est désisté de la demande {request_id} ({MOTIVE_LABELS.get(motive, motive)}). "
        "Elle est à nouveau proposée."
    )


def delivery_note(status: str, *, reason: str | None, at: datetime | None, tz: str, now: datetime) -> str:
    """Return what follows a synthesis's status: when it was delivered or read, why it was refused or failed."""
    if status in ("delivered", "read") and at is not None:
        return f" {when(at, tz, now)}"
    if status in ("refused", "failed"):
        return f"{NBSP}: {reason or 'raison non précisée'}"
    return ""


def synthesis_delivery(status: str, *, reason: str | None, at: datetime | None, tz: str, now: datetime) -> str:
    """Return what became of a synthesis in a sentence: 'Synthèse lue par le médecin traitant aujourd'hui à 16:30'."""
    return "Synthèse " + SYNTHESIS_DELIVERY.get(status, status) + delivery_note(status, reason=reason, at=at, tz=tz, now=now)


def appointment_label(at: datetime | None, tz: str, now: datetime) -> str:
    """Return an appointment with its date: 'aujourd'hui lundi 23/11 à 15:30', 'demain …', or 'mercredi 25/11 à …'."""
    if at is None:
        return ""
    day, today = local(at, tz), local(now, tz).date()
    name = f"{DAYS[day.weekday()]} {day:%d/%m}"
    if day.date() == today:
        name = f"aujourd'hui {name}"
    elif (day.date() - today).days == 1:
        name = f"demain {name}"
    elif day.year != today.year:
        name = f"{name}/{day.year}"
    return f"{name} à {day:%H:%M}"


def duration(seconds: int) -> str:
    """Return a window as people say it: '6 h', '45 min', '1 h 30'."""
    hours, minutes = divmod(round(seconds / 60), 60)
    if not hours:
        return f"{minutes}{NBSP}min"
    return f"{hours}{NBSP}h" + (f" {minutes:02d}" if minutes else "")


def km(value: float) -> str:
    """Return a distance in kilometres, French style: '10 km', '2,5 km'."""
    shown = f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{shown}{NBSP}km"


def rule_lines(*, profession: str, exclusive_s: int, response_s: int, waves: list[dict[str, float]]) -> list[str]:
    """Return one profession's rules as its members read them, in French, step by step."""
    usual = "le médecin traitant" if profession == professions.PHYSICIAN else f"l'{professions.word(profession)} habituel"
    if profession not in (professions.PHYSICIAN, professions.NURSE):
        usual = f"le {professions.word(profession)} habituel du patient"
    lines = [f"D'abord {usual}, seul, pendant {duration(exclusive_s)} (s'il est inscrit et disponible)."]
    plural = professions.word(profession) + "s"
    if not waves:
        lines.append(f"Ensuite tous les {plural} de la communauté, en même temps.")
    else:
        for index, wave in enumerate(waves):
            radius = km(float(wave["radius_km"]))
            if index == 0:
                lines.append(f"Ensuite les {plural} à moins de {radius} du patient (à vol d'oiseau).")
            else:
                lines.append(f"Au bout de {duration(int(wave['after_s']))}, les {plural} à moins de {radius}.")
        lines.append(
            f"Au-delà de {km(float(waves[-1]['radius_km']))}, la demande ne vous est pas proposée. "
            "Si l'adresse du patient n'est pas localisée, tous les " + plural + " la reçoivent."
        )
    lines.append(
        f"Sans réponse au bout de {duration(response_s)} après l'ouverture, la demande expire et l'opérateur rappelle le patient."
    )
    return lines
