"""The live view of a stored plan: from the plan's rows and tracking reports to a
:class:`~lastmile.planning.live.LivePlan`.

The view is rebuilt for a request from what the database says (or taken from
the kept views, :mod:`lastmile.service.replan.views`): the plan's routes (their
order of stops, re-timed on the current orders and fleet), the stop events
reported so far (stops completed or failed) and the last GPS fix of each route
on the road (a matrix row of its own when it is newer than the last stop
reported, see :func:`vehicle_states`). :func:`changing` holds a plan for one
change at a time.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, lazyload, selectinload

from lastmile.domain import Location, Route, Unassigned, VisitKind
from lastmile.domain import Order as DomainOrder
from lastmile.domain import Plan as DomainPlan
from lastmile.domain.geo import haversine_m
from lastmile.exceptions import InputError
from lastmile.operations import OrderStatus
from lastmile.operations.position import Fix, Origin, vehicle_position
from lastmile.operations.progress import RouteProgress as Replay
from lastmile.operations.progress import (
    StopEventKind,
    StopEventRecord,
    TrackedStop,
    route_progress,
    tracked_stops,
)
from lastmile.planning import PlanningProblem, build_route
from lastmile.planning.live import LiveChangeRejected, LivePlan, VehicleState
from lastmile.planning.schedule import Step
from lastmile.service import naming
from lastmile.service.depots.models import Depot
from lastmile.service.errors import Conflict
from lastmile.service.fleet.models import Shift, Vehicle
from lastmile.service.orders.models import Order
from lastmile.service.orgs.models import Organisation
from lastmile.service.plans import models as pm
from lastmile.service.plans.snapshot import (
    Snapshot,
    build_snapshot,
    problem_order,
    seconds_since,
)
from lastmile.service.replan.models import PlanChange
from lastmile.service.replan.views import CachedView, LiveViews
from lastmile.service.tracking.models import RouteProgress, StopEvent
from lastmile.service.travel import DayTravel, ServiceTravel

#: Route statuses whose vehicle has left its depot.
ON_THE_ROAD = ("started",)
#: A route whose vehicle broke down: kept in its plan (with the stops it did) for
#: people to see, out of every later change.
BROKEN_DOWN = "broken_down"
#: A route every stop of which has its outcome, or that a dispatcher closed: what
#: it did stays as it was. Closed by a dispatcher (``closed_at``), its vehicle's
#: day is over; completed by its stops' outcomes, its vehicle may be sent out
#: again while its shift lasts (:func:`reopenable`), and the route reopens
#: (``started`` again) when it is given new stops.
COMPLETED = "completed"
#: Route statuses out of changes, their vehicles with them (but see :func:`reopenable`).
CLOSED = (BROKEN_DOWN, COMPLETED)
#: The status of a completed route given new stops: its vehicle drives again.
REOPENED = "started"


def live_routes(plan: pm.Plan, reopened: Collection[uuid.UUID] = ()) -> list[pm.Route]:
    """The plan's routes that take part in changes: all but closed ones (broken down
    or completed), and the completed ones of ``reopened`` (see :func:`reopenable`)."""
    return [r for r in plan.routes if r.status not in CLOSED or r.id in reopened]


def reopenable(session: Session, *, plan: pm.Plan, now: dt.datetime) -> set[uuid.UUID]:
    """The plan's completed routes whose vehicle may be sent out again at ``now``:
    completed by their stops' outcomes (not closed by a dispatcher), their vehicle
    on no other route of the plan still open, its shift that day (the one plans
    use: the earliest), the hours of the depot it ends at and its driver's last
    shift that day (if any) not over."""
    done = [r for r in plan.routes if r.status == COMPLETED and r.closed_at is None]
    if not done:
        return set()
    busy = {r.vehicle_id for r in plan.routes if r.status not in CLOSED}
    # One route per vehicle (the latest), as the live view has them.
    latest = {r.vehicle_id: r for r in sorted(done, key=lambda r: r.position)}
    done = [r for r in latest.values() if r.vehicle_id not in busy]
    if not done:
        return set()
    vehicle_ids = {r.vehicle_id for r in done}
    driver_ids = {r.driver_id for r in done if r.driver_id is not None}
    vehicle_end: dict[uuid.UUID, dt.datetime] = {}
    driver_end: dict[uuid.UUID, dt.datetime] = {}
    for shift in session.scalars(
        select(Shift)
        .where(
            Shift.org_id == plan.org_id,
            or_(Shift.vehicle_id.in_(vehicle_ids), Shift.driver_id.in_(driver_ids)),
            Shift.end_at > plan.epoch,
            Shift.start_at < plan.epoch + _DAY,
        )
        .order_by(Shift.start_at)
    ):
        if shift.vehicle_id in vehicle_ids:
            vehicle_end.setdefault(shift.vehicle_id, shift.end_at)
        if shift.driver_id in driver_ids:
            driver_end[shift.driver_id] = max(
                shift.end_at, driver_end.get(shift.driver_id, shift.end_at)
            )
    # A vehicle back at its depot works while the depot is open (as plans have it).
    vans = list(session.scalars(select(Vehicle).where(Vehicle.id.in_(vehicle_ids))))
    depot_ids = {v.end_depot_id or v.depot_id for v in vans if v.returns_to_depot}
    closes = dict(
        session.execute(select(Depot.id, Depot.closes_s).where(Depot.id.in_(depot_ids))).all()
    )
    depot_end = {
        v.id: plan.epoch + dt.timedelta(seconds=closes[v.end_depot_id or v.depot_id])
        for v in vans
        if v.returns_to_depot and (v.end_depot_id or v.depot_id) in closes
    }
    out = set()
    for r in done:
        ends = [vehicle_end.get(r.vehicle_id), depot_end.get(r.vehicle_id)]
        if r.driver_id is not None:
            ends.append(driver_end.get(r.driver_id))
        if all(end is None or end > now for end in ends):
            out.add(r.id)
    return out


def completed_totals(plan: pm.Plan, live: Collection[uuid.UUID] = ()) -> tuple[int, int, int]:
    """Cost, distance and driving of the plan's completed routes out of the live
    view (those not in ``live``, by route id), as they were driven and last
    written: part of the plan's totals (see :meth:`LiveContext.totals_of` for
    those in it)."""
    done = [r for r in plan.routes if r.status == COMPLETED and r.id not in live]
    return (
        sum(r.cost for r in done),
        sum(r.distance_m for r in done),
        sum(r.travel_s for r in done),
    )


#: A GPS fix older than this is not trusted as the vehicle's position.
_FIX_MAX_AGE = dt.timedelta(minutes=15)
#: A vehicle whose route completed is back at its depot once a fix this close to
#: it is reported.
_AT_DEPOT_M = 200.0
_DAY = dt.timedelta(days=1)
_FINISHED = {"delivered": "completed", "picked_up": "completed", "failed": "failed"}

#: Orders as re-planning reads them: without their items (not planned on).
BARE = (lazyload(Order.items),)


@dataclass
class LiveContext:
    """A plan as the live view sees it, and how to write changes back."""

    plan: pm.Plan
    org: Organisation
    snapshot: Snapshot
    live: LivePlan
    now: dt.datetime
    routes: dict[str, pm.Route]
    #: orders behind each started vehicle, by (order id, visit kind)
    done: dict[str, set[tuple[str, VisitKind]]] = field(default_factory=dict)
    #: orders asked for that the plan does not have yet, by id
    extra: dict[str, DomainOrder] = field(default_factory=dict)
    #: the view as cached (None when it is not kept)
    cached: CachedView | None = None

    @property
    def problem(self) -> PlanningProblem:
        return self.live.problem

    @property
    def live_ids(self) -> set[uuid.UUID]:
        """The ids of the routes in the live view."""
        return {r.id for r in self.routes.values()}

    def reopens(self, route: Route) -> bool:
        """Whether ``route`` (of a full plan of the live view) gives a completed
        route stops ahead: then it reopens; else the route stays as written."""
        row = self.routes.get(route.vehicle_id)
        if row is None or row.status != COMPLETED:
            return False
        behind = self.done.get(route.vehicle_id, set())
        return any(
            v.order_id is not None and (v.order_id, v.kind) not in behind for v in route.tasks
        )

    def kept(self, route: Route) -> bool:
        """Whether ``route`` is a completed route's that stays as written (no stop
        ahead): a change leaves its row, and its figures, as they are."""
        row = self.routes.get(route.vehicle_id)
        return row is not None and row.status == COMPLETED and not self.reopens(route)

    def totals_of(self, plan: DomainPlan) -> tuple[int, int, int]:
        """The plan's cost, distance and driving with ``plan`` as its live part:
        each route as ``plan`` has it where it changed, the others as written
        (completed ones it gives no stop ahead, those out of the live view, and
        those it leaves as the live view has them: their rows are not rewritten,
        so the plan's totals stay the sum of its routes' and a change's delta is
        what it changed, not the drift of other vans' forecasts since they were
        last written)."""
        cost, distance, travel = completed_totals(self.plan, self.live_ids)
        for route in plan.routes:
            if self.kept(route) or (
                route.vehicle_id in self.routes
                and self.live.plan.route_of(route.vehicle_id) == route
            ):
                row = self.routes[route.vehicle_id]
                cost, distance, travel = (
                    cost + row.cost,
                    distance + row.distance_m,
                    travel + row.travel_s,
                )
            else:
                cost, distance, travel = (
                    cost + route.cost,
                    distance + route.distance,
                    travel + route.travel,
                )
        return cost, distance, travel

    def cost_of(self, plan: DomainPlan) -> int:
        """The plan's cost with ``plan`` as its live part (:meth:`totals_of`)."""
        return self.totals_of(plan)[0]

    def order(self, order_id: uuid.UUID) -> DomainOrder:
        """The planning order ``order_id`` (one of the plan's, or one asked for)."""
        found = self.extra.get(str(order_id))
        return found if found is not None else self.problem.order(str(order_id))


