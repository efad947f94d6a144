"""The geocoder protocol and the values it speaks in.

A geocoder turns an address into a position and says how sure it is. The
contract every implementation keeps:

- ``status == "ok"``: ``lon``/``lat`` hold the best match, whose confidence is
  at least the geocoder's threshold and which no other candidate elsewhere
  rivals.
- ``status == "ambiguous"``: there are plausible matches but none is good
  enough (or two are equally good at different places). ``lon``/``lat`` are
  ``None``: the caller gets the candidates, never a silent guess.
- ``status == "not_found"``: nothing plausible; no position, no candidates.

Confidence is in [0, 1]; 1 means the street, house number and (when given)
postcode and city all matched exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from lastmile.domain import Location
from lastmile.domain.geo import EARTH_RADIUS_M
from lastmile.exceptions import InputError


class GeocodeStatus(StrEnum):
    """How a query was resolved (see the module docstring for the contract)."""

    OK = "ok"
    AMBIGUOUS = "ambiguous"
    NOT_FOUND = "not_found"


class Precision(StrEnum):
    """What a candidate's position stands for."""

    HOUSE = "house"  # the address itself is in the data
    INTERPOLATED = "interpolated"  # placed between neighbouring house numbers
    STREET = "street"  # a point on the street; the house is unknown
    PLACE = "place"  # a postcode, city or other area (online geocoders)


@dataclass(frozen=True, slots=True)
class StructuredAddress:
    """An address already split into its parts. Empty strings mean "not given"."""

    street: str = ""
    housenumber: str = ""
    postcode: str = ""
    city: str = ""
    country: str = ""

    @property
    def label(self) -> str:
        """``"street number, postcode city"``, leaving out what is empty."""
        return format_label(
            street=self.street, housenumber=self.housenumber, postcode=self.postcode, city=self.city
        )

    @property
    def is_empty(self) -> bool:
        return not (self.street or self.housenumber or self.postcode or self.city)


@dataclass(frozen=True, slots=True)
class Address:
    """A known address at a position (lon/lat in degrees, WGS84)."""

    street: str
    housenumber: str
    postcode: str
    city: str
    lon: float
    lat: float
    country: str = ""

    @property
    def label(self) -> str:
        return format_label(
            street=self.street, housenumber=self.housenumber, postcode=self.postcode, city=self.city
        )

    @property
    def location(self) -> Location:
        return Location(lon=self.lon, lat=self.lat, name=self.label)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One possible answer to a query, with its own confidence in [0, 1]."""

    label: str
    lon: float
    lat: float
    confidence: float
    precision: Precision = Precision.HOUSE

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise InputError(f"must be in [0, 1], got {self.confidence}", where="confidence")


@dataclass(frozen=True, slots=True)
class GeocodeResult:
    """The answer to one query. ``lon``/``lat`` are set only when ``status`` is OK."""

    query: str
    status: GeocodeStatus
    lon: float | None = None
    lat: float | None = None
    confidence: float = 0.0
    label: str = ""
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.status is GeocodeStatus.OK

    @property
    def location(self) -> Location | None:
        """The position as a domain Location, or ``None`` unless OK."""
        if self.lon is None or self.lat is None:
            return None
        return Location(lon=self.lon, lat=self.lat, name=self.label)


class Geocoder(Protocol):
    """Turns addresses into positions, and positions back into addresses."""

    def geocode(self, query: str | StructuredAddress, *, limit: int = 5) -> GeocodeResult:
        """Resolve one address; at most ``limit`` candidates come back."""
        ...

    def geocode_many(
        self, queries: Sequence[str | StructuredAddress], *, limit: int = 5
    ) -> list[GeocodeResult]:
        """Resolve many addresses; results are in ``queries`` order."""
        ...

    def reverse(self, lon: float, lat: float, *, max_distance_m: float = 100.0) -> Address | None:
        """The nearest known address within ``max_distance_m``, or ``None``."""
        ...


def format_label(*, street: str, housenumber: str, postcode: str, city: str) -> str:
    """``"street number, postcode city"`` with the empty parts left out."""
    head = " ".join(part for part in (street, housenumber) if part)
    tail = " ".join(part for part in (postcode, city) if part)
    return ", ".join(part for part in (head, tail) if part)


def query_text(query: str | StructuredAddress) -> str:
    """The query as one line, for echoing back in results."""
    return query if isinstance(query, str) else query.label


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two lon/lat points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def decide(
    query: str,
    candidates: Sequence[Candidate],
    *,
    min_confidence: float,
    rival_margin: float = 0.03,
    rival_distance_m: float = 50.0,
    limit: int = 5,
) -> GeocodeResult:
    """Turn scored candidates into a result, applying the no-silent-guess rule.

    The best candidate becomes the answer only if its confidence is at least
    ``min_confidence`` and no other candidate more than ``rival_distance_m``
    away comes within ``rival_margin`` of it. Candidates are returned best
    first, labels de-duplicated, at most ``limit`` of them.
    """
    if limit < 1:
        raise InputError(f"must be at least 1, got {limit}", where="limit")
    ranked = sorted(candidates, key=lambda c: (-c.confidence, c.label))
    unique: list[Candidate] = []
    seen: set[tuple[str, int, int]] = set()
    for cand in ranked:
        # Same label at (nearly) the same place is one answer; same label far
        # apart is two (e.g. one street name in two towns) and stays.
        key = (cand.label, round(cand.lon * 2000), round(cand.lat * 2000))
        if key not in seen:
            seen.add(key)
            unique.append(cand)
    if not unique:
        return GeocodeResult(query=query, status=GeocodeStatus.NOT_FOUND)
    best = unique[0]
    rivalled = any(
        other.confidence >= best.confidence - rival_margin
        and distance_m(best.lon, best.lat, other.lon, other.lat) > rival_distance_m
        for other in unique[1:]
    )
    shown = tuple(unique[:limit])
    if best.confidence >= min_confidence and not rivalled:
        return GeocodeResult(
            query=query,
            status=GeocodeStatus.OK,
            lon=best.lon,
            lat=best.lat,
            confidence=best.confidence,
            label=best.label,
            candidates=shown,
        )
    return GeocodeResult(
        query=query, status=GeocodeStatus.AMBIGUOUS, confidence=best.confidence, candidates=shown
    )
