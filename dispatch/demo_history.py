"""A year of closed requests for the demo community, shaped like Champigny's, generated from a fixed seed.

About 2,000 requests over the twelve months before today, more in the winter epidemics (bronchiolitis, flu),
about 80 % accepted, most by the CAMI's doctors, about 16 % of patients absent. The operator called back the
patients of expired requests: most reoriented to the SAS or given advice, a few unreachable, a few relaunched
as a new request (same patient and motive, `relaunch_of`); the last three to expire are still to call back.
About 180 calls were triaged without a request (vital emergencies sent to the 15, renewals refused, other
orientations). Inserted in bulk, then the rollups recomputed from the rows, so that the dashboard, the exports
and the PDF report show a real picture at once.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from dispatch.auth.models import User
from dispatch.calls.models import Call
from dispatch.communities.models import Community, Physician
from dispatch.db import db
from dispatch.notify.receipts import Receipt, dsn_reason, mdn_reason
from dispatch.requests import rollup, rollup_backfill
from dispatch.requests.models import Offer, Request, Synthesis
from dispatch.requests.operator_actions import RELAUNCH_COPIES
from dispatch.synthesis import messages

SEED = 94500
COUNT = 2000
KEY = "demo-history-{:04d}"  # the idempotency key of each generated request: a second run finds the first
CALL_KEY = "demo-call-{:04d}"
# Requests by month (1 = January): the winter epidemics double the summer's load.
SEASON = {1: 1.55, 2: 1.4, 3: 1.1, 4: 0.9, 5: 0.85, 6: 0.8, 7: 0.7, 8: 0.6, 9: 0.85, 10: 0.95, 11: 1.15, 12: 1.5}
WEEKDAY = (1.2, 1.0, 1.0, 1.0, 1.1, 0.9, 0.5)
HOURS = {8: 4, 9: 9, 10: 10, 11: 9, 12: 6, 13: 6, 14: 8, 15: 8, 16: 8, 17: 7, 18: 5, 19: 3}
MOTIVES = {"winter": (30, 25, 22, 6, 7, 2, 2, 3, 3), "other": (18, 18, 10, 14, 12, 8, 6, 8, 6)}
MOTIVE_KEYS = ("infectious", "ent", "respiratory", "trauma", "digestive", "dermatology", "rheumatology", "urinary", "other")
SOURCES = {"cot": 68, "sas": 24, "pharmacy": 3, "nurse": 2, "samu": 1, "emergency_dept": 1, "other": 1}
# Who accepts in the community phase, by login: the CAMI first.
TAKERS = {"dr.benali": 36, "dr.nguyen": 32, "dr.roux": 12, "dr.moreau": 8, "dr.fontaine": 7, "dr.durand": 5}
FIRST = ("Lucie", "Hugo", "Inès", "Nathan", "Chloé", "Karim", "Jeanne", "Mamadou", "Léa", "Paul", "Yasmine", "Louis")
LAST = ("Martin", "Bernard", "Dubois", "Haddad", "Lefèvre", "Diallo", "Moreau", "Garcia", "Nguyen", "Lambert")
GPS = ("Dr Anne Lemoine", "Dr Karim Saïdi", "Dr Sylvie Perrin", "Dr Marc Aubert")
# What the operator did when calling back the patient of an expired request, and how often.
CALLBACKS = {"reoriented_sas": 38, "advice_given": 30, "reoriented_15": 6, "unreachable": 13, "relaunched": 13}
CALLBACK_DELAY_MIN = (3, 45)  # minutes after the expiry
PENDING_CALLBACKS = 3  # the most recent expired requests, not called back yet
# Calls triaged without opening a request, in the year, and what became of them.
CALLS = 180
CALL_OUTCOMES = {"emergency_15": 25, "renewal_refused": 45, "other_orientation": 30}
# What the reports said of the syntheses sent over MSSanté (dispatch.delivery): most arrived and about half were
# read; a few were refused by the GP's software or bounced; a few had no report back at all (still "sent").
DELIVERIES = {"read": 52, "delivered": 36, "sent": 5, "refused": 4, "failed": 3}
DELIVERY_DELAY_MIN = {"delivered": (1, 20), "read": (90, 3 * 24 * 60), "refused": (2, 30), "failed": (1, 240), "sent": (1, 2)}
SENDER = "snp-dispatch@cpts.mssante.fr"  # the demo's MSSanté sender (DISPATCH_SMTP_FROM)
# The reasons, as dispatch.delivery keeps them from the real reports (an MDN of the GP's software, a DSN).
REFUSALS = tuple(
    Receipt("mdn", None, "refused", code, error, None, mdn_reason(kind, error)).explained
    for kind, code, error in (
        ("processed", "processed/error", "902^Document CDA non intégrable dans le dossier patient"),
        ("processed", "processed/error", "201^Patient non identifié dans le logiciel du destinataire"),
        ("deleted", "deleted", ""),
    )
)
FAILURES = tuple(
    Receipt("dsn", None, "failed", code, diagnostic, None, dsn_reason(code)).explained
    for code, diagnostic in (
        ("5.1.1", "smtp; 550 5.1.1 User unknown"),
        ("5.2.2", "smtp; 552 5.2.2 Mailbox full"),
        ("4.4.7", "smtp; 451 4.4.7 Delivery time expired"),
    )
)
# The fields a relaunch copies from the request it relaunches, and the registered GP it names (the service passes
# that one to open_request separately).
COPIED = (*RELAUNCH_COPIES, "treating_physician_id")
SAS_REGULATOR = ("10000009992", "Dr Hélène Régulatrice")  # a fictitious regulating physician of the SAS (valid RPPS key)


def load_history(*, community: Community, operator_id: int, now: datetime) -> int:
    """Insert the year of history unless it is there; return how many requests were inserted."""
    first = select(Request.id).where(Request.opened_by_id == operator_id, Request.idempotency_key == KEY.format(0))
    if db.session.scalar(first) is not None:
        return 0
    query = select(User.login, Physician).join(Physician.user).where(User.login.in_(TAKERS))
    physicians: dict[str, Physician] = {login: physician for login, physician in db.session.execute(query)}
    rng = random.Random(SEED)
    end = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    requests = [_request(rng, index, _opening(rng, end), community, operator_id, physicians) for index in range(COUNT)]
    # The call-backs draw from a generator of their own: the requests above stay the same with or without them.
    called = random.Random(SEED + 1)
    expired = sorted((row for row, _plan in requests if row["state"] == "expired"), key=lambda row: row["opened_at"])
    for row in expired[:-PENDING_CALLBACKS]:
        _call_back(called, row, operator_id)
    ids = _insert(rng, requests, physicians)
    originals = [(request_id, row, plan) for request_id, (row, plan) in zip(ids, requests, strict=True)]
    relaunched = [
        _request(called, COUNT + index, row["callback_at"], community, operator_id, physicians, like=(row, plan, request_id))
        for index, (request_id, row, plan) in enumerate(o for o in originals if o[1]["callback_result"] == "relaunched")
    ]
    for row, _plan in relaunched:  # a relaunch that expires again is called back, not relaunched twice
        if row["state"] == "expired":
            _call_back(called, row, operator_id, relaunch=False)
    ids += _insert(called, relaunched, physicians)
    db.session.execute(insert(Call), _calls(random.Random(SEED + 2), end, community, operator_id))
    rollup.discard_pending(db.session())
    rollup_backfill.backfill(db.session.connection())
    db.session.commit()
    return len(ids)


def _insert(
    rng: random.Random, requests: list[tuple[dict[str, Any], dict[str, Any]]], physicians: dict[str, Physician]
) -> list[int]:
    """Insert the requests with their offers and syntheses; return their ids, in order."""
    if not requests:
        return []
    rows = [row for row, _plan in requests]
    ids = list(db.session.scalars(insert(Request).returning(Request.id, sort_by_parameter_order=True), rows).all())
    offers, syntheses = [], []
    for request_id, (row, plan) in zip(ids, requests, strict=True):
        offers += [{**offer, "request_id": request_id} for offer in _offers(rng, row, plan, physicians)]
        if row["state"] == "seen":
            syntheses.append(_synthesis(row, plan, request_id))
    db.session.execute(insert(Offer), offers)
    if syntheses:
        db.session.execute(insert(Synthesis), syntheses)
    return ids


def _calls(rng: random.Random, end: datetime, community: Community, operator_id: int) -> list[dict[str, Any]]:
    """Draw the year's calls triaged without a request."""
    calls = []
    for index in range(CALLS):
        outcome = rng.choices(list(CALL_OUTCOMES), list(CALL_OUTCOMES.values()))[0]
        calls.append(
            {
                "community_id": community.id,
                "operator_id": operator_id,
                "idempotency_key": CALL_KEY.format(index),
                "received_at": _opening(rng, end),
                "source": rng.choices(list(SOURCES), list(SOURCES.values()))[0],
                "outcome": outcome,
                "motive": None if outcome == "renewal_refused" else rng.choice(MOTIVE_KEYS),
            }
        )
    return calls


