"""Online geocoding through a Nominatim server (geopy), for real deployments.

Nominatim ranks its answers but gives no confidence, so one is computed the
same way as offline: how well the returned street matches the query's
(normalised, rapidfuzz ratio), whether the house number is the one asked
for, and whether postcode and city agree. An answer without a house number
is a street (0.5) or a wider place (0.3), never a silent "ok".

Requests go through geopy's ``RateLimiter`` (the public server's policy is
at most one request per second; ``min_delay_s`` defaults to 1.0) and carry
the ``user_agent`` the operator's usage policy asks for. Results are
(c) OpenStreetMap contributors, ODbL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from rapidfuzz import fuzz

from lastmile.exceptions import InputError, LastmileError
from lastmile.geocode.base import (
    Address,
    Candidate,
    GeocodeResult,
    Precision,
    StructuredAddress,
    decide,
    distance_m,
    query_text,
)
from lastmile.geocode.normalize import (
    housenumber,
    place_key,
    postcode_key,
    split_street_number,
    street_key,
)
from lastmile.geocode.osm import OSM_ATTRIBUTION

PUBLIC_URL = "https://nominatim.openstreetmap.org"
STREET_FACTOR = 0.5
PLACE_FACTOR = 0.3
_STREET_KEYS = ("road", "pedestrian", "footway", "street", "residential", "path", "square")
_CITY_KEYS = ("city", "town", "village", "municipality", "hamlet", "suburb")


class GeocoderUnavailable(LastmileError):
    """An online geocoder could not be reached or answered with an error."""


class NominatimGeocoder:
    """Geocoder backed by a Nominatim server; see the module docstring.

    ``url`` is the server's base URL (scheme, host, optional port and path
    prefix). ``adapter`` is a geopy adapter factory (e.g.
    ``geopy.adapters.URLLibAdapter``); ``None`` lets geopy choose.
    """

    attribution = OSM_ATTRIBUTION

    def __init__(
        self,
        url: str = PUBLIC_URL,
        user_agent: str = "lastmile",
        *,
        adapter: Callable[..., Any] | None = None,
        min_delay_s: float = 1.0,
        timeout_s: float = 10.0,
        max_retries: int = 2,
        error_wait_s: float = 5.0,
        min_confidence: float = 0.8,
        country_codes: Sequence[str] | None = None,
    ) -> None:
        from geopy.extra.rate_limiter import RateLimiter
        from geopy.geocoders import Nominatim

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError(f"expected http(s)://host[:port][/path], got {url!r}", where="url")
        if not user_agent.strip():
            raise InputError("Nominatim's usage policy requires a user agent", where="user_agent")
        if min_delay_s < 0:
            raise InputError(f"must be >= 0, got {min_delay_s}", where="min_delay_s")
        if not 0.0 < min_confidence <= 1.0:
            raise InputError(f"must be in (0, 1], got {min_confidence}", where="min_confidence")
        self.url = url
        self.min_confidence = min_confidence
        self._country_codes = list(country_codes) if country_codes else None
        kwargs: dict[str, Any] = {}
        if adapter is not None:
            kwargs["adapter_factory"] = adapter
        self._client = Nominatim(
            domain=parts.netloc + parts.path.rstrip("/"),
            scheme=parts.scheme,
            user_agent=user_agent,
            timeout=timeout_s,
            **kwargs,
        )
        self._search = RateLimiter(
            self._client.geocode,
            min_delay_seconds=min_delay_s,
            max_retries=max_retries,
            error_wait_seconds=max(error_wait_s, min_delay_s),
            swallow_exceptions=False,
        )
        self._reverse = RateLimiter(
            self._client.reverse,
            min_delay_seconds=min_delay_s,
            max_retries=max_retries,
            error_wait_seconds=max(error_wait_s, min_delay_s),
            swallow_exceptions=False,
        )

    def geocode(self, query: str | StructuredAddress, *, limit: int = 5) -> GeocodeResult:
        """Ask the server, then score its answers (see the module docstring)."""
        from geopy.exc import GeopyError

        text = query_text(query)
        if (isinstance(query, StructuredAddress) and query.is_empty) or not text.strip():
            return decide(text, [], min_confidence=self.min_confidence, limit=limit)
        request: str | dict[str, str]
        if isinstance(query, StructuredAddress):
            line = " ".join(x for x in (query.housenumber, query.street) if x)
            fields = {
                "street": line,
                "postalcode": query.postcode,
                "city": query.city,
                "country": query.country,
            }
            request = {k: v for k, v in fields.items() if v}
            wanted = query if query.housenumber else _split_text(query.street)
            wanted = StructuredAddress(
                street=wanted.street,
                housenumber=wanted.housenumber,
                postcode=query.postcode,
                city=query.city,
            )
        else:
            request = text
            wanted = _split_text(text)
        try:
            found = self._search(
                request,
                exactly_one=False,
                limit=limit,
                addressdetails=True,
                country_codes=self._country_codes,
            )
        except GeopyError as exc:
            raise GeocoderUnavailable(f"Nominatim at {self.url} failed: {exc}") from exc
        candidates = [
            _candidate(place.raw, rank=i, wanted=wanted) for i, place in enumerate(found or [])
        ]
        return decide(text, candidates, min_confidence=self.min_confidence, limit=limit)

    def geocode_many(
        self, queries: Sequence[str | StructuredAddress], *, limit: int = 5
    ) -> list[GeocodeResult]:
        """One request per distinct query, spaced by the rate limit."""
        seen: dict[str | StructuredAddress, GeocodeResult] = {}
        out = []
        for query in queries:
            if query not in seen:
                seen[query] = self.geocode(query, limit=limit)
            out.append(seen[query])
        return out

    def reverse(self, lon: float, lat: float, *, max_distance_m: float = 100.0) -> Address | None:
        """The server's address at a point, if it lies within ``max_distance_m``."""
        from geopy.exc import GeopyError

        try:
            place = self._reverse((lat, lon), exactly_one=True, addressdetails=True, zoom=18)
        except GeopyError as exc:
            raise GeocoderUnavailable(f"Nominatim at {self.url} failed: {exc}") from exc
        if place is None:
            return None
        address = _address(place.raw)
        if distance_m(lon, lat, address.lon, address.lat) > max_distance_m:
            return None
        return address


