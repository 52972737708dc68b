"""The GSM 7-bit alphabet of SMS (3GPP TS 23.038): which texts fit it, how many segments they take."""

from __future__ import annotations

import unicodedata

# The default alphabet, and its extension table (each extension character costs two septets).
BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENDED = "^{}\\[~]|€\f"
_BASIC, _EXTENDED = frozenset(BASIC) - {"\x1b"}, frozenset(EXTENDED)
# French typography outside the alphabet, written the way a French reader expects on a phone.
_FRENCH = str.maketrans(
    {
        "·": "-",
        "°": "o",
        "’": "'",
        "‘": "'",
        "«": '"',
        "»": '"',
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
        "…": "...",
        "≈": "~",
        "œ": "oe",
        "Œ": "OE",
        "\u00a0": " ",
        "\u202f": " ",
    }
)


def fits(text: str) -> bool:
    """Tell whether the text is written in the GSM 7-bit alphabet alone."""
    return all(char in _BASIC or char in _EXTENDED for char in text)


def to_gsm7(text: str) -> str:
    """Return the text in the GSM 7-bit alphabet: typography mapped, other accents dropped ('ê' -> 'e')."""
    out = []
    for char in text.translate(_FRENCH):
        if char in _BASIC or char in _EXTENDED:
            out.append(char)
            continue
        bare = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
        out.append(bare if fits(bare) else "?")
    return "".join(out)


def septets(text: str) -> int:
    """Return the length of a GSM 7-bit text in septets (extension characters count two)."""
    return sum(2 if char in _EXTENDED else 1 for char in text)


def segments(text: str) -> int:
    """Return how many SMS segments the text takes: 160/153 septets in GSM-7, else 70/67 UTF-16 units in UCS-2."""
    if fits(text):
        single, multi, units = 160, 153, septets(text)
    else:
        single, multi, units = 70, 67, len(text.encode("utf-16-le")) // 2
    if units <= single:
        return 1
    return -(-units // multi)
