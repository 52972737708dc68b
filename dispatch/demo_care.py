"""The demo community's other professions: five nurses and a physiotherapist, and their last six weeks of requests.

The nurses' requests follow the nurses' default rules (dispatch.professions.DEFAULT_RULES): the patient's usual
nurse alone for 6 h, then every nurse within 10 km, 12 h in all. The practices and the patients' streets are placed
on the map (the coordinates of the demo's address extract, dispatch/demo_data): one nurse, in Rungis, is
beyond the 10 km of every patient and is never offered a request, as the rules say. Inserted in bulk from a fixed
seed, like the physicians' year (dispatch.demo_history), whose requests stay the same with or without these.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import insert, select

from dispatch.auth.models import User
from dispatch.communities.models import Community, Physician
from dispatch.db import db
from dispatch.professions import NURSE, NURSE_ACTS, PHYSIOTHERAPIST
from dispatch.requests.machine.waves import distance_km
from dispatch.requests.models import Offer, Request

SEED = 94490
KEY = "demo-care-{:04d}"  # the idempotency key of each generated request: a second run finds the first
DAYS = 42
CALLBACKS = ("advice_given", "unreachable")  # what the operator did calling back an expired request's patient
NURSE_RULES = (21600, 43200, 10.0)  # exclusive_s, response_s, the wave's radius_km (the nurses' defaults)


class Carer(NamedTuple):
    """A member of another profession: login, profession, name, RPPS, phone, practice, its place, a device."""

    login: str
    profession: str
    name: str
    rpps: str
    phone: str
    address: str
    place: tuple[float, float]
    device: bool


CARERS = (
    Carer(
        "idel.garnier",
        NURSE,
        "Émilie Garnier",
        "10007777773",
        "+33600000020",
        "22 rue de Bry, 94500 Champigny-sur-Marne",
        (48.8193, 2.52584),
        True,
    ),
    Carer(
        "idel.lopez",
        NURSE,
        "Carlos Lopez",
        "10008888884",
        "+33600000021",
        "9 avenue Roger Salengro, 94500 Champigny-sur-Marne",
        (48.8146, 2.51462),
        True,
    ),
    Carer(
        "idel.mercier",
        NURSE,
        "Nadia Mercier",
        "10009999995",
        "+33600000022",
        "4 avenue Wladimir d'Ormesson, 94490 Ormesson-sur-Marne",
        (48.78575, 2.5402),
        True,
    ),
    Carer(
        "idel.rey",
        NURSE,
        "Julie Rey",
        "10006666662",
        "+33600000023",
        "3 rue de Paris, 94470 Boissy-Saint-Léger",
        (48.75118, 2.51075),
        False,
    ),
    Carer(
        "idel.vidal",
        NURSE,
        "Marion Vidal",
        "10001111110",
        "+33600000024",
        "1 rue Notre-Dame, 94150 Rungis",
        (48.74778, 2.34965),
        True,
    ),
    Carer(
        "kine.faure",
        PHYSIOTHERAPIST,
        "Thomas Faure",
        "10002345675",
        "+33600000025",
        "18 avenue du Général de Gaulle, 94500 Champigny-sur-Marne",
        (48.8124, 2.5183),
        True,
    ),
)

# Where the patients live (numbers of the demo's address extract, dispatch/demo_data): street, postcode, commune, place.
HOMES = (
    ("10 boulevard de Stalingrad", "94500", "Champigny-sur-Marne", (48.82005, 2.52714)),
    ("15 avenue Roger Salengro", "94500", "Champigny-sur-Marne", (48.81465, 2.51474)),
    ("1 place Lénine", "94500", "Champigny-sur-Marne", (48.8108, 2.5262)),
    ("20 rue Jean Jaurès", "94500", "Champigny-sur-Marne", (48.816, 2.50914)),
    ("8 avenue Olivier d'Ormesson", "94490", "Ormesson-sur-Marne", (48.78705, 2.53814)),
    ("17 rue Aristide Briand", "94430", "Chennevières-sur-Marne", (48.7961, 2.53319)),
    ("33 avenue de la République", "94100", "Saint-Maur-des-Fossés", (48.8011, 2.49319)),
)
FIRST = ("Lucienne", "Marcel", "Odette", "Gérard", "Yvonne", "René", "Simone", "André", "Paulette", "Jacques")
LAST = ("Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent", "Muller", "Lefèbvre")


def load_care(*, community: Community, operator_id: int, now: datetime) -> int:
    """Insert the six weeks of the other professions' requests unless they are there; return how many."""
    first = select(Request.id).where(Request.opened_by_id == operator_id, Request.idempotency_key == KEY.format(0))
    if db.session.scalar(first) is not None:
        return 0
    query = select(User.login, Physician).join(Physician.user).where(User.login.in_([c.login for c in CARERS]))
    members: dict[str, Physician] = {login: member for login, member in db.session.execute(query)}
    nurses = [members[c.login] for c in CARERS if c.profession == NURSE and c.login in members]
    physio = members.get("kine.faure")
    rng = random.Random(SEED)
    end = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    drawn: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for offset in range(DAYS, 0, -1):
        day = end - timedelta(days=offset)
        for _ in range(rng.choice((2, 3, 3, 4, 5)) if day.weekday() < 6 else 1):
            drawn.append(_nurse_request(rng, len(drawn), _at(rng, day), community, operator_id, nurses))
        if physio is not None and offset % 2 == 0:
            drawn.append(_physio_request(rng, len(drawn), _at(rng, day), community, operator_id, physio))
    for row, _ in drawn:  # the operator called back each patient whose request expired, as for the physicians'
        if row["state"] == "expired":
            row["callback_result"] = rng.choices(CALLBACKS, (80, 20))[0]
            row["callback_at"] = row["expires_at"] + timedelta(minutes=rng.randrange(3, 45))
            row["callback_by_id"] = operator_id
    ids = list(db.session.scalars(insert(Request).returning(Request.id, sort_by_parameter_order=True), [r for r, _ in drawn]).all())
    offers = [{**offer, "request_id": request_id} for request_id, (_, made) in zip(ids, drawn, strict=True) for offer in made]
    db.session.execute(insert(Offer), offers)
    return len(ids)


