"""What customers want: deliveries, pickups and pickup→delivery shipments."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from lastmile.domain._check import is_int, non_negative, non_negative_all
from lastmile.domain.time import TimeWindow, normalise_windows
from lastmile.exceptions import InputError


class OrderKind(StrEnum):
    """How goods move for an order.

    ``DELIVERY``: from the vehicle's depot to the customer (one stop).
    ``PICKUP``: from the customer back to the depot (one stop).
    ``SHIPMENT``: from a pickup stop to a delivery stop on the same vehicle.
    """

    DELIVERY = "delivery"
    PICKUP = "pickup"
    SHIPMENT = "shipment"


@dataclass(frozen=True, slots=True)
class Stop:
    """A place where a vehicle does something for an order.

    ``location`` is the row of the problem's travel matrices. ``setup`` is spent
    only when arriving from a different location (parking, walking to the door);
    ``service`` always. A stop with no windows may be served at any time;
    otherwise service starts inside one of them. ``ref`` is the identifier the
    stop had in its source (e.g. a VROOM shipment step id); it is echoed in output.
    """

    location: int
    service: int = 0
    setup: int = 0
    time_windows: tuple[TimeWindow, ...] = ()
    ref: str = ""

    def __post_init__(self) -> None:
        is_int(self.location, "location")
        non_negative(self.location, "location")
        is_int(self.service, "service")
        non_negative(self.service, "service")
        is_int(self.setup, "setup")
        non_negative(self.setup, "setup")
        object.__setattr__(
            self, "time_windows", normalise_windows(self.time_windows, "time_windows")
        )


@dataclass(frozen=True, slots=True)
class Order:
    """A customer's order. Amounts are integers per capacity dimension.

    ``priority`` in [0, 100] matters only when not every order can be served:
    higher-priority orders are kept first.
    """

    id: str
    kind: OrderKind
    pickup: Stop | None = None
    delivery: Stop | None = None
    amount: tuple[int, ...] = ()
    skills: frozenset[str] = field(default_factory=frozenset)
    priority: int = 0

    def __post_init__(self) -> None:
        where = f"order {self.id!r}"
        if not self.id:
            raise InputError("order id must not be empty", where="order.id")
        object.__setattr__(self, "amount", tuple(self.amount))
        object.__setattr__(self, "skills", frozenset(self.skills))
        non_negative_all(self.amount, f"{where}.amount")
        if not 0 <= self.priority <= 100:
            raise InputError(f"must be in [0, 100], got {self.priority}", where=f"{where}.priority")
        need_pickup = self.kind in (OrderKind.PICKUP, OrderKind.SHIPMENT)
        need_delivery = self.kind in (OrderKind.DELIVERY, OrderKind.SHIPMENT)
        if need_pickup != (self.pickup is not None):
            raise InputError(
                f"a {self.kind} order {'needs' if need_pickup else 'has no'} pickup stop",
                where=where,
            )
        if need_delivery != (self.delivery is not None):
            raise InputError(
                f"a {self.kind} order {'needs' if need_delivery else 'has no'} delivery stop",
                where=where,
            )

    @property
    def stops(self) -> tuple[Stop, ...]:
        """The stops in the order they must be served."""
        return tuple(s for s in (self.pickup, self.delivery) if s is not None)

    @property
    def single_stop(self) -> Stop:
        """The one stop of a delivery or pickup order."""
        stop = self.delivery if self.kind is OrderKind.DELIVERY else self.pickup
        if stop is None or self.kind is OrderKind.SHIPMENT:
            raise ValueError(f"order {self.id!r} is a shipment with two stops")
        return stop
