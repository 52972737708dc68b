"""Bench of issue 26, point 3: the national address base loaded and queried, against floors measured in the same run.

Writes a 1,000,000-line file in the BAN's format (gzip, one département: 50 communes, 25,000 streets of 40
numbers), times `dispatch geo load` on it as a process (the CLI a deployment runs), then 10,000 geocodings of mixed
levels (a third on the number, a third on the street, a third on the commune alone, typed with abbreviations and
without accents) → p50 / p99, against the floor of a bare primary-key select of one address, timed alike.

    .venv/bin/python bench/geo.py [--postgres URL] [--no-sqlite] [--lines 1000000]
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import bindparam, func, select  # noqa: E402

from dispatch import create_app  # noqa: E402
from dispatch.cli import upgrade_fresh  # noqa: E402
from dispatch.db import db  # noqa: E402
from dispatch.geo import ban  # noqa: E402
from dispatch.geo.loading import HEADER  # noqa: E402
from dispatch.geo.models import BanAddress  # noqa: E402
from dispatch.geo.normal import Typed  # noqa: E402
from tests.conftest import TEST_SETTINGS  # noqa: E402

COMMUNES = 50
NUMBERS = 40  # per street
LOOKUPS = 10_000
TYPES = ("Rue", "Avenue", "Boulevard", "Allée", "Chemin", "Impasse", "Place", "Route")
SHORT = {
    "Rue": "r",
    "Avenue": "av.",
    "Boulevard": "bd",
    "Allée": "all",
    "Chemin": "ch",
    "Impasse": "imp",
    "Place": "pl",
    "Route": "rte",
}
NAMES = ("de l'Église", "Jean Jaurès", "du Général de Gaulle", "Victor Hugo", "des Écoles", "Pasteur", "de la République")


def street(n: int) -> tuple[str, str]:
    """Return a street's name in the file and as an operator might type it."""
    kind, name = TYPES[n % len(TYPES)], NAMES[n % len(NAMES)]
    return f"{kind} {name} {n}", f"{SHORT[kind]} {name.replace('É', 'E').replace('è', 'e')} {n}"


def commune(c: int) -> tuple[str, str, str]:
    """Return a commune's postcode, INSEE code and name."""
    return f"94{c:03d}", f"94{c + 100:03d}", f"Saint-Étienne-sur-Marne {c}"


def write_file(path: Path, lines: int) -> None:
    """Write `lines` addresses in the BAN's format, gzip (as the BAN ships them)."""
    rng = random.Random(26)
    streets = lines // NUMBERS
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
        out.write(";".join(HEADER) + "\n")
        for s in range(streets):
            postcode, insee, town = commune(s % COMMUNES)
            name, _typed = street(s)
            lon0, lat0 = 2.40 + rng.random() * 0.2, 48.70 + rng.random() * 0.15
            fantoir = f"{insee}_{s:04d}"
            rows = []
            for n in range(1, NUMBERS + 1):
                rep = "bis" if n % 10 == 0 else ""
                lon, lat = lon0 + n * 0.00005, lat0 + n * 0.00003
                rows.append(
                    f"{fantoir}_{n:05d};{fantoir};{n};{rep};{name};{postcode};{insee};{town};;;660000.0;6850000.0;"
                    f"{lon:.6f};{lat:.6f};entrée;;;{town.upper()};{name.upper()};commune;commune;1;\n"
                )
            out.write("".join(rows))


