"""French typography of figures, durations, periods and punctuation (dispatch.french), and the usual periods."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from dispatch.french import DAYS, MONTHS, MONTHS_SHORT, NBSP, NNBSP, day, duration, hour, month, number, percent, period, typography
from dispatch.periods import shortcuts


@pytest.mark.parametrize(
    ("value", "decimals", "written"),
    [
        (0, 0, "0"),
        (999, 0, "999"),
        (4000, 0, f"4{NNBSP}000"),
        (1234567, 0, f"1{NNBSP}234{NNBSP}567"),
        (-2500, 0, f"-2{NNBSP}500"),
        (1617.25, 1, f"1{NNBSP}617,2"),
        (None, 0, "—"),
    ],
)
def test_numbers_group_thousands_with_a_narrow_no_break_space(value: float | None, decimals: int, written: str) -> None:
    assert number(value, decimals) == written


def test_percentages_take_a_comma_and_a_narrow_space() -> None:
    assert percent(0.8013) == f"80,1{NNBSP}%"
    assert percent(0.16, 0) == f"16{NNBSP}%" and percent(1.0, 0) == f"100{NNBSP}%" and percent(None) == "—"


@pytest.mark.parametrize(
    ("seconds", "seconds_too", "written"),
    [
        (1260, False, f"21{NBSP}min"),
        (29, False, f"0{NBSP}min"),
        (30, False, f"1{NBSP}min"),
        (3600, False, f"1{NBSP}h"),
        (4100, False, f"1{NBSP}h{NBSP}08"),
        (7200, False, f"2{NBSP}h"),
        (3539, True, f"58{NBSP}min{NBSP}59{NBSP}s"),
        (3600 + 61, True, f"1{NBSP}h{NBSP}01"),
        (None, False, "—"),
    ],
)
def test_durations_keep_their_units_with_their_numbers(seconds: float | None, seconds_too: bool, written: str) -> None:
    assert duration(seconds, with_seconds=seconds_too) == written
    assert " " not in duration(seconds, with_seconds=seconds_too)


@pytest.mark.parametrize(
    ("start", "end", "written"),
    [
        (date(2023, 1, 1), date(2023, 12, 31), "du 1er janvier au 31 décembre 2023"),
        (date(2026, 11, 1), date(2026, 11, 30), "du 1er au 30 novembre 2026"),
        (date(2026, 3, 2), date(2026, 3, 2), "le 2 mars 2026"),
        (date(2025, 12, 1), date(2026, 2, 28), "du 1er décembre 2025 au 28 février 2026"),
        (date(2024, 2, 10), date(2024, 8, 1), "du 10 février au 1er août 2024"),
    ],
)
def test_periods_in_words(start: date, end: date, written: str) -> None:
    assert period(start, end).replace(NBSP, " ") == written


def test_days_and_months_in_words() -> None:
    assert day(date(2023, 1, 1)) == f"1er{NBSP}janvier 2023" and day(date(2023, 5, 8), year=False) == f"8{NBSP}mai"
    assert month("2023-08") == f"août{NBSP}2023" and month("2026-02", short=True) == f"févr.{NBSP}2026"


def test_names_and_times_from_the_french_locale() -> None:
    assert DAYS[date(2026, 11, 23).weekday()] == "lundi" and DAYS[6] == "dimanche"
    assert MONTHS[7] == "août" and MONTHS_SHORT == (
        "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."
    )  # fmt: skip
    assert hour(datetime(2024, 1, 2, 9, 5, tzinfo=UTC)) == "09:05"
    assert hour(datetime(2024, 1, 2, 23, 30, tzinfo=timezone(timedelta(hours=-3)))) == "23:30"  # its own zone


def test_high_punctuation_keeps_its_space_on_the_line() -> None:
    assert typography("CPTS : connectez-vous ; vite ? oui ! « bien »") == (
        f"CPTS{NBSP}: connectez-vous{NNBSP}; vite{NNBSP}? oui{NNBSP}! «{NBSP}bien{NBSP}»"
    )
    assert typography("https://example.org à 16:30, 80 %") == f"https://example.org à 16:30, 80{NNBSP}%"
    assert typography(f"déjà{NBSP}: bon") == f"déjà{NBSP}: bon"


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (
            date(2026, 11, 23),
            {
                "Ce mois-ci": (date(2026, 11, 1), date(2026, 11, 23)),
                "12 derniers mois": (date(2025, 12, 1), date(2026, 11, 23)),
                "Le mois dernier": (date(2026, 10, 1), date(2026, 10, 31)),
                "Ce trimestre": (date(2026, 10, 1), date(2026, 11, 23)),
                "Cette année": (date(2026, 1, 1), date(2026, 11, 23)),
                "L'année dernière": (date(2025, 1, 1), date(2025, 12, 31)),
            },
        ),
        (
            date(2027, 1, 1),
            {
                "Ce mois-ci": (date(2027, 1, 1), date(2027, 1, 1)),
                "12 derniers mois": (date(2026, 2, 1), date(2027, 1, 1)),
                "Le mois dernier": (date(2026, 12, 1), date(2026, 12, 31)),
                "Ce trimestre": (date(2027, 1, 1), date(2027, 1, 1)),
                "Cette année": (date(2027, 1, 1), date(2027, 1, 1)),
                "L'année dernière": (date(2026, 1, 1), date(2026, 12, 31)),
            },
        ),
        (
            date(2024, 3, 31),
            {
                "Ce mois-ci": (date(2024, 3, 1), date(2024, 3, 31)),
                "12 derniers mois": (date(2023, 4, 1), date(2024, 3, 31)),
                "Le mois dernier": (date(2024, 2, 1), date(2024, 2, 29)),
                "Ce trimestre": (date(2024, 1, 1), date(2024, 3, 31)),
                "Cette année": (date(2024, 1, 1), date(2024, 3, 31)),
                "L'année dernière": (date(2023, 1, 1), date(2023, 12, 31)),
            },
        ),
    ],
)
def test_the_usual_periods(today: date, expected: dict[str, tuple[date, date]]) -> None:
    assert {label: (first, last) for label, first, last in shortcuts(today)} == expected


def test_twelve_months_from_december_are_this_calendar_year() -> None:
    assert {label: (first, last) for label, first, last in shortcuts(date(2026, 12, 7))}["12 derniers mois"] == (
        date(2026, 1, 1),
        date(2026, 12, 7),
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "0 demande annulée"), (1, "1 demande annulée"), (2, "2 demandes annulées"), (1500, "1\u202f500 demandes annulées")],
)
def test_counts_agree_in_number_the_french_way(value: int, expected: str) -> None:
    from dispatch import french

    assert french.count(value, "demande annulée", "demandes annulées") == expected
