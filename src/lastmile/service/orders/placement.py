"""Where an order's stops are: positions given, kept or geocoded, and how sure.

A stop placed by the geocoder keeps the geocoder's confidence and the address
it matched; below the service's threshold (``LASTMILE_GEOCODE_REVIEW_BELOW``)
it is flagged for review until a dispatcher confirms or corrects the position.

A stored position is never silently replaced by the geocoder: a stop that
comes back with the same address (a re-import, an edit of something else)
keeps its position, how it was placed and its flag, so a dispatcher's
correction survives and the geocoder is not asked again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lastmile.domain import OrderKind
from lastmile.service.errors import FieldError
from lastmile.service.geocoding import GeocodeFn, GeocodeMatch, as_match, needs_review
from lastmile.service.orders.models import Order
from lastmile.service.orders.schemas import OrderIn, StopIn

#: The two stops an order may have, as its column prefixes and OrderIn fields.
STOPS = ("pickup", "delivery")

#: Addresses already geocoded during one request, by normalised address.
GeocodeCache = dict[str, GeocodeMatch | str | None]


@dataclass(frozen=True, slots=True)
class StopPlacement:
    """How a stop's position was obtained: by the geocoder (its confidence, the
    address it matched, whether a dispatcher should look) or given (all empty)."""

    confidence: float | None = None
    matched_address: str = ""
    needs_review: bool = False

    @property
    def geocoded(self) -> bool:
        return bool(self.matched_address)


def customer_stop(kind: str | OrderKind) -> str:
    """The stop at the customer's: the pickup of a pickup order, else the delivery."""
    return "pickup" if OrderKind(kind) is OrderKind.PICKUP else "delivery"


def placement_of(order: Order, stop: str) -> StopPlacement:
    return StopPlacement(
        confidence=getattr(order, f"{stop}_geocode_confidence"),
        matched_address=getattr(order, f"{stop}_geocoded_address"),
        needs_review=getattr(order, f"{stop}_needs_review"),
    )


def set_placement(order: Order, stop: str, placement: StopPlacement | None) -> None:
    placement = placement or StopPlacement()
    setattr(order, f"{stop}_geocode_confidence", placement.confidence)
    setattr(order, f"{stop}_geocoded_address", placement.matched_address)
    setattr(order, f"{stop}_needs_review", placement.needs_review)


def _same_address(a: str, b: str) -> bool:
    return " ".join(a.split()).lower() == " ".join(b.split()).lower()


def locate(
    data: OrderIn,
    geocode: GeocodeFn | None,
    *,
    review_below: float,
    current: Order | None = None,
    confirmed: frozenset[str] = frozenset(),
    row: int | None = None,
    columns: dict[str, str] | None = None,
    cache: GeocodeCache | None = None,
) -> tuple[OrderIn, dict[str, StopPlacement], list[FieldError]]:
    """``data`` with a position for every stop, how each stop was placed, and
    the errors (an address not found or ambiguous, or no geocoder).

    * A stop given by address only is geocoded, unless ``current`` has that
      stop at the same address: then it keeps its position and placement.
    * A stop given with lon/lat keeps its placement if ``current`` has it at
      that very position, otherwise it was placed by hand (no placement).
    * ``confirmed`` names the stops a dispatcher gave explicitly with lon/lat:
      their review flag is cleared (the position is confirmed or corrected).
    """
    errors: list[FieldError] = []
    cache = {} if cache is None else cache
    updates: dict[str, StopIn] = {}
    placements: dict[str, StopPlacement] = {}
    for name in STOPS:
        stop: StopIn | None = getattr(data, name)
        if stop is None:
            continue
        stored_lon = getattr(current, f"{name}_lon", None) if current is not None else None
        stored_lat = getattr(current, f"{name}_lat", None) if current is not None else None
        stored = (
            placement_of(current, name)
            if current is not None and stored_lon is not None and stored_lat is not None
            else None
        )
        if stop.lon is not None:
            same_place = stored is not None and (stored_lon, stored_lat) == (stop.lon, stop.lat)
            placement = stored if same_place and stored is not None else StopPlacement()
            if name in confirmed:
                placement = replace(placement, needs_review=False)
            placements[name] = placement
            continue
        if (
            stored is not None
            and current is not None
            and _same_address(getattr(current, f"{name}_address"), stop.address)
        ):
            updates[name] = stop.model_copy(update={"lon": stored_lon, "lat": stored_lat})
            placements[name] = stored
            continue
        column = (columns or {}).get(name, f"{name}.address")
        if geocode is None:
            errors.append(
                FieldError(
                    reason="no coordinates and no geocoder configured: give lon and lat",
                    column=column,
                    row=row,
                )
            )
            continue
        key = " ".join(stop.address.split()).lower()
        if key not in cache:
            cache[key] = as_match(geocode(stop.address))
        found = cache[key]
        if not isinstance(found, GeocodeMatch):
            why = found or "not found"
            errors.append(
                FieldError(reason=f"address {stop.address!r} {why}", column=column, row=row)
            )
            continue
        updates[name] = stop.model_copy(update={"lon": found.lon, "lat": found.lat})
        placements[name] = StopPlacement(
            confidence=found.confidence,
            matched_address=found.label or stop.address.strip(),
            needs_review=needs_review(found, review_below=review_below),
        )
    return (data.model_copy(update=updates) if updates else data), placements, errors
