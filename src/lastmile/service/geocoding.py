"""Geocoding as the service uses it: an address in, coordinates or a reason out.

The service depends only on :data:`GeocodeFn`, a plain callable, so tests pass
a fake and deployments pass :func:`from_geocoder` around a
:class:`lastmile.geocode.Geocoder` (offline index or Nominatim). ``None`` as
the geocoder means "rows must carry coordinates".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lastmile.service.settings import Settings

if TYPE_CHECKING:
    from lastmile.geocode import Geocoder

#: ``address -> (lon, lat)``; otherwise why not: a reason (str) or None (not found).
GeocodeFn = Callable[[str], tuple[float, float] | str | None]


def from_geocoder(geocoder: Geocoder) -> GeocodeFn:
    """Adapt a :class:`lastmile.geocode.Geocoder`: only an unambiguous match gives
    coordinates; an ambiguous one names its best candidates so the row can be fixed."""

    def geocode(address: str) -> tuple[float, float] | str | None:
        result = geocoder.geocode(address, limit=3)
        if result.ok and result.lon is not None and result.lat is not None:
            return result.lon, result.lat
        if result.candidates:
            names = "; ".join(c.label for c in result.candidates)
            return f"ambiguous: could be {names}; give lon and lat or a fuller address"
        return None

    return geocode


def make_geocoder(settings: Settings) -> GeocodeFn | None:
    """The geocoder the settings ask for (None: addresses need coordinates)."""
    if settings.geocoder == "none":
        return None
    if settings.geocoder == "offline":
        from lastmile.geocode import OfflineGeocoder

        if not settings.geocoder_osm_extract:
            raise ValueError("LASTMILE_GEOCODER=offline needs LASTMILE_GEOCODER_OSM_EXTRACT")
        return from_geocoder(OfflineGeocoder.from_pbf(settings.geocoder_osm_extract))
    from lastmile.geocode import NominatimGeocoder

    return from_geocoder(
        NominatimGeocoder(settings.geocoder_url, user_agent=settings.geocoder_user_agent)
    )
