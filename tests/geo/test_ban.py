"""The national address base loaded locally: the file read (gzip or not), the three levels of a match, a reload."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dispatch.db import db
from dispatch.geo import ban
from dispatch.geo.loading import BadFile, load_file
from dispatch.geo.models import BanAddress, BanCommune, BanStreet
from dispatch.geo.normal import Typed, key, parse
from dispatch.geo.places import Precision
from tests.geo import ban_file

ROOT = Path(__file__).resolve().parents[2]


def count(model: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_ban_file_loads_gzip_or_not(app: Any, tmp_path: Path, gzipped: bool) -> None:
    path = ban_file.write(tmp_path / ("adresses-94.csv.gz" if gzipped else "adresses-94.csv"), gzipped=gzipped)
    loaded = load_file(path)
    assert (loaded.departement, loaded.addresses) == ("94", 12)
    assert (count(BanAddress), count(BanStreet), count(BanCommune)) == (12, 5, 2)
    street = db.session.scalar(select(BanStreet).where(BanStreet.street_key == "avenue roger salengro"))
    assert street is not None and street.code_insee == "94017"
    assert street.lat == pytest.approx((48.81710 + 48.81690 + 48.81684 + 48.81670) / 4)


def test_names_are_folded_once_to_one_key() -> None:
    assert key("Av. du Gal de Gaulle") == key("avenue du général de gaulle") == "avenue du general de gaulle"
    assert key("Rue Jean-Jaurès") == "rue jean jaures"
    assert key("Champigny-sur-Marne") == key("CHAMPIGNY SUR MARNE") == "champigny sur marne"
    assert key("Bd de Stalingrad") == "boulevard de stalingrad"
    assert parse("3 bis av. Roger Salengro, 94500 Champigny-sur-Marne") == Typed(
        postcode="94500", city="Champigny-sur-Marne", street="av. Roger Salengro", number=3, rep="bis"
    )
    assert parse("Cabinet infirmier, 94490 Ormesson") == Typed(postcode="94490", city="Ormesson", street="Cabinet infirmier")
    assert parse("sans code postal") is None


def test_the_number_else_the_street_else_the_commune(app: Any, tmp_path: Path) -> None:
    load_file(ban_file.write(tmp_path / "adresses-94.csv"))
    number = ban.locate(Typed(postcode="94500", city="Champigny-sur-Marne", street="av Roger Salengro", number=5))
    assert number is not None and number.precision is Precision.HOUSENUMBER
    assert (number.lat, number.lon, number.commune) == (48.81670, 2.51600, "Champigny-sur-Marne")
    with_rep = ban.locate(Typed(postcode="94500", city="CHAMPIGNY SUR MARNE", street="Avenue Roger Salengro", number=3, rep="bis"))
    assert with_rep is not None and (with_rep.lat, with_rep.lon) == (48.81684, 2.51575)
    plain = ban.locate(Typed(postcode="94500", city="Champigny-sur-Marne", street="Avenue Roger Salengro", number=3))
    assert plain is not None and (plain.lat, plain.lon) == (48.81690, 2.51560)
    # A number the street does not have: the street's centroid.
    street = ban.locate(Typed(postcode="94500", city="Champigny-sur-Marne", street="avenue roger salengro", number=99))
    assert street is not None and street.precision is Precision.STREET
    assert street.lat == pytest.approx(48.816885) and street.commune == "Champigny-sur-Marne"
    # A street unknown there, or none typed: the commune's centroid.
    commune = ban.locate(Typed(postcode="94490", city="Ormesson-sur-Marne", street="Rue Inconnue", number=1))
    assert commune is not None and commune.precision is Precision.MUNICIPALITY and commune.commune == "Ormesson-sur-Marne"
    assert commune.lat == pytest.approx((48.78590 + 48.78610 + 48.78450 + 48.78420) / 4)
    only_city = ban.locate(Typed(postcode=None, city="ormesson sur marne"))
    assert only_city is not None and only_city.precision is Precision.MUNICIPALITY
    # The postcode alone names one commune; a postcode and city the base does not know: not placed.
    assert ban.locate(Typed(postcode="94490", city=None)) is not None
    assert ban.locate(Typed(postcode="75011", city="Paris")) is None


def test_reloading_a_departement_replaces_its_rows(app: Any, tmp_path: Path) -> None:
    load_file(ban_file.write(tmp_path / "first.csv"))
    fewer = [street for street in ban_file.STREETS if street[0] == ban_file.ORMESSON]
    loaded = load_file(ban_file.write(tmp_path / "second.csv.gz", gzipped=True, streets=fewer))
    assert loaded.addresses == 4
    assert (count(BanAddress), count(BanStreet), count(BanCommune)) == (4, 2, 1)
    assert ban.locate(Typed(postcode="94500", city="Champigny-sur-Marne")) is None


def test_a_file_that_is_not_the_ban_is_refused_and_nothing_changes(app: Any, tmp_path: Path) -> None:
    load_file(ban_file.write(tmp_path / "adresses-94.csv"))
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("nom;prenom\nMartin;Lucie\n", encoding="utf-8")
    with pytest.raises(BadFile):
        load_file(wrong)
    db.session.rollback()
    assert count(BanAddress) == 12


def test_a_line_that_cannot_be_read_leaves_the_departement_as_it_was(app: Any, tmp_path: Path) -> None:
    load_file(ban_file.write(tmp_path / "adresses-94.csv"))
    broken = ban_file.lines()
    broken[5] = broken[5].replace("2.51", "deux virgule cinq", 1)
    (tmp_path / "broken.csv").write_text("\n".join(broken) + "\n", encoding="utf-8")
    with pytest.raises(BadFile, match="broken.csv, ligne 6"):
        load_file(tmp_path / "broken.csv")
    db.session.rollback()
    assert count(BanAddress) == 12 and count(BanCommune) == 2


def test_dispatch_geo_load_as_a_process(database_url: str, tmp_path: Path) -> None:
    plain = ban_file.write(tmp_path / "adresses-94.csv")
    env = {
        **os.environ,
        "DISPATCH_ENV": "development",
        "DISPATCH_DATABASE_URL": database_url,
        "DISPATCH_SECRET_KEY": "test-secret",
    }
    done = subprocess.run(
        [sys.executable, "-m", "dispatch.cli", "geo", "load", str(plain)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        assert done.returncode == 0, done.stderr
        assert "adresses-94.csv : département 94, 12 adresse(s), 5 voie(s), 2 commune(s)" in done.stdout
        wrong = tmp_path / "wrong.csv"
        wrong.write_text("a;b\n", encoding="utf-8")
        refused = subprocess.run(
            [sys.executable, "-m", "dispatch.cli", "geo", "load", str(wrong)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 1 and "ce n'est pas un fichier de la BAN" in refused.stderr
    finally:
        from sqlalchemy import create_engine, text

        engine = create_engine(database_url)
        with engine.begin() as conn:
            for table in ("ban_addresses", "ban_streets", "ban_communes"):
                conn.execute(text(f"DELETE FROM {table}"))
        engine.dispose()
