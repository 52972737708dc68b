"""The health professions a community dispatches to: the national codes (TRE_G15), their French words, their acts.

Pure: no Flask, no database. A member of role `professional` has one of these codes; role `physician` is the
professional of profession `10`. Beware of copies of this table found elsewhere: code 60 is the nurse (infirmier),
never the GP.
"""

from __future__ import annotations

PHYSICIAN = "10"
PHARMACIST = "21"
DENTIST = "40"
MIDWIFE = "50"
NURSE = "60"
PHYSIOTHERAPIST = "70"

# TRE_G15 (profession de santé), as the national nomenclature names them.
PROFESSIONS: dict[str, str] = {
    PHYSICIAN: "Médecin",
    PHARMACIST: "Pharmacien",
    DENTIST: "Chirurgien-dentiste",
    MIDWIFE: "Sage-femme",
    NURSE: "Infirmier",
    PHYSIOTHERAPIST: "Masseur-kinésithérapeute",
}
CODES = tuple(PROFESSIONS)

# The word a professional of each profession is called by in a push, an SMS or a page ("un infirmier").
WORDS: dict[str, str] = {
    PHYSICIAN: "médecin",
    PHARMACIST: "pharmacien",
    DENTIST: "dentiste",
    MIDWIFE: "sage-femme",
    NURSE: "infirmier",
    PHYSIOTHERAPIST: "kinésithérapeute",
}

# Many of them ("tous les infirmiers"), as the operator reads it.
PLURALS: dict[str, str] = {
    PHYSICIAN: "médecins",
    PHARMACIST: "pharmaciens",
    DENTIST: "dentistes",
    MIDWIFE: "sages-femmes",
    NURSE: "infirmiers",
    PHYSIOTHERAPIST: "kinésithérapeutes",
}

# What a request to each profession is called in a notification's title.
REQUEST_TITLES: dict[str, str] = {
    PHYSICIAN: "Demande de soins non programmés",
    PHARMACIST: "Demande non programmée · pharmacien",
    DENTIST: "Soins dentaires non programmés",
    MIDWIFE: "Demande non programmée · sage-femme",
    NURSE: "Soins infirmiers non programmés",
    PHYSIOTHERAPIST: "Kinésithérapie non programmée",
}

# The acts a request asks of a nurse (other professions' acts are free text).
NURSE_ACTS: dict[str, str] = {
    "prise_de_sang": "Prise de sang",
    "injection": "Injection",
    "pansement": "Pansement",
    "perfusion": "Perfusion",
    "surveillance": "Surveillance",
    "autre": "Autre soin",
}


def word(profession: str) -> str:
    """Return what a professional of `profession` is called ("infirmier"); an unknown code as itself."""
    return WORDS.get(profession, profession)


def plural(profession: str) -> str:
    """Return what many professionals of `profession` are called ("infirmiers"); an unknown code as itself."""
    return PLURALS.get(profession, profession)


def role_of(role: str, profession: str | None) -> str:
    """Return the role an answer names: `physician` for a physician, `professional` for any other profession."""
    if role == "physician" and profession not in (None, PHYSICIAN):
        return "professional"
    return role


def act_labels(acts: list[str] | None) -> list[str]:
    """Return the French words of the acts asked (a nurse's codes, or other professions' free words as given)."""
    return [NURSE_ACTS.get(act, act) for act in acts or ()]


# The rules a community starts with for each profession's requests (GET /communities/{id}/rules shows them until a
# coordinator sets its own): exclusive_s, response_s and the waves [(after_s, radius_km)]. A profession not listed
# (physicians among them) takes the community's own windows, with no wave: everyone at once after the exclusive phase.
DEFAULT_RULES: dict[str, tuple[int, int, tuple[tuple[int, float], ...]]] = {
    # A published deployment: the usual nurse for 6 h, then every nurse within 10 km, 12 h in all.
    NURSE: (21600, 43200, ((21600, 10.0),)),
}
