"""The service's geocoder adapter over the library's offline geocoder."""

from __future__ import annotations

from lastmile.geocode import Address, OfflineGeocoder
from lastmile.service.geocoding import from_geocoder, make_geocoder
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
    assert geocode("1 Rue de Rivoli, 75001 Paris") == (2.3522, 48.8566)
    ambiguous = geocode("5 Grande Rue")
    assert isinstance(ambiguous, str) and ambiguous.startswith("ambiguous: could be ")
    assert "Besançon" in ambiguous and "Sèvres" in ambiguous
    assert geocode("Nowhere Street 99, Atlantis") is None


def test_no_geocoder_by_default() -> None:
    assert make_geocoder(Settings(database_url="sqlite://")) is None
