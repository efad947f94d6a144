"""A :class:`~lastmile.domain.day.DayRecord` built from what the service stores.

For an organisation and a day (or a range of days), every dispatched plan of
the day contributes its routes as they were driven (the ``routes`` and
``visits`` tables: the latest version of the plan), with:

* **planned** times from the plan the driver set out with: the earliest plan
  version (``plan_versions``; version 1 is the dispatched plan) in which the
  stop was on that vehicle's route; an order inserted during the day takes the
  version it was inserted by (and is marked ``inserted``). Planned legs
  (distance, driving time) come from the route as it stands, whose visits keep
  cumulative distances and times;
* **actual** arrival and departure from the drivers' stop events (``arrived``,
  then ``delivered``/``picked_up``/``failed``, device times), failure reasons
  from the events or their proofs of delivery, attempts from the proofs (or the
  order's earlier failures); the start of service is not observed (drivers
  report arrival and outcome only), so ``start`` stays empty;
* the **fleet**: each route's vehicle type (capacity, profile, costs), depot, driver
  and the driver's shift (the one the route's planned start falls in), and the
  organisation's option of paying waiting like driving;
* **positions** from the GPS pings of the route; a route's actual start is
  when its vehicle left the depot (the last fix at the depot before the first
  one away from it), else its first fix or report; its actual end the last fix
  or report once the route is completed; driven distances are the length of
  the GPS track (empty where a leg has no fix);
* **promises**: the service does not keep the range it told a customer. What
  it keeps is the ETA each delay message was computed from (the
  ``customer_notifications`` of kind ``delay``, whose ``detail`` holds it, with
  when it was queued and sent): the range told is computed again from it by
  the same rule (:func:`lastmile.operations.notify.promise`) as of when it was
  sent. "On the way" messages keep no ETA (the message read the visit's ETA
  as it stood when sent, which later ETAs overwrote), so a stop whose customer
  was told only that has no promise in the record;
* **ETA samples**: the service keeps no history of its predictions
  (``visits.eta_at`` holds the latest one only). The ETAs kept with delay
  messages are predictions with the time they were made, so they are the
  record's samples: only stops once predicted late, so they say how well late
  arrivals were foreseen, not how accurate ETAs are in general;
* **incidents** from the plan's logged changes (urgent orders inserted,
  breakdowns, re-optimisations, moves) and routes closed by a dispatcher.

Vehicles, drivers, depots and orders are named as people know them (vehicle
name or registration, driver name, depot name, order external id), made unique
with the id's first characters where two share a name; the id itself where
there is no name. Times are seconds since the local midnight of the day.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import uuid
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.domain import Location, Unassigned, VisitKind
from lastmile.domain.day import DayRecord, EtaSample, Incident, Position, RouteOutcome, StopStatus
from lastmile.domain.day import StopOutcome as DayStop
from lastmile.domain.geo import haversine_m
from lastmile.exceptions import InputError
from lastmile.operations.notify import promise
from lastmile.operations.progress import StopEventKind
from lastmile.service.depots.models import Depot
from lastmile.service.errors import NotFound
from lastmile.service.fleet.models import Driver, Shift, Vehicle, VehicleType
from lastmile.service.notifications.models import CustomerNotification
from lastmile.service.orders.models import Order
from lastmile.service.orders.service import windows_of
from lastmile.service.orgs.models import Organisation
from lastmile.service.plans.models import Plan, PlanVersion, Route, Visit
from lastmile.service.plans.snapshot import plan_epoch
from lastmile.service.pod.models import Proof
from lastmile.service.replan.models import PlanChange
from lastmile.service.tracking.models import PositionPing, StopEvent

_TASKS = ("job", "pickup", "delivery")
#: A fix farther than this from the depot means the vehicle has left it.
LEFT_DEPOT_M = 150.0
#: Plan changes as incidents.
_INCIDENT_KIND = {
    "insert_order": "urgent_order",
    "breakdown": "breakdown",
    "reoptimise": "reoptimise",
    "move_order": "order_moved",
}
Window = tuple[dt.datetime, dt.datetime]


# -- what is read from the database -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Fix:
    """A GPS fix (read as plain columns: a day has many)."""

    route_id: uuid.UUID | None
    recorded_at: dt.datetime
    lon: float
    lat: float


@dataclass
class _Rows:
    """What one day's record is built from, read in a few queries (the fleet once
    for the whole range)."""

    org: Organisation
    plans: list[Plan]
    versions: dict[uuid.UUID, list[PlanVersion]] = field(default_factory=dict)
    events: dict[uuid.UUID, list[StopEvent]] = field(default_factory=dict)
    pings: dict[uuid.UUID, list[_Fix]] = field(default_factory=dict)
    proofs: dict[tuple[uuid.UUID, uuid.UUID], Proof] = field(default_factory=dict)
    failures: dict[uuid.UUID, list[StopEvent]] = field(default_factory=dict)
    orders: dict[uuid.UUID, Order] = field(default_factory=dict)
    vehicles: dict[uuid.UUID, Vehicle] = field(default_factory=dict)
    types: dict[uuid.UUID, VehicleType] = field(default_factory=dict)
    drivers: dict[uuid.UUID, Driver] = field(default_factory=dict)
    depots: dict[uuid.UUID, Depot] = field(default_factory=dict)
    delays: dict[uuid.UUID, list[CustomerNotification]] = field(default_factory=dict)
    changes: dict[uuid.UUID, list[PlanChange]] = field(default_factory=dict)
    shifts: dict[uuid.UUID, list[Shift]] = field(default_factory=dict)


def _grouped(rows: Iterable[Any], key: str) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        out[getattr(row, key)].append(row)
    return dict(out)


def _chunks(ids: Sequence[uuid.UUID], size: int = 500) -> Iterable[Sequence[uuid.UUID]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _read_fleet(session: Session, org: Organisation) -> _Rows:
    """The organisation's vehicles, types, drivers and depots (no plan yet)."""
    org_id = org.id
    rows = _Rows(org=org, plans=[])
    rows.vehicles = {
        v.id: v for v in session.scalars(select(Vehicle).where(Vehicle.org_id == org_id))
    }
    rows.types = {
        t.id: t for t in session.scalars(select(VehicleType).where(VehicleType.org_id == org_id))
    }
    rows.drivers = {d.id: d for d in session.scalars(select(Driver).where(Driver.org_id == org_id))}
    rows.depots = {d.id: d for d in session.scalars(select(Depot).where(Depot.org_id == org_id))}
    return rows


