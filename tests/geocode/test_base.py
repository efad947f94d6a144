"""The shared result rules: no silent guess, rivals, labels."""

from __future__ import annotations

import pytest

import lastmile.geocode as geocode
from lastmile.exceptions import InputError
from lastmile.geocode.base import (
    Candidate,
    GeocodeStatus,
    Precision,
    StructuredAddress,
    decide,
    format_label,
)


def cand(label: str, confidence: float, lon: float = 24.95, lat: float = 60.17) -> Candidate:
    return Candidate(label=label, lon=lon, lat=lat, confidence=confidence)


def test_public_api_is_exported() -> None:
    for name in geocode.__all__:
        assert hasattr(geocode, name), name


def test_confident_unrivalled_best_is_ok() -> None:
    result = decide("q", [cand("B", 0.7, lon=25.0), cand("A", 0.95)], min_confidence=0.8)
    assert result.status is GeocodeStatus.OK
    assert (result.label, result.confidence, result.lon) == ("A", 0.95, 24.95)
    assert [c.label for c in result.candidates] == ["A", "B"]


def test_below_threshold_gives_candidates_but_no_position() -> None:
    result = decide("q", [cand("A", 0.79)], min_confidence=0.8)
    assert result.status is GeocodeStatus.AMBIGUOUS
    assert result.lon is None and result.lat is None and result.label == ""
    assert result.confidence == 0.79 and result.candidates[0].label == "A"


def test_rival_elsewhere_makes_it_ambiguous_but_rival_nearby_does_not() -> None:
    far = decide("q", [cand("A", 0.95), cand("B", 0.94, lon=25.66)], min_confidence=0.8)
    assert far.status is GeocodeStatus.AMBIGUOUS
    near = decide("q", [cand("A", 0.95), cand("A2", 0.94, lon=24.9501)], min_confidence=0.8)
    assert near.status is GeocodeStatus.OK


def test_duplicates_merge_and_limit_applies() -> None:
    many = [cand("A", 0.9), cand("A", 0.9)] + [cand(f"X{i}", 0.5) for i in range(9)]
    result = decide("q", many, min_confidence=0.8, limit=3)
    assert [c.label for c in result.candidates] == ["A", "X0", "X1"]


def test_no_candidates_is_not_found() -> None:
    result = decide("q", [], min_confidence=0.8)
    assert result.status is GeocodeStatus.NOT_FOUND and result.candidates == ()


def test_candidate_confidence_is_checked() -> None:
    with pytest.raises(InputError, match="confidence"):
        Candidate(label="A", lon=0.0, lat=0.0, confidence=1.5, precision=Precision.HOUSE)


def test_labels_leave_out_empty_parts() -> None:
    assert format_label(
        street="Mikonkatu", housenumber="18", postcode="00100", city="Helsinki"
    ) == ("Mikonkatu 18, 00100 Helsinki")
    assert format_label(street="Mikonkatu", housenumber="", postcode="", city="Helsinki") == (
        "Mikonkatu, Helsinki"
    )
    assert StructuredAddress(street="Rue X", housenumber="5").label == "Rue X 5"
    assert StructuredAddress().is_empty
