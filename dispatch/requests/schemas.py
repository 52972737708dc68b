"""Schemas of requests at the HTTP edge (how much of a request each user sees is `dispatch.policy`'s)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from dispatch.audit.service import KINDS as ACCESS_KINDS
from dispatch.calls.models import CALL_OUTCOMES
from dispatch.communities.schemas import community_region
from dispatch.communities.service import rpps_valid
from dispatch.phones import normalize_phone, valid_in_some_region
from dispatch.professions import CODES, NURSE, NURSE_ACTS, PHYSICIAN
from dispatch.requests.machine import STATES
from dispatch.requests.models import CALLBACK_RESULTS, MODALITIES, MOTIVES, SOURCES, SYNTHESIS_STATUSES, TREATING_STATUSES
from dispatch.requests.states import OUTCOMES, State
from dispatch.schemas import PHONE_CHARS, SINGLE_LINE, Id, Integer, Schema, UTCDateTime, name_text, text, utc_iso


class PatientIn(Schema):
    first_name = name_text(100, required=True)
    last_name = name_text(100, required=True)
    birth_date = fields.Date(validate=validate.Range(min=date(1900, 1, 1), max=date(2100, 1, 1)))
    sex = fields.String(validate=validate.OneOf(("F", "M", "U")))
    phone = fields.String(validate=[validate.Length(min=4, max=40), PHONE_CHARS, SINGLE_LINE])
    postcode = fields.String(validate=[validate.Regexp(r"^(\d{5}|2[AB]\d{3})$", error="Code postal invalide."), SINGLE_LINE])
    city = text(100)
    address = text(300, metadata={"description": "Numéro et rue (facultatif) : géolocalisé avec le code postal et la commune"})

    @ma.validates("phone")
    def phone_valid(self, value: str, **kwargs: Any) -> None:
        # Read as in the community's region by RequestIn, which knows the community.
        if not valid_in_some_region(value):
            raise ma.ValidationError("Numéro de téléphone invalide.")


class TreatingIn(Schema):
    status = fields.String(required=True, validate=validate.OneOf(TREATING_STATUSES))
    rpps = fields.String(
        validate=[validate.Regexp(r"^[0-9]{11}$", error="Numéro RPPS invalide (11 chiffres)."), SINGLE_LINE],
        metadata={
            "description": "11 chiffres (la clé n'est pas exigée : le numéro est lu au "
            "téléphone et sert seulement à retrouver un membre)"
        },
    )
    name = name_text(200)
    mssante = fields.Email(validate=validate.Length(max=254))

    @ma.validates_schema
    def declared(self, data: dict[str, Any], **kwargs: Any) -> None:
        rpps = data.get("rpps")
        if rpps is not None and (len(rpps) != 11 or not rpps.isdigit()):
            raise ma.ValidationError({"rpps": ["Numéro RPPS invalide (11 chiffres)."]})
        if data.get("status") == "declared" and not (data.get("rpps") or data.get("name")):
            raise ma.ValidationError({"rpps": ["Le RPPS ou le nom du médecin traitant déclaré est requis."]})


class UsualIn(TreatingIn):
    """The patient's usual professional of the request's profession (their usual nurse...), who has it first."""

    @ma.validates_schema
    def declared(self, data: dict[str, Any], **kwargs: Any) -> None:
        rpps = data.get("rpps")
        if rpps is not None and (len(rpps) != 11 or not rpps.isdigit()):
            raise ma.ValidationError({"rpps": ["Numéro RPPS invalide (11 chiffres)."]})
        if data.get("status") == "declared" and not (data.get("rpps") or data.get("name")):
            raise ma.ValidationError({"rpps": ["Le RPPS ou le nom du professionnel habituel déclaré est requis."]})


REQUIRED = "Champ obligatoire."


class ObservationsIn(Schema):
    """What the requester measured, within plausible bounds (a typing slip is refused, not dispatched)."""

    systolic = Integer(minimum=50, maximum=260, metadata={"description": "Pression artérielle systolique (mmHg), 50 à 260"})
    diastolic = Integer(minimum=30, maximum=160, metadata={"description": "Pression artérielle diastolique (mmHg), 30 à 160"})
    heart_rate = Integer(minimum=20, maximum=250, metadata={"description": "Fréquence cardiaque (battements/min), 20 à 250"})
    temperature_c = fields.Float(
        validate=validate.Range(30.0, 43.5, error="Température invalide (30,0 à 43,5 °C)."),
        metadata={"description": "Température (°C), 30,0 à 43,5"},
    )
    spo2 = Integer(minimum=50, maximum=100, metadata={"description": "Saturation en oxygène (%), 50 à 100"})
    note = text(1000, multiline=True)

    @ma.validates_schema
    def pressures(self, data: dict[str, Any], **kwargs: Any) -> None:
        systolic, diastolic = data.get("systolic"), data.get("diastolic")
        if (systolic is None) != (diastolic is None):
            raise ma.ValidationError(
                {"diastolic" if systolic else "systolic": ["Donnez la systolique et la diastolique ensemble."]}
            )
        if systolic is not None and diastolic is not None and diastolic >= systolic:
            raise ma.ValidationError({"diastolic": ["La diastolique doit être inférieure à la systolique."]})


class RegulatorIn(Schema):
    """The SAS's regulating physician who sent the request."""

    rpps = fields.String(
        required=True,
        validate=[validate.Regexp(r"^[0-9]{11}$", error="Numéro RPPS invalide (11 chiffres)."), SINGLE_LINE],
        metadata={"description": "RPPS du médecin régulateur (11 chiffres, clé de Luhn)"},
    )
    name = name_text(200, required=True)

    @ma.validates("rpps")
    def rpps_key(self, value: str, **kwargs: Any) -> None:
        if not rpps_valid(value):
            raise ma.ValidationError("Numéro RPPS invalide (11 chiffres, clé de Luhn).")


