"""The service's geocoder adapter over the library's offline geocoder."""

from __future__ import annotations

from lastmile.geocode import Address, OfflineGeocoder
from lastmile.service.geocoding import (
    GeocodeMatch,
    as_match,
    from_geocoder,
    make_geocoder,
    needs_review,
)
from lastmile.service.settings import Settings


def test_offline_geocoder_through_the_adapter() -> None:
    index = OfflineGeocoder.from_addresses(
        [
            Address("Rue de Rivoli", "1", "75001", "Paris", 2.3522, 48.8566),
            Address("Rue de Rivoli", "3", "75001", "Paris", 2.3530, 48.8568),
            Address("Grande Rue", "5", "25000", "Besançon", 6.0240, 47.2380),
            Address("Grande Rue", "5", "92310", "Sèvres", 2.2100, 48.8230),
        ]
    )
    geocode = from_geocoder(index)
    exact = geocode("1 Rue de Rivoli, 75001 Paris")
    assert exact == GeocodeMatch(
        2.3522, 48.8566, confidence=1.0, label="Rue de Rivoli 1, 75001 Paris"
    )
    # Another house number on a known street is placed with less confidence.
    near = geocode("2 Rue de Rivoli, 75001 Paris")
    assert isinstance(near, GeocodeMatch) and near.confidence is not None
    assert near.confidence < 1.0 and needs_review(near, review_below=0.9)
    assert not needs_review(exact, review_below=0.9)
    ambiguous = geocode("5 Grande Rue")
    assert isinstance(ambiguous, str) and ambiguous.startswith("ambiguous: could be ")
    assert "Besançon" in ambiguous and "Sèvres" in ambiguous
    assert geocode("Nowhere Street 99, Atlantis") is None


def test_no_geocoder_by_default() -> None:
    assert make_geocoder(Settings(database_url="sqlite://")) is None


def test_bare_coordinates_are_a_match_of_unknown_confidence() -> None:
    match = as_match((2.35, 48.85))
    assert match == GeocodeMatch(2.35, 48.85, confidence=None, label="")
    assert not needs_review(match, review_below=1.0)
    assert as_match("ambiguous: ...") == "ambiguous: ..." and as_match(None) is None