def _call_back(rng: random.Random, row: dict[str, Any], operator_id: int, *, relaunch: bool = True) -> None:
    """Record the operator's call-back of an expired request's patient, a few minutes after it expired."""
    results = {result: weight for result, weight in CALLBACKS.items() if relaunch or result != "relaunched"}
    row["callback_result"] = rng.choices(list(results), list(results.values()))[0]
    row["callback_at"] = row["expires_at"] + timedelta(minutes=rng.randrange(*CALLBACK_DELAY_MIN))
    row["callback_by_id"] = operator_id


def _day(rng: random.Random, end: datetime) -> datetime:
    days = [end - timedelta(days=offset) for offset in range(1, 366)]
    weights = [SEASON[day.month] * WEEKDAY[day.weekday()] for day in days]
    return rng.choices(days, weights)[0]


def _opening(rng: random.Random, end: datetime) -> datetime:
    """Draw when a request of the year opened: a day by season and weekday, an hour of the COT's day."""
    day = _day(rng, end)
    hour = rng.choices(list(HOURS), list(HOURS.values()))[0]
    # 08:00-19:59 in Paris is 07:00-18:59 UTC in winter, 06:00-17:59 in summer; an hour off is fine for a demo.
    return day.replace(hour=hour - 1, minute=rng.randrange(60), second=rng.randrange(60))