def _steps(route: pm.Route, known: set[str], depot_ids: list[uuid.UUID]) -> list[Step]:
    steps = []
    for v in route.visits:
        kind = VisitKind(v.kind)
        if kind in (VisitKind.START, VisitKind.END):
            continue
        if kind is VisitKind.BREAK:
            steps.append(Step(kind, break_id=v.break_id))
        elif kind is VisitKind.RELOAD:
            if v.depot_id in depot_ids:
                steps.append(Step(kind, depot=depot_ids.index(v.depot_id)))
        elif v.order_id is not None and str(v.order_id) in known:
            steps.append(Step(kind, order_id=str(v.order_id)))
    return steps


def _day(travel: ServiceTravel, snapshot: Snapshot) -> DayTravel:
    """The travel the snapshot's matrices were made with (same day, same departure)."""
    return travel.for_day(
        snapshot.epoch,
        snapshot.timezone,
        departure=snapshot.departure,
        held=snapshot.departure is not None,
        traffic=snapshot.traffic,
    )


def _with_rows(problem: PlanningProblem, extra: list[Location], day: DayTravel) -> PlanningProblem:
    """``problem`` with ``extra`` locations added at the end (profiles that share a
    matrix still share it)."""
    if not extra:
        return problem
    grown = day.grown(problem, extra)
    # Nothing but rows at the end changes: the orders, fleet and depots checked
    # when ``problem`` was made are not checked again.
    out = copy.copy(problem)
    object.__setattr__(out, "locations", (*problem.locations, *extra))
    object.__setattr__(out, "matrices", grown)
    return out


