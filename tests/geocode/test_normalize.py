"""Address normalisation: case, accents, abbreviations, house numbers, street lines."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lastmile.geocode.normalize import (
    expand_housenumbers,
    fold,
    housenumber,
    place_key,
    postcode_key,
    split_street_number,
    street_key,
    street_tokens,
)


def test_fold_strips_case_and_accents() -> None:
    assert fold("  Säästöpankinranta  ") == "saastopankinranta"
    assert fold("Straße") == "strasse"
    assert fold("Øresundsvägen") == "oresundsvagen"
    assert fold("ÉCOLE   Œuvre, 3") == "ecole oeuvre, 3"  # punctuation is kept


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("Av. Princesse Grace", "Avenue Princesse Grâce"),  # French
        ("Bd du Larvotto", "Boulevard du Larvotto"),
        ("bld. des Moulins", "Boulevard des Moulins"),
        ("Main St", "Main Street"),  # English: trailing st is street
        ("St. James Rd", "Saint James Road"),  # leading st is saint
        ("5th Ave", "5th Avenue"),
        ("Mikonk.", "Mikonkatu"),  # Finnish: k. = katu, t. = tie
        ("Mannerheimint.", "Mannerheimintie"),
        ("Storg.", "Storgatan"),  # Swedish
        ("Hauptstr. ", "Hauptstraße"),  # German, glued
        ("Berliner Str.", "Berliner Straße"),  # German, separate
        ("C.so Italia", "Corso Italia"),  # Italian
        ("Avda. de la Constitución", "Avenida de la Constitucion"),  # Spanish
        ("R. de la Paix", "Rue de la Paix"),
        ("Pl. du Casino", "Place du Casino"),
        ("John Stenberginranta", "John Stenbergin ranta"),  # compounds apart or together
        ("ALEKSANTERINKATU", "Aleksanterinkatu"),
    ],
)
def test_abbreviations_and_spellings_share_a_key(written: str, canonical: str) -> None:
    assert street_key(written) == street_key(canonical)


def test_position_decides_st() -> None:
    assert street_tokens("St Laurent") == ["saint", "laurent"]
    assert street_tokens("Laurent St") == ["laurent", "street"]
    assert street_tokens("St") == ["st"]  # a lone token is left alone


@pytest.mark.parametrize(
    ("text", "key", "number"),
    [
        ("12", "12", 12),
        ("12a", "12a", 12),
        ("12 A", "12a", 12),
        ("12-A", "12-a", 12),
        ("12 bis", "12bis", 12),
        ("12–14", "12-14", 12),
        ("12 - 14", "12-14", 12),
        ("12/3", "12/3", 12),
        ("B", "b", -1),
    ],
)
def test_housenumber_variants(text: str, key: str, number: int) -> None:
    parsed = housenumber(text)
    assert (parsed.key, parsed.number) == (key, number)


def test_housenumber_lists_and_ranges_expand() -> None:
    assert [h.key for h in expand_housenumbers("5;7")] == ["5", "7"]
    assert [h.key for h in expand_housenumbers("12-16")] == ["12-16", "12", "14", "16"]
    assert [h.key for h in expand_housenumbers("3-6")] == ["3-6", "3", "5", "6"]
    assert [h.key for h in expand_housenumbers("1-99")] == ["1-99"]  # too wide to mean a house


def test_postcode_and_place_keys() -> None:
    assert postcode_key("FI-00100") == postcode_key("00100") == "00100"
    assert postcode_key("MC 98000") == "98000"
    assert postcode_key("sw1a 1aa") == postcode_key("SW1A1AA")
    assert place_key("Helsingfors ") == place_key("HELSINGFORS")
    assert place_key("Saint-Étienne") == "saintetienne"


@pytest.mark.parametrize(
    ("line", "first"),
    [
        ("Mikonkatu 18", ("mikonkatu", "18")),
        ("Mikonkatu 18 A", ("mikonkatu", "18 a")),
        ("18 rue Grimaldi", ("rue grimaldi", "18")),
        ("12 bis rue de la Paix", ("rue de la paix", "12 bis")),
        ("Rue du 11 Novembre 5", ("rue du 11 novembre", "5")),
        ("Mikonkatu", ("mikonkatu", "")),
    ],
)
def test_split_street_number_first_reading(line: str, first: tuple[str, str]) -> None:
    assert split_street_number(line)[0] == first


def test_split_street_number_offers_apartment_reading() -> None:
    readings = split_street_number("Mikonkatu 18 A 5")
    assert ("mikonkatu", "18 a") in readings  # staircase A, flat 5
    assert readings[-1] == ("mikonkatu 18 a 5", "")  # always a no-number reading last


street_words = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzäöüéèàçß -."), min_size=1, max_size=30
)


@given(street_words)
def test_street_key_ignores_case_and_accents(name: str) -> None:
    assert street_key(name.upper()) == street_key(name)
    assert street_key(name) == street_key(fold(name))


@given(street_words)
def test_street_key_is_idempotent_on_its_tokens(name: str) -> None:
    tokens = street_tokens(name)
    assert street_tokens(" ".join(tokens)) == tokens or not tokens