def _request(
    rng: random.Random,
    index: int,
    opened_at: datetime,
    community: Community,
    operator_id: int,
    physicians: dict[str, Physician],
    like: tuple[dict[str, Any], dict[str, Any], int] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Draw one request opened at `opened_at`; `like` (row, plan, id) makes it the relaunch of that request."""
    winter = opened_at.month in (11, 12, 1, 2, 3)
    treating_status = rng.choices(("declared", "none", "unknown"), (60, 16, 24))[0]
    registered = treating_status == "declared" and rng.random() < 0.15
    if like is not None:
        treating_status, registered = like[0]["treating_status"], like[1]["gp"] is not None
    gp = physicians["dr.durand"] if registered else None
    exclusive_until = opened_at + timedelta(seconds=community.exclusive_window_s) if gp else None
    expires_at = opened_at + timedelta(seconds=community.response_window_s)
    busy = SEASON[opened_at.month] - 1
    accepted = rng.random() < 0.81 - 0.05 * busy
    plan: dict[str, Any] = {"gp": gp, "taker": None, "phase": None}
    row: dict[str, Any] = {
        "community_id": community.id,
        "profession": "10",  # the history is the physicians' (the demo's other professions come with issue 26 point 6)
        "acts": None,
        "patient_lat": None,
        "patient_lon": None,
        "patient_address": None,
        "patient_precision": None,
        "patient_commune": None,
        "source": rng.choices(list(SOURCES), list(SOURCES.values()))[0],
        "motive": rng.choices(MOTIVE_KEYS, MOTIVES["winter" if winter else "other"])[0],
        "description": "Demande de démonstration",
        "opened_by_id": operator_id,
        "idempotency_key": KEY.format(index),
        "patient_first_name": rng.choice(FIRST),
        "patient_last_name": rng.choice(LAST),
        "patient_birth_date": date(rng.randint(1935, 2022), rng.randint(1, 12), rng.randint(1, 28)),
        "patient_sex": rng.choice("FM"),
        "patient_phone": f"+3363998{rng.randrange(10000):04d}",  # numbers ARCEP keeps for fiction
        "patient_postcode": "94500",
        "patient_city": "Champigny-sur-Marne",
        "treating_status": treating_status,
        "treating_rpps": gp.rpps if gp else None,
        "treating_name": gp.user.name if gp else (rng.choice(GPS) if treating_status == "declared" else None),
        "treating_mssante": gp.mssante if gp else None,
        "treating_physician_id": gp.id if gp else None,
        "plan_exclusive_s": community.exclusive_window_s,
        "plan_response_s": community.response_window_s,
        "opened_at": opened_at,
        "exclusive_until": exclusive_until,
        "expires_at": expires_at,
        "next_deadline": None,
        "community_at": exclusive_until or opened_at,
        "state": "expired",
        "closed_at": expires_at,
        **dict.fromkeys(("accepted_by_id", "accepted_at", "accepted_phase", "appointment_at", "place", "outcome", "outcome_at")),
        **dict.fromkeys(("callback_result", "callback_at", "callback_by_id", "relaunch_of_id")),
        **dict.fromkeys(("requester_id", "consent_at", "observations", "teleconsultation_url")),
        "modality": "in_person",
        "sas_regulator_rpps": None,
        "sas_regulator_name": None,
    }
    if row["source"] == "sas":  # the SAS names its regulating physician (issue 27)
        row.update(sas_regulator_rpps=SAS_REGULATOR[0], sas_regulator_name=SAS_REGULATOR[1])
    if treating_status == "declared" and not gp and rng.random() < 0.7:
        row["treating_mssante"] = "cabinet@medecin.mssante.fr"
    if like is not None:
        row.update({name: like[0][name] for name in COPIED}, relaunch_of_id=like[2])
    if accepted:
        by_gp = gp is not None and rng.random() < 0.45
        taker = gp if gp is not None and by_gp else _taker(rng, physicians, gp)
        start, limit = (
            (opened_at, 3500) if by_gp else (row["community_at"], (expires_at - row["community_at"]).total_seconds() - 60)
        )
        delay = min(limit, max(30.0, rng.lognormvariate(math.log(900), 0.9)))
        accepted_at = start + timedelta(seconds=delay)
        appointment = accepted_at + timedelta(minutes=rng.randrange(30, 240, 15))
        no_show = rng.random() < 0.16
        plan.update(taker=taker, phase="exclusive" if by_gp else "community")
        row.update(
            state="no_show" if no_show else "seen",
            accepted_by_id=taker.id,
            accepted_at=accepted_at,
            accepted_phase=plan["phase"],
            appointment_at=appointment,
            place=taker.address,
            outcome="no_show" if no_show else "seen",
            outcome_at=appointment + timedelta(minutes=30),
            closed_at=accepted_at,
        )
    return row, plan


def _taker(rng: random.Random, physicians: dict[str, Physician], gp: Physician | None) -> Physician:
    logins = [login for login in TAKERS if physicians[login] is not gp]
    return physicians[rng.choices(logins, [TAKERS[login] for login in logins])[0]]


def _offers(
    rng: random.Random, row: dict[str, Any], plan: dict[str, Any], physicians: dict[str, Physician]
) -> list[dict[str, Any]]:
    gp, taker = plan["gp"], plan["taker"]
    done_at = row.get("accepted_at") or row["expires_at"]
    offers = []
    if gp is not None:
        status = "accepted" if taker is gp else rng.choices(("refused", "withdrawn"), (60, 40))[0]
        responded = row["accepted_at"] if taker is gp else row["opened_at"] + timedelta(minutes=rng.randrange(2, 55))
        offers.append(_offer(gp, "exclusive", status, row["opened_at"], responded if status != "withdrawn" else None))
        if taker is gp:
            return offers
    for physician in physicians.values():
        if physician is gp:
            continue
        if physician is taker:
            offers.append(_offer(physician, "community", "accepted", row["community_at"], done_at))
        elif rng.random() < 0.03:
            offers.append(
                _offer(physician, "community", "refused", row["community_at"], row["community_at"] + timedelta(minutes=5))
            )
        else:
            offers.append(_offer(physician, "community", "withdrawn", row["community_at"], None))
    return offers


def _offer(physician: Physician, phase: str, status: str, at: datetime, responded: datetime | None) -> dict[str, Any]:
    return {"physician_id": physician.id, "phase": phase, "status": status, "offered_at": at, "responded_at": responded}


def _synthesis(row: dict[str, Any], plan: dict[str, Any], request_id: int) -> dict[str, Any]:
    synthesis = {
        "request_id": request_id,
        "physician_id": plan["taker"].id,
        "text": "Synthèse de démonstration : examen, conduite à tenir, suivi par le médecin traitant.",
        "written_at": row["outcome_at"],
        "to_address": row["treating_mssante"],
        "status": "not_needed" if plan["taker"] is plan["gp"] else "sent" if row["treating_mssante"] else "not_sendable",
    }
    if synthesis["status"] == "sent":
        synthesis.update(_delivery(row))
    return synthesis


def _delivery(row: dict[str, Any]) -> dict[str, Any]:
    """Draw what the reports said of a sent synthesis, from its request's key alone (the same on every run)."""
    rng = random.Random(f"{SEED}:{row['idempotency_key']}")
    status = rng.choices(list(DELIVERIES), list(DELIVERIES.values()))[0]
    low, high = DELIVERY_DELAY_MIN[status]
    reason = None
    if status == "refused":
        reason = rng.choice(REFUSALS)
    elif status == "failed":
        reason = rng.choice(FAILURES)
    return {
        "message_id": messages.message_id("synthesis-demo", int(row["idempotency_key"].rsplit("-", 1)[1]), SENDER),
        "status": status,
        "status_at": row["outcome_at"] + timedelta(minutes=rng.randint(low, high)),
        "status_reason": reason,
    }