def _at(rng: random.Random, day: datetime) -> datetime:
    """Draw a time of a nurse's working day (07:00-18:59 UTC)."""
    return day.replace(hour=rng.randrange(6, 18), minute=rng.randrange(60), second=rng.randrange(60))


def _base(
    rng: random.Random, index: int, opened_at: datetime, community: Community, operator_id: int, profession: str
) -> tuple[dict[str, Any], tuple[float, float]]:
    street, postcode, city, place = rng.choice(HOMES)
    row: dict[str, Any] = {
        "community_id": community.id,
        "profession": profession,
        "source": rng.choices(("cot", "nurse", "pharmacy", "other"), (60, 20, 10, 10))[0],
        "motive": "other",
        "description": "Demande de démonstration",
        "opened_by_id": operator_id,
        "idempotency_key": KEY.format(index),
        "patient_first_name": rng.choice(FIRST),
        "patient_last_name": rng.choice(LAST),
        "patient_birth_date": date(rng.randint(1930, 1960), rng.randint(1, 12), rng.randint(1, 28)),
        "patient_sex": rng.choice("FM"),
        "patient_phone": f"+3363998{rng.randrange(10000):04d}",  # numbers ARCEP keeps for fiction
        "patient_postcode": postcode,
        "patient_city": city,
        "patient_lat": place[0],
        "patient_lon": place[1],
        "patient_address": street,
        "patient_precision": "housenumber",
        "patient_commune": city,
        "treating_status": "none",
        "opened_at": opened_at,
        "next_deadline": None,
        "state": "expired",
        **dict.fromkeys(("callback_result", "callback_at", "callback_by_id", "relaunch_of_id")),
        **dict.fromkeys(("treating_rpps", "treating_name", "treating_mssante", "treating_physician_id", "next_wave_at")),
        **dict.fromkeys(("accepted_by_id", "accepted_at", "accepted_phase", "appointment_at", "place", "outcome", "outcome_at")),
    }
    return row, place


