"""ETAs of a route's remaining visits, computed from the database (its visits,
orders, depots, the driver's shift, its stop events and last GPS fix) with
:mod:`lastmile.operations` (where the vehicle is, then the planner's timing
rule), stored on the visits at most so often, and the live events they make
(new ETAs, stops newly predicted late).

Legs are timed with the process's travel model for the route's vehicle profile
on the plan's day. On a road network each leg is timed when it is driven (with
traffic, that time of day's speeds): a first pass has every leg leave now, the
next ones leave when the pass before says, until those times settle; only the
route's legs are computed, not a matrix. An untouched route so gets its plan's
times back."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import math
import threading
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, Uuid, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lastmile.domain import Location, OrderKind, TimeWindow, VisitKind
from lastmile.operations.eta import RouteEta, recompute_etas, remaining
from lastmile.operations.position import Fix, Origin, vehicle_position
from lastmile.operations.progress import (
    RouteProgress,
    StopEventKind,
    StopEventRecord,
    StopState,
    TrackedStop,
    route_progress,
)
from lastmile.service import naming
from lastmile.service.auth.principal import Principal
from lastmile.service.db import utcnow
from lastmile.service.depots.models import Depot
from lastmile.service.errors import NotFound
from lastmile.service.fleet.models import Shift, VehicleType
from lastmile.service.fleet.models import Vehicle as FleetVehicle
from lastmile.service.orders.models import Order
from lastmile.service.orders.service import windows_of
from lastmile.service.orgs.models import Organisation
from lastmile.service.plans.models import Plan, Route, Visit
from lastmile.service.replan.models import PlanChange
from lastmile.service.schemas import answer_zone_name
from lastmile.service.tracking import access, models
from lastmile.service.tracking.durability import write_turn
from lastmile.service.tracking.pings import CLOCK_SKEW
from lastmile.service.tracking.schemas import PositionFix, RouteEtaOut, StopEtaOut
from lastmile.service.travel import (
    LegDurations,
    RoadModelAt,
    ServiceTravel,
    org_traffic,
    traffic_revision_of,
)


@dataclass
class EtaComputation:
    """A route's ETAs with what is needed to store and announce them."""

    out: RouteEtaOut
    eta: RouteEta
    progress: RouteProgress
    #: The route's visits (plain rows) by sequence.
    visits: dict[int, Any]
    epoch: dt.datetime
    org_id: uuid.UUID
    #: the organisation's time zone: live events show times in it
    timezone: str = "UTC"


def _seconds(epoch: dt.datetime, when: dt.datetime) -> int:
    return math.floor((when - epoch).total_seconds())


def _windows(raw: list[dict[str, Any]], epoch: dt.datetime) -> tuple[TimeWindow, ...]:
    return tuple(
        sorted(TimeWindow(_seconds(epoch, s), _seconds(epoch, e)) for s, e in windows_of(raw))
    )


@dataclass
class _RouteRows:
    """What the ETAs of a route are computed from, as plain rows (not ORM
    objects: this runs for every route every few seconds)."""

    route: Any
    visits: list[Any]
    orders: dict[uuid.UUID, Any]
    depots: dict[uuid.UUID, Any]
    shift_end: dt.datetime | None
    #: the last GPS fix (``last_fix_at``, ``last_lon``, ``last_lat``, ``last_speed_kph``)
    progress: Any
    events: list[Any]