def load(url: str, path: Path, *, fresh: bool = True) -> float:
    """Run `dispatch geo load` on the file as a process (on a fresh database unless told); return its wall time."""
    if fresh and url.startswith("postgresql"):
        upgrade_fresh(url)
    env = {**os.environ, "DISPATCH_ENV": "development", "DISPATCH_DATABASE_URL": url, "DISPATCH_SECRET_KEY": "bench"}
    if fresh and not url.startswith("postgresql"):
        subprocess.run([sys.executable, "-m", "dispatch.cli", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "dispatch.cli", "geo", "load", str(path)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    print(f"  {done.stdout.strip()}", file=sys.stderr)
    return took


def queries(lines: int) -> list[Typed]:
    """Return the mixed lookups: number, street (a number the street lacks), commune alone."""
    rng = random.Random(3)
    streets = lines // NUMBERS
    out = []
    for i in range(LOOKUPS):
        s = rng.randrange(streets)
        postcode, _insee, town = commune(s % COMMUNES)
        typed_town = town.replace("É", "E").upper() if i % 2 else town
        _name, typed = street(s)
        if i % 3 == 0:
            out.append(Typed(postcode=postcode, city=typed_town, street=typed, number=rng.randrange(1, NUMBERS + 1)))
        elif i % 3 == 1:
            out.append(Typed(postcode=postcode, city=typed_town, street=typed, number=NUMBERS + 50))
        else:
            out.append(Typed(postcode=postcode, city=typed_town))
    return out


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def lookups(url: str, lines: int) -> dict[str, Any]:
    """Time 10,000 geocodings and as many primary-key selects; return their p50/p99 (seconds) and the levels."""
    app = create_app({**TEST_SETTINGS, "DISPATCH_DATABASE_URL": url})
    levels: dict[str, int] = {}
    with app.app_context():
        count = int(db.session.scalar(select(func.count()).select_from(BanAddress)) or 0)
        typed = queries(lines)
        for address in typed[:200]:  # warm the caches as a running service has them
            ban.locate(address)
        timed = []
        for address in typed:
            began = time.perf_counter()
            place = ban.locate(address)
            timed.append(time.perf_counter() - began)
            level = place.precision if place is not None else "none"
            levels[level] = levels.get(level, 0) + 1
        by_id = select(BanAddress.lat, BanAddress.lon).where(BanAddress.id == bindparam("id"))
        rng = random.Random(5)
        floor = []
        for _ in range(LOOKUPS):
            ident = rng.randrange(1, count + 1)
            began = time.perf_counter()
            db.session.execute(by_id, {"id": ident}).first()
            floor.append(time.perf_counter() - began)
        db.session.remove()
        db.engine.dispose()
    app.extensions["dispatch"].ports.close()
    return {"rows": count, "lookup": percentiles(timed), "floor": percentiles(floor), "levels": levels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("DISPATCH_BENCH_POSTGRES_URL"))
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="dispatch-geo-"))
    path = folder / "adresses-94.csv.gz"
    started = time.monotonic()
    write_file(path, args.lines)
    print(
        f"  wrote {args.lines:,} lines in {time.monotonic() - started:.1f} s ({path.stat().st_size / 1e6:.0f} MB gzip)",
        file=sys.stderr,
    )
    engines: dict[str, str] = {}
    if not args.no_sqlite:
        engines["SQLite"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    if args.postgres:
        engines["PostgreSQL"] = args.postgres
    figures = {}
    for name, url in engines.items():
        took = load(url, path)
        again = load(url, path, fresh=False)  # the département replaced: its rows deleted, then written again
        figures[name] = {"load": took, "reload": again, **lookups(url, args.lines)}
    print("| figure | " + " | ".join(engines) + " |")
    print("|---|" + "---|" * len(engines))
    print(
        f"| `dispatch geo load`, {args.lines:,} lines (gzip), as a process | "
        + " | ".join(f"{f['load']:.1f} s ({f['rows']:,} rows)" for f in figures.values())
        + " |"
    )
    print(
        "| the same file again (its département's rows replaced) | "
        + " | ".join(f"{f['reload']:.1f} s" for f in figures.values())
        + " |"
    )
    print(
        f"| geocoding p50 / p99, {LOOKUPS:,} mixed lookups | "
        + " | ".join(f"{f['lookup'][0] * 1000:.2f} / {f['lookup'][1] * 1000:.2f} ms" for f in figures.values())
        + " |"
    )
    print(
        "| floor: primary-key select p50 / p99 | "
        + " | ".join(f"{f['floor'][0] * 1000:.2f} / {f['floor'][1] * 1000:.2f} ms" for f in figures.values())
        + " |"
    )
    print(
        "| geocoding / floor (p50, p99) | "
        + " | ".join(f"{f['lookup'][0] / f['floor'][0]:.1f} ×, {f['lookup'][1] / f['floor'][1]:.1f} ×" for f in figures.values())
        + " |"
    )
    print(
        "| levels matched (number / street / commune) | "
        + " | ".join(
            f"{f['levels'].get('housenumber', 0)} / {f['levels'].get('street', 0)} / {f['levels'].get('municipality', 0)}"
            for f in figures.values()
        )
        + " |"
    )


if __name__ == "__main__":
    main()
