"""Geocoding as the service uses it: an address in, coordinates (or nothing) out.

The service depends only on :data:`GeocodeFn`, a plain callable, so tests pass
a fake and deployments pass an adapter around a :mod:`lastmile.geocode`
geocoder. ``None`` as the geocoder means "rows must carry coordinates".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lastmile.service.settings import Settings

#: ``address -> (lon, lat)``, or None when the address is not found.
GeocodeFn = Callable[[str], tuple[float, float] | None]


def from_geocoder(geocoder: Any) -> GeocodeFn:
    """Adapt an object with ``geocode(address)`` returning something with lon/lat (or None)."""

    def geocode(address: str) -> tuple[float, float] | None:
        found = geocoder.geocode(address)
        if found is None:
            return None
        if isinstance(found, tuple):
            return float(found[0]), float(found[1])
        location = getattr(found, "location", found)
        lon, lat = getattr(location, "lon", None), getattr(location, "lat", None)
        if lon is None or lat is None:
            return None
        return float(lon), float(lat)

    return geocode


def make_geocoder(settings: Settings) -> GeocodeFn | None:
    """The geocoder the settings ask for (None: addresses need coordinates)."""
    if settings.geocoder == "none":
        return None
    from lastmile import geocode as geocode_pkg

    factory = getattr(geocode_pkg, "NominatimGeocoder", None)
    if factory is None:
        raise RuntimeError("LASTMILE_GEOCODER=nominatim needs lastmile.geocode.NominatimGeocoder")
    return from_geocoder(factory(user_agent=settings.geocoder_user_agent))
