"""SMS texts stay in the GSM 7-bit alphabet: the offer takes one segment (a teleconsultation's no more than in person),
the patient's two at most (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dispatch import texts
from dispatch.gsm7 import BASIC, EXTENDED, fits, segments, septets, to_gsm7

NOW = datetime(2026, 9, 22, 6, 0, tzinfo=UTC)
# Long but real values: the longest motive labels, a long town, a six-digit request, an https address.
LINK = "https://snp.cpts-val-de-bievre.fr/m/requests/123456"
TOWN = "Villeneuve-Saint-Georges"
PHYSICIAN = "Dr Marie-Hélène Dupont-Aignan"
PLACE = "Maison de santé pluriprofessionnelle du Val-de-Bièvre, 12 avenue du Général-de-Gaulle, 94500 Champigny-sur-Marne"


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters take two septets
        ("€" * 81, 2),
        ("é" * 160, 1),  # é, è, à, ù are in the alphabet
        ("ê" * 70, 1),  # ê is not: UCS-2, 70 then 67 a segment
        ("ê" * 71, 2),
        ("a" * 133 + "ê" + "a" * 1, 3),  # one character outside the alphabet and 135 characters take 3 segments
    ],
)
def test_segments_count_as_handsets_and_twilio_do(text: str, count: int) -> None:
    assert segments(text) == count


def test_the_alphabet_tables() -> None:
    assert len(BASIC) == 128 and len(EXTENDED) == 10
    assert septets("[x]") == 5
    assert fits("à é è ù ì ò Ç ü ö ä ñ") and not fits("ê") and not fits("·") and not fits("°") and not fits("ç")


def test_french_values_are_mapped_to_their_nearest_gsm_letters() -> None:
    assert to_gsm7("Crêches-sur-Saône · L’Haÿ-les-Roses · n° 3 · Œuvre, garçon, île") == (
        "Creches-sur-Saone - L'Hay-les-Roses - no 3 - OEuvre, garcon, ile"
    )
    assert to_gsm7("Zoé à Sète, 12 €") == "Zoé à Sète, 12 €"  # what fits is kept


@pytest.mark.parametrize("motive", sorted(texts.MOTIVE_LABELS))
def test_the_offer_sms_is_one_segment(motive: str) -> None:
    deadline = datetime(2026, 9, 22, 14, 30, tzinfo=UTC)
    sms = texts.offer_sms(request_id=123456, motive=motive, city=TOWN, deadline=deadline, tz="Europe/Paris", link=LINK)
    assert fits(sms) and segments(sms) == 1, (len(sms), sms)
    assert "à prendre avant 16:30" in sms


@pytest.mark.parametrize("motive", sorted(texts.MOTIVE_LABELS))
@pytest.mark.parametrize(
    ("profession", "acts"), [("10", None), ("60", ["prise_de_sang", "injection", "pansement"]), ("70", None)], ids=str
)
@pytest.mark.parametrize("distance_km", [None, 0.4, 12.4, 123.4])
def test_a_teleconsultation_s_offer_sms_says_so_and_is_never_longer_than_in_person(
    motive: str, profession: str, acts: list[str] | None, distance_km: float | None
) -> None:
    """Whatever fits one segment in person fits one as a teleconsultation (the real link, as long as it gets)."""
    deadline = datetime(2026, 9, 22, 14, 30, tzinfo=UTC)
    link = "https://snp.cpts-val-de-bievre.fr/l/HgqqU8oR07lMNsEjI7Lkng"
    common = {"request_id": 123456, "motive": motive, "city": TOWN, "deadline": deadline, "tz": "Europe/Paris", "link": link}
    common |= {"profession": profession, "acts": acts, "distance_km": distance_km}
    in_person = texts.offer_sms(**common)
    remote = texts.offer_sms(modality="teleconsultation", **common)
    assert fits(remote) and len(remote) <= len(in_person) and segments(remote) <= segments(in_person), (remote, in_person)
    assert "téléconsultation 123456 - " in remote and "avant 16:30. Voir : " in remote
    assert "léconsultation" not in in_person and texts.offer_sms(modality="in_person", **common) == in_person
    if profession == "10" and distance_km is None:
        assert segments(remote) == 1


@pytest.mark.parametrize(
    "appointment",
    [
        datetime(2026, 9, 23, 14, 30, tzinfo=UTC),
        datetime(2026, 8, 12, 14, 30, tzinfo=UTC),
        datetime(2026, 9, 22, 14, 30, tzinfo=UTC),
    ],
    ids=["mercredi-septembre", "aout", "today"],
)
def test_the_patient_sms_is_two_segments_at_most(appointment: datetime) -> None:
    sms = texts.patient_sms(physician_name=PHYSICIAN, appointment_at=appointment, place=PLACE, tz="Europe/Paris", now=NOW)
    assert fits(sms) and segments(sms) <= 2, (len(sms), sms)
    assert PHYSICIAN in sms and "Si vous ne pouvez pas venir" in sms
    # With the practice's phone (issue 22, item 14): still two segments, the number as the patient dials it.
    sms = texts.patient_sms(
        physician_name=PHYSICIAN, appointment_at=appointment, place=PLACE, tz="Europe/Paris", now=NOW, practice_phone="+33145678910"
    )
    assert fits(sms) and segments(sms) <= 2, (len(sms), sms)
    assert sms.endswith("merci de prévenir le cabinet au 01 45 67 89 10.")


@pytest.mark.parametrize("motive", sorted(texts.MOTIVE_LABELS))
def test_the_operator_sms_is_one_segment(motive: str) -> None:
    sms = texts.operator_expired_sms(request_id=123456, motive=motive)
    assert fits(sms) and segments(sms) == 1