def _read(session: Session, fleet: _Rows, plans: list[Plan]) -> _Rows:
    """What the records of ``plans`` are built from, with ``fleet``'s vehicles."""
    org = fleet.org
    rows = _Rows(
        org=org,
        plans=plans,
        vehicles=fleet.vehicles,
        types=fleet.types,
        drivers=fleet.drivers,
        depots=fleet.depots,
    )
    plan_ids = [p.id for p in plans]
    if not plan_ids:
        return rows
    org_id = org.id
    versions: list[PlanVersion] = []
    changes: list[PlanChange] = []
    for ids in _chunks(plan_ids):
        versions += session.scalars(
            select(PlanVersion)
            .where(PlanVersion.org_id == org_id, PlanVersion.plan_id.in_(ids))
            .order_by(PlanVersion.plan_id, PlanVersion.number)
        )
        changes += session.scalars(
            select(PlanChange)
            .where(PlanChange.org_id == org_id, PlanChange.plan_id.in_(ids))
            .order_by(PlanChange.created_at)
        )
    rows.versions = _grouped(versions, "plan_id")
    rows.changes = _grouped(changes, "plan_id")
    route_ids = list({r.id for p in plans for r in p.routes})
    events: list[StopEvent] = []
    pings: list[_Fix] = []
    proofs: list[Proof] = []
    for ids in _chunks(route_ids):
        events += session.scalars(
            select(StopEvent)
            .where(StopEvent.org_id == org_id, StopEvent.route_id.in_(ids))
            .order_by(StopEvent.recorded_at, StopEvent.received_at, StopEvent.id)
        )
        pings += (
            _Fix(*row)
            for row in session.execute(
                select(
                    PositionPing.route_id,
                    PositionPing.recorded_at,
                    PositionPing.lon,
                    PositionPing.lat,
                )
                .where(PositionPing.org_id == org_id, PositionPing.route_id.in_(ids))
                .order_by(PositionPing.recorded_at, PositionPing.event_id)
            )
        )
        proofs += session.scalars(
            select(Proof)
            .where(Proof.org_id == org_id, Proof.route_id.in_(ids))
            .order_by(Proof.recorded_at)
        )
    rows.events = _grouped(events, "route_id")
    rows.pings = _grouped(pings, "route_id")
    for proof in proofs:
        rows.proofs.setdefault((proof.route_id, proof.order_id), proof)
    order_ids = list(
        {v.order_id for p in plans for r in p.routes for v in r.visits if v.order_id is not None}
        | {u.order_id for p in plans for u in p.unassigned}
    )
    orders: list[Order] = []
    failures: list[StopEvent] = []
    delays: list[CustomerNotification] = []
    for ids in _chunks(order_ids):
        orders += session.scalars(select(Order).where(Order.org_id == org_id, Order.id.in_(ids)))
        failures += session.scalars(
            select(StopEvent)
            .where(
                StopEvent.org_id == org_id,
                StopEvent.order_id.in_(ids),
                StopEvent.kind == StopEventKind.FAILED.value,
            )
            .order_by(StopEvent.recorded_at)
        )
        delays += session.scalars(
            select(CustomerNotification)
            .where(
                CustomerNotification.org_id == org_id,
                CustomerNotification.order_id.in_(ids),
                CustomerNotification.event == "delay",
            )
            .order_by(CustomerNotification.created_at)
        )
    rows.orders = {o.id: o for o in orders}
    rows.failures = _grouped(failures, "order_id")
    rows.delays = _grouped(delays, "order_id")
    starts = [r.start_at for p in plans for r in p.routes]
    ends = [r.end_at for p in plans for r in p.routes]
    driver_ids = list({r.driver_id for p in plans for r in p.routes if r.driver_id is not None})
    shifts: list[Shift] = []
    if starts:
        for ids in _chunks(driver_ids):
            shifts += session.scalars(
                select(Shift)
                .where(
                    Shift.org_id == org_id,
                    Shift.driver_id.in_(ids),
                    Shift.end_at > min(starts),
                    Shift.start_at < max(ends),
                )
                .order_by(Shift.start_at)
            )
    rows.shifts = _grouped(shifts, "driver_id")
    return rows


