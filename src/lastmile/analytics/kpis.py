"""Key figures of one or several delivery days, overall or per driver, vehicle, depot or day.

Every figure is computed from :class:`~lastmile.domain.day.DayRecord` fields
only, with one rule each (see ``docs/analytics.md``):

* **stops**: every planned stop of the record counts once in ``stops_planned``
  and once in one of ``done``, ``failed``, ``not_reached``, ``moved`` (given to
  another vehicle during the day, where it counts again with its outcome).
* **on time**: among stops the driver reached (done or failed) that have a time
  window, the share whose service started no later than the window's end.
  Lateness percentiles are over the same stops (on-time stops count as 0 s),
  with linear interpolation between ranks (numpy's default).
* **first attempt**: among stops reached on their first attempt
  (``attempt == 1``), the share served.
* **cost**: per route ``fixed_cost + round(cost_per_hour * hours + cost_per_km
  * km)`` as the planner charges it, ``hours`` being driving hours, or the whole
  route duration when the route pays waiting (``paid_waiting``). A route without
  stops costs nothing; a route that never left costs nothing in the actual day.
* **per stop** figures divide the actual day's cost, kilometres and route hours
  by the stops served; **stops per hour** is its inverse.
* **utilisation**: the peak load over the capacity, summed over the routes per
  dimension; the time used (actual route duration) over the shift, summed over
  the routes whose shift is known.
* **ETA accuracy**: the error of a sample is ``actual - predicted`` arrival
  (positive: later than predicted); mean absolute error, 90th percentile of the
  absolute error and bias (mean error).
* **promises**: among stops whose customer was told a range for the start of
  service, the share whose service started inside it (the arrival, when no start
  is recorded); a stop never reached breaks its promise unless the same order
  was reached on another route of the day.

A figure that would divide by zero (no stop with a window, no ETA sample...) is
``None``, never NaN.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from lastmile.analytics.tables import promise_kept
from lastmile.domain.day import DayRecord, RouteOutcome, StopOutcome, StopStatus
from lastmile.exceptions import InputError

Grouping = Literal["driver", "vehicle", "depot", "day"]
#: The groupings :func:`summarise` knows (``None``: everything together).
GROUPINGS: tuple[Grouping, ...] = ("driver", "vehicle", "depot", "day")
#: The group of a summary over everything, and of items that name no driver or depot.
ALL = "all"
NONE = "(none)"

Cell = float | int | str | None


@dataclass(frozen=True, slots=True)
class Kpis:
    """The key figures of one group of routes (see the module docstring for each rule).

    Times are seconds, durations hours, distances kilometres, rates fractions
    of 1; ``None`` where the figure has no denominator.
    """

    group: str
    days: int
    routes: int
    stops_planned: int
    stops_done: int
    stops_failed: int
    stops_not_reached: int
    stops_moved: int
    on_time_rate: float | None
    lateness_p50_s: float | None
    lateness_p90_s: float | None
    lateness_max_s: float | None
    first_attempt_success_rate: float | None
    planned_cost: float | None
    actual_cost: float | None
    planned_distance_km: float | None
    distance_km: float | None
    planned_driving_h: float | None
    driving_h: float | None
    planned_route_h: float | None
    route_h: float | None
    planned_waiting_h: float | None
    waiting_h: float | None
    cost_per_stop: float | None
    km_per_stop: float | None
    hours_per_stop: float | None
    stops_per_hour: float | None
    load_utilisation: tuple[tuple[str, float | None], ...] = field(default=())
    time_utilisation: float | None = None
    eta_samples: int = 0
    eta_mae_s: float | None = None
    eta_p90_abs_error_s: float | None = None
    eta_bias_s: float | None = None
    promises: int = 0
    promises_kept_rate: float | None = None

    def as_row(self) -> dict[str, Cell]:
        """One CSV row: units in the column names, floats rounded to 4 decimals,
        one ``load_utilisation_<dimension>`` column per capacity dimension."""
        row: dict[str, Cell] = {}
        for name, value in _COLUMNS:
            if name == "load_utilisation":
                for dim, share in self.load_utilisation:
                    row[f"load_utilisation_{dim}"] = _round(share)
                continue
            row[value] = _round(getattr(self, name))
        return row


#: Field name and CSV column, in the order of :meth:`Kpis.as_row`.
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("group", "group"),
    ("days", "days"),
    ("routes", "routes"),
    ("stops_planned", "stops_planned"),
    ("stops_done", "stops_done"),
    ("stops_failed", "stops_failed"),
    ("stops_not_reached", "stops_not_reached"),
    ("stops_moved", "stops_moved"),
    ("on_time_rate", "on_time_rate"),
    ("lateness_p50_s", "lateness_p50_s"),
    ("lateness_p90_s", "lateness_p90_s"),
    ("lateness_max_s", "lateness_max_s"),
    ("first_attempt_success_rate", "first_attempt_success_rate"),
    ("planned_cost", "cost_planned"),
    ("actual_cost", "cost_actual"),
    ("planned_distance_km", "distance_planned_km"),
    ("distance_km", "distance_km"),
    ("planned_driving_h", "driving_planned_h"),
    ("driving_h", "driving_h"),
    ("planned_route_h", "route_planned_h"),
    ("route_h", "route_h"),
    ("planned_waiting_h", "waiting_planned_h"),
    ("waiting_h", "waiting_h"),
    ("cost_per_stop", "cost_per_stop"),
    ("km_per_stop", "km_per_stop"),
    ("hours_per_stop", "hours_per_stop_h"),
    ("stops_per_hour", "stops_per_hour"),
    ("load_utilisation", "load_utilisation"),
    ("time_utilisation", "time_utilisation"),
    ("eta_samples", "eta_samples"),
    ("eta_mae_s", "eta_mae_s"),
    ("eta_p90_abs_error_s", "eta_p90_abs_error_s"),
    ("eta_bias_s", "eta_bias_s"),
    ("promises", "promises"),
    ("promises_kept_rate", "promises_kept_rate"),
)


def _round(value: Cell) -> Cell:
    return round(value, 4) if isinstance(value, float) else value


# -- grouping ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Group:
    """What one group gathers: routes (with their record), stops, ETA errors."""

    days: set[str] = field(default_factory=set)
    routes: list[tuple[DayRecord, RouteOutcome]] = field(default_factory=list)
    stops: list[tuple[DayRecord, StopOutcome]] = field(default_factory=list)
    eta_errors: list[int] = field(default_factory=list)


def _route_key(by: Grouping | None, record: DayRecord, route: RouteOutcome) -> str:
    if by is None:
        return ALL
    if by == "day":
        return record.day.isoformat()
    if by == "vehicle":
        return route.vehicle_id
    if by == "driver":
        return route.driver_id or NONE
    return route.depot_id or NONE


def _stop_key(
    by: Grouping | None, record: DayRecord, route: RouteOutcome, stop: StopOutcome
) -> str:
    if by == "driver" and stop.driver_id:
        return stop.driver_id
    if by == "depot" and stop.depot_id:
        return stop.depot_id
    return _route_key(by, record, route)


def summarise(
    records: DayRecord | Iterable[DayRecord], *, by: Grouping | None = None
) -> list[Kpis]:
    """The key figures of ``records``, one :class:`Kpis` per group.

    ``by=None`` gives one summary named ``"all"``; ``"driver"``, ``"vehicle"``,
    ``"depot"`` or ``"day"`` one per driver id, vehicle id, depot id or date
    (ISO), sorted by name (numbers in names as numbers: ``van-2`` before
    ``van-10``), across all the records (a vehicle's several days
    make one group). Routes and stops that name no driver or depot form the
    group ``"(none)"``. No record, or records without routes, give no group
    when grouped and one empty summary when not.
    """
    if by is not None and by not in GROUPINGS:
        raise InputError(f"{by!r} is not one of {', '.join(GROUPINGS)}", where="by")
    records = [records] if isinstance(records, DayRecord) else list(records)
    groups: dict[str, _Group] = {}
    if by is None:
        groups[ALL] = _Group()
    for record in records:
        routes = {r.vehicle_id: r for r in record.routes}
        for route in record.routes:
            group = groups.setdefault(_route_key(by, record, route), _Group())
            group.routes.append((record, route))
            group.days.add(record.day.isoformat())
        for stop in record.stops:
            route = routes[stop.vehicle_id]
            group = groups.setdefault(_stop_key(by, record, route, stop), _Group())
            group.stops.append((record, stop))
            group.days.add(record.day.isoformat())
        stops = {(s.order_id, s.vehicle_id): s for s in record.stops}
        for sample in record.eta_samples:
            route_of = routes.get(sample.vehicle_id)
            stop_of = stops.get((sample.order_id, sample.vehicle_id))
            if route_of is not None and stop_of is not None:
                key = _stop_key(by, record, route_of, stop_of)
            elif route_of is not None:
                key = _route_key(by, record, route_of)
            elif by in (None, "day", "vehicle"):
                key = _route_key(by, record, RouteOutcome(sample.vehicle_id, 0, 0, 0, 0))
            else:
                key = NONE
            group = groups.setdefault(key, _Group())
            group.days.add(record.day.isoformat())
            group.eta_errors.append(sample.actual_arrival - sample.predicted_arrival)
    return [_kpis(name, groups[name], records) for name in sorted(groups, key=_natural)]


def _natural(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key reading runs of digits as numbers: ``van-2`` before ``van-10``."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name) if p)


# -- the figures ---------------------------------------------------------------------------


def _share(part: int | float, whole: int | float) -> float | None:
    return None if not whole else part / whole


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


def _total(values: Iterable[float | None]) -> float | None:
    """The sum, or ``None`` when any value is unknown."""
    out = 0.0
    for v in values:
        if v is None:
            return None
        out += v
    return out


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value / factor


def _ratio(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else part / whole


def _cost(route: RouteOutcome, travel_s: int, distance_m: int, duration_s: int) -> float:
    charged = duration_s if route.paid_waiting else travel_s
    edge = route.cost_per_hour * charged / 3600 + route.cost_per_km * distance_m / 1000
    return float(route.fixed_cost + round(edge))


@dataclass(frozen=True, slots=True)
class _RouteFigures:
    """One route's planned and actual cost, distance (m) and times (s)."""

    planned_cost: float
    planned_distance_m: float
    planned_travel_s: float
    planned_duration_s: float
    planned_wait_s: float
    cost: float | None
    distance_m: float | None
    travel_s: float | None
    duration_s: float | None
    wait_s: float | None