def live_vehicle_ids(
    session: Session, plan: pm.Plan, reopened: Collection[uuid.UUID] = ()
) -> set[uuid.UUID]:
    """The vehicles that may still take work in ``plan``: those of its routes and
    of its planning job, less the ones whose route is closed (completed, broken
    down), unless it is among ``reopened`` (see :func:`reopenable`)."""
    return _vehicle_ids(session, plan, reopened)


def _vehicle_ids(
    session: Session, plan: pm.Plan, reopened: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    job = session.scalar(select(pm.PlanningJob).where(pm.PlanningJob.plan_id == plan.id))
    vehicle_ids = {r.vehicle_id for r in plan.routes}
    if job is not None:
        vehicle_ids |= {uuid.UUID(v) for v in job.params.get("vehicle_ids", [])}
    closed = {r.vehicle_id for r in plan.routes if r.status in CLOSED and r.id not in reopened}
    return vehicle_ids - closed


def _routes_key(plan: pm.Plan, live: Collection[uuid.UUID]) -> tuple[Any, ...]:
    return tuple(
        (str(r.id), str(r.vehicle_id), r.status, r.started_at, r.id in live)
        for r in sorted(plan.routes, key=lambda r: str(r.id))
    )


def _plan_key(session: Session, plan: pm.Plan, live: Collection[uuid.UUID]) -> tuple[Any, ...]:
    """The parts of a fingerprint a change to the plan's routes moves: every change
    of a ready or dispatched plan is logged (:class:`PlanChange`)."""
    changes = session.scalar(
        select(func.count()).select_from(PlanChange).where(PlanChange.plan_id == plan.id)
    )
    return (plan.status, plan.epoch, _routes_key(plan, live), changes)


def fingerprint(
    session: Session,
    *,
    plan: pm.Plan,
    org: Organisation,
    reopened: Collection[uuid.UUID] = (),
) -> tuple[Any, ...]:
    """What a live view of ``plan`` is built from, in two small queries (see
    :mod:`lastmile.service.replan.views`); positions and the clock are not in it.

    The fleet, depots and orders are in it by the organisation's
    ``planning_revision``, which every write to them raises (in its own
    transaction, so no reader sees the rows without the revision). Which
    completed routes are in the view (``reopened``) is in it too."""
    live = {r.id for r in live_routes(plan, reopened)}
    started = [r.id for r in plan.routes if r.status in ON_THE_ROAD or r.id in reopened]
    events: tuple[Any, ...] = (0, None)
    if started:
        events = tuple(
            session.execute(
                select(func.count(), func.max(StopEvent.recorded_at)).where(
                    StopEvent.route_id.in_(started)
                )
            ).one()
        )
    organisation = (org.planning_revision, org.timezone, tuple(org.dimensions))
    return (_plan_key(session, plan, live), events, organisation)


def vehicle_states(
    session: Session,
    *,
    plan: pm.Plan,
    problem: PlanningProblem,
    routes: list[Route],
    now: dt.datetime,
    now_s: int,
    reopened: Collection[uuid.UUID] = (),
) -> tuple[list[VehicleState], list[Location], dict[str, set[tuple[str, VisitKind]]]]:
    """Where each vehicle on the road is now, from its stop events and last GPS fix.

    ``routes`` are the plan's live routes (in :func:`live_routes` order, with the
    completed ones of ``reopened``) as the library sees them, on ``problem``'s
    rows. The position is :func:`lastmile.operations.position.vehicle_position`,
    the rule tracking uses too, with finished stops only (a stop the driver
    reached but has not finished is still ahead of the vehicle) and fixes no
    older than ``_FIX_MAX_AGE``. A fix it picks becomes a location of its own,
    numbered after ``problem``'s. A vehicle whose route completed (every stop
    behind it) and ends at a depot is at that depot (:func:`_back_at_depot`).
    Returns the vehicles' states, the fixes' locations (to add as rows, in
    order) and, by vehicle, the orders behind it (by order id and visit kind).
    """
    rows = live_routes(plan, reopened)
    started = [r for r in rows if r.status in ON_THE_ROAD or r.id in reopened]
    events: dict[uuid.UUID, list[StopEvent]] = {r.id: [] for r in started}
    if started:
        for ev in session.scalars(
            select(StopEvent)
            .where(StopEvent.route_id.in_(list(events)), StopEvent.kind.in_(list(_FINISHED)))
            .order_by(StopEvent.recorded_at)
        ):
            events[ev.route_id].append(ev)
        progress = {
            p.route_id: p
            for p in session.scalars(
                select(RouteProgress).where(RouteProgress.route_id.in_(list(events)))
            )
        }
    else:
        progress = {}
    states: list[VehicleState] = []
    fixes: list[Location] = []
    done: dict[str, set[tuple[str, VisitKind]]] = {}
    for row, route in zip(rows, routes, strict=True):
        if row.status not in ON_THE_ROAD and row.id not in reopened:
            continue
        vid = str(row.vehicle_id)
        on_route = {(v.order_id, v.kind): v for v in route.visits if v.is_task and v.order_id}
        completed: set[tuple[str, VisitKind]] = set()
        failed: set[tuple[str, VisitKind]] = set()
        for ev in events[row.id]:
            key = (str(ev.order_id), VisitKind(ev.stop))
            if key not in on_route or key in completed or key in failed:
                continue
            (completed if ev.kind != "failed" else failed).add(key)
        if row.id in reopened:
            # Every stop of a completed route has its outcome (one failed at its
            # order's other stop settles it too).
            failed |= {k for k in on_route if k not in completed}
        done[vid] = completed | failed
        stops = tracked_stops(problem, route)
        replay = route_progress(
            stops,
            [
                StopEventRecord(
                    str(ev.order_id),
                    VisitKind(ev.stop),
                    StopEventKind(ev.kind),
                    seconds_since(plan.epoch, ev.recorded_at),
                )
                for ev in events[row.id]
            ],
        )
        last = progress.get(row.id)
        fix = None
        if (
            last is not None
            and last.last_fix_at is not None
            and last.last_lon is not None
            and last.last_lat is not None
        ):
            fix = Fix(
                len(problem.locations) + len(fixes), seconds_since(plan.epoch, last.last_fix_at)
            )
        where = vehicle_position(
            stops,
            replay,
            now_s=now_s,
            fix=fix,
            start=Origin(
                route.visits[0].location, seconds_since(plan.epoch, row.started_at or now)
            ),
            fix_since_s=seconds_since(plan.epoch, now - _FIX_MAX_AGE),
        )
        at_depot = None
        if row.id in reopened:
            seen = (
                Location(last.last_lon, last.last_lat)
                if last is not None and last.last_lon is not None and last.last_lat is not None
                else None
            )
            at_depot = _back_at_depot(problem, vid, stops, replay, where, seen)
        if at_depot is not None:
            depot_row, back_s = at_depot
            states.append(
                VehicleState(
                    vid,
                    depot_row,
                    max(now_s, back_s),
                    frozenset(completed),
                    frozenset(failed),
                    at_depot=True,
                )
            )
            continue
        if where.why == "position":
            assert last is not None and last.last_lon is not None and last.last_lat is not None
            fixes.append(Location(last.last_lon, last.last_lat, name=f"vehicle {vid} fix"))
        location, ready = where.location, max(now_s, where.ready_s)
        states.append(VehicleState(vid, location, ready, frozenset(completed), frozenset(failed)))
    return states, fixes, done


def _back_at_depot(
    problem: PlanningProblem,
    vehicle_id: str,
    stops: Sequence[TrackedStop],
    replay: Replay,
    where: Origin,
    fix: Location | None,
) -> tuple[int, int] | None:
    """Where and when a vehicle whose route completed is back at the depot its
    route ends at (None for a route without an end depot): once it has driven
    there from the stop it finished last, or when a GPS fix taken since shows it
    at the depot. Seconds since the plan's epoch, maybe before now."""
    vehicle = problem.vehicle(vehicle_id)
    if vehicle.end_depot is None:
        return None
    depot = problem.depots[vehicle.end_depot].location
    here = problem.locations[depot]
    if (
        where.why == "position"
        and fix is not None
        and here.lon is not None
        and here.lat is not None
        and haversine_m(fix, here) <= _AT_DEPOT_M
    ):
        return depot, where.ready_s
    last = replay.last_finished
    finished = replay.stops[last].finished_s if last is not None else None
    if last is None or finished is None:
        # Nothing finished reported (its stops settled otherwise): from where it
        # was seen, or its start.
        if where.why == "position":
            return depot, where.ready_s
        origin, left = where.location, where.ready_s
    else:
        origin, left = stops[last].location, finished
    durations = problem.matrix_for(vehicle).durations
    return depot, left + int(durations[origin, depot])


def _build(
    session: Session,
    *,
    plan: pm.Plan,
    org: Organisation,
    vehicle_ids: set[uuid.UUID],
    travel_model: ServiceTravel,
    now: dt.datetime,
    as_of: dt.datetime,
    extra_orders: Iterable[uuid.UUID] = (),
    reopened: Collection[uuid.UUID] = (),
) -> tuple[Snapshot, LivePlan, dict[str, set[tuple[str, VisitKind]]]]:
    """The live view of ``plan`` from the database, vehicles ready no earlier than
    ``as_of``, the completed routes of ``reopened`` in it."""
    rows = live_routes(plan, reopened)
    order_ids = {v.order_id for r in rows for v in r.visits if v.order_id is not None}
    order_ids |= {u.order_id for u in plan.unassigned}
    order_ids |= set(extra_orders)
    cancelled = set(
        session.scalars(
            select(Order.id).where(
                Order.id.in_(order_ids), Order.status == OrderStatus.CANCELLED.value
            )
        )
    )
    now_s = seconds_since(plan.epoch, as_of)
    try:
        snapshot = build_snapshot(
            session,
            org=org,
            epoch=plan.epoch,
            order_ids=sorted(order_ids - cancelled),
            vehicle_ids=sorted(vehicle_ids),
            travel_model=travel_model,
            name=plan.name,
            departure=now_s,
        )
    except InputError as exc:
        raise Conflict(f"the plan cannot be rebuilt: {exc}") from None
    problem = snapshot.problem
    known = {o.id for o in problem.orders}
    vehicles = {v.id for v in problem.vehicles}
    domain_routes: list[Route] = []
    for row in rows:
        vid = str(row.vehicle_id)
        if vid not in vehicles:
            label = naming.vehicle_labels(session, org_id=plan.org_id, ids=[vid])[vid]
            raise Conflict(f"{label} of route {row.id} is no longer available")
        steps = _steps(row, known, snapshot.depot_ids)
        domain_routes.append(
            build_route(problem, problem.vehicle(vid), steps, start_time=_left_at(plan, row))
        )
    on_routes = {v.order_id for r in domain_routes for v in r.visits if v.order_id}
    unassigned = tuple(
        Unassigned(str(u.order_id), u.reason, u.code)
        for u in plan.unassigned
        if str(u.order_id) in known and str(u.order_id) not in on_routes
    )

    states, fixes, done = vehicle_states(
        session,
        plan=plan,
        problem=problem,
        routes=domain_routes,
        now=now,
        now_s=now_s,
        reopened=reopened,
    )
    problem = _with_rows(problem, fixes, _day(travel_model, snapshot))
    snapshot = dataclasses.replace(snapshot, problem=problem)
    try:
        live = LivePlan.build(
            problem,
            DomainPlan(tuple(domain_routes), unassigned, plan.engine),
            now_s=now_s,
            states=states,
        )
    except (InputError, LiveChangeRejected) as exc:
        raise Conflict(f"the plan no longer fits its orders and fleet: {exc}") from None
    return snapshot, live, done


def _left_at(plan: pm.Plan, row: pm.Route) -> int | None:
    """When a route that has started left, as written (its start visit's departure,
    seconds since the plan's epoch): it is timed from there, not re-timed from its
    shift's start around the windows its stops have now (a stop failed and booked
    again for another day has that day's windows: the van would 'leave' then, its
    duration and cost would come out negative). None for a route not started: it
    is timed afresh."""
    if row.started_at is None or not row.visits or row.visits[0].kind != VisitKind.START.value:
        return None
    return seconds_since(plan.epoch, row.visits[0].departure_at)


def _with_extra(
    ctx: LiveContext, session: Session, order_ids: list[uuid.UUID], travel_model: ServiceTravel
) -> LiveContext | None:
    """``ctx`` grown by orders the plan does not have yet (their addresses get matrix
    rows); None when one of them needs more than new rows (it would be set aside,
    or it is tied to a depot no vehicle type knows yet)."""
    problem = ctx.problem
    # Usually held already (the request read them): no query then.
    held = {oid: session.get(Order, oid, options=BARE) for oid in order_ids}
    rows = {oid: o for oid, o in held.items() if o is not None}
    new_locations: list[Location] = []
    # Where the new rows go: after the vehicles' private rows when the view
    # grows by rows and columns (the travel models answer rectangular queries),
    # at the end of the problem when it grows from a whole matrix.
    day = _day(travel_model, ctx.snapshot)
    between = day.between(problem.matrices)
    base = ctx.live.next_row if between is not None else len(problem.locations)

    def place(lon: float, lat: float, label: str) -> int:
        new_locations.append(Location(lon=lon, lat=lat, name=label))
        return base + len(new_locations) - 1

    skills = set().union(*(v.type.skills for v in problem.vehicles))
    extra: dict[str, DomainOrder] = {}
    for oid in order_ids:
        row, key = rows.get(oid), str(oid)
        if row is None or any(o.id == key for o in problem.orders):
            return None
        found = problem_order(row, epoch=ctx.plan.epoch, ndim=len(ctx.org.dimensions), place=place)
        if not isinstance(found, DomainOrder):
            return None
        if row.depot_id is not None and f"depot:{row.depot_id}" not in skills:
            return None
        extra[found.id] = found
    if between is not None:
        # Only the new rows and columns are computed, leaving when the view's legs do.
        live = ctx.live.with_locations(new_locations, between)
    else:
        live = ctx.live.rebase(_with_rows(problem, new_locations, day))
    return dataclasses.replace(
        ctx,
        live=live,
        snapshot=dataclasses.replace(ctx.snapshot, problem=live.problem),
        extra=extra,
    )


@contextlib.contextmanager
def changing(session: Session, *, plan: pm.Plan, views: LiveViews | None) -> Iterator[pm.Plan]:
    """Hold ``plan`` for a change, and give it as it is once held: one change at a
    time per plan (a lock in this process, and in the database a row lock, or
    SQLite's write lock, so other processes wait too)."""
    lock = views.plan_lock(plan.id) if views is not None else contextlib.nullcontext()
    with lock:
        if session.get_bind().dialect.name == "sqlite":
            # SQLite has no row locks: a write takes the database's one write lock
            # (other processes' writers wait for it, busy_timeout), and what is read
            # after it is the latest.
            session.execute(
                update(pm.Plan)
                .where(pm.Plan.id == plan.id)
                .values(status=pm.Plan.status)
                .execution_options(synchronize_session=False)
            )
        held = session.execute(
            select(pm.Plan)
            .where(pm.Plan.id == plan.id)
            .options(selectinload(pm.Plan.routes).lazyload(pm.Route.visits))
            .execution_options(populate_existing=True)
            .with_for_update(of=pm.Plan)
        ).scalar_one()
        yield held


def load_live(
    session: Session,
    *,
    plan: pm.Plan,
    travel_model: ServiceTravel,
    now: dt.datetime,
    extra_orders: Iterable[uuid.UUID] = (),
    views: LiveViews | None = None,
) -> LiveContext:
    """The live view of ``plan`` at ``now`` (409 when the plan cannot be changed).

    With ``views``, a view kept from an earlier request is used when nothing it
    was built from has changed (see :mod:`lastmile.service.replan.views`).
    ``extra_orders`` are orders the plan does not have yet: they are in
    :attr:`LiveContext.extra`, their addresses rows of the problem. Completed
    routes whose vehicle may still be sent out (:func:`reopenable`) are in the
    view, their vehicle at the end of its round.
    """
    if plan.status not in ("ready", "dispatched"):
        raise Conflict(f"the plan is {plan.status}; only ready or dispatched plans can change")
    org = session.get(Organisation, plan.org_id)
    assert org is not None
    reopened = reopenable(session, plan=plan, now=now)
    routes = {str(r.vehicle_id): r for r in live_routes(plan, reopened)}

    def build(as_of: dt.datetime, extra: Iterable[uuid.UUID] = ()) -> LiveContext:
        snapshot, live, done = _build(
            session,
            plan=plan,
            org=org,
            vehicle_ids=_vehicle_ids(session, plan, reopened),
            travel_model=travel_model,
            now=now,
            as_of=as_of,
            extra_orders=extra,
            reopened=reopened,
        )
        return LiveContext(plan, org, snapshot, live, now, routes, done)

    cached: CachedView | None = None
    if views is not None and views.enabled:
        key = fingerprint(session, plan=plan, org=org, reopened=reopened)
        cached = views.get(plan.id, key, now)
        if cached is None:
            built = build(now + views.ttl)
            cached = CachedView(key, now, now + views.ttl, built.snapshot, built.live, built.done)
            views.put(plan.id, cached)
        ctx = LiveContext(
            plan, org, cached.snapshot, cached.live, now, routes, cached.done, cached=cached
        )
    else:
        ctx = build(now)
    extra = sorted(set(extra_orders))
    if not extra:
        return ctx
    grown = _with_extra(ctx, session, extra, travel_model)
    if grown is not None:
        return grown
    # An order the view cannot take by adding rows: built again with it, not kept.
    return build(cached.valid_until if cached is not None else now, extra)


def remember(*, views: LiveViews | None, ctx: LiveContext, result: LivePlan) -> None:
    """Keep ``result``, just stored and committed by :func:`store`, as the plan's view
    (a change that failed to commit is never kept)."""
    if views is None or ctx.cached is None:
        return
    # The plan's part as the change left it: one change more than the view's own
    # (changes to a plan are made one at a time, see :func:`changing`; one made
    # elsewhere meanwhile makes the count differ). Stop events and fleet are kept
    # as they were read before the change, so one that came in meanwhile shows as
    # a difference too.
    status, epoch, _, changes = ctx.cached.key[0]
    key = ((status, epoch, _routes_key(ctx.plan, ctx.live_ids), changes + 1), *ctx.cached.key[1:])
    snapshot = dataclasses.replace(ctx.snapshot, problem=result.problem)
    views.put(
        ctx.plan.id,
        CachedView(
            key, ctx.cached.built_at, ctx.cached.valid_until, snapshot, result, ctx.cached.done
        ),
    )
