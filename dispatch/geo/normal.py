"""How an address is written for matching: names folded to one key (lowercase, no accents, street types spelt out),
and a free-text address split into number, street, postcode and city.

Pure: no Flask, no database. The same function folds the BAN's names at load time and the typed ones at lookup, so
that "Av. du Gal de Gaulle" and "avenue du general de gaulle" meet on one indexed key.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Abbreviations of street types and common words, as operators type them and as La Poste's norm shortens them.
WORDS = {
    "av": "avenue",
    "ave": "avenue",
    "bd": "boulevard",
    "bld": "boulevard",
    "bvd": "boulevard",
    "boul": "boulevard",
    "r": "rue",
    "ch": "chemin",
    "che": "chemin",
    "chem": "chemin",
    "rte": "route",
    "pl": "place",
    "imp": "impasse",
    "all": "allee",
    "sq": "square",
    "fg": "faubourg",
    "fbg": "faubourg",
    "crs": "cours",
    "pass": "passage",
    "qu": "quai",
    "res": "residence",
    "sent": "sentier",
    "st": "saint",
    "ste": "sainte",
    "gal": "general",
    "gen": "general",
    "mal": "marechal",
    "pdt": "president",
    "prof": "professeur",
    "dr": "docteur",
}
REPETITIONS = {"b": "bis", "t": "ter", "q": "quater", "bis": "bis", "ter": "ter", "quater": "quater", "quinquies": "quinquies"}

_NOT_WORD = re.compile(r"[^a-z0-9]+")
_NUMBER = re.compile(r"^\s*(\d{1,5})\s*(bis|ter|quater|quinquies|[a-z](?![a-z]))?[\s,]+", re.IGNORECASE)
_POSTCODE = re.compile(r"\b(\d{5}|2[AB]\d{3})\b", re.IGNORECASE)


def fold(text: str) -> str:
    """Return the text lowercased, without accents, punctuation turned into single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return _NOT_WORD.sub(" ", bare).strip()


def key(name: str | None) -> str:
    """Return the matching key of a street or commune name: folded, its abbreviations spelt out."""
    if not name:
        return ""
    return " ".join(WORDS.get(word, word) for word in fold(name).split())


def repetition(text: str | None) -> str:
    """Return a number's repetition index as the BAN writes it ('bis', 'ter', 'a'...), '' for none."""
    folded = fold(text or "")
    return REPETITIONS.get(folded, folded)


@dataclass(frozen=True)
class Typed:
    """An address as typed: the number (and its repetition) and street, both optional, then postcode and city."""

    postcode: str | None
    city: str | None
    street: str | None = None
    number: int | None = None
    rep: str = ""

    @property
    def text(self) -> str:
        """Return the address as one line (what an online geocoder is asked)."""
        head = " ".join(part for part in (str(self.number) if self.number else "", self.rep, self.street or "") if part)
        tail = " ".join(part for part in (self.postcode or "", self.city or "") if part)
        return ", ".join(part for part in (head, tail) if part)


def split_street(line: str | None) -> tuple[int | None, str, str | None]:
    """Split '12 bis rue des Lilas' into (12, 'bis', 'rue des Lilas'); a line without a number keeps it whole."""
    if not line or not line.strip():
        return None, "", None
    match = _NUMBER.match(line)
    if match is None:
        return None, "", line.strip(" ,") or None
    street = line[match.end() :].strip(" ,") or None
    return int(match.group(1)), repetition(match.group(2)), street


def parse(line: str | None) -> Typed | None:
    """Read a practice's free-text address ('12 rue des Lilas, 94500 Champigny-sur-Marne'); None without a postcode."""
    if not line:
        return None
    # The last five digits are the postcode (a number of five digits may come first).
    found = next(reversed(list(_POSTCODE.finditer(line))), None)
    if found is None:
        return None
    street_part = line[: found.start()].strip(" ,")
    city = line[found.end() :].strip(" ,") or None
    number, rep, street = split_street(street_part)
    return Typed(postcode=found.group(1).upper(), city=city, street=street, number=number, rep=rep)
