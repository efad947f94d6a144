"""Geocoding as the service uses it: an address in, a match or a reason out.

The service depends only on :data:`GeocodeFn`, a plain callable, so tests pass
a fake and deployments pass :func:`from_geocoder` around a
:class:`lastmile.geocode.Geocoder` (offline index or Nominatim). ``None`` as
the geocoder means "rows must carry coordinates".

A match keeps the geocoder's confidence and the address it matched, so the
orders feature can store them on the stop and flag uncertain positions for a
dispatcher to confirm (:func:`needs_review`, threshold
``LASTMILE_GEOCODE_REVIEW_BELOW``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lastmile.service.settings import Settings

if TYPE_CHECKING:
    from lastmile.geocode import Geocoder


@dataclass(frozen=True, slots=True)
class GeocodeMatch:
    """Where an address was found: the position, how sure the geocoder is (in
    [0, 1]; ``None`` when it does not say) and the address it matched."""

    lon: float
    lat: float
    confidence: float | None = None
    label: str = ""


#: What a geocode function answers: a match (a bare ``(lon, lat)`` is a match
#: whose confidence is not known), a reason why not (str), or None (not found).
GeocodeAnswer = GeocodeMatch | tuple[float, float] | str | None

#: ``address -> answer``.
GeocodeFn = Callable[[str], GeocodeAnswer]


def as_match(answer: GeocodeAnswer) -> GeocodeMatch | str | None:
    """The answer with a bare ``(lon, lat)`` turned into a :class:`GeocodeMatch`."""
    if isinstance(answer, tuple):
        return GeocodeMatch(lon=answer[0], lat=answer[1])
    return answer


def needs_review(match: GeocodeMatch, *, review_below: float) -> bool:
    """Whether a dispatcher should confirm the position: the geocoder's confidence
    is known and below ``review_below``."""
    return match.confidence is not None and match.confidence < review_below


def from_geocoder(geocoder: Geocoder) -> GeocodeFn:
    """Adapt a :class:`lastmile.geocode.Geocoder`: only an unambiguous match gives
    a position (with its confidence and the address matched); an ambiguous one
    names its best candidates so the row can be fixed."""

    def geocode(address: str) -> GeocodeAnswer:
        result = geocoder.geocode(address, limit=3)
        if result.ok and result.lon is not None and result.lat is not None:
            return GeocodeMatch(
                lon=result.lon, lat=result.lat, confidence=result.confidence, label=result.label
            )
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
