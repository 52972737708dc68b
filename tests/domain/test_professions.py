"""The professions' table (TRE_G15) and the words each profession is spoken to in."""

from __future__ import annotations

from datetime import UTC, datetime

from dispatch import professions, texts

DEADLINE = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)


def test_the_codes_are_the_national_nomenclature_s_and_60_is_the_nurse() -> None:
    # Public code exists that maps 60 to GPs: the table is pinned here, code by code.
    assert professions.PROFESSIONS == {
        "10": "Médecin",
        "21": "Pharmacien",
        "40": "Chirurgien-dentiste",
        "50": "Sage-femme",
        "60": "Infirmier",
        "70": "Masseur-kinésithérapeute",
    }
    assert professions.NURSE == "60" and professions.PHYSICIAN == "10" and professions.PHYSIOTHERAPIST == "70"
    assert professions.word("60") == "infirmier" and professions.word("70") == "kinésithérapeute"


def test_the_nurse_s_acts_are_the_contract_s() -> None:
    assert tuple(professions.NURSE_ACTS) == ("prise_de_sang", "injection", "pansement", "perfusion", "surveillance", "autre")


def test_a_physician_is_answered_physician_and_any_other_profession_professional() -> None:
    assert professions.role_of("physician", "10") == "physician"
    assert professions.role_of("physician", "60") == "professional"
    assert professions.role_of("operator", None) == "operator"


def test_a_physician_s_push_and_sms_are_unchanged() -> None:
    title, body = texts.offer_push(motive="ent", city="Champigny", deadline=DEADLINE, tz="Europe/Paris")
    assert (title, body) == ("Demande de soins non programmés", "ORL · Champigny · avant 16:30")
    sms = texts.offer_sms(request_id=7, motive="ent", city="Champigny", deadline=DEADLINE, tz="Europe/Paris", link="L")
    assert sms == "SNP : demande 7 - ORL - Champigny - à prendre avant 16:30. Voir : L"


def test_a_teleconsultation_s_push_opens_with_it_and_its_sms_names_it() -> None:
    title, body = texts.offer_push(
        motive="ent", city="Champigny", deadline=DEADLINE, tz="Europe/Paris", modality="teleconsultation"
    )
    assert (title, body) == ("Demande de soins non programmés", "Téléconsultation · ORL · Champigny · avant 16:30")
    sms = texts.offer_sms(
        request_id=7, motive="ent", city="Champigny", deadline=DEADLINE, tz="Europe/Paris", link="L", modality="teleconsultation"
    )
    assert sms == "SNP : téléconsultation 7 - ORL - Champigny - avant 16:30. Voir : L"
    _, in_person = texts.offer_push(motive="ent", city="Champigny", deadline=DEADLINE, tz="Europe/Paris", modality="in_person")
    assert in_person == "ORL · Champigny · avant 16:30"


def test_a_nurse_s_push_and_sms_speak_of_nursing_and_the_acts() -> None:
    title, body = texts.offer_push(
        motive="other", city="Champigny", deadline=DEADLINE, tz="Europe/Paris", profession="60", acts=["prise_de_sang", "pansement"]
    )
    assert title == "Soins infirmiers non programmés"
    assert body == "Prise de sang, Pansement · Champigny · avant 16:30"
    sms = texts.offer_sms(
        request_id=7, motive="other", city=None, deadline=DEADLINE, tz="Europe/Paris", link="L", profession="60", acts=["injection"]
    )
    assert sms == "SNP infirmier : demande 7 - Injection - à prendre avant 16:30. Voir : L"


def test_a_physiotherapist_is_spoken_to_as_kinesitherapeute() -> None:
    title, _ = texts.offer_push(motive="other", city=None, deadline=DEADLINE, tz="Europe/Paris", profession="70", acts=["drainage"])
    assert title == "Kinésithérapie non programmée"
    sms = texts.offer_sms(request_id=3, motive="other", city=None, deadline=DEADLINE, tz="Europe/Paris", link="L", profession="70")
    assert sms.startswith("SNP kinésithérapeute : demande 3 - Autre motif")
    assert texts.request_title(profession="60", motive="other", acts=["perfusion"]) == "Soins infirmiers non programmés : Perfusion"
    assert texts.request_title(profession="10", motive="ent", acts=None) == "ORL"
