"""Loading lists: what goes into each vehicle, in which order.

A vehicle is loaded so that what it delivers last goes in first (deepest),
and what it delivers first comes out first. Items are grouped by the
compartment (temperature zone, shelf, cage) they travel in; within a
compartment the order is reverse stop order. A multi-trip route (reloads at
the depot) gets one list per trip. Only depot-loaded goods appear: delivery
orders. Pickups and shipments are loaded where they are collected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lastmile.domain import OrderKind
from lastmile.exceptions import InputError

#: The compartment of items that name none.
DEFAULT_COMPARTMENT = "general"


@dataclass(frozen=True, slots=True)
class LoadingItem:
    """One line of an order: ``quantity`` pieces with one barcode."""

    barcode: str | None
    description: str = ""
    quantity: int = 1
    compartment: str | None = None

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise InputError(f"must be >= 1, got {self.quantity}", where="item.quantity")


@dataclass(frozen=True, slots=True)
class LoadingStop:
    """An order stop on a route. ``sequence`` is its position in the route (1 = first).

    ``trip`` counts the depot reloads before the stop (0 = loaded at the start).
    ``compartment`` applies to items that name none.
    """

    sequence: int
    order_id: str
    order_kind: OrderKind
    label: str = ""
    items: tuple[LoadingItem, ...] = ()
    trip: int = 0
    compartment: str | None = None


@dataclass(frozen=True, slots=True)
class LoadingEntry:
    """One line of a loading list. ``position`` counts from 1 (loaded first) per
    trip and compartment."""

    trip: int
    compartment: str
    position: int
    sequence: int
    order_id: str
    label: str
    barcode: str | None
    description: str
    quantity: int


@dataclass(frozen=True, slots=True)
class LoadingList:
    """Entries in loading order: by trip, then compartment, then last stop first."""

    entries: tuple[LoadingEntry, ...] = field(default_factory=tuple)

    @property
    def compartments(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for e in self.entries:
            seen.setdefault(e.compartment, None)
        return tuple(seen)

    @property
    def trips(self) -> tuple[int, ...]:
        return tuple(sorted({e.trip for e in self.entries}))

    def for_compartment(self, compartment: str, *, trip: int = 0) -> tuple[LoadingEntry, ...]:
        return tuple(e for e in self.entries if e.compartment == compartment and e.trip == trip)


def build_loading_list(
    stops: Sequence[LoadingStop], *, compartments: Sequence[str] = ()
) -> LoadingList:
    """The loading list for one vehicle's route.

    ``compartments`` is the vehicle's compartment order (e.g. front to back);
    compartments it does not name follow in alphabetical order. Stops that are
    not depot-loaded (pickups, shipments) are left out. An order without items
    gets one entry for the order as a whole (``barcode=None``, quantity 1).
    """
    sequences = [s.sequence for s in stops]
    if len(set(sequences)) != len(sequences):
        raise InputError("stop sequences must be unique", where="stops")
    rank = {name: i for i, name in enumerate(compartments)}
    rows: list[tuple[int, str, int, LoadingItem, LoadingStop]] = []
    for stop in stops:
        if stop.order_kind is not OrderKind.DELIVERY:
            continue
        items = stop.items or (LoadingItem(barcode=None, compartment=stop.compartment),)
        for item in items:
            compartment = item.compartment or stop.compartment or DEFAULT_COMPARTMENT
            rows.append((stop.trip, compartment, stop.sequence, item, stop))

    def key(row: tuple[int, str, int, LoadingItem, LoadingStop]) -> tuple[int, int, str, int]:
        trip, compartment, sequence, _, _ = row
        # Unknown compartments sort after the vehicle's own, alphabetically.
        return (trip, rank.get(compartment, len(rank)), compartment, -sequence)

    entries: list[LoadingEntry] = []
    counters: dict[tuple[int, str], int] = {}
    for trip, compartment, sequence, item, stop in sorted(rows, key=key):
        position = counters.get((trip, compartment), 0) + 1
        counters[(trip, compartment)] = position
        entries.append(
            LoadingEntry(
                trip=trip,
                compartment=compartment,
                position=position,
                sequence=sequence,
                order_id=stop.order_id,
                label=stop.label or stop.order_id,
                barcode=item.barcode,
                description=item.description,
                quantity=item.quantity,
            )
        )
    return LoadingList(tuple(entries))