def _address(raw: dict[str, Any]) -> Address:
    parts: dict[str, str] = raw.get("address") or {}
    return Address(
        street=next((parts[k] for k in _STREET_KEYS if parts.get(k)), ""),
        housenumber=parts.get("house_number", ""),
        postcode=parts.get("postcode", ""),
        city=next((parts[k] for k in _CITY_KEYS if parts.get(k)), ""),
        country=parts.get("country_code", "").upper(),
        lon=float(raw["lon"]),
        lat=float(raw["lat"]),
    )


def _split_text(text: str) -> StructuredAddress:
    """Best-effort split of ``"street number, postcode city"`` for scoring answers."""
    first, *rest = [p.strip() for p in text.split(",")]
    street, number = split_street_number(first)[0]
    words = [w for part in rest for w in part.split()]
    postcode = next((w for w in words if sum(c.isdigit() for c in w) >= 3), "")
    city = " ".join(w for w in (rest[0].split() if rest else []) if w != postcode)
    return StructuredAddress(street=street, housenumber=number, postcode=postcode, city=city)


def _candidate(raw: dict[str, Any], *, rank: int, wanted: StructuredAddress) -> Candidate:
    """Score one server answer against what the query asked for."""
    street, number, postcode, city = (
        wanted.street,
        wanted.housenumber,
        wanted.postcode,
        wanted.city,
    )
    address = _address(raw)
    if address.housenumber:
        precision, score = Precision.HOUSE, 1.0
    elif address.street:
        precision, score = Precision.STREET, STREET_FACTOR
    else:
        precision, score = Precision.PLACE, PLACE_FACTOR
    if street and address.street:
        score *= fuzz.ratio(street_key(street), street_key(address.street)) / 100.0
    if number and address.housenumber:
        want, got = housenumber(number), housenumber(address.housenumber)
        if want.key != got.key:
            score *= 0.9 if want.number == got.number else 0.6
    elif number and precision is Precision.HOUSE:
        score *= 0.9
    if postcode and address.postcode and postcode_key(postcode) != postcode_key(address.postcode):
        score *= 0.85
    if city and address.city and fuzz.ratio(place_key(city), place_key(address.city)) < 85:
        score *= 0.85
    score *= max(0.5, 1.0 - 0.01 * rank)  # the server's own order breaks ties
    label = address.label if address.street else str(raw.get("display_name", ""))
    return Candidate(
        label=label,
        lon=address.lon,
        lat=address.lat,
        confidence=round(min(1.0, max(0.0, score)), 4),
        precision=precision,
    )