def _nurse_request(
    rng: random.Random, index: int, opened_at: datetime, community: Community, operator_id: int, nurses: list[Physician]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Draw a nurse's request: the usual nurse alone for 6 h, then the nurses within 10 km; its offers."""
    exclusive_s, response_s, radius = NURSE_RULES
    row, patient = _base(rng, index, opened_at, community, operator_id, NURSE)
    near = {n.id: distance_km(*patient, n.lat, n.lon) for n in nurses if n.lat is not None and n.lon is not None}
    reached = sorted((n for n in nurses if near.get(n.id, math.inf) <= radius), key=lambda n: near[n.id])
    usual = rng.choice(reached) if reached and rng.random() < 0.6 else None
    community_at = opened_at + timedelta(seconds=exclusive_s) if usual else opened_at
    expires_at = opened_at + timedelta(seconds=response_s)
    row.update(
        acts=[rng.choices(list(NURSE_ACTS), (30, 20, 30, 5, 10, 5))[0]],
        treating_status="declared" if usual else "none",
        treating_rpps=usual.rpps if usual else None,
        treating_name=usual.user.name if usual else None,
        treating_physician_id=usual.id if usual else None,
        plan_exclusive_s=exclusive_s,
        plan_response_s=response_s,
        plan_waves=[{"after_s": exclusive_s, "radius_km": radius}],
        waves_opened=1,
        exclusive_until=community_at if usual else None,
        expires_at=expires_at,
        community_at=community_at,
        closed_at=expires_at,
    )
    taker, phase, accepted_at = None, None, expires_at  # none: expired at its deadline
    if usual is not None and rng.random() < 0.5:
        taker, phase = usual, "exclusive"
        accepted_at = opened_at + timedelta(minutes=min(350, max(2, rng.lognormvariate(math.log(40), 0.8))))
    elif rng.random() < 0.88 and [n for n in reached if n is not usual]:
        others = [n for n in reached if n is not usual]
        taker, phase = rng.choices(others, [1 / max(0.5, near[n.id]) for n in others])[0], "community"
        accepted_at = community_at + timedelta(minutes=min(700, max(2, rng.lognormvariate(math.log(45), 0.9))))
    offers = []
    responded: datetime | None
    if usual is not None:
        status = "accepted" if taker is usual else rng.choices(("refused", "withdrawn"), (50, 50))[0]
        responded = accepted_at if taker is usual else opened_at + timedelta(minutes=rng.randrange(5, 300))
        offers.append(_offer(usual, "exclusive", status, opened_at, responded if status != "withdrawn" else None, near))
    if taker is not usual or taker is None:
        for nurse in reached:
            if nurse is usual:
                continue
            status = "accepted" if nurse is taker else "refused" if rng.random() < 0.08 else "withdrawn"
            responded = accepted_at if nurse is taker else community_at + timedelta(minutes=10) if status == "refused" else None
            offers.append(_offer(nurse, "community", status, community_at, responded, near))
    if taker is not None:
        _accepted(rng, row, taker, phase, accepted_at)
    return row, offers


def _physio_request(
    rng: random.Random, index: int, opened_at: datetime, community: Community, operator_id: int, physio: Physician
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Draw a physiotherapist's request (the community's own windows, no wave): the one physiotherapist's offer."""
    row, patient = _base(rng, index, opened_at, community, operator_id, PHYSIOTHERAPIST)
    expires_at = opened_at + timedelta(seconds=community.response_window_s)
    row.update(
        acts=[rng.choice(("drainage bronchique", "entorse de cheville", "lombalgie aiguë"))],
        plan_exclusive_s=community.exclusive_window_s,
        plan_response_s=community.response_window_s,
        plan_waves=None,
        waves_opened=0,
        exclusive_until=None,
        expires_at=expires_at,
        community_at=opened_at,
        closed_at=expires_at,
    )
    near = {physio.id: distance_km(*patient, physio.lat, physio.lon)} if physio.lat is not None and physio.lon else {}
    if rng.random() < 0.7:
        accepted_at = opened_at + timedelta(minutes=rng.randrange(10, 100))
        _accepted(rng, row, physio, "community", accepted_at)
        return row, [_offer(physio, "community", "accepted", opened_at, accepted_at, near)]
    return row, [_offer(physio, "community", "withdrawn", opened_at, None, near)]


def _accepted(rng: random.Random, row: dict[str, Any], taker: Physician, phase: str | None, accepted_at: datetime) -> None:
    appointment = accepted_at + timedelta(minutes=rng.randrange(30, 240, 15))
    row.update(
        state="seen",
        accepted_by_id=taker.id,
        accepted_at=accepted_at,
        accepted_phase=phase,
        appointment_at=appointment,
        place=taker.address,
        outcome="seen",
        outcome_at=appointment + timedelta(minutes=30),
        closed_at=accepted_at,
    )


def _offer(
    member: Physician, phase: str, status: str, at: datetime, responded: datetime | None, near: dict[int, float]
) -> dict[str, Any]:
    distance = near.get(member.id)
    return {
        "physician_id": member.id,
        "phase": phase,
        "status": status,
        "offered_at": at,
        "responded_at": responded,
        "distance_km": round(distance, 3) if distance is not None else None,
    }
