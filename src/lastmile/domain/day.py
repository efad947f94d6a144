"""What happened on a delivery day: each planned stop and route as it was driven.

A :class:`DayRecord` is the common currency between whatever ran the day and
whatever measures it: the digital twin (:mod:`lastmile.simulate`) writes one
from a simulated day, the service builds one from its stored plan, stop events,
pings and promises, and :mod:`lastmile.analytics` turns one or several into
KPIs, figures and reports. Nothing here computes; it only holds and checks.

Times are integer seconds since the day's epoch (local midnight of ``day`` in
``timezone``), as in :class:`~lastmile.domain.plan.Plan`; distances in metres;
costs in the vehicle type's cost units. ``None`` means "did not happen" (a stop
never reached has no actual arrival). A record round-trips through
:meth:`DayRecord.to_dict` / :meth:`DayRecord.from_dict` (plain JSON types), so
it can be written by one program and read by another.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

from lastmile.domain.plan import Unassigned, VisitKind
from lastmile.exceptions import InputError

#: Bumped when a field changes meaning; readers refuse other versions.
RECORD_VERSION = 1


class StopStatus(StrEnum):
    """How a planned stop ended.

    ``DONE``: served (delivered, or picked up). ``FAILED``: the driver was there
    and could not serve it (``failure_reason`` says why: customer absent, wrong
    parcel, refused...). ``NOT_REACHED``: the route ended (or the order was
    taken off it and given to no other vehicle) before the driver got there.
    ``MOVED``: taken off this route during the day and given to another vehicle
    (a breakdown, a re-plan, a dispatcher's move): its outcome is that vehicle's
    stop for the same order.
    """

    DONE = "done"
    FAILED = "failed"
    NOT_REACHED = "not_reached"
    MOVED = "moved"


@dataclass(frozen=True, slots=True)
class StopOutcome:
    """One planned stop (an order's task on a route) and what became of it.

    ``planned_*`` come from the plan the driver set out with (for an order
    inserted during the day: the plan it was inserted into). ``window_*`` is
    the time window the plan serves the stop in (``None``: no window).
    ``leg_*`` describe the leg that ends at this stop (from the previous stop or
    the depot): planned and driven distance and driving time. ``promised_*`` is
    the range told to the customer (``None``: nothing was told). ``lon``/``lat``
    is where the stop is; ``inserted`` marks an order added to the route during
    the day.
    ``arrival``/``start``/``departure`` are the actual times: arrival at the
    stop, start of service (after waiting for the window), leaving.
    """

    order_id: str
    vehicle_id: str
    kind: VisitKind
    status: StopStatus
    planned_arrival: int
    planned_start: int
    planned_departure: int
    window_start: int | None = None
    window_end: int | None = None
    arrival: int | None = None
    start: int | None = None
    departure: int | None = None
    failure_reason: str | None = None
    attempt: int = 1
    leg_planned_distance_m: int = 0
    leg_planned_travel_s: int = 0
    leg_distance_m: int | None = None
    leg_travel_s: int | None = None
    promised_start: int | None = None
    promised_end: int | None = None
    driver_id: str | None = None
    depot_id: str | None = None
    inserted: bool = False
    lon: float | None = None
    lat: float | None = None

    def __post_init__(self) -> None:
        where = f"stop {self.order_id!r}"
        if self.reached and self.arrival is None:
            raise InputError(f"a {self.status.value} stop needs its arrival", where=where)
        if self.attempt < 1:
            raise InputError(f"attempt {self.attempt} is below 1", where=where)

    @property
    def reached(self) -> bool:
        """Whether the driver got there (served it or failed it)."""
        return self.status in (StopStatus.DONE, StopStatus.FAILED)

    @property
    def lateness_s(self) -> int | None:
        """Seconds the service started after the window closed (0 when on time,
        ``None`` when it never started or had no window)."""
        start = self.start if self.start is not None else self.arrival
        if start is None or self.window_end is None or not self.reached:
            return None
        return max(0, start - self.window_end)

    @property
    def on_time(self) -> bool | None:
        late = self.lateness_s
        return None if late is None else late == 0


@dataclass(frozen=True, slots=True)
class RouteOutcome:
    """One vehicle's day: planned and actual start, end, distance and time.

    ``capacity`` is the vehicle's per dimension (``dimensions`` names them),
    ``peak_load`` the most it carried at once in the plan. Costs follow
    :class:`~lastmile.domain.fleet.VehicleType` (``fixed_cost + cost_per_hour *
    hours + cost_per_km * km``); ``hours`` are driving hours, or the whole
    route duration when the organisation pays waiting like driving
    (``paid_waiting``). ``depot_lon``/``depot_lat``: where the route starts.
    ``shift_start``/``shift_end``: the driver's working hours (``None``: not
    known), against which the time a route uses is measured.
    """

    vehicle_id: str
    planned_start: int
    planned_end: int
    planned_distance_m: int
    planned_travel_s: int
    planned_wait_s: int = 0
    actual_start: int | None = None
    actual_end: int | None = None
    distance_m: int | None = None
    travel_s: int | None = None
    wait_s: int | None = None
    driver_id: str | None = None
    depot_id: str | None = None
    vehicle_type: str | None = None
    profile: str = "car"
    capacity: tuple[int, ...] = ()
    peak_load: tuple[int, ...] = ()
    fixed_cost: int = 0
    cost_per_hour: int = 3600
    cost_per_km: int = 0
    paid_waiting: bool = False
    depot_lon: float | None = None
    depot_lat: float | None = None
    shift_start: int | None = None
    shift_end: int | None = None


@dataclass(frozen=True, slots=True)
class EtaSample:
    """An arrival time predicted at ``asked_at`` for a stop, and when it really came."""

    order_id: str
    vehicle_id: str
    asked_at: int
    predicted_arrival: int
    actual_arrival: int


@dataclass(frozen=True, slots=True)
class Position:
    """Where a vehicle was (longitude, latitude) at ``t``."""

    vehicle_id: str
    t: int
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class Incident:
    """Something that changed the day: ``kind`` is e.g. ``breakdown``,
    ``road_closed``, ``urgent_order``; ``detail`` says what, in words."""

    t: int
    kind: str
    detail: str = ""
    vehicle_id: str | None = None
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class DayRecord:
    """A whole day: its routes, stops, promises, positions and incidents.

    ``source`` says where it comes from (e.g. ``"twin seed=3"``, ``"service"``);
    ``travel`` describes the travel model the plan used; ``dimensions`` names
    the capacity dimensions of ``RouteOutcome.capacity``.
    """

    day: dt.date
    timezone: str
    routes: tuple[RouteOutcome, ...]
    stops: tuple[StopOutcome, ...]
    unassigned: tuple[Unassigned, ...] = ()
    eta_samples: tuple[EtaSample, ...] = ()
    positions: tuple[Position, ...] = ()
    incidents: tuple[Incident, ...] = ()
    dimensions: tuple[str, ...] = ()
    source: str = ""
    travel: str = ""

    def __post_init__(self) -> None:
        vehicles = {r.vehicle_id for r in self.routes}
        if len(vehicles) != len(self.routes):
            raise InputError("a vehicle has more than one route", where="routes")
        for stop in self.stops:
            if stop.vehicle_id not in vehicles:
                raise InputError(
                    f"stop {stop.order_id!r} names vehicle {stop.vehicle_id!r}, which has no route",
                    where="stops",
                )

    def stops_of(self, vehicle_id: str) -> tuple[StopOutcome, ...]:
        return tuple(s for s in self.stops if s.vehicle_id == vehicle_id)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; :meth:`from_dict` reads it back."""
        data: dict[str, Any] = _plain(asdict(self))
        data["version"] = RECORD_VERSION
        data["day"] = self.day.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DayRecord:
        """Read :meth:`to_dict`'s output; a wrong field is an ``InputError`` naming it."""
        version = data.get("version")
        if version != RECORD_VERSION:
            raise InputError(
                f"version {version!r} is not {RECORD_VERSION}, the one this lastmile reads",
                where="version",
            )
        try:
            day = dt.date.fromisoformat(str(data["day"]))
        except (KeyError, ValueError) as exc:
            raise InputError(f"not a date: {exc}", where="day") from exc
        return cls(
            day=day,
            timezone=str(data.get("timezone", "UTC")),
            routes=tuple(_build(RouteOutcome, r, "routes", i) for i, r in _items(data, "routes")),
            stops=tuple(_build(StopOutcome, s, "stops", i) for i, s in _items(data, "stops")),
            unassigned=tuple(
                _build(Unassigned, u, "unassigned", i) for i, u in _items(data, "unassigned")
            ),
            eta_samples=tuple(
                _build(EtaSample, e, "eta_samples", i) for i, e in _items(data, "eta_samples")
            ),
            positions=tuple(
                _build(Position, p, "positions", i) for i, p in _items(data, "positions")
            ),
            incidents=tuple(
                _build(Incident, x, "incidents", i) for i, x in _items(data, "incidents")
            ),
            dimensions=tuple(str(d) for d in data.get("dimensions", ())),
            source=str(data.get("source", "")),
            travel=str(data.get("travel", "")),
        )


def _plain(value: Any) -> Any:
    """Tuples as lists, enums as their values, all the way down."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    return value


def _items(data: dict[str, Any], key: str) -> list[tuple[int, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise InputError(f"expected a list, got {type(value).__name__}", where=key)
    return list(enumerate(value))


def _build(cls: type[Any], value: Any, key: str, index: int) -> Any:
    where = f"{key}[{index}]"
    if not isinstance(value, dict):
        raise InputError(f"expected an object, got {type(value).__name__}", where=where)
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise InputError(f"unknown field {unknown[0]!r}", where=where)
    kwargs = dict(value)
    if "kind" in kwargs and cls is StopOutcome:
        kwargs["kind"] = _enum(VisitKind, kwargs["kind"], f"{where}.kind")
    if "status" in kwargs:
        kwargs["status"] = _enum(StopStatus, kwargs["status"], f"{where}.status")
    for name in ("capacity", "peak_load"):
        if name in kwargs:
            kwargs[name] = tuple(int(x) for x in kwargs[name])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise InputError(str(exc), where=where) from exc


def _enum(cls: type[StrEnum], value: Any, where: str) -> Any:
    try:
        return cls(value)
    except ValueError as exc:
        names = ", ".join(m.value for m in cls)
        raise InputError(f"{value!r} is not one of {names}", where=where) from exc