def _shift_of(rows: _Rows, route: Route) -> Shift | None:
    """The driver's shift the route was driven in: the one its planned start falls in
    (with the same vehicle first), else the one nearest to it."""
    if route.driver_id is None:
        return None
    shifts = rows.shifts.get(route.driver_id, [])
    inside = [s for s in shifts if s.start_at <= route.start_at < s.end_at]
    if not inside:
        inside = [s for s in shifts if s.start_at < route.end_at and s.end_at > route.start_at]
    inside.sort(key=lambda s: (s.vehicle_id != route.vehicle_id, s.start_at))
    return inside[0] if inside else None


# -- names ------------------------------------------------------------------------------------


def _unique(named: Mapping[uuid.UUID, str]) -> dict[uuid.UUID, str]:
    """Each id's name, with the id's first characters where names clash (the id
    itself where there is no name)."""
    count: dict[str, int] = defaultdict(int)
    for name in named.values():
        count[name] += 1
    out = {}
    for i, name in named.items():
        if not name:
            out[i] = str(i)
        elif count[name] > 1:
            out[i] = f"{name} ({str(i)[:8]})"
        else:
            out[i] = name
    return out


@dataclass(frozen=True)
class _Names:
    vehicles: dict[uuid.UUID, str]
    drivers: dict[uuid.UUID, str]
    depots: dict[uuid.UUID, str]

    @staticmethod
    def of(rows: _Rows) -> _Names:
        return _Names(
            vehicles=_unique({i: v.name or v.registration for i, v in rows.vehicles.items()}),
            drivers=_unique({i: d.name for i, d in rows.drivers.items()}),
            depots=_unique({i: d.name for i, d in rows.depots.items()}),
        )

    def vehicle(self, i: uuid.UUID) -> str:
        return self.vehicles.get(i, str(i))

    def driver(self, i: uuid.UUID | None) -> str | None:
        return None if i is None else self.drivers.get(i, str(i))

    def depot(self, i: uuid.UUID | None) -> str | None:
        return None if i is None else self.depots.get(i, str(i))


def order_name(order: Order | None, order_id: uuid.UUID | str) -> str:
    """How an order is named in a record: its external id, else its id."""
    if order is not None and order.external_id:
        return order.external_id
    return str(order_id)


# -- building one day -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clock:
    epoch: dt.datetime
    zone: zoneinfo.ZoneInfo

    def s(self, when: dt.datetime) -> int:
        return math.floor((when - self.epoch).total_seconds())

    def opt(self, when: dt.datetime | None) -> int | None:
        return None if when is None else self.s(when)


