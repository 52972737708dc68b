"""Loading the national address base (BAN) from its CSV files per département (`dispatch geo load FILE…`).

A file (gzip or not) replaces its département's earlier rows in one transaction: on PostgreSQL its addresses go in
through COPY, on SQLite through executemany in one transaction; names are folded once here (dispatch.geo.normal.key)
and the centroids of streets and communes are summed on the way, so that lookups never aggregate.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from sqlalchemy import delete, insert

from dispatch.db import db
from dispatch.geo.models import BanAddress, BanCommune, BanStreet
from dispatch.geo.normal import key, repetition

HEADER = (
    "id",
    "id_fantoir",
    "numero",
    "rep",
    "nom_voie",
    "code_postal",
    "code_insee",
    "nom_commune",
    "code_insee_ancienne_commune",
    "nom_ancienne_commune",
    "x",
    "y",
    "lon",
    "lat",
    "type_position",
    "alias",
    "nom_ld",
    "libelle_acheminement",
    "nom_afnor",
    "source_position",
    "source_nom_voie",
    "certification_commune",
    "cad_parcelles",
)
BATCH = 50_000  # rows per executemany on SQLite (one transaction for the whole file all the same)
ADDRESS_COLUMNS = ("departement", "code_insee", "code_postal", "street_key", "number", "rep", "lat", "lon")
# The columns are this module's own constants: nothing of the file reaches the statement but bound values.
INSERT_SQL = f"INSERT INTO ban_addresses ({', '.join(ADDRESS_COLUMNS)}) VALUES ({', '.join('?' * len(ADDRESS_COLUMNS))})"  # noqa: S608
_key = lru_cache(maxsize=200_000)(key)  # a street's name comes once per number: fold it once


class BadFile(ValueError):
    """The file is not a BAN CSV (its header differs, or a line cannot be read)."""


def departement_of(code_insee: str) -> str:
    """Return the département of an INSEE code: '94' for 94017, '2A' for 2A004, '974' for 97411."""
    return code_insee[:3] if code_insee.startswith("97") else code_insee[:2]


@dataclass
class _Sums:
    lat: float = 0.0
    lon: float = 0.0
    count: int = 0
    name: str = ""

    def add(self, lat: float, lon: float) -> None:
        self.lat += lat
        self.lon += lon
        self.count += 1


@dataclass
class Loaded:
    """What a file gave: its département, its addresses, streets and communes."""

    departement: str
    addresses: int = 0
    streets: dict[tuple[str, str], _Sums] = field(default_factory=dict)
    communes: dict[tuple[str, str], _Sums] = field(default_factory=dict)


def _open(path: Path) -> IO[str]:
    """Open a BAN file as text, gzip or not (told by its first bytes, not its name)."""
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    if gzipped:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _rows(path: Path, loaded: Loaded | None = None) -> Iterator[tuple[Any, ...]]:
    """Yield a file's addresses as rows of ADDRESS_COLUMNS, summing streets and communes into `loaded`."""
    with _open(path) as text:
        reader = csv.reader(text, delimiter=";")
        header = next(reader, None)
        if header is None or tuple(name.strip().lstrip("\ufeff") for name in header[:14]) != HEADER[:14]:
            raise BadFile(f"{path.name} : ce n'est pas un fichier de la BAN (en-tête attendu : {';'.join(HEADER[:6])}…)")
        streets = loaded.streets if loaded is not None else {}
        communes = loaded.communes if loaded is not None else {}
        for line_no, row in enumerate(reader, start=2):
            try:
                number_text, rep, street, postcode, insee, commune = row[2], row[3], row[4], row[5], row[6], row[7]
                lon, lat = float(row[12]), float(row[13])
            except (IndexError, ValueError):
                raise BadFile(f"{path.name}, ligne {line_no} : illisible") from None
            number = int(number_text) if number_text.isdigit() and int(number_text) < 99999 else None  # 99999: a place
            street_key = _key(street)
            place = (insee, street_key)
            sums = streets.get(place)
            if sums is None:
                sums = streets[place] = _Sums()
            sums.add(lat, lon)
            area = (insee, postcode)
            total = communes.get(area)
            if total is None:
                total = communes[area] = _Sums(name=commune)
            total.add(lat, lon)
            yield (departement_of(insee), insee, postcode, street_key, number, repetition(rep) if rep else "", lat, lon)


def _first_departement(path: Path) -> str:
    """Return the département of a file's first address (the one its earlier rows are replaced for)."""
    for row in _rows(path):
        return str(row[0])
    raise BadFile(f"{path.name} : aucune adresse")


def load_file(path: Path) -> Loaded:
    """Replace the département of a BAN file with its addresses, streets and communes; commit."""
    loaded = Loaded(departement=_first_departement(path))
    session = db.session
    for model in (BanAddress, BanStreet, BanCommune):
        session.execute(delete(model).where(model.departement == loaded.departement))
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        loaded.addresses = _copy(connection, _rows(path, loaded))
    else:
        loaded.addresses = _executemany(connection, _rows(path, loaded))
    streets = [
        {
            "departement": loaded.departement,
            "code_insee": insee,
            "street_key": street,
            "lat": s.lat / s.count,
            "lon": s.lon / s.count,
        }
        for (insee, street), s in loaded.streets.items()
    ]
    communes = [
        {
            "departement": loaded.departement,
            "code_insee": insee,
            "code_postal": postcode,
            "name": c.name,
            "name_key": _key(c.name),
            "lat": c.lat / c.count,
            "lon": c.lon / c.count,
        }
        for (insee, postcode), c in loaded.communes.items()
    ]
    for start in range(0, len(streets), BATCH):
        session.execute(insert(BanStreet), streets[start : start + BATCH])
    if communes:
        session.execute(insert(BanCommune), communes)
    session.commit()
    return loaded


def _copy(connection: Any, rows: Iterator[tuple[Any, ...]]) -> int:
    """Write the rows with PostgreSQL's COPY (psycopg), in the session's transaction; return how many."""
    count = 0
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY ban_addresses ({', '.join(ADDRESS_COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _executemany(connection: Any, rows: Iterator[tuple[Any, ...]]) -> int:
    """Write the rows with executemany in batches, in the session's transaction (SQLite); return how many."""
    sql = INSERT_SQL
    cursor = connection.connection.driver_connection.cursor()
    count = 0
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            cursor.executemany(sql, batch)
            count += len(batch)
            batch.clear()
    if batch:
        cursor.executemany(sql, batch)
        count += len(batch)
    return count
