"""Statements of the busiest request reads, built once with bound parameters (bench/README: throughput, accept).

Each is a row of the shown columns, no request loaded: the offers list and a request's read are 80 % of the API
mix, and the losers of an accept race are answered from `ACCEPT_SEEN` before any ORM load.
"""

from __future__ import annotations

from sqlalchemy import and_, bindparam, select

from dispatch.communities.models import Community
from dispatch.db import UTCDateTime
from dispatch.requests.models import Offer, Request
from dispatch.requests.states import AWAITING, OPEN_STATES

# What policy.show() reads of a request: a row of these answers it without loading the request (lists).
PRESENTED_COLUMNS = tuple(
    Request.__table__.c[name]
    for name in (
        "id",
        "community_id",
        "profession",
        "acts",
        "state",
        "source",
        "motive",
        "description",
        "opened_at",
        "exclusive_until",
        "expires_at",
        "patient_first_name",
        "patient_last_name",
        "patient_birth_date",
        "patient_sex",
        "patient_phone",
        "patient_postcode",
        "patient_city",
        "patient_address",
        "patient_commune",
        "treating_status",
        "treating_physician_id",
        "treating_rpps",
        "treating_name",
        "accepted_by_id",
        "accepted_at",
        "appointment_at",
        "relaunch_of_id",
        "callback_result",
        "callback_at",
        "place",
        "outcome",
        "synthesis_status",
        "erased_at",
        "opened_by_id",
        "requester_id",
        "consent_at",
        "observations",
        "modality",
        "teleconsultation_url",
        "sas_regulator_rpps",
        "sas_regulator_name",
    )
)

# GET /requests/{id}: the consoles refresh it.
PRESENTED = (
    select(*PRESENTED_COLUMNS, Community.timezone)
    .join(Community, Community.id == Request.community_id)
    .where(Request.id == bindparam("request_id"))
)

# GET /me/offers: a physician's phone asks for it more than anything else. Offers that wait for an answer (a refused
# one has left the list, as on the physician's page; it may still be taken from its own page while open).
OFFERS = (
    select(*PRESENTED_COLUMNS, Community.timezone, Offer.distance_km)
    .select_from(Request)
    .join(Offer, Offer.request_id == Request.id)
    .join(Community, Community.id == Request.community_id)
    .where(
        Offer.physician_id == bindparam("physician_id"),
        Offer.status.in_(AWAITING),
        Request.state.in_(OPEN_STATES),
        Request.expires_at > bindparam("now", type_=UTCDateTime()),
    )
    .order_by(Request.id.desc())
    .limit(bindparam("limit"))
)
OFFERS_BEFORE = OFFERS.where(Request.id < bindparam("before"))

# POST /requests/{id}/accept: when many physicians accept at once, all but one lose, answered from this read and
# the machine (`physician_actions.accept_offer`) before any ORM load; `offer_status` also says whether it was offered.
ACCEPT_SEEN = (
    select(
        Request.id,
        Request.community_id,
        Request.state,
        Request.exclusive_until,
        Request.expires_at,
        Request.treating_physician_id,
        Request.accepted_by_id,
        Request.opened_at,
        Request.community_at,
        Request.treating_mssante,
        Request.patient_phone,
        Request.version,
        Request.requester_id,
        Request.modality,
        Offer.status.label("offer_status"),
        Offer.phase.label("offer_phase"),
    )
    .outerjoin(Offer, and_(Offer.request_id == Request.id, Offer.physician_id == bindparam("physician_id")))
    .where(Request.id == bindparam("request_id"))
)