def _at(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _windows_on(windows: list[Window], day: dt.date, zone: zoneinfo.ZoneInfo) -> list[Window]:
    """The order's windows as they were on ``day``: a failed order tried again has its
    windows moved to the new day with the same local start and length, so windows on
    no part of ``day`` are moved back by the same rule."""
    if not windows:
        return []
    start = dt.datetime.combine(day, dt.time(0), zone)
    end = start + dt.timedelta(days=1)
    if any(s < end and e > start for s, e in windows):
        return windows
    first = min(s for s, _ in windows).astimezone(zone).date()
    shift = day - first
    moved = []
    for s, e in windows:
        local = s.astimezone(zone)
        back = dt.datetime.combine(local.date() + shift, local.timetz().replace(tzinfo=None), zone)
        moved.append((back, back + (e - s)))
    return moved


def _window_of(windows: list[Window], planned: dt.datetime) -> Window | None:
    """The window the plan serves the stop in: the one its planned start is in, else the
    next one, else the last."""
    if not windows:
        return None
    ordered = sorted(windows)
    for w in ordered:
        if planned <= w[1]:
            return w
    return ordered[-1]


def _path_m(points: Sequence[tuple[float, float]]) -> int:
    total = 0.0
    for a, b in itertools.pairwise(points):
        total += haversine_m(Location(*a), Location(*b))
    return round(total)


@dataclass
class _Reached:
    """A stop the driver reached, for the actual legs."""

    index: int
    arrival: dt.datetime
    departure: dt.datetime | None
    lon: float | None
    lat: float | None


def _left_depot(pings: Sequence[_Fix], depot: Depot | None) -> dt.datetime | None:
    """When the vehicle left its depot: the last fix at the depot before the first one
    away from it (that first one when there is none at the depot)."""
    if not pings or depot is None:
        return None
    home = Location(depot.lon, depot.lat)
    for i, p in enumerate(pings):
        if haversine_m(home, Location(p.lon, p.lat)) > LEFT_DEPOT_M:
            return pings[i - 1].recorded_at if i > 0 else p.recorded_at
    return None


@dataclass
class _Day:
    """Builds one day's record from the rows."""

    rows: _Rows
    names: _Names
    day: dt.date
    eta_window_s: int
    clock: _Clock = field(init=False)
    routes: list[RouteOutcome] = field(default_factory=list)
    stops: list[DayStop] = field(default_factory=list)
    positions: list[Position] = field(default_factory=list)
    samples: list[EtaSample] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    unassigned: list[Unassigned] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        zone = zoneinfo.ZoneInfo(self.rows.org.timezone)
        self.clock = _Clock(plan_epoch(self.day, self.rows.org.timezone), zone)

    def order_name(self, order_id: uuid.UUID | str | None) -> str | None:
        if order_id is None:
            return None
        oid = order_id if isinstance(order_id, uuid.UUID) else _uuid(order_id)
        return order_name(self.rows.orders.get(oid) if oid else None, order_id)

    def vehicle_key(self, vehicle_id: uuid.UUID) -> str:
        """The vehicle's name, unique in the day (a vehicle on two plans' routes)."""
        base = key = self.names.vehicle(vehicle_id)
        n = 2
        while key in self.keys:
            key, n = f"{base} ({n})", n + 1
        self.keys.add(key)
        return key

    def add_plan(self, plan: Plan) -> None:
        versions = self.rows.versions.get(plan.id, [])
        first = versions[0].routes if versions else []
        # (vehicle, order, stop) -> planned visit, from the earliest version it is in.
        planned: dict[tuple[str, str, str], dict[str, Any]] = {}
        for version in versions:
            for r in version.routes:
                for v in r["visits"]:
                    if v["kind"] in _TASKS and v["order_id"]:
                        planned.setdefault((r["vehicle_id"], v["order_id"], v["kind"]), v)
        dispatched = {
            (v["order_id"], v["kind"])
            for r in first
            for v in r["visits"]
            if v["kind"] in _TASKS and v["order_id"]
        }
        first_routes = {r["vehicle_id"]: r for r in first}
        for route in sorted(plan.routes, key=lambda r: r.position):
            self.add_route(route, planned, dispatched, first_routes.get(str(route.vehicle_id)))
        for u in plan.unassigned:
            self.unassigned.append(
                Unassigned(order_id=self.order_name(u.order_id) or "", reason=u.reason, code=u.code)
            )
        for change in self.rows.changes.get(plan.id, []):
            detail = change.detail or {}
            vid = _uuid(detail.get("vehicle_id"))
            self.incidents.append(
                Incident(
                    t=self.clock.s(change.created_at),
                    kind=_INCIDENT_KIND.get(change.kind, change.kind),
                    detail=change.summary,
                    vehicle_id=self.names.vehicle(vid) if vid else None,
                    order_id=self.order_name(detail.get("order_id")),
                )
            )

    def add_route(
        self,
        route: Route,
        planned: dict[tuple[str, str, str], dict[str, Any]],
        dispatched: set[tuple[str, str]],
        first: dict[str, Any] | None,
    ) -> None:
        rows, clock = self.rows, self.clock
        vehicle = rows.vehicles.get(route.vehicle_id)
        vtype = rows.types.get(vehicle.type_id) if vehicle is not None else None
        depot = rows.depots.get(vehicle.depot_id) if vehicle is not None else None
        key = self.vehicle_key(route.vehicle_id)
        driver = self.names.driver(route.driver_id)
        depot_name = self.names.depot(depot.id if depot is not None else None)
        events = rows.events.get(route.id, [])
        pings = rows.pings.get(route.id, [])
        visits = sorted(route.visits, key=lambda v: v.sequence)

        # Where the route starts and ends on the road.
        # Drivers' reports (a stop left not attempted is recorded when the route is
        # closed, not where the driver was).
        reports = [e.recorded_at for e in events if e.kind != StopEventKind.NOT_ATTEMPTED.value]
        left = _left_depot(pings, depot)
        start = min(
            (t for t in (left, reports[0] if reports else None) if t is not None),
            default=pings[0].recorded_at if pings else route.started_at,
        )
        end: dt.datetime | None = None
        if route.status in ("completed", "broken_down") or route.completed_at is not None:
            end = max(reports[-1:] + [p.recorded_at for p in pings[-1:]], default=None)
            end = end or route.completed_at

        reached: list[_Reached] = []
        outcomes: list[tuple[Visit, DayStop]] = []
        for index, visit in enumerate(visits):
            if visit.kind not in _TASKS or visit.order_id is None:
                continue
            stop, came = self.stop(
                route, visit, visits, index, planned, dispatched, (key, driver, depot_name)
            )
            outcomes.append((visit, stop))
            if came is not None:
                reached.append(_Reached(index, came[0], came[1], stop.lon, stop.lat))
        # Actual legs: from the stop reached before (or the depot) to this one.
        legs: dict[int, tuple[int | None, int | None]] = {}
        prev_at, prev_pos = start, (depot.lon, depot.lat) if depot is not None else None
        travel_total: int | None = None
        for r in sorted(reached, key=lambda r: r.arrival):
            travel = (
                max(0, round((r.arrival - prev_at).total_seconds()))
                if prev_at is not None
                else None
            )
            distance = self.track_m(pings, prev_at, r.arrival, prev_pos, (r.lon, r.lat))
            legs[r.index] = (distance, travel)
            if travel is not None:
                travel_total = (travel_total or 0) + travel
            prev_at = r.departure or r.arrival
            if r.lon is not None and r.lat is not None:
                prev_pos = (r.lon, r.lat)
        if end is not None and prev_at is not None and reached:
            travel_total = (travel_total or 0) + max(0, round((end - prev_at).total_seconds()))
        for visit, stop in outcomes:
            distance, travel = legs.get(visits.index(visit), (None, None))
            self.stops.append(replace(stop, leg_distance_m=distance, leg_travel_s=travel))

        for p in pings:
            self.positions.append(Position(key, clock.s(p.recorded_at), p.lon, p.lat))
        if route.close_note or route.closed_by_id is not None:
            self.incidents.append(
                Incident(
                    t=clock.s(route.completed_at or route.end_at),
                    kind="route_closed",
                    detail=route.close_note,
                    vehicle_id=key,
                )
            )

        plan_start = _at(first["start_at"]) if first else None
        plan_end = _at(first["end_at"]) if first else None
        plan_visits = first["visits"] if first else None
        if plan_visits is None:
            waits = sum(
                max(0, round((v.start_at - v.arrival_at).total_seconds()))
                for v in visits
                if v.kind in _TASKS
            )
        else:
            waits = sum(
                _gap_s(_at(v["arrival_at"]), _at(v["start_at"]))
                for v in plan_visits
                if v["kind"] in _TASKS
            )
        shift = _shift_of(rows, route)
        loads = [v.load for v in visits if v.load]
        peak = tuple(max(col) for col in zip(*loads, strict=False)) if loads else ()
        self.routes.append(
            RouteOutcome(
                vehicle_id=key,
                planned_start=clock.s(plan_start or route.start_at),
                planned_end=clock.s(plan_end or route.end_at),
                planned_distance_m=int(first["distance_m"]) if first else route.distance_m,
                planned_travel_s=int(first["travel_s"]) if first else route.travel_s,
                planned_wait_s=waits,
                actual_start=clock.opt(start),
                actual_end=clock.opt(end),
                distance_m=_path_m([(p.lon, p.lat) for p in pings]) if len(pings) > 1 else None,
                travel_s=travel_total,
                wait_s=None,
                driver_id=driver,
                depot_id=depot_name,
                vehicle_type=vtype.name if vtype is not None else None,
                profile=vtype.profile if vtype is not None else "car",
                capacity=tuple(vtype.capacity) if vtype is not None else (),
                peak_load=peak,
                fixed_cost=vtype.fixed_cost if vtype is not None else 0,
                cost_per_hour=vtype.cost_per_hour if vtype is not None else 3600,
                cost_per_km=vtype.cost_per_km if vtype is not None else 0,
                paid_waiting=rows.org.waiting_costs_like_driving,
                depot_lon=depot.lon if depot is not None else None,
                depot_lat=depot.lat if depot is not None else None,
                shift_start=clock.s(shift.start_at) if shift is not None else None,
                shift_end=clock.s(shift.end_at) if shift is not None else None,
            )
        )

    def track_m(
        self,
        pings: Sequence[_Fix],
        since: dt.datetime | None,
        until: dt.datetime,
        start: tuple[float, float] | None,
        end: tuple[float | None, float | None],
    ) -> int | None:
        """The GPS track's length from ``since`` to ``until``, joined to where the leg
        starts and ends (None when no fix falls in it)."""
        if since is None:
            return None
        track = [(p.lon, p.lat) for p in pings if since <= p.recorded_at <= until]
        if not track:
            return None
        if start is not None:
            track.insert(0, start)
        if end[0] is not None and end[1] is not None:
            track.append((end[0], end[1]))
        return _path_m(track)

    def stop(
        self,
        route: Route,
        visit: Visit,
        visits: list[Visit],
        index: int,
        planned: dict[tuple[str, str, str], dict[str, Any]],
        dispatched: set[tuple[str, str]],
        who: tuple[str, str | None, str | None],
    ) -> tuple[DayStop, tuple[dt.datetime, dt.datetime | None] | None]:
        """The stop's outcome (legs filled in later) and, if reached, its arrival and
        departure."""
        rows, clock = self.rows, self.clock
        vehicle_key, driver, depot_name = who
        assert visit.order_id is not None
        order = rows.orders.get(visit.order_id)
        oid = str(visit.order_id)
        events = [e for e in rows.events.get(route.id, []) if e.order_id == visit.order_id]
        arrived = next(
            (
                e.recorded_at
                for e in events
                if e.stop == visit.kind and e.kind == StopEventKind.ARRIVED.value
            ),
            None,
        )
        own = next(
            (e for e in events if e.stop == visit.kind and StopEventKind(e.kind).is_outcome),
            None,
        )
        other_failure = next(
            (
                e
                for e in events
                if e.stop != visit.kind and StopEventKind(e.kind).is_failure and e is not own
            ),
            None,
        )
        proof = rows.proofs.get((route.id, visit.order_id))
        status = StopStatus.NOT_REACHED
        arrival: dt.datetime | None = None
        departure: dt.datetime | None = None
        reason: str | None = None
        if own is not None and own.kind in (
            StopEventKind.DELIVERED.value,
            StopEventKind.PICKED_UP.value,
        ):
            status, arrival, departure = (
                StopStatus.DONE,
                arrived or own.recorded_at,
                own.recorded_at,
            )
        elif own is not None and own.kind == StopEventKind.FAILED.value:
            status, arrival, departure = (
                StopStatus.FAILED,
                arrived or own.recorded_at,
                own.recorded_at,
            )
            reason = own.reason or (proof.failure_reason if proof else "") or None
        elif own is not None:  # not attempted: the route was closed before it
            reason = own.reason or StopEventKind.NOT_ATTEMPTED.value
            if arrived is not None:
                status, arrival, departure = StopStatus.FAILED, arrived, own.recorded_at
        elif other_failure is not None and (
            arrived is None or other_failure.recorded_at <= arrived
        ):
            reason = other_failure.reason or None  # the order failed at its other stop
        elif arrived is not None:
            # There, with no outcome yet (the day is still going on).
            arrival = arrived

        first_seen = planned.get((str(route.vehicle_id), oid, visit.kind))
        p_arrival = _at(first_seen["arrival_at"]) if first_seen else None
        p_start = _at(first_seen["start_at"]) if first_seen else None
        p_departure = _at(first_seen["departure_at"]) if first_seen else None
        p_arrival, p_start, p_departure = (
            p_arrival or visit.arrival_at,
            p_start or visit.start_at,
            p_departure or visit.departure_at,
        )
        raw = (
            (order.pickup_windows if visit.kind == "pickup" or order.kind == "pickup" else None)
            if order is not None
            else None
        )
        if raw is None and order is not None:
            raw = order.delivery_windows
        windows = _windows_on(windows_of(raw or []), self.day, clock.zone)
        window = _window_of(windows, p_start)
        prev = visits[index - 1] if index > 0 else None
        promised = self.promised(visit.order_id, windows, arrival)
        if proof is not None:
            attempt = proof.attempt
        else:
            at = own.recorded_at if own is not None else (arrived or visit.arrival_at)
            attempt = 1 + sum(
                1
                for e in rows.failures.get(visit.order_id, [])
                if e.route_id != route.id and e.recorded_at < at
            )
        if arrival is not None:
            for note in rows.delays.get(visit.order_id, []):
                eta = _at((note.detail or {}).get("eta"))
                if eta is None:
                    continue
                self.samples.append(
                    EtaSample(
                        order_id=order_name(order, oid),
                        vehicle_id=vehicle_key,
                        asked_at=clock.s(note.created_at),
                        predicted_arrival=clock.s(eta),
                        actual_arrival=clock.s(arrival),
                    )
                )
        stop = DayStop(
            order_id=order_name(order, oid),
            vehicle_id=vehicle_key,
            kind=VisitKind(visit.kind),
            status=status,
            planned_arrival=clock.s(p_arrival),
            planned_start=clock.s(p_start),
            planned_departure=clock.s(p_departure),
            window_start=clock.s(window[0]) if window else None,
            window_end=clock.s(window[1]) if window else None,
            arrival=clock.opt(arrival),
            start=None,
            departure=clock.opt(departure),
            failure_reason=reason,
            attempt=max(1, attempt),
            leg_planned_distance_m=max(0, visit.distance_m - prev.distance_m) if prev else 0,
            leg_planned_travel_s=max(0, visit.travel_s - prev.travel_s) if prev else 0,
            promised_start=promised[0] if promised else None,
            promised_end=promised[1] if promised else None,
            driver_id=driver,
            depot_id=depot_name,
            inserted=bool(dispatched) and (oid, visit.kind) not in dispatched,
            lon=visit.lon if visit.lon is not None else _stop_lon(order, visit.kind),
            lat=visit.lat if visit.lat is not None else _stop_lat(order, visit.kind),
        )
        came = (arrival, departure) if arrival is not None else None
        return stop, came

    def promised(
        self, order_id: uuid.UUID, windows: list[Window], arrival: dt.datetime | None
    ) -> tuple[int, int] | None:
        """The range told in the last delay message sent before the arrival (computed
        again from the ETA it kept, as of when it was sent)."""
        told = None
        for note in self.rows.delays.get(order_id, []):
            eta = _at((note.detail or {}).get("eta"))
            sent = note.sent_at
            if eta is None or sent is None or note.status != "sent" or not windows:
                continue
            if arrival is not None and sent > arrival:
                continue
            told = promise(eta, windows, now=sent, max_margin_s=self.eta_window_s // 2).told
        if told is None:
            return None
        return self.clock.s(told[0]), self.clock.s(told[1])

    def record(self, *, source: str, travel: str) -> DayRecord:
        return DayRecord(
            day=self.day,
            timezone=self.rows.org.timezone,
            routes=tuple(self.routes),
            stops=tuple(self.stops),
            unassigned=tuple(self.unassigned),
            eta_samples=tuple(sorted(self.samples, key=lambda s: (s.asked_at, s.order_id))),
            positions=tuple(self.positions),
            incidents=tuple(sorted(self.incidents, key=lambda i: i.t)),
            dimensions=tuple(self.rows.org.dimensions or ()),
            source=source,
            travel=travel,
        )


def _gap_s(since: dt.datetime | None, until: dt.datetime | None) -> int:
    if since is None or until is None:
        return 0
    return max(0, round((until - since).total_seconds()))


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _stop_lon(order: Order | None, kind: str) -> float | None:
    if order is None:
        return None
    return order.pickup_lon if kind == "pickup" else order.delivery_lon or order.pickup_lon


def _stop_lat(order: Order | None, kind: str) -> float | None:
    if order is None:
        return None
    return order.pickup_lat if kind == "pickup" else order.delivery_lat or order.pickup_lat


# -- entry points -----------------------------------------------------------------------------


def _plans(
    session: Session, org: Organisation, first: dt.date, last: dt.date, plan_id: uuid.UUID | None
) -> list[Plan]:
    since = plan_epoch(first, org.timezone)
    until = plan_epoch(last + dt.timedelta(days=1), org.timezone)
    stmt = select(Plan).where(Plan.org_id == org.id)
    if plan_id is not None:
        stmt = stmt.where(Plan.id == plan_id)
    else:
        stmt = stmt.where(Plan.status == "dispatched", Plan.epoch >= since, Plan.epoch < until)
    return list(session.scalars(stmt.order_by(Plan.epoch, Plan.dispatched_at, Plan.id)))


def day_of(plan: Plan, timezone: str) -> dt.date:
    """The day a plan is for (its epoch is that day's local midnight)."""
    return plan.epoch.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def build_records(
    session: Session,
    *,
    org_id: uuid.UUID,
    first: dt.date,
    last: dt.date,
    plan_id: uuid.UUID | None = None,
    eta_window_s: int = 7200,
    empty_days: bool = False,
    positions_days: int | None = None,
) -> list[DayRecord]:
    """The records of the days ``first`` to ``last`` (inclusive) of the organisation's
    dispatched plans, one per day that has any (``empty_days``: every day, those without
    a plan with no routes). With ``plan_id``, only that plan (404 when it is not the
    organisation's; 422 naming ``plan_id`` when it is for another day or not
    dispatched). ``eta_window_s`` is the notifications' widest range told (see
    ``NotifySettings``), used to compute promises again. ``positions_days``: only the
    first so many records keep their GPS positions (None: all; key figures need
    none, and a quarter of fixes is a lot to hold)."""
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    plans = _plans(session, org, first, last, plan_id)
    if plan_id is not None:
        if not plans:
            raise NotFound("plan not found")
        plan = plans[0]
        day = day_of(plan, org.timezone)
        if not first <= day <= last:
            raise InputError(f"the plan is for {day}, not {first}", where="plan_id")
        if plan.status != "dispatched":
            raise InputError(
                f"the plan is {plan.status}; only dispatched plans were driven", where="plan_id"
            )
    fleet = _read_fleet(session, org)
    names = _Names.of(fleet)
    by_day: dict[dt.date, list[Plan]] = defaultdict(list)
    for plan in plans:
        by_day[day_of(plan, org.timezone)].append(plan)
    days = (
        [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
        if empty_days
        else sorted(by_day)
    )
    records = []
    for index, day in enumerate(days):
        # One day at a time: what a day is built from is read, used and let go.
        day_plans = by_day.get(day, [])
        rows = _read(session, fleet, day_plans)
        builder = _Day(rows, names, day, eta_window_s)
        for plan in day_plans:
            builder.add_plan(plan)
        source = "service: " + ", ".join(p.name or str(p.id) for p in day_plans)
        travel = "; ".join(sorted({p.travel_note for p in day_plans if p.travel_note}))
        record = builder.record(source=source if day_plans else "service", travel=travel)
        if positions_days is not None and index >= positions_days:
            record = replace(record, positions=())
        records.append(record)
        _let_go(session, rows)
    return records


def _let_go(session: Session, rows: _Rows) -> None:
    """Take a day's rows out of the session (a range of days would otherwise keep
    every one of them until the request ends)."""
    kept: list[Any] = [*rows.orders.values(), *rows.proofs.values()]
    groups: list[dict[Any, list[Any]]] = [
        rows.versions,
        rows.events,
        rows.failures,
        rows.delays,
        rows.changes,
        rows.shifts,
    ]
    for group in groups:
        for items in group.values():
            kept += items
    for obj in kept:
        if obj in session:
            session.expunge(obj)


def build_record(
    session: Session,
    *,
    org_id: uuid.UUID,
    day: dt.date,
    plan_id: uuid.UUID | None = None,
    eta_window_s: int = 7200,
) -> DayRecord:
    """The record of one day (no routes when nothing was dispatched for it)."""
    return build_records(
        session,
        org_id=org_id,
        first=day,
        last=day,
        plan_id=plan_id,
        eta_window_s=eta_window_s,
        empty_days=True,
    )[0]
