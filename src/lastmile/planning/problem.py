"""The immutable description of one planning problem, ready for any engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from lastmile.domain import Depot, Location, Order, OrderKind, TimeWindow, Vehicle
from lastmile.exceptions import InputError
from lastmile.travel.matrix import TravelMatrix as TravelMatrix


class Feature(StrEnum):
    """Constraints and modelling features a problem may use (see docs/engines.md)."""

    CAPACITY = "capacity"
    MULTI_DIMENSIONAL_CAPACITY = "multi_dimensional_capacity"
    TIME_WINDOWS = "time_windows"
    MULTIPLE_TIME_WINDOWS = "multiple_time_windows"
    PICKUPS = "pickups"
    SHIPMENTS = "shipments"
    SKILLS = "skills"
    PRIORITIES = "priorities"
    SERVICE_TIMES = "service_times"
    SETUP_TIMES = "setup_times"
    SHIFTS = "shifts"
    MAX_DURATION = "max_duration"
    MAX_TRAVEL_TIME = "max_travel_time"
    MAX_DISTANCE = "max_distance"
    MAX_TASKS = "max_tasks"
    BREAKS = "breaks"
    MULTIPLE_DEPOTS = "multiple_depots"
    OPEN_ROUTES = "open_routes"
    RELOADS = "reloads"
    FIXED_COSTS = "fixed_costs"
    DISTANCE_COSTS = "distance_costs"
    DURATION_COSTS = "duration_costs"
    WAITING_COSTS = "waiting_costs"
    HETEROGENEOUS_FLEET = "heterogeneous_fleet"
    PROFILES = "profiles"


@dataclass(frozen=True)
class PlanningProblem:
    """Everything an engine needs, and nothing it must not see.

    ``locations`` are the rows/columns of every matrix in ``matrices`` (one per
    routing profile, as named by the vehicle types). Depots and stops refer to
    locations by index; vehicles to depots by index. ``dimensions`` names the
    capacity dimensions (e.g. ``("weight_kg", "volume_l")``); every amount and
    capacity has exactly that many entries.

    ``time_scale`` says how many matrix time units make one reported unit
    (benchmark instances scaled by 10 for DIMACS rounding use 10; real problems
    in seconds use 1). ``travel_note`` states how the travel times were made,
    e.g. "straight-line distance at 30 km/h", and is repeated in the output.

    ``cost_waiting`` charges ``cost_per_hour`` on each route's whole duration
    (from departure to the end: driving, waiting, service, breaks) instead of
    its driving time only, for drivers paid by the hour (see :func:`route_cost`).
    """

    locations: tuple[Location, ...]
    matrices: Mapping[str, TravelMatrix]
    depots: tuple[Depot, ...]
    vehicles: tuple[Vehicle, ...]
    orders: tuple[Order, ...]
    dimensions: tuple[str, ...] = ()
    name: str = ""
    time_scale: int = 1
    travel_note: str = ""
    cost_waiting: bool = False
    _by_id: Mapping[str, Order] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "locations", tuple(self.locations))
        object.__setattr__(self, "depots", tuple(self.depots))
        object.__setattr__(self, "vehicles", tuple(self.vehicles))
        object.__setattr__(self, "orders", tuple(self.orders))
        object.__setattr__(self, "dimensions", tuple(self.dimensions))
        object.__setattr__(self, "matrices", dict(self.matrices))
        self._check()
        object.__setattr__(self, "_by_id", {o.id: o for o in self.orders})

    def _check(self) -> None:
        n = len(self.locations)
        if not self.matrices:
            raise InputError("a problem needs at least one travel matrix", where="matrices")
        for profile, matrix in self.matrices.items():
            if matrix.size != n:
                raise InputError(
                    f"matrix has {matrix.size} rows for {n} locations",
                    where=f"matrices[{profile!r}]",
                )
        if not self.depots:
            raise InputError("a problem needs at least one depot", where="depots")
        if not self.vehicles:
            raise InputError("a problem needs at least one vehicle", where="vehicles")
        for d in self.depots:
            if d.location >= n:
                raise InputError(f"location {d.location} out of range", where=f"depot {d.id!r}")
        ndim = len(self.dimensions)
        ids: set[str] = set()
        for v in self.vehicles:
            where = f"vehicle {v.id!r}"
            if v.id in ids:
                raise InputError("duplicate vehicle id", where=where)
            ids.add(v.id)
            if len(v.capacity) != ndim:
                raise InputError(
                    f"capacity has {len(v.capacity)} values for {ndim} dimensions",
                    where=f"{where}.capacity",
                )
            if v.type.profile not in self.matrices:
                raise InputError(f"unknown profile {v.type.profile!r}", where=f"{where}.profile")
            for name, idx in (("start_depot", v.start_depot), ("end_depot", v.end_depot)):
                if idx is not None and not 0 <= idx < len(self.depots):
                    raise InputError(f"depot index {idx} out of range", where=f"{where}.{name}")
            for idx in v.reload_depots:
                if not 0 <= idx < len(self.depots):
                    raise InputError(f"depot index {idx} out of range", where=f"{where}.reload")
        seen: set[str] = set()
        for o in self.orders:
            where = f"order {o.id!r}"
            if o.id in seen:
                raise InputError("duplicate order id", where=where)
            seen.add(o.id)
            if len(o.amount) not in (0, ndim):
                raise InputError(
                    f"amount has {len(o.amount)} values for {ndim} dimensions",
                    where=f"{where}.amount",
                )
            for s in o.stops:
                if s.location >= n:
                    raise InputError(f"location {s.location} out of range", where=where)

    # -- lookups ----------------------------------------------------------------

    def order(self, order_id: str) -> Order:
        try:
            return self._by_id[order_id]
        except KeyError:
            raise KeyError(f"no order {order_id!r} in problem {self.name!r}") from None

    def vehicle(self, vehicle_id: str) -> Vehicle:
        for v in self.vehicles:
            if v.id == vehicle_id:
                return v
        raise KeyError(f"no vehicle {vehicle_id!r} in problem {self.name!r}")

    def amount(self, order: Order) -> tuple[int, ...]:
        """The order's amount with one entry per dimension (zeros if it gave none)."""
        return order.amount if order.amount else (0,) * len(self.dimensions)

    def matrix_for(self, vehicle: Vehicle) -> TravelMatrix:
        return self.matrices[vehicle.type.profile]

    # -- working hours -------------------------------------------------------------
    # The one statement of how a vehicle's shift meets its depots' opening hours;
    # the scheduler, the engines and the VROOM format all follow it.

    def earliest_departure(self, vehicle: Vehicle, at: int | None = None) -> int:
        """When ``vehicle`` leaves if asked to leave at ``at`` (default: its shift
        start): never before its start depot opens."""
        t = vehicle.shift.start if at is None else at
        if vehicle.start_depot is not None:
            t = max(t, self.depots[vehicle.start_depot].time_window.start)
        return t

    def working_hours(self, vehicle: Vehicle) -> TimeWindow | None:
        """The vehicle's working hours: its shift, starting no earlier than its
        start depot opens and ending no later than its end depot closes. None when
        that leaves no time."""
        start, end = self.earliest_departure(vehicle), vehicle.shift.end
        if vehicle.end_depot is not None:
            end = min(end, self.depots[vehicle.end_depot].time_window.end)
        return TimeWindow(start, end) if start <= end else None

    def idle_reason(self, vehicle: Vehicle) -> str | None:
        """Why ``vehicle`` cannot drive any route today, in words (None when it can).

        It cannot when its working hours are empty, when its start depot has
        closed before it is ready (nothing can be loaded), or when one of its
        breaks cannot be taken inside its working hours (every route must take
        every break). Such a vehicle gets no route; engines are not asked to
        plan it (VROOM refuses the breaks as inconsistent).
        """
        hours = self.working_hours(vehicle)
        if hours is None:
            return "its shift ends before it can leave (shift or depot hours)"
        if vehicle.start_depot is not None:
            closes = self.depots[vehicle.start_depot].time_window.end
            if hours.start > closes:
                return "its start depot closes before it is ready"
        for brk in vehicle.breaks:
            if not any(
                max(w.start, hours.start) <= w.end
                and max(w.start, hours.start) + brk.duration <= hours.end
                for w in brk.time_windows
            ):
                return f"its break {brk.id!r} does not fit in its working hours"
        return None

    @property
    def num_stops(self) -> int:
        return sum(len(o.stops) for o in self.orders)

    # -- features ----------------------------------------------------------------

    @cached_property
    def features(self) -> frozenset[Feature]:
        """Every constraint this problem actually uses. Engines must honour all."""
        f: set[Feature] = set()
        if any(any(c > 0 for c in v.capacity) for v in self.vehicles) and any(
            any(a > 0 for a in o.amount) for o in self.orders
        ):
            f.add(Feature.CAPACITY)
            if len(self.dimensions) > 1:
                f.add(Feature.MULTI_DIMENSIONAL_CAPACITY)
        stops = [s for o in self.orders for s in o.stops]
        if any(s.time_windows and any(w.is_bounded for w in s.time_windows) for s in stops):
            f.add(Feature.TIME_WINDOWS)
        if any(len(s.time_windows) > 1 for s in stops):
            f.add(Feature.MULTIPLE_TIME_WINDOWS)
        if any(s.service > 0 for s in stops):
            f.add(Feature.SERVICE_TIMES)
        if any(s.setup > 0 for s in stops):
            f.add(Feature.SETUP_TIMES)
        kinds = {o.kind for o in self.orders}
        if OrderKind.PICKUP in kinds:
            f.add(Feature.PICKUPS)
        if OrderKind.SHIPMENT in kinds:
            f.add(Feature.SHIPMENTS)
        if any(o.skills for o in self.orders):
            f.add(Feature.SKILLS)
        if len({o.priority for o in self.orders}) > 1:
            f.add(Feature.PRIORITIES)
        for v in self.vehicles:
            if v.shift.is_bounded or any(d.time_window.is_bounded for d in self.depots):
                f.add(Feature.SHIFTS)
            if v.max_duration is not None:
                f.add(Feature.MAX_DURATION)
            if v.max_travel_time is not None:
                f.add(Feature.MAX_TRAVEL_TIME)
            if v.max_distance is not None:
                f.add(Feature.MAX_DISTANCE)
            if v.max_tasks is not None:
                f.add(Feature.MAX_TASKS)
            if v.breaks:
                f.add(Feature.BREAKS)
            if v.start_depot is None or v.end_depot is None:
                f.add(Feature.OPEN_ROUTES)
            if v.reload_depots:
                f.add(Feature.RELOADS)
            if v.type.fixed_cost:
                f.add(Feature.FIXED_COSTS)
            if v.type.cost_per_km:
                f.add(Feature.DISTANCE_COSTS)
            if v.type.cost_per_hour:
                f.add(Feature.DURATION_COSTS)
                if self.cost_waiting:
                    f.add(Feature.WAITING_COSTS)
        used_depots = {
            d for v in self.vehicles for d in (v.start_depot, v.end_depot) if d is not None
        }
        if len({self.depots[d].location for d in used_depots}) > 1:
            f.add(Feature.MULTIPLE_DEPOTS)
        if len({v.type for v in self.vehicles}) > 1:
            f.add(Feature.HETEROGENEOUS_FLEET)
        if len({v.type.profile for v in self.vehicles}) > 1:
            f.add(Feature.PROFILES)
        return frozenset(f)


def edge_cost(vehicle: Vehicle, duration_s: int, distance_m: int) -> float:
    """Travel cost of one leg for ``vehicle`` (unrounded)."""
    t = vehicle.type
    return t.cost_per_hour * duration_s / 3600 + t.cost_per_km * distance_m / 1000


def route_cost(
    vehicle: Vehicle, travel_s: int, distance_m: int, *, duration_s: int | None = None
) -> int:
    """The objective of a non-empty route: fixed cost plus travel cost, rounded.

    With ``duration_s`` (problems with ``cost_waiting``: the route's end minus its
    departure), time is charged on the route's duration instead of ``travel_s``:
    waiting costs what driving costs.
    """
    charged = travel_s if duration_s is None else duration_s
    return vehicle.type.fixed_cost + round(edge_cost(vehicle, charged, distance_m))


def charged_duration(problem: PlanningProblem, start_s: int, end_s: int) -> int | None:
    """The ``duration_s`` :func:`route_cost` takes for a route of ``problem`` leaving
    at ``start_s`` and ending at ``end_s`` (None: only driving time is charged)."""
    return end_s - start_s if problem.cost_waiting else None