def _route_figures(route: RouteOutcome, stops: Sequence[StopOutcome]) -> _RouteFigures:
    planned_duration = route.planned_end - route.planned_start
    used = bool(stops)
    planned_cost = (
        _cost(route, route.planned_travel_s, route.planned_distance_m, planned_duration)
        if used
        else 0.0
    )
    reached = any(s.reached for s in stops)
    if route.actual_start is None and not reached:
        # The vehicle never left: nothing was driven, nothing spent.
        return _RouteFigures(
            planned_cost,
            route.planned_distance_m,
            route.planned_travel_s,
            planned_duration,
            route.planned_wait_s,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
        )
    duration = (
        None
        if route.actual_start is None or route.actual_end is None
        else route.actual_end - route.actual_start
    )
    cost: float | None = None
    if (
        route.travel_s is not None
        and route.distance_m is not None
        and (duration is not None or not route.paid_waiting)
    ):
        cost = _cost(route, route.travel_s, route.distance_m, duration or 0) if used else 0.0
    return _RouteFigures(
        planned_cost,
        route.planned_distance_m,
        route.planned_travel_s,
        planned_duration,
        route.planned_wait_s,
        cost,
        route.distance_m,
        route.travel_s,
        duration,
        route.wait_s,
    )


def _reached_orders(records: Sequence[DayRecord]) -> set[tuple[int, str]]:
    return {(id(record), s.order_id) for record in records for s in record.stops if s.reached}


