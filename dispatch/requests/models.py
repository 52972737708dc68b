"""Requests, the offers made of them to physicians, and the append-only event log."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.communities.models import Community, DirectoryEntry, Physician
from dispatch.db import Model, UTCDateTime
from dispatch.encryption import EncryptedText
from dispatch.events import Event
from dispatch.geo.places import Precision
from dispatch.professions import CODES, PHYSICIAN
from dispatch.requests.states import OUTCOMES, STATES, CallbackResult, OfferStatus, Phase, SynthesisStatus

__all__ = ["Event", "Offer", "OfferLink", "Request", "Synthesis"]


def one_of(column: str, values: Iterable[str], *, nullable: bool = False) -> CheckConstraint:
    """Return the CHECK constraint that keeps `column` to `values` (migration 0013 writes the same)."""
    listed = ", ".join(f"'{value}'" for value in values)
    condition = f"{column} IN ({listed})"
    return CheckConstraint(f"{column} IS NULL OR {condition}" if nullable else condition, name=column)


SOURCES = ("cot", "sas", "samu", "pharmacy", "nurse", "ehpad", "emergency_dept", "other")
REQUESTER_SOURCES = ("nurse", "pharmacy", "ehpad")  # what a requester's request may come from
MODALITIES = ("in_person", "teleconsultation")
MOTIVES = ("infectious", "ent", "respiratory", "trauma", "digestive", "dermatology", "rheumatology", "urinary", "other")
TREATING_STATUSES = ("declared", "none", "unknown")
CALLBACK_RESULTS = tuple(result.value for result in CallbackResult)


class Request(Model):
    __tablename__ = "requests"
    __table_args__ = (
        UniqueConstraint("opened_by_id", "idempotency_key"),
        UniqueConstraint("relaunch_of_id"),  # a request is relaunched at most once
        Index("ix_requests_community_opened", "community_id", "opened_at"),
        Index("ix_requests_community_delay", "community_id", "accept_delay_us", "opened_at"),
        Index("ix_requests_community_closed", "community_id", "closed_at"),  # the daily erasure (dispatch.privacy)
        one_of("state", STATES),
        one_of("outcome", OUTCOMES, nullable=True),
        one_of("accepted_phase", Phase, nullable=True),
        one_of("synthesis_status", SynthesisStatus, nullable=True),
        one_of("callback_result", CallbackResult, nullable=True),
        one_of("profession", CODES),
        one_of("patient_precision", Precision, nullable=True),
        one_of("source", SOURCES),
        one_of("modality", MODALITIES),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    # Whose request it is (dispatch.professions): only members of that profession are offered it. For a
    # profession other than 10, the treating_* columns name the usual professional (the usual nurse...).
    profession: Mapped[str] = mapped_column(String(2), default=PHYSICIAN, server_default=PHYSICIAN)
    # What is asked (a nurse's codes: prise_de_sang, injection...; other professions' own words); None for physicians.
    acts: Mapped[list[str] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20), index=True, active_history=True)
    source: Mapped[str] = mapped_column(String(20))
    motive: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(EncryptedText)  # clinical: encrypted at rest
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # Opened by a requester (a nurse, a pharmacist, an EHPAD) for a patient in front of them, who consented (when).
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("requesters.id"), index=True)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # {"systolic", "diastolic", "heart_rate", "temperature_c", "spo2", "note"} as JSON: clinical, encrypted at rest.
    observations: Mapped[str | None] = mapped_column(EncryptedText)
    # in_person or teleconsultation; for a teleconsultation, the link the accepting physician gave (their tool's).
    modality: Mapped[str] = mapped_column(String(20), default="in_person", server_default="in_person")
    teleconsultation_url: Mapped[str | None] = mapped_column(String(500))
    # The SAS's regulating physician, for a request from the SAS (what makes the consultation eligible for the supplement).
    sas_regulator_rpps: Mapped[str | None] = mapped_column(String(11))
    sas_regulator_name: Mapped[str | None] = mapped_column(String(200))

    patient_first_name: Mapped[str] = mapped_column(String(100))
    patient_last_name: Mapped[str] = mapped_column(String(100))
    patient_birth_date: Mapped[date | None] = mapped_column(Date)
    patient_sex: Mapped[str | None] = mapped_column(String(1))
    patient_phone: Mapped[str | None] = mapped_column(String(20))
    patient_postcode: Mapped[str | None] = mapped_column(String(10))
    patient_city: Mapped[str | None] = mapped_column(String(100))
    # Where the patient is (WGS 84 degrees), set by geocoding; None: not placed (everyone of the profession at once).
    patient_lat: Mapped[float | None] = mapped_column(Float)
    patient_lon: Mapped[float | None] = mapped_column(Float)
    # The street and number typed (identity: never in an offer, erased with the rest); how the place was matched
    # (housenumber, street or municipality) and the commune it is in, the only part of it an anonymised offer shows.
    patient_address: Mapped[str | None] = mapped_column(String(300))
    patient_precision: Mapped[str | None] = mapped_column(String(20))
    patient_commune: Mapped[str | None] = mapped_column(String(100))

    treating_status: Mapped[str] = mapped_column(String(10))
    treating_rpps: Mapped[str | None] = mapped_column(String(11))
    treating_name: Mapped[str | None] = mapped_column(String(200))
    treating_mssante: Mapped[str | None] = mapped_column(String(254))
    treating_physician_id: Mapped[int | None] = mapped_column(ForeignKey("physicians.id"), index=True)
    treating_directory_id: Mapped[int | None] = mapped_column(ForeignKey("directory_entries.id"))

    # The escalation plan, copied from the community when the request opens.
    plan_exclusive_s: Mapped[int]
    plan_response_s: Mapped[int]
    # The waves by distance after the exclusive phase ([{"after_s", "radius_km"}]), copied from the profession's rules;
    # how many have opened, and when the next one opens (the tick looks then: next_deadline).
    plan_waves: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    waves_opened: Mapped[int] = mapped_column(default=0, server_default="0")
    next_wave_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    exclusive_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The next instant the tick must look at this request; NULL once it is closed.
    next_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    community_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("physicians.id"), index=True, active_history=True)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, active_history=True)
    accepted_phase: Mapped[str | None] = mapped_column(String(20))
    appointment_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    place: Mapped[str | None] = mapped_column(String(300))
    outcome: Mapped[str | None] = mapped_column(String(10))
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    # How many times the accepting physician handed the patient back (each round's messages are named by it).
    releases: Mapped[int] = mapped_column(default=0, server_default="0")
    # The request this one relaunches (same patient and motive, fresh windows), if any.
    relaunch_of_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"))
    # The operator's call-back once the request expired: its result, note, when and by whom.
    callback_result: Mapped[str | None] = mapped_column(String(20))
    callback_note: Mapped[str | None] = mapped_column(String(1000))
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Copies kept for the report, so that it reads requests alone: accepted_at - opened_at in
    # microseconds, set at acceptance; the status of the request's synthesis, set with the synthesis.
    accept_delay_us: Mapped[int | None] = mapped_column(BigInteger)
    synthesis_status: Mapped[str | None] = mapped_column(String(20), active_history=True)
    # When its patient's identity, phone, description and synthesis text were erased (retention or the patient's
    # request): the names are blanked (""), the rest NULL; the dates, motive, source, postcode and outcome stay.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Every write of a request is conditional on the version it read (UPDATE ... WHERE id AND version): the
    # first acceptance wins exactly once, a tick never overwrites an acceptance (StaleDataError instead).
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    community: Mapped[Community] = relationship(lazy="joined")
    # Loaded only where used: a request is read on every call, its physicians rarely.
    treating_physician: Mapped[Physician | None] = relationship(foreign_keys=[treating_physician_id], lazy="select")
    treating_directory: Mapped[DirectoryEntry | None] = relationship(lazy="select")
    accepted_by: Mapped[Physician | None] = relationship(foreign_keys=[accepted_by_id], lazy="select")


class Offer(Model):
    __tablename__ = "offers"
    __table_args__ = (
        UniqueConstraint("request_id", "physician_id"),
        Index("ix_offers_physician_status", "physician_id", "status"),
        one_of("status", OfferStatus),
        one_of("phase", Phase),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    physician_id: Mapped[int] = mapped_column(ForeignKey("physicians.id"))
    phase: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # states.OfferStatus
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))
    # As the crow flies from the patient to the practice, when both are placed.
    distance_km: Mapped[float | None] = mapped_column(Float)


# pending: waits in the outbox; sent: the platform's MSSanté operator took it; then what the reports read back
# from the platform's mailbox say (dispatch.notify.receiving): delivered (a DSN, or the GP's software processed it),
# read (a read receipt), refused (the GP's software refused it or deleted it unread); failed: not sent, or bounced;
# not_sendable: no treating GP or no address; not_needed: the treating GP saw the patient themselves.
SYNTHESIS_STATUSES = tuple(status.value for status in SynthesisStatus)


class Synthesis(Model):
    """The synthesis a physician writes after seeing the patient, for the treating GP."""

    __tablename__ = "syntheses"
    __table_args__ = (one_of("status", SynthesisStatus),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), unique=True)
    physician_id: Mapped[int] = mapped_column(ForeignKey("physicians.id"))
    text: Mapped[str] = mapped_column(EncryptedText)  # encrypted at rest; the PDF is made from it, never stored
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)
    to_address: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(20), index=True)
    # The Message-ID it was sent with (the reports name it by it), when its status last moved, and why it was
    # refused or failed (French, with the remote's own words).
    message_id: Mapped[str | None] = mapped_column(String(250), index=True)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_reason: Mapped[str | None] = mapped_column(String(500))


class OfferLink(Model):
    """A link in an offer's SMS: one tap signs its physician in to that request only, once, until its deadline.

    Only its digest is kept; the SMS's copy in the outbox is blanked once sent (dispatch.delivery).
    """

    __tablename__ = "offer_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    physician_id: Mapped[int] = mapped_column(ForeignKey("physicians.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
