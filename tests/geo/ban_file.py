"""A few Val-de-Marne streets written as the national address base (BAN) writes its CSV files per département."""

from __future__ import annotations

import gzip
from pathlib import Path

HEADER = (
    "id;id_fantoir;numero;rep;nom_voie;code_postal;code_insee;nom_commune;code_insee_ancienne_commune;"
    "nom_ancienne_commune;x;y;lon;lat;type_position;alias;nom_ld;libelle_acheminement;nom_afnor;source_position;"
    "source_nom_voie;certification_commune;cad_parcelles"
)
CHAMPIGNY = ("94500", "94017", "Champigny-sur-Marne")
ORMESSON = ("94490", "94055", "Ormesson-sur-Marne")
# (commune, fantoir, street, [(number, rep, lon, lat)]): positions along the real streets, a few metres apart.
STREETS = [
    (
        CHAMPIGNY,
        "94017_3020",
        "Avenue Roger Salengro",
        [(1, "", 2.51520, 48.81710), (3, "", 2.51560, 48.81690), (3, "bis", 2.51575, 48.81684), (5, "", 2.51600, 48.81670)],
    ),
    (CHAMPIGNY, "94017_1850", "Rue Jean Jaurès", [(10, "", 2.51020, 48.81900), (12, "", 2.51050, 48.81920)]),
    (CHAMPIGNY, "94017_0420", "Boulevard de Stalingrad", [(2, "", 2.52300, 48.82100), (4, "", 2.52340, 48.82120)]),
    (ORMESSON, "94055_0260", "Avenue Olivier d'Ormesson", [(2, "", 2.53710, 48.78590), (4, "", 2.53750, 48.78610)]),
    (ORMESSON, "94055_0510", "Rue du Général de Gaulle", [(1, "", 2.54150, 48.78450), (7, "", 2.54210, 48.78420)]),
]


def lines(streets: list = STREETS) -> list[str]:  # type: ignore[type-arg]
    """Return the file's lines, header first, one per numbered address."""
    out = [HEADER]
    for (postcode, insee, commune), fantoir, street, numbers in streets:
        for number, rep, lon, lat in numbers:
            ident = f"{fantoir}_{number:05d}" + (f"_{rep}" if rep else "")
            afnor = street.upper().replace("È", "E").replace("É", "E").replace("'", " ")
            out.append(
                f"{ident};{fantoir};{number};{rep};{street};{postcode};{insee};{commune};;;"
                f"663000.0;6855000.0;{lon};{lat};entrée;;;{commune.upper()};{afnor};commune;commune;1;"
            )
    return out


def write(path: Path, *, gzipped: bool = False, streets: list | None = None) -> Path:  # type: ignore[type-arg]
    """Write the synthetic file (gzip if asked) and return its path."""
    text = "\n".join(lines(streets if streets is not None else STREETS)) + "\n"
    if gzipped:
        with gzip.open(path, "wt", encoding="utf-8") as out:
            out.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