def _statements() -> tuple[Any, Any, Any, Any]:
    """The queries of :func:`_load`, built once (building a statement costs more
    than running it): the route, its visits, its reload depots, its stop events."""
    route_id = bindparam("route_id", type_=Uuid)
    shift_end = (
        select(Shift.end_at)
        .where(
            Shift.driver_id == Route.driver_id,
            Shift.start_at <= Route.end_at,
            Shift.end_at >= Route.start_at,
        )
        .order_by(Shift.start_at)
        .limit(1)
        .correlate(Route)
        .scalar_subquery()
    )
    plan_changes = (
        select(func.count())
        .select_from(PlanChange)
        .where(PlanChange.plan_id == Route.plan_id)
        .correlate(Route)
        .scalar_subquery()
    )
    traffic = traffic_revision_of(Route.org_id).correlate(Route).scalar_subquery()
    progress = models.RouteProgress
    route = (
        select(
            Route.id,
            Route.org_id,
            Route.driver_id,
            Route.status,
            Route.start_at,
            Route.end_at,
            Route.reopened_at,
            Plan.epoch,
            Organisation.timezone,
            VehicleType.profile,
            shift_end.label("shift_end"),
            progress.last_fix_at,
            progress.last_lon,
            progress.last_lat,
            progress.last_speed_kph,
            Organisation.planning_revision,
            plan_changes.label("plan_changes"),
            traffic.label("traffic_revision"),
        )
        .join(Plan, Plan.id == Route.plan_id)
        .join(Organisation, Organisation.id == Route.org_id)
        .outerjoin(FleetVehicle, FleetVehicle.id == Route.vehicle_id)
        .outerjoin(VehicleType, VehicleType.id == FleetVehicle.type_id)
        .outerjoin(progress, progress.route_id == Route.id)
        .where(Route.id == route_id)
    )
    visits = (
        select(
            Visit.id,
            Visit.sequence,
            Visit.kind,
            Visit.order_id,
            Visit.depot_id,
            Visit.lon,
            Visit.lat,
            Visit.arrival_at,
            Visit.start_at,
            Visit.departure_at,
            Visit.eta_at,
            Order.kind.label("order_kind"),
            Order.pickup_windows,
            Order.pickup_service_s,
            Order.delivery_windows,
            Order.delivery_service_s,
        )
        .outerjoin(Order, Order.id == Visit.order_id)
        .where(Visit.route_id == route_id)
        .order_by(Visit.sequence)
    )
    depots = select(Depot.id, Depot.opens_s, Depot.closes_s, Depot.reload_time_s).where(
        Depot.id.in_(bindparam("depot_ids", expanding=True, type_=Uuid))
    )
    events = select(
        models.StopEvent.order_id,
        models.StopEvent.stop,
        models.StopEvent.kind,
        models.StopEvent.recorded_at,
    ).where(models.StopEvent.route_id == route_id, models.StopEvent.order_id.is_not(None))
    return route, visits, depots, events


_ROUTE, _VISITS, _DEPOTS, _EVENTS = _statements()


def _load(session: Session, route_id: uuid.UUID, *, route: Any = None) -> _RouteRows:
    """The route's rows in three queries (four with reloads): the route with its
    plan's epoch, time zone, profile, driver's shift end, last fix and learned
    traffic's revision; its visits with their orders; its stop events. ``route``:
    its first row, already read.

    These are plain column queries: they run on the session's connection, without
    the ORM's per-statement work (a third of the cost of a small query)."""
    if route is None:
        route = _route_row(session, route_id)
    visits = []
    orders = {}
    for row in session.connection().execute(_VISITS, {"route_id": route_id}):
        visits.append(row)
        if row.order_id is not None and row.order_kind is not None:
            orders[row.order_id] = _OrderRow(
                row.order_kind,
                row.pickup_windows,
                row.pickup_service_s,
                row.delivery_windows,
                row.delivery_service_s,
            )
    depot_ids = {v.depot_id for v in visits if v.kind == "reload" and v.depot_id is not None}
    depots = {}
    if depot_ids:
        depots = {
            r.id: r for r in session.connection().execute(_DEPOTS, {"depot_ids": list(depot_ids)})
        }
    return _RouteRows(
        route,
        visits,
        orders,
        depots,
        route.shift_end if route.driver_id is not None else None,
        route,
        _events(session, route_id),
    )


def _route_row(session: Session, route_id: uuid.UUID) -> Any:
    route = session.connection().execute(_ROUTE, {"route_id": route_id}).first()
    if route is None:
        raise NotFound("route not found")
    return route


def _events(session: Session, route_id: uuid.UUID) -> list[Any]:
    return list(session.connection().execute(_EVENTS, {"route_id": route_id}).all())


