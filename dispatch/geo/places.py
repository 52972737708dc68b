"""What geocoding gives: a place (WGS 84 degrees), how precisely it was matched, and the commune it is in.

Pure: no Flask, no database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Precision(enum.StrEnum):
    """How precisely an address was matched: its number, its street (centroid), or only its commune (centroid)."""

    HOUSENUMBER = "housenumber"
    STREET = "street"
    MUNICIPALITY = "municipality"


@dataclass(frozen=True)
class Place:
    """Where an address is, how precisely, and the name of its commune (what an anonymised offer may show)."""

    lat: float
    lon: float
    precision: Precision
    commune: str
