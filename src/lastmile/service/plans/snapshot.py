"""From stored rows to a :class:`~lastmile.planning.PlanningProblem`, and back.

Identifiers in the problem are the rows' UUIDs as strings, so mapping the plan
back needs no table. Times become seconds since the plan's epoch (local
midnight of the plan day); windows that ended before the epoch are dropped,
and an order left with none is set aside as unassigned before solving. Travel
comes from the process's :class:`~lastmile.service.travel.ServiceTravel`: a
matrix per vehicle profile (profiles on the same roads share one) for the
plan's day.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from lastmile import domain
from lastmile.domain import Location, OrderKind, Stop, TimeWindow
from lastmile.exceptions import InputError
from lastmile.planning import PlanningProblem
from lastmile.service.depots.models import Depot
from lastmile.service.fleet import breaks
from lastmile.service.fleet.models import Shift, Vehicle, VehicleType
from lastmile.service.orders.models import Order
from lastmile.service.orders.service import windows_of
from lastmile.service.orgs.models import Organisation
from lastmile.service.travel import (
    OrgTraffic,
    ServiceTravel,
    expected_departures,
    org_traffic,
)

#: Capacity used for a vehicle type that gives none (no limit).
UNLIMITED = 2**31 - 1
DAY = dt.timedelta(days=1)


def plan_epoch(date: dt.date, timezone: str) -> dt.datetime:
    """Local midnight of ``date`` in ``timezone``, as an aware UTC datetime."""
    local = dt.datetime.combine(date, dt.time(0), tzinfo=zoneinfo.ZoneInfo(timezone))
    return local.astimezone(dt.UTC)


def seconds_since(epoch: dt.datetime, when: dt.datetime) -> int:
    return int((when - epoch).total_seconds())


@dataclass
class Snapshot:
    """A problem built from the database, with what could not go into it."""

    problem: PlanningProblem
    epoch: dt.datetime
    depot_ids: list[uuid.UUID]
    #: Orders set aside before solving: order id -> (code, reason).
    set_aside: dict[uuid.UUID, tuple[str, str]] = field(default_factory=dict)
    #: The organisation's time zone (the wall clock of the plan's day).
    timezone: str = "UTC"
    #: When every leg of the matrices leaves (s since the epoch), if they all do at once.
    departure: int | None = None
    #: The organisation's learned traffic the matrices were made with (None: the configured).
    traffic: OrgTraffic | None = None


def _windows(raw: list[dict[str, Any]], epoch: dt.datetime) -> tuple[tuple[TimeWindow, ...], bool]:
    """Windows in plan seconds; the flag says every window ended before the epoch."""
    pairs = windows_of(raw)
    kept = []
    for start, end in pairs:
        e = seconds_since(epoch, end)
        if e < 0:
            continue
        kept.append(TimeWindow(max(0, seconds_since(epoch, start)), e))
    return tuple(kept), bool(pairs) and not kept


def shift_breaks(shift: Shift, epoch: dt.datetime) -> tuple[domain.Break, ...]:
    """The breaks of ``shift`` in plan seconds; a break whose window ended before the
    epoch is dropped (the day being planned starts after it)."""
    out = []
    for break_id, start, end, duration in breaks.windows(shift.breaks):
        e = seconds_since(epoch, end)
        if e < 0:
            continue
        window = TimeWindow(max(0, seconds_since(epoch, start)), e)
        out.append(domain.Break(id=break_id, time_windows=(window,), duration=duration))
    return tuple(out)


def problem_order(
    o: Order,
    *,
    epoch: dt.datetime,
    ndim: int,
    place: Callable[[float, float, str], int],
) -> domain.Order | tuple[str, str]:
    """The planning order for row ``o`` (its stops put where ``place`` says), or
    why it cannot be planned on the day at ``epoch``: ``(code, reason)``."""
    label = o.external_id or str(o.id)
    stops: dict[str, Stop] = {}
    expired = False
    for prefix in ("pickup", "delivery"):
        lon, lat = getattr(o, f"{prefix}_lon"), getattr(o, f"{prefix}_lat")
        if lon is None or lat is None:
            continue
        windows, gone = _windows(getattr(o, f"{prefix}_windows"), epoch)
        expired |= gone
        stops[prefix] = Stop(
            location=place(lon, lat, f"{label} {prefix}"),
            service=getattr(o, f"{prefix}_service_s"),
            time_windows=windows,
            ref=f"{o.id}:{prefix}",
        )
    if expired:
        return ("time_window", "its time window ended before the plan's day")
    if o.amount and len(o.amount) != ndim:
        return ("amount", f"its amount has {len(o.amount)} values for {ndim} dimensions")
    skills = set(o.skills)
    if o.depot_id is not None:
        skills.add(f"depot:{o.depot_id}")
    return domain.Order(
        id=str(o.id),
        kind=OrderKind(o.kind),
        pickup=stops.get("pickup"),
        delivery=stops.get("delivery"),
        amount=tuple(o.amount),
        skills=frozenset(skills),
        priority=o.priority,
    )


def build_snapshot(
    session: Session,
    *,
    org: Organisation,
    epoch: dt.datetime,
    order_ids: Sequence[uuid.UUID],
    vehicle_ids: Sequence[uuid.UUID],
    travel_model: ServiceTravel,
    name: str = "",
    departure: int | None = None,
) -> Snapshot:
    """The planning problem for ``order_ids`` served by ``vehicle_ids`` on the day at ``epoch``.

    Each vehicle uses its shift that day (the earliest, if several), with the
    shift's breaks, or its depot's opening hours when it has none. A vehicle
    with ``reloads`` may return to its start (and end) depot to load again,
    spending the depot's ``reload_time_s``, at most ``max_reloads`` times. An
    order tied to a depot goes only to vehicles starting there (modelled as a
    skill). With ``departure`` (seconds since the epoch: re-planning uses now)
    the speeds of that moment hold on every leg; without it, when travel depends
    on the time of day, each row leaves when it is expected to (a depot when its
    first vehicle leaves, a stop in its window).
    """
    ndim = len(org.dimensions)
    vehicles = list(
        session.scalars(
            select(Vehicle).where(Vehicle.org_id == org.id, Vehicle.id.in_(list(vehicle_ids)))
        )
    )
    vehicles.sort(key=lambda v: (v.name, str(v.id)))
    if not vehicles:
        raise InputError("no vehicles to plan with", where="vehicle_ids")
    orders = list(
        session.scalars(
            select(Order)
            .where(Order.org_id == org.id, Order.id.in_(list(order_ids)))
            .options(lazyload(Order.items))
        )
    )
    orders.sort(key=lambda o: (o.created_at, str(o.id)))
    depot_ids: list[uuid.UUID] = []
    for v in vehicles:
        for d in (v.depot_id, v.end_depot_id):
            if d is not None and d not in depot_ids:
                depot_ids.append(d)
    depots = {d.id: d for d in session.scalars(select(Depot).where(Depot.id.in_(depot_ids)))}
    types = {
        t.id: t
        for t in session.scalars(
            select(VehicleType).where(VehicleType.id.in_({v.type_id for v in vehicles}))
        )
    }
    shifts: dict[uuid.UUID, Shift] = {}
    for shift in session.scalars(
        select(Shift)
        .where(
            Shift.org_id == org.id,
            Shift.vehicle_id.in_([v.id for v in vehicles]),
            Shift.end_at > epoch,
            Shift.start_at < epoch + DAY,
        )
        .order_by(Shift.start_at)
    ):
        assert shift.vehicle_id is not None
        shifts.setdefault(shift.vehicle_id, shift)

    locations: list[Location] = []

    def place(lon: float, lat: float, label: str) -> int:
        locations.append(Location(lon=lon, lat=lat, name=label))
        return len(locations) - 1

    depot_index: dict[uuid.UUID, int] = {}
    problem_depots: list[domain.Depot] = []
    for d_id in depot_ids:
        row = depots[d_id]
        depot_index[d_id] = len(problem_depots)
        problem_depots.append(
            domain.Depot(
                id=str(row.id),
                location=place(row.lon, row.lat, row.name),
                time_window=TimeWindow(row.opens_s, row.closes_s),
                reload_time=row.reload_time_s,
                name=row.name,
            )
        )

    tied_depots = {o.depot_id for o in orders if o.depot_id is not None}
    problem_types: dict[tuple[uuid.UUID, uuid.UUID], domain.VehicleType] = {}
    problem_vehicles = []
    for v in vehicles:
        t = types[v.type_id]
        key = (t.id, v.depot_id)
        if key not in problem_types:
            skills = set(t.skills)
            if v.depot_id in tied_depots:
                skills.add(f"depot:{v.depot_id}")
            capacity = tuple(t.capacity) if t.capacity else (UNLIMITED,) * ndim
            problem_types[key] = domain.VehicleType(
                id=f"{t.id}@{v.depot_id}" if tied_depots else str(t.id),
                capacity=capacity,
                skills=frozenset(skills),
                profile=t.profile,
                fixed_cost=t.fixed_cost,
                cost_per_hour=t.cost_per_hour,
                cost_per_km=t.cost_per_km,
            )
        own_shift = shifts.get(v.id)
        window = (
            TimeWindow(
                max(0, seconds_since(epoch, own_shift.start_at)),
                seconds_since(epoch, own_shift.end_at),
            )
            if own_shift is not None
            else TimeWindow()
        )
        start = depot_index[v.depot_id]
        end = depot_index[v.end_depot_id or v.depot_id] if v.returns_to_depot else None
        reload_depots = tuple(dict.fromkeys(d for d in (start, end) if d is not None))
        problem_vehicles.append(
            domain.Vehicle(
                id=str(v.id),
                type=problem_types[key],
                start_depot=start,
                end_depot=end,
                shift=window,
                max_duration=v.max_duration_s,
                max_distance=v.max_distance_m,
                max_tasks=v.max_tasks,
                breaks=shift_breaks(own_shift, epoch) if own_shift is not None else (),
                reload_depots=reload_depots if v.reloads else (),
                max_reloads=v.max_reloads if v.reloads else None,
            )
        )

    set_aside: dict[uuid.UUID, tuple[str, str]] = {}
    problem_orders = []
    for o in orders:
        found = problem_order(o, epoch=epoch, ndim=ndim, place=place)
        if isinstance(found, domain.Order):
            problem_orders.append(found)
        else:
            set_aside[o.id] = found

    profiles = sorted({t.profile for t in problem_types.values()})
    traffic = org_traffic(session, org.id, travel_model)
    day = travel_model.for_day(
        epoch, org.timezone, departure=departure, held=departure is not None, traffic=traffic
    )
    stamps = None
    if departure is None and day.time_dependent:
        stamps = expected_departures(
            len(locations), problem_depots, problem_vehicles, problem_orders
        )
    problem = PlanningProblem(
        locations=tuple(locations),
        matrices=day.matrices(locations, profiles, departures=stamps),
        depots=tuple(problem_depots),
        vehicles=tuple(problem_vehicles),
        orders=tuple(problem_orders),
        dimensions=tuple(org.dimensions),
        name=name,
        travel_note=day.description(profiles),
        cost_waiting=org.waiting_costs_like_driving,
    )
    return Snapshot(
        problem=problem,
        epoch=epoch,
        depot_ids=depot_ids,
        set_aside=set_aside,
        timezone=org.timezone,
        departure=departure,
        traffic=traffic,
    )
