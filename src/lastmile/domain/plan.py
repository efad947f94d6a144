"""The result of planning: routes of timed visits, and orders left unassigned."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class VisitKind(StrEnum):
    """What happens at a visit. Names follow VROOM's step types.

    ``JOB`` serves a single-stop (delivery or pickup) order; ``PICKUP`` and
    ``DELIVERY`` are the two halves of a shipment; ``RELOAD`` is a return to a
    depot to load for the next trip.
    """

    START = "start"
    JOB = "job"
    PICKUP = "pickup"
    DELIVERY = "delivery"
    BREAK = "break"
    RELOAD = "reload"
    END = "end"


@dataclass(frozen=True, slots=True)
class Visit:
    """One step of a route.

    Times are seconds since the epoch: the vehicle ``arrival``s, waits until
    ``start`` (inside a time window), spends setup + service, and leaves at
    ``departure``. ``load`` is what the vehicle carries after the step, per
    dimension. ``distance``/``travel`` are cumulative from the route start.
    ``order_id`` is set on order steps, ``break_id`` on breaks, ``depot`` (an
    index into the problem's depots) on start/end/reload; ``location`` is the
    matrix row where the step happens (a break: where the leg it interrupts
    began, or ended if the vehicle got there first).
    """

    kind: VisitKind
    location: int
    arrival: int
    start: int
    departure: int
    load: tuple[int, ...] = ()
    distance: int = 0
    travel: int = 0
    order_id: str | None = None
    break_id: str | None = None
    depot: int | None = None

    @property
    def wait(self) -> int:
        return self.start - self.arrival

    @property
    def is_task(self) -> bool:
        return self.kind in (VisitKind.JOB, VisitKind.PICKUP, VisitKind.DELIVERY)


@dataclass(frozen=True, slots=True)
class Route:
    """The visits of one vehicle, START first and END last (open ends omitted)."""

    vehicle_id: str
    visits: tuple[Visit, ...]
    cost: int = 0

    @property
    def tasks(self) -> tuple[Visit, ...]:
        return tuple(v for v in self.visits if v.is_task)

    @property
    def distance(self) -> int:
        return self.visits[-1].distance if self.visits else 0

    @property
    def travel(self) -> int:
        return self.visits[-1].travel if self.visits else 0

    @property
    def start_time(self) -> int:
        return self.visits[0].departure if self.visits else 0

    @property
    def end_time(self) -> int:
        return self.visits[-1].departure if self.visits else 0

    @property
    def duration(self) -> int:
        return self.end_time - self.start_time

    @property
    def wait(self) -> int:
        return sum(v.wait for v in self.visits)

    @property
    def service(self) -> int:
        """Time spent at stops (setup + service), breaks and reloads included."""
        return sum(v.departure - v.start for v in self.visits[1:])


@dataclass(frozen=True, slots=True)
class Unassigned:
    """An order the plan does not serve, and why, in words a dispatcher reads."""

    order_id: str
    reason: str
    code: str = "no_room"


@dataclass(frozen=True, slots=True)
class Plan:
    """A complete answer to a planning problem."""

    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...] = ()
    engine: str = ""
    runtime_s: float = 0.0

    @property
    def cost(self) -> int:
        return sum(r.cost for r in self.routes)

    @property
    def distance(self) -> int:
        return sum(r.distance for r in self.routes)

    @property
    def travel(self) -> int:
        return sum(r.travel for r in self.routes)

    @property
    def num_vehicles(self) -> int:
        return sum(1 for r in self.routes if r.tasks)

    def route_of(self, vehicle_id: str) -> Route | None:
        return next((r for r in self.routes if r.vehicle_id == vehicle_id), None)