class RequestIn(Schema):
    community_id = Id(required=True, strict=True)
    profession = fields.String(
        load_default=PHYSICIAN,
        validate=validate.OneOf(CODES, error="Profession inconnue (10, 21, 40, 50, 60 ou 70)."),
        metadata={
            "description": "Code de la profession (TRE_G15) : 10 médecin, 21 pharmacien, 40 chirurgien-dentiste, "
            "50 sage-femme, 60 infirmier, 70 masseur-kinésithérapeute ; l'offre ne va qu'aux membres de cette profession"
        },
    )
    source = fields.String(required=True, validate=validate.OneOf(SOURCES))
    motive = fields.String(
        validate=validate.OneOf(MOTIVES), metadata={"description": "Obligatoire pour un médecin ; other par défaut sinon"}
    )
    description = text(4000, allow_empty=True, multiline=True)
    patient = fields.Nested(PatientIn, required=True)
    treating_physician = fields.Nested(TreatingIn, metadata={"description": "Le médecin traitant (profession 10)"})
    usual_professional = fields.Nested(
        UsualIn, metadata={"description": "Le professionnel habituel du patient (autres professions) : il l'a d'abord seul"}
    )
    acts = fields.List(
        text(100),
        validate=validate.Length(max=10),
        metadata={"description": "Ce qui est demandé : pour un infirmier " + ", ".join(NURSE_ACTS) + " ; libre sinon"},
    )
    consent = fields.Boolean(
        metadata={
            "description": "Le patient a consenti à la demande : obligatoire (true) pour un demandeur (infirmier, "
            "pharmacien, EHPAD), sinon 422 `consent_required`"
        }
    )
    observations = fields.Nested(
        ObservationsIn, metadata={"description": "Constantes relevées par le demandeur (422 hors des bornes plausibles)"}
    )
    modality = fields.String(
        load_default="in_person",
        validate=validate.OneOf(MODALITIES),
        metadata={"description": "in_person (par défaut) ou teleconsultation : le médecin qui accepte donne alors le lien"},
    )
    sas_regulator = fields.Nested(
        RegulatorIn, metadata={"description": "Le médecin régulateur du SAS : obligatoire quand source vaut sas, refusé sinon"}
    )

    @ma.validates_schema(skip_on_field_errors=False)
    def regulated(self, data: dict[str, Any], **kwargs: Any) -> None:
        """A request from the SAS names its regulating physician; no other does."""
        if data.get("source") == "sas" and "sas_regulator" not in data:
            raise ma.ValidationError({"sas_regulator": ["Le médecin régulateur du SAS (RPPS et nom) est obligatoire."]})
        if "source" in data and data["source"] != "sas" and "sas_regulator" in data:
            raise ma.ValidationError({"sas_regulator": ["Seule une demande du SAS a un médecin régulateur."]})

    @ma.validates_schema(skip_on_field_errors=False)
    def per_profession(self, data: dict[str, Any], **kwargs: Any) -> None:
        """A physician's request names the treating GP and a motive; another's its usual professional (and a nurse's acts)."""
        profession = data.get("profession", PHYSICIAN)
        errors: dict[str, list[str]] = {}
        if profession == PHYSICIAN:
            for name in ("motive", "treating_physician"):
                if name not in data:
                    errors[name] = [REQUIRED]
            if "usual_professional" in data:
                errors["usual_professional"] = ["Pour un médecin, indiquez le médecin traitant (treating_physician)."]
        else:
            if "usual_professional" not in data:
                errors["usual_professional"] = [REQUIRED]
            if "treating_physician" in data:
                errors["treating_physician"] = ["Hors médecins, indiquez le professionnel habituel (usual_professional)."]
        acts = data.get("acts")
        if profession == NURSE:
            if not acts:
                errors["acts"] = ["Indiquez au moins un soin demandé."]
            elif any(act not in NURSE_ACTS for act in acts):
                errors["acts"] = ["Soin inconnu : " + ", ".join(NURSE_ACTS) + "."]
        if errors:
            raise ma.ValidationError(errors)

    @ma.post_load
    def patient_phone(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Put the patient's number in E.164, a national format read as in the community's region.

        The one who has the request first is `treating_physician` whatever the profession (the usual nurse...).
        """
        if "usual_professional" in data:
            data["treating_physician"] = data.pop("usual_professional")
        data.setdefault("motive", "other")
        patient = data["patient"]
        if patient.get("phone"):
            try:
                patient["phone"] = normalize_phone(patient["phone"], community_region(data["community_id"]))
            except ValueError:
                raise ma.ValidationError({"patient": {"phone": ["Numéro de téléphone invalide."]}}) from None
        return data


class RequestQuery(Schema):
    community_id = Id()
    state = fields.String(validate=validate.OneOf(STATES))
    limit = Integer(load_default=50, minimum=1, maximum=200)
    before = Id()


class PatientOut(Schema):
    first_name = fields.String()
    last_name = fields.String()
    birth_date = fields.Date(allow_none=True)
    age = Integer(allow_none=True)
    sex = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    postcode = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    address = fields.String(allow_none=True, metadata={"description": "Numéro et rue ; vue complète seulement"})
    commune = fields.String(
        allow_none=True, metadata={"description": "La commune où l'adresse a été localisée (null : non localisée)"}
    )


class TreatingOut(Schema):
    status = fields.String()
    rpps = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    registered = fields.Boolean()


class AcceptedByOut(Schema):
    physician_id = Id()
    name = fields.String()
    kind = fields.String()


class CallbackOut(Schema):
    result = fields.String()
    at = UTCDateTime()


class ObservationsOut(Schema):
    systolic = Integer(allow_none=True)
    diastolic = Integer(allow_none=True)
    heart_rate = Integer(allow_none=True)
    temperature_c = fields.Float(allow_none=True)
    spo2 = Integer(allow_none=True)
    note = fields.String(allow_none=True)


class RegulatorOut(Schema):
    rpps = fields.String()
    name = fields.String()


class RequesterOut(Schema):
    name = fields.String()
    profession = fields.String(allow_none=True)
    rpps = fields.String(allow_none=True)
    finess = fields.String(allow_none=True)


class RequestOut(Schema):
    id = Id()
    community_id = Id()
    profession = fields.String(metadata={"description": "Code de la profession (TRE_G15) à qui va la demande"})
    acts = fields.List(fields.String(), allow_none=True, metadata={"description": "Ce qui est demandé (autres professions)"})
    title = fields.String(metadata={"description": "Son titre, dans les mots de sa profession"})
    state = fields.String(validate=validate.OneOf(STATES))
    source = fields.String()
    motive = fields.String()
    description = fields.String(allow_none=True)
    opened_at = UTCDateTime()
    exclusive_until = UTCDateTime(allow_none=True)
    expires_at = UTCDateTime()
    patient = fields.Nested(
        PatientOut, allow_none=True, metadata={"description": "null once erased (retention, or the patient's request)"}
    )
    where = fields.String(
        allow_none=True,
        metadata={
            "description": "Où est le patient, sans la rue : « ≈ 4 km — Ormesson-sur-Marne » (la distance au cabinet "
            "du professionnel à qui elle est proposée, quand elle est connue, et la commune)"
        },
    )
    distance_km = Integer(
        allow_none=True, metadata={"description": "Distance du patient au cabinet, arrondie au kilomètre (offres seulement)"}
    )
    treating_physician = fields.Nested(TreatingOut)
    usual_professional = fields.Nested(
        TreatingOut, allow_none=True, metadata={"description": "Le professionnel habituel (null pour un médecin)"}
    )
    accepted_by = fields.Nested(AcceptedByOut, allow_none=True)
    accepted_at = UTCDateTime(allow_none=True)
    appointment_at = UTCDateTime(allow_none=True)
    place = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    synthesis_status = fields.String(
        allow_none=True,
        validate=validate.OneOf(SYNTHESIS_STATUSES),
        metadata={
            "description": "What became of the synthesis sent to the treating GP (null: none written yet). pending; sent "
            "(the platform's MSSanté operator took it); delivered (a delivery report, or the GP's software processed it); "
            "read (a read receipt came back); refused (the GP's software refused it or deleted it unread); failed (not "
            "sent, or bounced); not_sendable (no MSSanté address); not_needed (the treating GP saw the patient). "
            "The reason of a refusal or failure is in the request's events (synthesis_refused, synthesis_failed)."
        },
    )
    relaunch_of = Id(allow_none=True, metadata={"description": "the request this one relaunches"})
    callback = fields.Nested(CallbackOut, allow_none=True)
    anonymised = fields.Boolean()
    modality = fields.String(validate=validate.OneOf(MODALITIES), metadata={"description": "in_person ou teleconsultation"})
    teleconsultation_url = fields.String(
        allow_none=True,
        metadata={"description": "Le lien de téléconsultation donné par le médecin qui a accepté (vue complète seulement)"},
    )
    observations = fields.Nested(
        ObservationsOut, allow_none=True, metadata={"description": "Les constantes relevées par le demandeur (vue complète)"}
    )
    sas_regulator = fields.Nested(
        RegulatorOut, allow_none=True, metadata={"description": "Le médecin régulateur du SAS (source sas), null sinon"}
    )
    requester = fields.Nested(
        RequesterOut,
        allow_none=True,
        metadata={"description": "Le demandeur (infirmier, pharmacien, EHPAD) qui l'a ouverte, null pour une autre source"},
    )
    consent_at = UTCDateTime(allow_none=True, metadata={"description": "Quand le consentement du patient a été recueilli"})
    erased_at = UTCDateTime(
        allow_none=True,
        metadata={
            "description": "Quand l'identité du patient, son téléphone, la description et le texte de la synthèse ont "
            "été effacés (durée de conservation de la communauté, ou demande du patient) ; null sinon"
        },
    )


class WarningOut(Schema):
    code = fields.String(
        validate=validate.OneOf(("treating_address_changed", "address_not_located")),
        metadata={
            "description": "treating_address_changed : l'adresse MSSanté saisie remplace celle de l'annuaire ; "
            "address_not_located : l'adresse du patient n'a pas été localisée, la demande ira à tous les "
            "professionnels de sa profession après la phase exclusive"
        },
    )
    profession = fields.String(metadata={"description": "address_not_located : la profession de la demande"})
    before = fields.String(metadata={"description": "L'adresse que l'annuaire de la communauté avait"})
    after = fields.String(metadata={"description": "L'adresse retenue, celle saisie"})


class OpenedOut(RequestOut):
    warnings = fields.List(
        fields.Nested(WarningOut),
        metadata={"description": "Ce que l'opérateur doit savoir de la demande qu'il vient d'ouvrir ; vide le plus souvent"},
    )


class CancelIn(Schema):
    reason = text(500, required=True, multiline=True)


class AcceptIn(Schema):
    appointment_at = UTCDateTime(required=True)
    place = text(300)
    teleconsultation_url = fields.String(
        validate=[validate.Length(max=500), SINGLE_LINE],
        metadata={
            "description": "Obligatoire pour une demande de téléconsultation : le lien https de votre outil, sur un hôte "
            "que la communauté autorise (teleconsultation_hosts), sinon 422 ; refusé pour une consultation en présentiel"
        },
    )


class RefuseIn(Schema):
    reason = text(500, multiline=True)


class CallIn(Schema):
    community_id = Id(required=True, strict=True)
    source = fields.String(required=True, validate=validate.OneOf(SOURCES))
    outcome = fields.String(required=True, validate=validate.OneOf(CALL_OUTCOMES))
    motive = fields.String(validate=validate.OneOf(MOTIVES))


class CallOut(Schema):
    id = Id()
    community_id = Id()
    source = fields.String()
    outcome = fields.String()
    motive = fields.String(allow_none=True)
    received_at = UTCDateTime()


class CallbackIn(Schema):
    result = fields.String(required=True, validate=validate.OneOf(CALLBACK_RESULTS))
    note = text(1000, multiline=True)


class ReturningIn(Schema):
    """Who the operator is typing in: the phone, or the last name, first name and birth date (or all four)."""

    phone = fields.String(
        validate=[validate.Length(min=4, max=40), PHONE_CHARS, SINGLE_LINE],
        metadata={"description": "Lu comme dans la région de la communauté, comparé en E.164"},
    )
    first_name = name_text(100)
    last_name = name_text(100)
    birth_date = fields.Date(validate=validate.Range(min=date(1900, 1, 1), max=date(2100, 1, 1)))

    @ma.validates_schema
    def enough(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("phone") and not (data.get("first_name") and data.get("last_name") and data.get("birth_date")):
            message = "Indiquez le téléphone du patient, ou ses nom, prénom et date de naissance."
            raise ma.ValidationError({"phone": [message]})


class ReturningPatientOut(Schema):
    first_name = fields.String()
    last_name = fields.String()
    birth_date = fields.Date(allow_none=True)
    phone = fields.String(allow_none=True)


class ReturningOut(Schema):
    """One of the patient's requests of the last 30 days in the community."""

    id = Id(required=True)
    opened_at = UTCDateTime(required=True)
    source = fields.String()
    motive = fields.String()
    state = fields.String(validate=validate.OneOf(STATES))
    outcome = fields.String(allow_none=True)
    accepted_by = fields.Nested(AcceptedByOut, allow_none=True)
    appointment_at = UTCDateTime(allow_none=True)
    callback = fields.Nested(CallbackOut, allow_none=True)
    relaunch_of = Id(allow_none=True)
    patient = fields.Nested(ReturningPatientOut)
    matched_by = fields.List(
        fields.String(validate=validate.OneOf(("phone", "identity"))),
        metadata={"description": "phone : même téléphone ; identity : même nom, prénom et date de naissance"},
    )


class ReleaseIn(Schema):
    reason = text(500, required=True, multiline=True)


BIRTH_MIN = date(1900, 1, 1)


class OutcomeIn(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    synthesis = text(10000, multiline=True)
    patient_birth_date = fields.Date(
        validate=validate.Range(min=BIRTH_MIN, error="Date de naissance invalide\u00a0: le 1er janvier 1900 au plus tôt."),
        metadata={
            "description": "Date de naissance du patient (AAAA-MM-JJ), lue sur sa carte Vitale, quand la demande a été "
            "ouverte sans elle : elle est alors enregistrée sur la demande (événement patient_birth_date_completed, "
            "sans la date). Obligatoire quand le patient a été vu et que la synthèse part au médecin traitant par "
            "MSSanté (le document CDA national l'exige) : sinon 422 `birth_date_required`. Ignorée quand la demande "
            "a déjà une date de naissance. Ni avant 1900, ni dans le futur (422 `invalid`)."
        },
    )

    @ma.validates_schema
    def synthesis_when_seen(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("outcome") == State.SEEN and not data.get("synthesis"):
            raise ma.ValidationError({"synthesis": ["La synthèse est obligatoire quand le patient a été vu."]})


def birth_date_errors(value: date | None, *, today: date) -> dict[str, list[str]]:
    """Return the errors of a birth date given with an outcome that a schema cannot see: a date still to come."""
    if value is not None and value > today:
        return {"patient_birth_date": ["Date de naissance invalide\u00a0: elle est dans le futur."]}
    return {}


class AccessUserOut(Schema):
    id = Id(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)


class AccessOut(Schema):
    id = Id(required=True)
    at = UTCDateTime(required=True)
    what = fields.String(required=True, metadata={"enum": list(ACCESS_KINDS)})
    client = fields.String(allow_none=True)
    reference = fields.String(
        allow_none=True, metadata={"description": "La référence de la demande du patient (subject_*, rectification)"}
    )
    user = fields.Nested(AccessUserOut, required=True)


class EventOut(Schema):
    id = Id()
    at = UTCDateTime()
    type = fields.String()
    actor = fields.Dict(allow_none=True)
    data = fields.Dict()


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    return value


def request_json(shown: dict[str, Any]) -> dict[str, Any]:
    """Return what the policy shows (a dict) as the JSON body RequestOut documents (its dump, without its cost per call)."""
    return _json_value(shown)  # type: ignore[no-any-return]
