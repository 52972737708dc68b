"""Schemas of communities, members and accounts at the HTTP edge, shared by the API and the staff pages."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

import marshmallow as ma
from flask import g, has_app_context, has_request_context, request
from marshmallow import fields, validate

from dispatch import teleconsultation
from dispatch.communities import service
from dispatch.communities.identity import IDENTITY_FIELDS, custodian_problem, mssante_from_problem, sms_sender_problem
from dispatch.communities.models import KINDS, RETENTION_RANGE, TRAIL_MIN, Community
from dispatch.db import db
from dispatch.phones import REGIONS, in_regions, member_regions, normalize_phone
from dispatch.professions import CODES, PHYSICIAN
from dispatch.schemas import PHONE_CHARS, SINGLE_LINE, Id, Integer, Schema, UTCDateTime, name_text, text

TIMEZONES = sorted(available_timezones())
WINDOW = validate.Range(min=0, max=7 * 24 * 3600)
REGION_ERROR = "Région inconnue\u00a0: FR, RE, GP, MQ, GF, YT ou PM attendue."
REGION = fields.String(
    validate=validate.OneOf(REGIONS, error=REGION_ERROR),
    metadata={
        "description": "Région de numérotation des numéros saisis au format national (« 41 23 45 ») : FR (métropole), "
        "RE, GP, MQ, GF, YT ou PM. Un numéro à dix chiffres se lit d'après son préfixe (0690, 0692…), où qu'il soit saisi."
    },
)


def community_region(community_id: object) -> str:
    """Return the phone region of a community, FR when there is no such community (refused further on)."""
    if not isinstance(community_id, int) or isinstance(community_id, bool):
        return "FR"
    community = db.session.get(Community, community_id)
    return community.region if community is not None else "FR"


def windows_valid(data: dict[str, Any], community: Community | None = None) -> None:
    """Refuse a response window under a minute, or an exclusive window not shorter than it."""
    exclusive = data.get("exclusive_window_s", community.exclusive_window_s if community else 3600)
    response = data.get("response_window_s", community.response_window_s if community else 7200)
    if response < 60:
        raise ma.ValidationError({"response_window_s": ["La fenêtre de réponse doit durer au moins 60 secondes."]})
    if exclusive >= response:
        raise ma.ValidationError(
            {"exclusive_window_s": ["La fenêtre réservée au médecin traitant doit être plus courte que la fenêtre de réponse."]}
        )


ADDRESS_DOC = (
    "Adresse du cabinet (« 12 rue des Lilas, 94500 Champigny-sur-Marne ») ; professionnels seulement. Géolocalisée "
    "quand elle change (DISPATCH_GEOCODER), sauf si lat et lon sont donnés"
)


class CommunityIn(Schema):
    name = text(200, required=True)
    timezone = fields.String(load_default="Europe/Paris", validate=validate.OneOf(TIMEZONES))
    exclusive_window_s = Integer(load_default=3600, validate=WINDOW, strict=True)
    response_window_s = Integer(load_default=7200, validate=WINDOW, strict=True)
    region = fields.String(load_default="FR", validate=validate.OneOf(REGIONS, error=REGION_ERROR), metadata=REGION.metadata)

    @ma.validates_schema
    def windows(self, data: dict[str, Any], **kwargs: Any) -> None:
        windows_valid(data)


SMS_BUDGET_DOC = (
    "SMS envoyés au plus par jour (heure locale) pour la communauté, quel qu'en soit l'objet ; au-delà, ils échouent "
    "avec le statut over_budget et l'administrateur est prévenu une fois par jour"
)


def _checked(problem: Any) -> Any:
    """Return a validator raising the French reason `problem` gives, if any."""

    def check(value: str | None) -> None:
        reason = problem(value) if value is not None else None
        if reason:
            raise ma.ValidationError(reason)

    return check


IDENTITY_ADMIN = " ; l'administrateur seul le change (403 admin_only sinon) ; null ou vide : le réglage de l'installation"
CUSTODIAN_DOC = (
    "Identifiant national de structure (IdNatStruct) de la CPTS : 3 suivi du SIRET ou 1 suivi du FINESS ; gardien "
    "(custodian) du CDA de ses synthèses et institution auteur de l'XDM (DISPATCH_CUSTODIAN_ID si null)"
)
MSSANTE_FROM_DOC = (
    "Boîte aux lettres applicative MSSanté de la CPTS : expéditeur de ses messages sécurisés, boîte lue pour leurs "
    "accusés ; son certificat et sa clé sont <DISPATCH_MSSANTE_CERTS_DIR>/<adresse>.crt et .key (DISPATCH_SMTP_FROM si null)"
)
SMS_SENDER_DOC = (
    "Émetteur de ses SMS : 3 à 11 lettres ou chiffres (déclaré auprès du fournisseur SMS), ou un numéro (DISPATCH_SMS_FROM si null)"
)
RETENTION_DOC = (
    "Jours de conservation, après la clôture d'une demande, de l'identité du patient, de son téléphone, de la "
    "description et de la synthèse (de 30 à 3650 ; 365 par défaut) ; choisi par la CPTS, responsable du traitement, "
    "et réglé par l'administrateur (403 admin_only sinon)"
)
TRAIL_DOC = (
    "Jours de conservation du registre des accès et des adresses et textes des messages (180 au moins ; 1095 par "
    "défaut) ; réglé par l'administrateur (403 admin_only sinon)"
)


TELECONSULTATION_DOC = (
    "Hôtes des outils de téléconsultation dont les médecins peuvent donner le lien (https), 20 au plus ; un point "
    "initial (.exemple.fr) admet ses sous-domaines ; vide : aucun lien accepté (le produit n'héberge aucune vidéo)"
)


def _hosts_valid(hosts: list[str]) -> None:
    problems = [problem for problem in map(teleconsultation.host_entry_problem, teleconsultation.normalize_hosts(hosts)) if problem]
    if problems:
        raise ma.ValidationError(problems[0])


class CommunityPatch(Schema):
    name = text(200)
    teleconsultation_hosts = fields.List(
        fields.String(validate=[validate.Length(min=1, max=253), SINGLE_LINE]),
        validate=[validate.Length(max=teleconsultation.MAX_HOSTS, error="20 hôtes au plus."), _hosts_valid],
        metadata={"description": TELECONSULTATION_DOC},
    )
    exclusive_window_s = Integer(validate=WINDOW, strict=True)
    response_window_s = Integer(validate=WINDOW, strict=True)
    allow_non_mssante = fields.Boolean(
        metadata={
            "description": "Accepter pour un médecin traitant une adresse hors de l'espace MSSanté (mssante.fr) ; "
            "décision de l'administrateur seul (403 admin_only pour un coordinateur)"
        }
    )
    region = REGION
    sms_daily_budget = Integer(
        strict=True,
        validate=validate.Range(min=0, max=100_000, error="Budget SMS entre 0 et 100 000 par jour."),
        metadata={"description": SMS_BUDGET_DOC + " ; l'administrateur seul le change (403 admin_only sinon)"},
    )
    retention_days = Integer(
        strict=True,
        validate=validate.Range(min=RETENTION_RANGE[0], max=RETENTION_RANGE[1], error="Conservation entre 30 et 3650 jours."),
        metadata={"description": RETENTION_DOC},
    )
    trail_days = Integer(
        strict=True,
        validate=validate.Range(min=TRAIL_MIN, max=36500, error="Registre des accès conservé 180 jours au moins."),
        metadata={"description": TRAIL_DOC},
    )
    totp_operators = fields.Boolean(
        metadata={
            "description": "Demander aussi aux opérateurs la double authentification (TOTP) en production ; "
            "seul l'administrateur peut la retirer (403 `code: admin_only`)"
        }
    )
    custodian_id = fields.String(
        allow_none=True,
        validate=[validate.Length(max=15), _checked(custodian_problem)],
        metadata={"description": CUSTODIAN_DOC + IDENTITY_ADMIN},
    )
    mssante_from = fields.String(
        allow_none=True,
        validate=[validate.Length(max=254), _checked(mssante_from_problem)],
        metadata={"description": MSSANTE_FROM_DOC + IDENTITY_ADMIN},
    )
    sms_sender = fields.String(
        allow_none=True,
        validate=[validate.Length(max=16), _checked(sms_sender_problem)],
        metadata={"description": SMS_SENDER_DOC + IDENTITY_ADMIN},
    )

    @ma.pre_load
    def identity_blank(self, data: Any, **kwargs: Any) -> Any:
        """Drop the spaces around an identity value; an empty one is None: the installation's setting."""
        if isinstance(data, dict):
            data = dict(data)
            for key in IDENTITY_FIELDS & data.keys():
                if isinstance(data[key], str):
                    value = data[key].strip()
                    data[key] = (value.lower() if key == "mssante_from" else value) or None
        return data

    @ma.post_load
    def hosts_lowercase(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Keep the teleconsultation hosts lowercased, once each."""
        if "teleconsultation_hosts" in data:
            data["teleconsultation_hosts"] = teleconsultation.normalize_hosts(data["teleconsultation_hosts"])
        return data


class CommunityOut(Schema):
    id = Id()
    name = fields.String()
    timezone = fields.String()
    exclusive_window_s = Integer()
    response_window_s = Integer()
    allow_non_mssante = fields.Boolean()
    region = fields.String(metadata={"description": REGION.metadata["description"]})
    sms_daily_budget = Integer(metadata={"description": SMS_BUDGET_DOC})
    totp_operators = fields.Boolean()
    custodian_id = fields.String(allow_none=True, metadata={"description": CUSTODIAN_DOC})
    mssante_from = fields.String(allow_none=True, metadata={"description": MSSANTE_FROM_DOC})
    sms_sender = fields.String(allow_none=True, metadata={"description": SMS_SENDER_DOC})
    retention_days = Integer(metadata={"description": RETENTION_DOC})
    trail_days = Integer(metadata={"description": TRAIL_DOC})
    teleconsultation_hosts = fields.List(fields.String(), allow_none=True, metadata={"description": TELECONSULTATION_DOC})
    created_at = UTCDateTime()


PASSWORD_LENGTH = validate.Length(min=10, max=256, error="Le mot de passe doit compter entre 10 et 256 caractères.")
PHONE = [validate.Length(min=4, max=40, error="Numéro de téléphone invalide."), PHONE_CHARS, SINGLE_LINE]
INVITE_CHANNELS = ("sms", "mail")
PRACTICE_PHONE_DOC = (
    "Téléphone du cabinet (fixe ou portable) ; médecins seulement : le SMS de rendez-vous le donne au patient, "
    "pour prévenir s'il ne peut pas venir"
)
NOT_MSSANTE = "L'adresse doit être une adresse de messagerie sécurisée de santé (domaine mssante.fr)."


OUTSIDE_REGIONS = (
    "Numéro hors de France métropolitaine et de la région de la communauté\u00a0: seul l'administrateur peut "
    "enregistrer un numéro étranger."
)


def _by_admin() -> bool:
    """Tell whether the signed-in user of this request (API or pages) is the administrator."""
    user = g.get("user") if has_app_context() else None
    return getattr(user, "role", None) == "admin"


class _MemberFields(Schema):
    """What the member schemas check against their community: phone numbers in its region, MSSanté addresses."""

    def __init__(self, *args: Any, region: str | None = None, community: Community | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The community's; None: the one named by the URL (/communities/<id>/members...).
        self.community = community
        self.region = region if region is not None else (community.region if community is not None else None)

    def _community(self) -> Community | None:
        if self.community is not None:
            return self.community
        view_args = request.view_args if has_request_context() else None
        community_id = (view_args or {}).get("community_id")
        return db.session.get(Community, community_id) if isinstance(community_id, int) else None

    def _region(self) -> str:
        if self.region is not None:
            return self.region
        community = self._community()
        return community.region if community is not None else "FR"

    def contact_errors(self, data: dict[str, Any]) -> dict[str, list[str]]:
        """Normalise the phone number in `data`; return the errors of the phone and the MSSanté address."""
        errors: dict[str, list[str]] = {}
        if data.get("phone"):
            try:
                data["phone"] = normalize_phone(data["phone"], self._region())
            except ValueError:
                errors["phone"] = ["Numéro de téléphone invalide."]
            else:
                if not in_regions(data["phone"], member_regions(self._region())) and not _by_admin():
                    errors["phone"] = [OUTSIDE_REGIONS]
        if data.get("practice_phone"):  # a landline too, and the practice may be anywhere: no region rule
            try:
                data["practice_phone"] = normalize_phone(data["practice_phone"], self._region())
            except ValueError:
                errors["practice_phone"] = ["Numéro de téléphone invalide."]
        if data.get("mssante") and not service.is_mssante(data["mssante"]):
            community = self._community()
            if community is None or not community.allow_non_mssante:
                errors["mssante"] = [NOT_MSSANTE]
        return errors


LAT_DOC = "Latitude du cabinet (WGS 84), avec lon : la distance au patient décide des vagues"
LON_DOC = "Longitude du cabinet (WGS 84), avec lat"


def place_errors(data: dict[str, Any]) -> dict[str, list[str]]:
    """Refuse a practice's latitude without its longitude, or the other way round."""
    if ("lat" in data) != ("lon" in data) or (data.get("lat") is None) != (data.get("lon") is None):
        return {"lon" if "lat" in data else "lat": ["Donnez la latitude et la longitude du cabinet ensemble."]}
    return {}


def requester_errors(data: dict[str, Any], given: dict[str, Any]) -> dict[str, list[str]]:
    """Return what a requester lacks: a profession and a valid RPPS, or an establishment's valid FINESS."""
    errors: dict[str, list[str]] = {}
    if data.get("kind") or data.get("mssante"):
        errors["kind" if data.get("kind") else "mssante"] = ["Réservé aux professionnels qui reçoivent les demandes."]
    if "finess" in data:
        if not service.finess_valid(data["finess"]):
            errors["finess"] = ["Numéro FINESS invalide (9 caractères, clé de Luhn)."]
    elif "finess" not in given:
        if not data.get("rpps") and "rpps" not in given:
            errors["rpps"] = ["Un demandeur a un numéro RPPS (avec sa profession) ou le FINESS de son établissement."]
        elif data.get("rpps") and not service.rpps_valid(data["rpps"]):
            errors["rpps"] = ["Numéro RPPS invalide (11 chiffres, clé de Luhn)."]
        if data.get("rpps") and "profession" not in data and "profession" not in given:
            errors["profession"] = ["La profession du demandeur est obligatoire avec son RPPS."]
    if data.get("rpps") and "finess" in data and not service.rpps_valid(data["rpps"]):
        errors["rpps"] = ["Numéro RPPS invalide (11 chiffres, clé de Luhn)."]
    return errors


class MemberIn(_MemberFields):
    role = fields.String(
        required=True,
        validate=validate.OneOf(("coordinator", "operator", "physician", "professional", "requester")),
        metadata={
            "description": "physician : un professionnel de la profession 10 (médecin) ; requester : un demandeur (infirmier, "
            "pharmacien avec profession et rpps, ou personnel d'un EHPAD avec finess) qui ouvre des demandes pour ses patients"
        },
    )
    finess = fields.String(
        validate=[validate.Length(equal=9, error="Numéro FINESS invalide (9 caractères)."), SINGLE_LINE],
        metadata={"description": "Demandeur d'un établissement (EHPAD) : son numéro FINESS (9 caractères, clé de Luhn)"},
    )
    profession = fields.String(
        validate=validate.OneOf(CODES, error="Profession inconnue (10, 21, 40, 50, 60 ou 70)."),
        metadata={"description": "Code de la profession (TRE_G15), obligatoire pour un professional"},
    )
    login = text(120, required=True)
    password = fields.String(
        validate=PASSWORD_LENGTH,
        metadata={"description": "Mot de passe provisoire ; sans lui, le membre reçoit une invitation (voir invite)"},
    )
    invite = fields.String(
        validate=validate.OneOf(INVITE_CHANNELS),
        metadata={
            "description": "Sans mot de passe : l'invitation à choisir son mot de passe (lien à usage unique, valable "
            "7 jours) part par SMS (sms) ou par mail (mail) ; par défaut SMS s'il a un portable, sinon mail"
        },
    )
    name = name_text(200, required=True)
    email = fields.Email(validate=validate.Length(max=254))
    phone = fields.String(validate=PHONE)
    rpps = fields.String(validate=[validate.Regexp(r"^[0-9]{11}$", error="Numéro RPPS invalide (11 chiffres)."), SINGLE_LINE])
    kind = fields.String(validate=validate.OneOf(KINDS))
    mssante = fields.Email(validate=validate.Length(max=254))
    address = text(300, metadata={"description": ADDRESS_DOC})
    practice_phone = fields.String(validate=PHONE, metadata={"description": PRACTICE_PHONE_DOC})
    lat = fields.Float(validate=validate.Range(-90, 90), metadata={"description": LAT_DOC})
    lon = fields.Float(validate=validate.Range(-180, 180), metadata={"description": LON_DOC})

    # Run even when a field is wrong, so that every mistake of a line is reported at once (a roster's report).
    @ma.validates_schema(skip_on_field_errors=False, pass_original=True)
    def physician_fields(self, data: dict[str, Any], original: Any = None, **kwargs: Any) -> None:
        errors = self.contact_errors(data)
        given = original if isinstance(original, dict) else {}
        role = data.get("role")
        if role == "professional" and "profession" not in data and "profession" not in given:
            errors["profession"] = ["La profession est obligatoire pour un professionnel de santé."]
        if role == "requester":
            errors.update(requester_errors(data, given))
        elif "finess" in data:
            errors["finess"] = ["Seul un demandeur (EHPAD) a un numéro FINESS."]
        if role == "physician" and data.get("profession", PHYSICIAN) != PHYSICIAN:
            errors["profession"] = ["Un médecin est de la profession 10 ; les autres professions ont le rôle professional."]
        if role in ("physician", "professional"):
            if "rpps" in given and "rpps" not in data:
                pass  # refused by its own field already
            elif not data.get("rpps"):
                errors["rpps"] = ["Le numéro RPPS est obligatoire pour un professionnel de santé."]
            elif not service.rpps_valid(data["rpps"]):
                errors["rpps"] = ["Numéro RPPS invalide (11 chiffres, clé de Luhn)."]
            if role == "physician" and not data.get("kind") and "kind" not in given:
                errors["kind"] = ["Le statut du médecin est obligatoire."]
        elif "profession" in data and role != "requester":
            errors["profession"] = ["Seuls les professionnels de santé ont une profession."]
        errors.update(place_errors(data))
        if "password" in data and "invite" in data:
            errors["invite"] = ["Donnez un mot de passe provisoire ou demandez une invitation, pas les deux."]
        elif "password" not in given:
            channel = data.get("invite")
            if channel == "sms" and not data.get("phone"):
                errors.setdefault("phone", ["Un numéro de portable est nécessaire pour inviter par SMS."])
            elif channel == "mail" and not data.get("email"):
                errors.setdefault("email", ["Une adresse email est nécessaire pour inviter par mail."])
            elif channel is None and not data.get("phone") and not data.get("email"):
                errors.setdefault(
                    "phone", ["Sans mot de passe provisoire, un portable ou un email est nécessaire pour envoyer l'invitation."]
                )
        if errors:
            raise ma.ValidationError(errors)

    @ma.post_load
    def as_stored(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Keep a professional as the platform stores them: the role that gets offers (physician), with a profession."""
        if data.get("role") == "professional":
            data["role"] = "physician"
            data.setdefault("kind", "titulaire")
        elif data.get("role") == "physician":
            data["profession"] = PHYSICIAN
        elif data.get("role") == "requester":
            data.setdefault("profession", None)  # an establishment's staff may have none
        return data


class MemberPatch(_MemberFields):
    """The fields of a member that change (the RPPS, the login and the role do not): a blank value clears it."""

    name = name_text(200)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(allow_none=True, validate=PHONE)
    kind = fields.String(validate=validate.OneOf(KINDS), metadata={"description": "Médecins seulement"})
    mssante = fields.Email(allow_none=True, validate=validate.Length(max=254), metadata={"description": "Médecins seulement"})
    address = text(300, allow_none=True, metadata={"description": ADDRESS_DOC})
    practice_phone = fields.String(allow_none=True, validate=PHONE, metadata={"description": PRACTICE_PHONE_DOC})
    lat = fields.Float(allow_none=True, validate=validate.Range(-90, 90), metadata={"description": LAT_DOC})
    lon = fields.Float(allow_none=True, validate=validate.Range(-180, 180), metadata={"description": LON_DOC})

    @ma.validates_schema(skip_on_field_errors=False)
    def contacts(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors = self.contact_errors(data) | place_errors(data)
        if errors:
            raise ma.ValidationError(errors)


class InvitationIn(Schema):
    channel = fields.String(
        validate=validate.OneOf(INVITE_CHANNELS),
        metadata={"description": "sms ou mail ; par défaut SMS si le membre a un portable, sinon mail"},
    )


class InvitationOut(Schema):
    channel = fields.String(metadata={"description": "sms ou mail"})
    expires_at = UTCDateTime()


class InvitationState(Schema):
    status = fields.String(
        metadata={
            "description": "sending (message pas encore parti), sent (envoyé, lien pas encore utilisé), failed (envoi ou "
            "remise en échec), expired (lien expiré sans servir), accepted (mot de passe choisi), cancelled (remplacé "
            "par un lien plus récent, ou compte désactivé)"
        }
    )
    channel = fields.String(allow_none=True)
    created_at = UTCDateTime()
    sent_at = UTCDateTime(allow_none=True)
    expires_at = UTCDateTime()


class MemberCreated(Schema):
    user_id = Id()
    role = fields.String()
    physician_id = Id()
    invitation = fields.Nested(InvitationOut, metadata={"description": "Présente quand une invitation est partie"})


class MemberOut(Schema):
    user_id = Id()
    login = fields.String()
    name = fields.String()
    role = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    active = fields.Boolean()
    pending = fields.Boolean(metadata={"description": "Invité, le membre n'a pas encore choisi son mot de passe"})
    invitation = fields.Nested(
        InvitationState, allow_none=True, metadata={"description": "La dernière invitation, s'il y en a une"}
    )
    physician = fields.Dict(allow_none=True)
    requester = fields.Dict(
        allow_none=True, metadata={"description": "Un demandeur : {profession, rpps, finess} ; null pour les autres rôles"}
    )


class AccountEventOut(Schema):
    id = Id()
    at = UTCDateTime()
    action = fields.String(
        metadata={
            "description": "created (compte ouvert), edited (un champ changé), link (lien de mot de passe ou d'invitation "
            "envoyé), deactivated, reactivated, password_changed (le titulaire a choisi un mot de passe)"
        }
    )
    user = fields.Dict(metadata={"description": "Le compte concerné : {id, name}"})
    by = fields.Dict(
        allow_none=True, metadata={"description": "Qui a agi : {id, name, role} ; null pour le titulaire hors connexion"}
    )
    data = fields.Dict(
        metadata={
            "description": "edited : {field, before, after} ; link : {purpose (reset|invitation), channel (sms|mail), to} ; "
            "created : {role, phone, email, mssante}"
        }
    )


class CommunityRole(Schema):
    id = Id()
    name = fields.String()
    role = fields.String()


class PhysicianBrief(Schema):
    id = Id()
    profession = fields.String()
    rpps = fields.String()
    kind = fields.String()
    available = fields.Boolean()


class RequesterBrief(Schema):
    profession = fields.String(allow_none=True)
    rpps = fields.String(allow_none=True)
    finess = fields.String(allow_none=True)


class MeOut(Schema):
    id = Id()
    login = fields.String()
    name = fields.String()
    role = fields.String()
    communities = fields.List(fields.Nested(CommunityRole))
    physician = fields.Nested(PhysicianBrief, allow_none=True)
    requester = fields.Nested(
        RequesterBrief, allow_none=True, metadata={"description": "Un demandeur : sa profession et son RPPS, ou son FINESS"}
    )
