"""Geocoding against the local copy of the national address base (`DISPATCH_GEOCODER=ban`, the default).

An address is matched on its number in its street, else on its street (the centroid of its numbers), else on its
commune (the centroid of its addresses); each step is one indexed read (the queries below), never a scan.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from dispatch.db import db
from dispatch.geo.models import BanAddress, BanCommune, BanStreet
from dispatch.geo.normal import Typed, key
from dispatch.geo.places import Place, Precision

_BY_POSTCODE = select(BanCommune.code_insee, BanCommune.name, BanCommune.name_key, BanCommune.lat, BanCommune.lon).where(
    BanCommune.code_postal == bindparam("postcode")
)
_BY_NAME = (
    select(BanCommune.code_insee, BanCommune.name, BanCommune.name_key, BanCommune.lat, BanCommune.lon)
    .where(BanCommune.name_key == bindparam("name_key"))
    .limit(20)
)
_STREET = select(BanStreet.lat, BanStreet.lon).where(
    BanStreet.code_insee == bindparam("insee"), BanStreet.street_key == bindparam("street_key")
)
_NUMBER = (
    select(BanAddress.lat, BanAddress.lon, BanAddress.rep)
    .where(
        BanAddress.code_insee == bindparam("insee"),
        BanAddress.street_key == bindparam("street_key"),
        BanAddress.number == bindparam("number"),
    )
    .limit(10)
)


def _commune(address: Typed) -> tuple[str, str, float, float] | None:
    """Return the commune (INSEE code, name, centroid) of a postcode and city, or None when none is clear."""
    city_key = key(address.city)
    if address.postcode:
        rows = list(db.session.execute(_BY_POSTCODE, {"postcode": address.postcode}).all())
        named = [row for row in rows if row.name_key == city_key]
        if not named and (len({row.code_insee for row in rows}) == 1 or not city_key):
            named = rows[:1]  # one commune behind the postcode (or no city typed): it is that one
    elif city_key:
        named = list(db.session.execute(_BY_NAME, {"name_key": city_key}).all())
        if len({row.code_insee for row in named}) != 1:
            named = []  # homonyms in several départements: a postcode is needed
    else:
        named = []
    if not named:
        return None
    row = named[0]
    return row.code_insee, row.name, row.lat, row.lon


def locate(address: Typed) -> Place | None:
    """Place an address: on its number, else its street, else its commune; None when even the commune is unknown."""
    commune = _commune(address)
    if commune is None:
        return None
    insee, name, lat, lon = commune
    street_key = key(address.street)
    if street_key:
        street = db.session.execute(_STREET, {"insee": insee, "street_key": street_key}).first()
        if street is not None:
            if address.number is not None:
                numbers = db.session.execute(_NUMBER, {"insee": insee, "street_key": street_key, "number": address.number}).all()
                if numbers:
                    # The number with the repetition typed ("bis"), else the plain one, else any of them.
                    best = min(numbers, key=lambda row: (row.rep != address.rep, row.rep != "", row.rep))
                    return Place(best.lat, best.lon, Precision.HOUSENUMBER, name)
            return Place(street.lat, street.lon, Precision.STREET, name)
    return Place(lat, lon, Precision.MUNICIPALITY, name)