def _promise(stop: StopOutcome, reached_elsewhere: bool) -> bool | None:
    """Whether the stop kept the range told to its customer (``None``: nothing told,
    or the order was moved to a route that reached it)."""
    if stop.promised_start is None and stop.promised_end is None:
        return None
    if stop.status is StopStatus.MOVED:
        return None
    if stop.status is StopStatus.NOT_REACHED:
        return None if reached_elsewhere else False
    return promise_kept(stop)


def _kpis(name: str, group: _Group, records: Sequence[DayRecord]) -> Kpis:
    stops = [s for _, s in group.stops]
    done = sum(s.status is StopStatus.DONE for s in stops)
    failed = sum(s.status is StopStatus.FAILED for s in stops)
    not_reached = sum(s.status is StopStatus.NOT_REACHED for s in stops)
    moved = sum(s.status is StopStatus.MOVED for s in stops)

    lateness = [late for s in stops if (late := s.lateness_s) is not None]
    first = [s for s in stops if s.attempt == 1 and s.reached]
    first_done = sum(s.status is StopStatus.DONE for s in first)

    all_stops_by_route: dict[tuple[int, str], list[StopOutcome]] = {}
    for record, route in group.routes:
        all_stops_by_route[(id(record), route.vehicle_id)] = list(record.stops_of(route.vehicle_id))
    figures = [
        _route_figures(route, all_stops_by_route[(id(record), route.vehicle_id)])
        for record, route in group.routes
    ]
    planned_cost = sum(f.planned_cost for f in figures)
    cost = _total(f.cost for f in figures)
    planned_km = sum(f.planned_distance_m for f in figures) / 1000
    km = _scaled(_total(f.distance_m for f in figures), 1000)
    planned_driving = sum(f.planned_travel_s for f in figures) / 3600
    driving = _scaled(_total(f.travel_s for f in figures), 3600)
    planned_route = sum(f.planned_duration_s for f in figures) / 3600
    route_h = _scaled(_total(f.duration_s for f in figures), 3600)
    planned_wait = sum(f.planned_wait_s for f in figures) / 3600
    wait = _scaled(_total(f.wait_s for f in figures), 3600)

    dims = _dimensions(group.routes)
    load: list[tuple[str, float | None]] = []
    for i, dim in enumerate(dims):
        capacity = sum(r.capacity[i] for _, r in group.routes if i < len(r.capacity))
        peak = sum(r.peak_load[i] for _, r in group.routes if i < len(r.peak_load))
        load.append((dim, _share(peak, capacity)))
    shift_s = 0
    used: list[float | None] = []
    for (_, r), f in zip(group.routes, figures, strict=True):
        if r.shift_start is not None and r.shift_end is not None:
            shift_s += r.shift_end - r.shift_start
            used.append(f.duration_s)
    time_utilisation = _ratio(_total(used), shift_s) if used else None

    errors = group.eta_errors
    abs_errors = [abs(e) for e in errors]

    reached = _reached_orders(records)
    promises = [
        kept
        for record, s in group.stops
        if (
            kept := _promise(
                s,
                s.status is StopStatus.NOT_REACHED and (id(record), s.order_id) in reached,
            )
        )
        is not None
    ]

    return Kpis(
        group=name,
        days=len(group.days),
        routes=len(group.routes),
        stops_planned=len(stops),
        stops_done=done,
        stops_failed=failed,
        stops_not_reached=not_reached,
        stops_moved=moved,
        on_time_rate=_share(sum(late == 0 for late in lateness), len(lateness)),
        lateness_p50_s=_percentile(lateness, 50),
        lateness_p90_s=_percentile(lateness, 90),
        lateness_max_s=float(max(lateness)) if lateness else None,
        first_attempt_success_rate=_share(first_done, len(first)),
        planned_cost=planned_cost,
        actual_cost=cost,
        planned_distance_km=planned_km,
        distance_km=km,
        planned_driving_h=planned_driving,
        driving_h=driving,
        planned_route_h=planned_route,
        route_h=route_h,
        planned_waiting_h=planned_wait,
        waiting_h=wait,
        cost_per_stop=_ratio(cost, done),
        km_per_stop=_ratio(km, done),
        hours_per_stop=_ratio(route_h, done),
        stops_per_hour=_ratio(done, route_h),
        load_utilisation=tuple(load),
        time_utilisation=time_utilisation,
        eta_samples=len(errors),
        eta_mae_s=_ratio(sum(abs_errors), len(abs_errors)),
        eta_p90_abs_error_s=_percentile(abs_errors, 90),
        eta_bias_s=_ratio(sum(errors), len(errors)),
        promises=len(promises),
        promises_kept_rate=_share(sum(promises), len(promises)),
    )


def _dimensions(routes: Sequence[tuple[DayRecord, RouteOutcome]]) -> list[str]:
    """Names of the capacity dimensions: the record's, or ``dim0``, ``dim1``..."""
    width = max((len(r.capacity) for _, r in routes), default=0)
    names: list[str] = []
    for i in range(width):
        name = next((rec.dimensions[i] for rec, _ in routes if i < len(rec.dimensions)), "")
        names.append(name or f"dim{i}")
    return names


def parse_grouping(text: str | None) -> Grouping | None:
    """``by`` for :func:`summarise` from a word (``None``, ``""``, ``"all"``: no grouping)."""
    if text is None or text in ("", "none", "all"):
        return None
    if text not in GROUPINGS:
        raise InputError(f"{text!r} is not one of {', '.join(GROUPINGS)}", where="by")
    return text