@dataclass(frozen=True, slots=True)
class _OrderRow:
    """What a visit's order adds to its stop: windows and service times."""

    kind: str
    pickup_windows: list[dict[str, Any]]
    pickup_service_s: int
    delivery_windows: list[dict[str, Any]]
    delivery_service_s: int


@dataclass(frozen=True)
class RouteStops:
    """A route's stops as tracking sees them (what :func:`_tracked` makes of its
    visits, orders, depots and shift) and its visits, under the fingerprint they
    were read with."""

    key: tuple[Any, ...]
    visits: tuple[Any, ...]
    stops: tuple[TrackedStop, ...]
    locations: tuple[Location, ...]


def stops_key(route: Any) -> tuple[Any, ...]:
    """What a route's stops are read from, as the route's first row has it: its
    plan's count of changes (every change to a plan's visits is logged, see
    :mod:`lastmile.service.replan`), the organisation's ``planning_revision``
    (raised by every write to orders' stops and windows, depots and the fleet),
    the day, the times and driver of the route and their shift's end."""
    return (
        route.plan_changes,
        route.planning_revision,
        route.epoch,
        route.start_at,
        route.end_at,
        route.driver_id,
        route.shift_end,
    )


class RouteStopsCache:
    """The stops of the routes whose ETAs were asked for lately, per process (at
    most ``size`` routes, the least recently used go first): dashboards and
    customers' pages ask again and again while only the driver's reports move.
    An entry is used only under the fingerprint it was read with
    (:func:`stops_key`, read again by every request with the route's row)."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._kept: collections.OrderedDict[uuid.UUID, RouteStops] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, route_id: uuid.UUID, key: tuple[Any, ...]) -> RouteStops | None:
        with self._lock:
            found = self._kept.get(route_id)
            if found is None or found.key != key:
                return None
            self._kept.move_to_end(route_id)
            return found

    def put(self, route_id: uuid.UUID, stops: RouteStops) -> None:
        with self._lock:
            self._kept[route_id] = stops
            self._kept.move_to_end(route_id)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def __len__(self) -> int:
        return len(self._kept)


def _tracked(rows: _RouteRows, epoch: dt.datetime) -> tuple[list[TrackedStop], list[Location]]:
    """The route's visits as tracked stops, and the places they are at (matrix
    rows: a visit without coordinates is where the one before it was)."""
    places: dict[tuple[float, float], int] = {}
    locations: list[Location] = []

    def row_of(lon: float, lat: float) -> int:
        key = (lon, lat)
        if key not in places:
            places[key] = len(locations)
            locations.append(Location(lon, lat))
        return places[key]

    orders, depots, shift_end = rows.orders, rows.depots, rows.shift_end
    stops: list[TrackedStop] = []
    last = (0.0, 0.0)
    for v in rows.visits:
        if v.lon is not None and v.lat is not None:
            last = (v.lon, v.lat)
        loc = row_of(*last)
        kind = VisitKind(v.kind)
        windows: tuple[TimeWindow, ...] = ()
        service = 0
        if v.order_id is not None and v.order_id in orders:
            o = orders[v.order_id]
            pickup = kind is VisitKind.PICKUP or (
                kind is VisitKind.JOB and o.kind == OrderKind.PICKUP.value
            )
            windows = _windows(o.pickup_windows if pickup else o.delivery_windows, epoch)
            service = o.pickup_service_s if pickup else o.delivery_service_s
        elif kind is VisitKind.RELOAD and v.depot_id in depots:
            d = depots[v.depot_id]
            windows, service = (TimeWindow(d.opens_s, d.closes_s),), d.reload_time_s
        elif kind is VisitKind.BREAK:
            service = _seconds(v.start_at, v.departure_at)
        elif kind is VisitKind.END and shift_end is not None:
            windows = (TimeWindow(min(0, _seconds(epoch, shift_end)), _seconds(epoch, shift_end)),)
        stops.append(
            TrackedStop(
                v.sequence,
                kind,
                loc,
                windows,
                service,
                0,
                str(v.order_id) if v.order_id is not None else None,
            )
        )
    return stops, locations


#: Passes of :func:`_timed_when_driven` at most (it usually settles in two or three).
ETA_PASSES = 5


def _timed_when_driven(
    model: RoadModelAt,
    locations: list[Location],
    stops: list[TrackedStop],
    progress: RouteProgress,
    now_s: int,
    origin: Origin,
    margin_s: int,
) -> RouteEta:
    """ETAs with each leg timed when it is driven: every leg leaves now in the first
    pass, then when the previous pass says it does, until those times settle."""
    where = {stop.sequence: stop.location for stop in stops}
    leaving: dict[tuple[int, int], int] = {}
    legs = LegDurations(model, locations, lambda a, b: leaving.get((a, b), now_s))
    # The route's legs, searched together (legs read otherwise are searched when read).
    path = [origin.location, *(stops[i].location for i in remaining(stops, progress))]
    legs.prefetch((a, b, now_s) for a, b in itertools.pairwise(path))
    eta = recompute_etas(
        stops, progress, durations=legs, now_s=now_s, origin=origin, margin_s=margin_s
    )
    for _ in range(ETA_PASSES - 1):
        driven: dict[tuple[int, int], int] = {}
        here, left = origin.location, origin.ready_s
        for s in eta.stops:
            there = where[s.sequence]
            if there != here:
                driven.setdefault((here, there), left)
            here, left = there, s.departure_s
        if driven == leaving:
            break
        leaving.clear()
        leaving.update(driven)
        legs.prefetch((a, b, t) for (a, b), t in driven.items())
        eta = recompute_etas(
            stops, progress, durations=legs, now_s=now_s, origin=origin, margin_s=margin_s
        )
    return eta


def back_at_depot(
    stops: list[TrackedStop],
    origin: Origin,
    reopened_s: int,
    now_s: int,
    leg_s: Callable[[int, int, int], int],
) -> Origin:
    """Where a route that completed and then took more stops (at ``reopened_s``)
    sets off from: its van went back to the depot its route ends at after the stop
    it finished last, so while no stop was finished since, it leaves that depot
    once back (the stop's report plus the drive, ``leg_s(from, to, leaving_s)``)
    and not before ``now_s``, as re-planning has it. A fix or a stop reported
    since, or a route that does not end at a depot, leaves ``origin`` as it is."""
    if origin.why != "last_stop" or origin.ready_s > reopened_s:
        return origin
    end = stops[-1] if stops and stops[-1].kind is VisitKind.END else None
    if end is None or end.location == origin.location:
        return origin
    back_s = origin.ready_s + leg_s(origin.location, end.location, origin.ready_s)
    return Origin(end.location, max(now_s, back_s), "depot")


def _last_fix(row: Any) -> PositionFix | None:
    if row.last_fix_at is None or row.last_lon is None or row.last_lat is None:
        return None
    return PositionFix.model_construct(
        at=row.last_fix_at, lon=row.last_lon, lat=row.last_lat, speed_kph=row.last_speed_kph
    )


def compute_eta(
    session: Session,
    *,
    route_id: uuid.UUID,
    travel_model: ServiceTravel,
    margin_s: int,
    now: dt.datetime | None = None,
    kept: RouteStopsCache | None = None,
    route: Any = None,
    events: list[Any] | None = None,
) -> EtaComputation:
    """Progress and ETAs of the route's remaining visits, from its stop events and
    last position, with ``travel_model`` for the legs ahead (see the module docstring).

    With ``kept``, the route's stops are taken from there while their fingerprint
    holds (and kept there when read); its stop events and last fix are always read.
    ``route`` and ``events``: the route's first row and its stop events, already read.
    """
    now = now or utcnow()
    if route is None:
        route = _route_row(session, route_id)
    key = stops_key(route)
    found = kept.get(route_id, key) if kept is not None else None
    if found is None:
        rows = _load(session, route_id, route=route)
        stops, locations = _tracked(rows, route.epoch)
        found = RouteStops(key, tuple(rows.visits), tuple(stops), tuple(locations))
        if kept is not None:
            kept.put(route_id, found)
        if events is None:
            events = rows.events
    elif events is None:
        events = _events(session, route_id)
    visits = list(found.visits)
    stops, locations = list(found.stops), list(found.locations)
    epoch: dt.datetime = route.epoch
    records = [
        StopEventRecord(str(oid), VisitKind(stop), StopEventKind(kind), _seconds(epoch, at))
        for oid, stop, kind, at in events
    ]
    now_s = _seconds(epoch, now)
    position = _last_fix(route)
    # The fix is a row of its own, added only when it is where the vehicle is.
    fix = Fix(len(locations), _seconds(epoch, position.at)) if position is not None else None
    first = visits[0] if visits else None
    start = Origin(
        stops[0].location if stops else 0,
        _seconds(epoch, first.departure_at) if first is not None else now_s,
    )
    progress = route_progress(stops, records)
    origin = vehicle_position(
        stops,
        progress,
        now_s=now_s,
        fix=fix,
        start=start,
        # A fix from before a dispatched route's start is another trip's; one
        # from further ahead than the clock skew allowed, a wrong device clock.
        fix_since_s=_seconds(epoch, route.start_at) if route.status == "dispatched" else None,
        fix_until_s=_seconds(epoch, now + CLOCK_SKEW),
    )
    if position is not None and origin.why == "position":
        locations.append(Location(position.lon, position.lat))
    traffic = org_traffic(session, route.org_id, travel_model, revision=route.traffic_revision)
    day = travel_model.for_day(epoch, route.timezone, departure=now_s, traffic=traffic)
    model = day.model(route.profile or "car")
    durations: list[list[int]] = []
    if not isinstance(model, RoadModelAt) and locations:
        durations = model.matrix(locations, departure=now_s).durations.tolist()
    if route.reopened_at is not None:

        def leg_s(a: int, b: int, leaving_s: int) -> int:
            if isinstance(model, RoadModelAt):
                return LegDurations(model, locations, lambda _a, _b: leaving_s).duration(a, b)
            return durations[a][b]

        origin = back_at_depot(stops, origin, _seconds(epoch, route.reopened_at), now_s, leg_s)
    if isinstance(model, RoadModelAt):
        eta = _timed_when_driven(model, locations, stops, progress, now_s, origin, margin_s)
    else:
        eta = recompute_etas(
            stops, progress, durations=durations, now_s=now_s, origin=origin, margin_s=margin_s
        )
    by_seq = {v.sequence: v for v in visits}
    state = {p.sequence: p.state for p in progress.stops}

    def at(t: int) -> dt.datetime:
        return epoch + dt.timedelta(seconds=t)

    # Built from values of the database and the computation, already of the
    # fields' types: constructed without validating them again (the answer's
    # serializers still run).
    out = RouteEtaOut.model_construct(
        route_id=route.id,
        status=route.status,
        computed_at=now,
        origin=eta.origin.why,
        margin_s=margin_s,
        done=progress.done,
        failed=progress.failed,
        remaining=sum(
            1 for s in eta.stops if s.kind in (VisitKind.JOB, VisitKind.PICKUP, VisitKind.DELIVERY)
        ),
        position=position,
        end_at=at(eta.end_s) if eta.end_s is not None else None,
        stops=[
            StopEtaOut.model_construct(
                sequence=s.sequence,
                kind=s.kind,
                order_id=by_seq[s.sequence].order_id,
                state=state.get(s.sequence, StopState.PENDING),
                eta_at=at(s.arrival_s),
                start_at=at(s.start_s),
                departure_at=at(s.departure_s),
                planned_at=by_seq[s.sequence].arrival_at,
                window_end_at=at(s.window_end_s) if s.window_end_s is not None else None,
                slack_s=s.slack_s,
                late=s.late,
            )
            for s in eta.stops
        ],
    )
    return EtaComputation(
        out=out,
        eta=eta,
        progress=progress,
        visits=by_seq,
        epoch=epoch,
        org_id=route.org_id,
        timezone=route.timezone,
    )


@dataclass(frozen=True, slots=True)
class EtaAnswer:
    """An ETA answer and its JSON body, times in the asker's zone (what the
    endpoint sends: an answer given again is sent as it was, not built again)."""

    out: RouteEtaOut
    body: bytes

    @classmethod
    def of(cls, out: RouteEtaOut) -> EtaAnswer:
        return cls(out, out.model_dump_json().encode())


class RecentEtas:
    """The ETAs answered lately, per route, margin and answer time zone, per process
    (at most ``size``, the least recently used go first), with what they were
    computed from: the route's first row (its status, last fix, plan's count of
    changes, planning revision, times, driver, shift end, learned traffic's
    revision) and its stop events, as :func:`answer_eta` reads them again for
    every request.

    An answer is given again only under the same rows and while it is at most
    ``fresh_s`` old (ETAs also move with the clock: a van that is behind falls
    further behind as time passes); it then says when it was computed
    (``computed_at``). Dashboards and customers' pages ask for the same route again
    and again while only the driver's reports move it.
    """

    def __init__(self, fresh_s: float, size: int = 512) -> None:
        self.fresh = dt.timedelta(seconds=fresh_s)
        self.size = size
        self._kept: collections.OrderedDict[
            tuple[uuid.UUID, int, str], tuple[tuple[Any, ...], EtaAnswer]
        ] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(
        self,
        route_id: uuid.UUID,
        margin_s: int,
        key: tuple[Any, ...],
        now: dt.datetime,
        zone: str = "UTC",
    ) -> EtaAnswer | None:
        if not self.fresh:
            return None
        with self._lock:
            found = self._kept.get((route_id, margin_s, zone))
            if found is None or found[0] != key:
                return None
            answer = found[1]
            computed = answer.out.computed_at
            if not computed <= now <= computed + self.fresh:
                return None
            self._kept.move_to_end((route_id, margin_s, zone))
            return answer

    def put(
        self,
        route_id: uuid.UUID,
        margin_s: int,
        key: tuple[Any, ...],
        answer: EtaAnswer,
        zone: str = "UTC",
    ) -> None:
        if not self.fresh:
            return
        with self._lock:
            self._kept[(route_id, margin_s, zone)] = (key, answer)
            self._kept.move_to_end((route_id, margin_s, zone))
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def __len__(self) -> int:
        return len(self._kept)


def answer_eta(
    session: Session,
    *,
    principal: Principal,
    route_id: uuid.UUID,
    travel_model: ServiceTravel,
    margin_s: int,
    now: dt.datetime,
    kept: RouteStopsCache | None = None,
    recent: RecentEtas | None = None,
) -> EtaAnswer:
    """``GET /routes/{id}/eta``: the route's ETAs for ``principal`` (404 for another
    organisation's route, 403 for a driver's route that is not theirs, as
    :func:`access.route_ref` decides), in two queries when nothing moved (the
    route's row, its stop events), computed by :func:`compute_eta` otherwise; with
    the answer's JSON body in the current answer zone."""
    route = _route_row(session, route_id)
    access.check_route(principal, org_id=route.org_id, driver_id=route.driver_id)
    events = _events(session, route_id)
    key = (tuple(route), tuple(tuple(e) for e in events))
    zone = answer_zone_name()
    if recent is not None:
        found = recent.get(route_id, margin_s, key, now, zone)
        if found is not None:
            return found
    answer = EtaAnswer.of(
        compute_eta(
            session,
            route_id=route_id,
            travel_model=travel_model,
            margin_s=margin_s,
            now=now,
            kept=kept,
            route=route,
            events=events,
        ).out
    )
    if recent is not None:
        recent.put(route_id, margin_s, key, answer, zone)
    return answer


def claim_eta_refresh(
    session: Session, *, route_id: uuid.UUID, every_s: float, now: dt.datetime | None = None
) -> bool:
    """Whether this process should recompute the route's ETAs now: at most once
    per ``every_s`` across all API processes (an atomic conditional update)."""
    now = now or utcnow()
    progress = models.RouteProgress
    with write_turn(session):
        claimed = session.execute(
            update(progress)
            .where(
                progress.route_id == route_id,
                or_(
                    progress.eta_computed_at.is_(None),
                    progress.eta_computed_at < now - dt.timedelta(seconds=every_s),
                ),
            )
            .values(eta_computed_at=now)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return getattr(claimed, "rowcount", 0) == 1


def refresh_eta(
    session: Session,
    *,
    route_id: uuid.UUID,
    travel_model: ServiceTravel,
    margin_s: int,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Recompute the route's ETAs, store them (``visits.eta_at``, which customers'
    tracking pages show) and return the live events: the new ETAs, and one
    ``late`` alert per stop newly predicted late."""
    now = now or utcnow()
    comp = compute_eta(
        session, route_id=route_id, travel_model=travel_model, margin_s=margin_s, now=now
    )
    changed = [
        {"visit_id": comp.visits[s.sequence].id, "eta_at": s.eta_at}
        for s in comp.out.stops
        if comp.visits[s.sequence].eta_at != s.eta_at
    ]
    late = [s.sequence for s in comp.out.stops if s.late]
    progress = session.scalar(
        select(models.RouteProgress).where(models.RouteProgress.route_id == route_id)
    )
    if progress is None:
        progress = models.RouteProgress(
            id=uuid.uuid4(), org_id=comp.org_id, route_id=route_id, late_sequences=[]
        )
        session.add(progress)
    before = set(progress.late_sequences or [])
    progress.late_sequences = late
    progress.eta_computed_at = now
    progress.updated_at = now
    try:
        with write_turn(session):
            if changed:
                visits = cast(Table, Visit.__table__)
                session.execute(
                    update(visits)
                    .where(visits.c.id == bindparam("visit_id"))
                    .values(eta_at=bindparam("eta_at")),
                    changed,
                )
            session.commit()
    except IntegrityError:
        # Another process created the progress row meanwhile; its ETAs stand.
        session.rollback()
        return []
    nxt = next((s for s in comp.out.stops if s.kind is not VisitKind.END), None)
    zone = _zone(comp.timezone)

    def local(when: dt.datetime) -> str:
        return when.astimezone(zone).isoformat()

    events: list[dict[str, Any]] = [
        {
            "type": "eta",
            "route_id": str(route_id),
            "computed_at": local(now),
            "origin": comp.out.origin,
            "done": comp.out.done,
            "failed": comp.out.failed,
            "remaining": comp.out.remaining,
            "next": ({"sequence": nxt.sequence, "eta_at": local(nxt.eta_at)} if nxt else None),
            "end_at": local(comp.out.end_at) if comp.out.end_at else None,
            "late": late,
        }
    ]
    newly = [s for s in comp.out.stops if s.late and s.sequence not in before]
    vehicle, orders = _late_labels(session, comp.org_id, route_id, newly)
    for s in newly:
        order = orders.get(str(s.order_id), "") if s.order_id else ""
        window = (
            f", its window ends at {s.window_end_at.astimezone(zone):%H:%M}"
            if s.window_end_at
            else ""
        )
        events.append(
            {
                "type": "late",
                "route_id": str(route_id),
                "sequence": s.sequence,
                "kind": s.kind.value,
                "order_id": str(s.order_id) if s.order_id else None,
                "eta_at": local(s.eta_at),
                "start_at": local(s.start_at),
                "window_end_at": local(s.window_end_at) if s.window_end_at else None,
                "slack_s": s.slack_s,
                "message": f"{vehicle} is forecast late at stop {s.sequence}"
                f"{' for ' + order if order else ''}: service expected to start at "
                f"{s.start_at.astimezone(zone):%H:%M}{window}",
            }
        )
    return events


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name) if name else dt.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _late_labels(
    session: Session, org_id: uuid.UUID, route_id: uuid.UUID, stops: list[Any]
) -> tuple[str, dict[str, str]]:
    """How people know the route's vehicle and the late stops' orders (only
    looked up when a stop is newly late)."""
    if not stops:
        return "", {}
    vehicle_id = session.scalar(select(Route.vehicle_id).where(Route.id == route_id))
    vehicle = (
        naming.vehicle_labels(session, org_id=org_id, ids=[vehicle_id])[str(vehicle_id)]
        if vehicle_id is not None
        else "the vehicle"
    )
    orders = naming.order_labels(
        session, org_id=org_id, ids=[s.order_id for s in stops if s.order_id]
    )
    return vehicle, orders
