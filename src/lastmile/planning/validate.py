"""Check a plan against its problem, independently of every engine.

:func:`validate` re-implements the shared semantics (see
:mod:`lastmile.planning.schedule` for the scheduler engines use) from the
problem alone: for every route it walks the visits, recomputes travel, times,
loads, distances and cost from the vehicle's profile matrix, and compares them
with what the plan reports and with every constraint of the problem. It never
imports the scheduler or an engine, so a bug there cannot hide itself here.

Reported times are checked for consistency, not for being the earliest
possible: arrival must equal the previous departure plus the matrix duration,
service must start at or after arrival inside a window, and departure must
leave room for setup (when the location changed) and service. Loads,
cumulative distance/travel and cost must equal the recomputed values exactly.

Loads: the vehicle leaves each depot (start or reload) with the deliveries of
the trip ahead; a pickup job adds its amount until the next depot; a shipment
adds at its pickup and drops at its delivery, and stays on board across a
reload in between (the goods do not leave the vehicle).

Violation codes (``Violation.code``):

========================  ====================================================
unknown_vehicle           a route for a vehicle the problem does not have
duplicate_vehicle         two routes for one vehicle
unknown_order             a visit or unassigned entry names no order of the problem
unknown_break             a break id the vehicle does not have
unknown_depot             a reload names no depot
sequence                  START/END missing, misplaced or at the wrong depot
kind                      visit kind does not fit the order (JOB for a shipment ...)
location                  a visit happens elsewhere than its stop/depot/vehicle
arrival                   arrival != previous departure + travel duration
timing                    service starts before arrival, or departure too early
time_window               service starts outside every window of the stop
break                     a break missing, taken twice, outside its window or short
shift_start / shift_end   the route starts before / ends after the vehicle's shift
depot_window              leaves a depot before it opens / arrives after it closes
max_duration, max_travel_time, max_distance, max_tasks   the vehicle's limits
capacity                  load above capacity in some dimension
load, distance, travel    the reported value differs from the recomputed one
cost                      the route's cost differs from the objective
skills                    the vehicle lacks a skill the order needs
precedence                shipment delivered before pickup or on another vehicle
incomplete                only one half of a shipment served
reload                    reload at a depot not allowed, or too many reloads
duplicate                 an order served twice, or listed twice as unassigned
served_and_unassigned     an order both served and listed as unassigned
unserved                  an order neither served nor listed as unassigned
========================  ====================================================
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from lastmile.domain import (
    Order,
    OrderKind,
    Plan,
    Route,
    Stop,
    TimeWindow,
    Vehicle,
    Visit,
    VisitKind,
)
from lastmile.domain.time import HORIZON, format_clock
from lastmile.exceptions import LastmileError
from lastmile.planning.problem import PlanningProblem, charged_duration, route_cost

__all__ = ["InvalidPlan", "ValidationReport", "Violation", "validate", "validate_route"]

_MAX_LISTED = 25
_START, _END, _BREAK, _RELOAD = VisitKind.START, VisitKind.END, VisitKind.BREAK, VisitKind.RELOAD
_JOB, _PICKUP, _DELIVERY = VisitKind.JOB, VisitKind.PICKUP, VisitKind.DELIVERY


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule. ``message`` names the vehicle, order and times involved."""

    code: str
    message: str
    vehicle_id: str | None = None
    order_id: str | None = None

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class InvalidPlan(LastmileError, ValueError):
    """A plan that breaks its problem's rules; ``violations`` lists every one."""

    def __init__(self, violations: tuple[Violation, ...]) -> None:
        self.violations = violations
        lines = [f"  {v}" for v in violations[:_MAX_LISTED]]
        if len(violations) > _MAX_LISTED:
            lines.append(f"  ... and {len(violations) - _MAX_LISTED} more")
        super().__init__(f"plan has {len(violations)} violation(s):\n" + "\n".join(lines))


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """The outcome of :func:`validate` and the recomputed plan totals.

    ``cost``, ``distance`` (m) and ``travel`` (s) are recomputed from the
    visit sequences, whatever the plan reports.
    """

    violations: tuple[Violation, ...]
    cost: int
    distance: int
    travel: int

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(v.code for v in self.violations)

    def of(self, code: str) -> tuple[Violation, ...]:
        """The violations with ``code``."""
        return tuple(v for v in self.violations if v.code == code)

    def raise_if_invalid(self) -> None:
        """Raise :class:`InvalidPlan` listing every violation, if there is any."""
        if self.violations:
            raise InvalidPlan(self.violations)


def validate(problem: PlanningProblem, plan: Plan, *, check_cost: bool = True) -> ValidationReport:
    """Check ``plan`` against every rule of ``problem``; never raises on a bad plan.

    ``check_cost=False`` skips comparing each route's reported cost with the
    objective (for plans whose costs come from elsewhere); the recomputed
    totals are reported either way. Work is linear in the number of visits.
    """
    return _Checker(problem, check_cost=check_cost).run(plan)


def validate_route(problem: PlanningProblem, route: Route) -> tuple[Violation, ...]:
    """The violations of one route on its own: every rule of :func:`validate` that
    one route can break (its vehicle, sequence, times, loads, limits and cost),
    none that needs the whole plan (orders served twice or not at all, a
    shipment split between vehicles). Work is linear in the route's visits.
    """
    checker = _Checker(problem, check_cost=True)
    vehicle = checker.vehicles.get(route.vehicle_id)
    if vehicle is None:
        return (
            Violation(
                "unknown_vehicle",
                f"route for vehicle {route.vehicle_id!r}, which the problem does not have",
                route.vehicle_id,
            ),
        )
    checker.check_route(route, 0, vehicle)
    for order_id, entries in checker.served.items():
        order = checker.orders.get(order_id)
        if order is not None and order.kind is OrderKind.SHIPMENT:
            checker.check_shipment(order, entries)
    return tuple(checker.out)


class _Served(NamedTuple):
    vehicle_id: str
    route_no: int
    position: int
    kind: VisitKind


def _in_windows(windows: tuple[TimeWindow, ...], t: int) -> bool:
    if not windows:
        return True
    for w in windows:  # noqa: SIM110 -- a plain loop is measurably faster on the hot path
        if w.start <= t <= w.end:
            return True
    return False


def _plus(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(map(operator.add, a, b))


def _minus(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(map(operator.sub, a, b))


_gt = operator.gt


class _Checker:
    def __init__(self, problem: PlanningProblem, *, check_cost: bool) -> None:
        self.problem = problem
        self.check_cost = check_cost
        self.orders: dict[str, Order] = {o.id: o for o in problem.orders}
        self.vehicles: dict[str, Vehicle] = {v.id: v for v in problem.vehicles}
        self.zero = (0,) * len(problem.dimensions)
        self.out: list[Violation] = []
        self.served: dict[str, list[_Served]] = {}

    # -- helpers ---------------------------------------------------------------

    def clock(self, t: int) -> str:
        return format_clock(t, scale=self.problem.time_scale)

    def windows_text(self, windows: Iterable[TimeWindow]) -> str:
        parts = []
        for w in windows:
            end = "open" if w.end >= HORIZON else self.clock(w.end)
            parts.append(f"{self.clock(w.start)}–{end}")
        return ", ".join(parts)

    def amount_text(self, amounts: tuple[int, ...]) -> str:
        dims = self.problem.dimensions
        return ", ".join(f"{a} {d}" for a, d in zip(amounts, dims, strict=True))

    def add(
        self, code: str, message: str, vehicle_id: str | None = None, order_id: str | None = None
    ) -> None:
        self.out.append(Violation(code, message, vehicle_id, order_id))

    # -- plan ------------------------------------------------------------------

    def run(self, plan: Plan) -> ValidationReport:
        cost = distance = travel = 0
        seen_vehicles: set[str] = set()
        for route_no, route in enumerate(plan.routes):
            vehicle = self.vehicles.get(route.vehicle_id)
            if vehicle is None:
                self.add(
                    "unknown_vehicle",
                    f"route for vehicle {route.vehicle_id!r}, which the problem does not have",
                    route.vehicle_id,
                )
                self.record_served(route, route_no)
                continue
            if vehicle.id in seen_vehicles:
                self.add("duplicate_vehicle", f"vehicle {vehicle.id!r} has two routes", vehicle.id)
            seen_vehicles.add(vehicle.id)
            c, d, t = self.check_route(route, route_no, vehicle)
            cost, distance, travel = cost + c, distance + d, travel + t
        self.check_orders(plan)
        return ValidationReport(tuple(self.out), cost, distance, travel)

    def record_served(self, route: Route, route_no: int) -> None:
        for pos, v in enumerate(route.visits):
            if v.is_task and v.order_id is not None:
                entry = _Served(route.vehicle_id, route_no, pos, v.kind)
                self.served.setdefault(v.order_id, []).append(entry)

    def check_orders(self, plan: Plan) -> None:
        listed: dict[str, int] = {}
        for u in plan.unassigned:
            if u.order_id not in self.orders:
                self.add(
                    "unknown_order",
                    f"unassigned order {u.order_id!r} is not in the problem",
                    order_id=u.order_id,
                )
            listed[u.order_id] = listed.get(u.order_id, 0) + 1
        for oid, n in listed.items():
            if n > 1:
                self.add("duplicate", f"order {oid!r} is listed {n} times as unassigned", None, oid)
        for order in self.problem.orders:
            oid = order.id
            entries = self.served.get(oid, ())
            if not entries:
                if oid not in listed:
                    self.add(
                        "unserved", f"order {oid!r} is neither served nor unassigned", None, oid
                    )
                continue
            if oid in listed:
                where = ", ".join(sorted({e.vehicle_id for e in entries}))
                self.add(
                    "served_and_unassigned",
                    f"order {oid!r} is served (by {where}) and also listed as unassigned",
                    entries[0].vehicle_id,
                    oid,
                )
            if order.kind is OrderKind.SHIPMENT:
                self.check_shipment(order, entries)
            elif len(entries) > 1:
                where = ", ".join(e.vehicle_id for e in entries)
                self.add(
                    "duplicate",
                    f"order {oid!r} is served {len(entries)} times (by {where})",
                    entries[0].vehicle_id,
                    oid,
                )

    def check_shipment(self, order: Order, entries: Iterable[_Served]) -> None:
        oid = order.id
        pickups = [e for e in entries if e.kind is _PICKUP]
        deliveries = [e for e in entries if e.kind is _DELIVERY]
        for name, half in (("pickup", pickups), ("delivery", deliveries)):
            if len(half) > 1:
                where = ", ".join(e.vehicle_id for e in half)
                self.add(
                    "duplicate",
                    f"shipment {oid!r}: {name} served {len(half)} times (by {where})",
                    half[0].vehicle_id,
                    oid,
                )
        if not pickups or not deliveries:
            done = pickups or deliveries
            if done:  # otherwise only wrong-kind visits, reported per visit
                served, missing = ("pickup", "delivery") if pickups else ("delivery", "pickup")
                self.add(
                    "incomplete",
                    f"shipment {oid!r}: {served} served by {done[0].vehicle_id!r} "
                    f"but its {missing} is not served",
                    done[0].vehicle_id,
                    oid,
                )
            return
        p, d = pickups[0], deliveries[0]
        if p.route_no != d.route_no:
            self.add(
                "precedence",
                f"shipment {oid!r}: picked up by {p.vehicle_id!r} but delivered by "
                f"{d.vehicle_id!r}",
                d.vehicle_id,
                oid,
            )
        elif d.position < p.position:
            self.add(
                "precedence",
                f"shipment {oid!r}: delivered (visit {d.position}) before it is picked up "
                f"(visit {p.position})",
                d.vehicle_id,
                oid,
            )

    # -- one route -------------------------------------------------------------

    def check_route(self, route: Route, route_no: int, vehicle: Vehicle) -> tuple[int, int, int]:
        """Check one route; return its recomputed (cost, distance, travel)."""
        vid = vehicle.id
        visits = route.visits
        self.record_served(route, route_no)
        if not visits:
            if self.check_cost and route.cost != 0:
                self.add("cost", f"vehicle {vid!r}: empty route reports cost {route.cost}", vid)
            return 0, 0, 0

        problem = self.problem
        depots = problem.depots
        matrix = problem.matrix_for(vehicle)
        dur, dist = matrix.durations, matrix.distances
        n_loc = matrix.size
        add = self.add
        clock = self.clock

        # Structure: START first and END last exactly when the vehicle has them.
        first, stop_at = 0, len(visits)
        start_visit = visits[0] if visits[0].kind is _START else None
        end_visit = visits[-1] if visits[-1].kind is _END else None
        if start_visit is not None:
            first = 1
        if end_visit is not None:
            stop_at -= 1
        self.check_ends(vehicle, start_visit, end_visit, visits)

        # Depot-loaded deliveries of each trip (trips are separated by reloads).
        trip_loads = [self.zero]
        for i in range(first, stop_at):
            v = visits[i]
            if v.kind is _RELOAD:
                trip_loads.append(self.zero)
            elif v.kind is _JOB and v.order_id is not None:
                job = self.orders.get(v.order_id)
                if job is not None and job.kind is OrderKind.DELIVERY:
                    trip_loads[-1] = _plus(trip_loads[-1], problem.amount(job))

        capacity = vehicle.capacity
        load = trip_loads[0]
        transit = self.zero  # shipments picked up and not yet delivered
        in_transit: set[str] = set()
        trip = 0
        loc: int | None = None
        prev_dep: int | None = None
        route_start: int | None = None
        travel = distance = 0
        tasks = reloads = 0
        driven = 0  # seconds of the current leg driven before a break
        breaks = {b.id: b for b in vehicle.breaks}
        breaks_taken: dict[str, int] = {}
        mismatch_reported: set[str] = set()

        def compare(v: Visit, i: int) -> None:
            # Only the first mismatch per route and field: later ones follow from it.
            for what, reported, expected in (
                ("load", v.load, load),
                ("distance", v.distance, distance),
                ("travel", v.travel, travel),
            ):
                if what in mismatch_reported or reported == expected:
                    continue
                if what == "load" and not reported and not expected:
                    continue
                mismatch_reported.add(what)
                add(
                    what,
                    f"vehicle {vid!r} visit {i} ({self.label(v)}): reports {what} "
                    f"{reported}, recomputed {expected}",
                    vid,
                    v.order_id,
                )

        def check_capacity(v: Visit) -> None:
            add(
                "capacity",
                f"vehicle {vid!r} carries {self.amount_text(load)} after {self.label(v)}; "
                f"capacity is {self.amount_text(capacity)}",
                vid,
                v.order_id,
            )

        if start_visit is not None:
            sv = start_visit
            if vehicle.start_depot is not None:
                loc = depots[vehicle.start_depot].location
                depot = depots[vehicle.start_depot]
                if sv.departure < depot.time_window.start:
                    add(
                        "depot_window",
                        f"vehicle {vid!r} leaves depot {depot.id!r} at {clock(sv.departure)}, "
                        f"before it opens at {clock(depot.time_window.start)}",
                        vid,
                    )
            elif 0 <= sv.location < n_loc:
                loc = sv.location
            prev_dep = route_start = sv.departure
            if sv.load != load or sv.distance or sv.travel:
                compare(sv, 0)
            if any(map(_gt, load, capacity)):
                check_capacity(sv)
        elif any(x > c for x, c in zip(load, capacity, strict=True)):
            add(
                "capacity",
                f"vehicle {vid!r} starts with {self.amount_text(load)} to deliver; capacity "
                f"is {self.amount_text(capacity)}",
                vid,
            )

        for i in range(first, stop_at):
            v = visits[i]
            kind = v.kind
            if kind is _START or kind is _END:
                add("sequence", f"vehicle {vid!r}: {kind} at visit {i} is not at an end", vid)
                continue
            windows: tuple[TimeWindow, ...] = ()
            work = 0
            nxt: int | None = v.location if 0 <= v.location < n_loc else None
            order: Order | None = None
            if kind is _BREAK:
                brk = breaks.get(v.break_id or "")
                if brk is None:
                    add("unknown_break", f"vehicle {vid!r} has no break {v.break_id!r}", vid)
                else:
                    windows, work = brk.time_windows, brk.duration
                    n_taken = breaks_taken.get(brk.id, 0) + 1
                    breaks_taken[brk.id] = n_taken
                    if n_taken == 2:
                        add("break", f"vehicle {vid!r} takes break {brk.id!r} more than once", vid)
                # A break is taken on the way to the next place (see schedule.build_route).
                target = self.next_location(visits, i, stop_at)
                if target is None and end_visit is not None and vehicle.end_depot is not None:
                    target = depots[vehicle.end_depot].location
                here = loc if loc is not None else target
                if v.location not in (here, target):
                    add(
                        "location",
                        f"vehicle {vid!r}: break {v.break_id!r} at location {v.location}, "
                        f"but the vehicle is between {here} and {target}",
                        vid,
                    )
                leg_s = int(dur[loc, target]) if loc is not None and target is not None else 0
                if prev_dep is not None:
                    drove = v.arrival - prev_dep
                    if not 0 <= drove <= leg_s - driven:
                        add(
                            "arrival",
                            f"vehicle {vid!r}: break {v.break_id!r} begins {clock(v.arrival)}, "
                            f"but the vehicle left at {clock(prev_dep)} with "
                            f"{leg_s - driven}s of driving to go",
                            vid,
                        )
                    driven += max(0, drove)
                nxt = loc  # a break does not change the leg being driven
            elif kind is _RELOAD:
                reloads += 1
                if v.depot is None or not 0 <= v.depot < len(depots):
                    add("unknown_depot", f"vehicle {vid!r}: reload at unknown depot {v.depot}", vid)
                else:
                    depot = depots[v.depot]
                    if v.depot not in vehicle.reload_depots:
                        add(
                            "reload",
                            f"vehicle {vid!r} reloads at depot {depot.id!r}, not one of its "
                            "reload depots",
                            vid,
                        )
                    nxt, windows, work = depot.location, (depot.time_window,), depot.reload_time
                    if v.location != nxt:
                        add(
                            "location",
                            f"vehicle {vid!r}: reload at location {v.location}, but depot "
                            f"{depot.id!r} is at {nxt}",
                            vid,
                        )
            else:
                tasks += 1
                order = self.orders.get(v.order_id or "")
                if order is None:
                    add(
                        "unknown_order",
                        f"vehicle {vid!r} visits order {v.order_id!r}, which the problem "
                        "does not have",
                        vid,
                        v.order_id,
                    )
                else:
                    stop = self.stop_of(order, v, vid)
                    if stop is not None:
                        nxt, windows = stop.location, stop.time_windows
                        work = stop.service + (stop.setup if nxt != loc else 0)
                        if v.location != nxt:
                            add(
                                "location",
                                f"vehicle {vid!r}: {self.label(v)} at location {v.location}, "
                                f"but its stop is at {nxt}",
                                vid,
                                order.id,
                            )
                    if not order.skills <= vehicle.skills:
                        missing = ", ".join(sorted(order.skills - vehicle.skills))
                        add(
                            "skills",
                            f"vehicle {vid!r} serves order {order.id!r}, which needs skill "
                            f"{missing} the vehicle lacks",
                            vid,
                            order.id,
                        )

            # Travel from the previous place (breaks interrupt a leg; open starts do not travel).
            leg = 0
            if kind is not _BREAK and loc is not None and nxt is not None:
                leg = int(dur[loc, nxt])
                travel += leg
                distance += int(dist[loc, nxt])
                leg -= driven  # part of it was driven before a break
            if kind is not _BREAK:
                driven = 0
            if kind is not _BREAK and prev_dep is not None and v.arrival != prev_dep + leg:
                add(
                    "arrival",
                    f"vehicle {vid!r}: {self.label(v)} arrives {clock(v.arrival)}, but leaving the "
                    f"previous visit at {clock(prev_dep)} and driving {leg}s gives "
                    f"{clock(prev_dep + leg)}",
                    vid,
                    v.order_id,
                )
            if v.start < v.arrival:
                add(
                    "timing",
                    f"vehicle {vid!r}: {self.label(v)} starts {clock(v.start)}, before arriving at "
                    f"{clock(v.arrival)}",
                    vid,
                    v.order_id,
                )
            if not _in_windows(windows, v.start):
                code = (
                    "break"
                    if kind is _BREAK
                    else "depot_window"
                    if kind is _RELOAD
                    else ("time_window")
                )
                add(
                    code,
                    f"vehicle {vid!r}: {self.label(v)} starts {clock(v.start)}, outside "
                    f"{self.windows_text(windows)}",
                    vid,
                    v.order_id,
                )
            if v.departure < v.start + work:
                what = "break" if kind is _BREAK else "timing"
                add(
                    what,
                    f"vehicle {vid!r}: {self.label(v)} leaves {clock(v.departure)}, before its "
                    f"{work}s of {'break' if kind is _BREAK else 'work'} from "
                    f"{clock(v.start)} end at {clock(v.start + work)}",
                    vid,
                    v.order_id,
                )
            if route_start is None:
                route_start = v.start

            # Loads.
            if kind is _RELOAD:
                trip += 1
                load = _plus(trip_loads[trip], transit)
            elif order is not None:
                amount = problem.amount(order)
                if kind is _PICKUP and order.kind is OrderKind.SHIPMENT:
                    load = _plus(load, amount)
                    if order.id not in in_transit:
                        in_transit.add(order.id)
                        transit = _plus(transit, amount)
                elif kind is _DELIVERY and order.kind is OrderKind.SHIPMENT:
                    load = _minus(load, amount)
                    if order.id in in_transit:
                        in_transit.discard(order.id)
                        transit = _minus(transit, amount)
                elif kind is _JOB and order.kind is OrderKind.DELIVERY:
                    load = _minus(load, amount)
                elif kind is _JOB and order.kind is OrderKind.PICKUP:
                    load = _plus(load, amount)
            if v.load != load or v.distance != distance or v.travel != travel:
                compare(v, i)
            if any(map(_gt, load, capacity)):
                check_capacity(v)
            prev_dep = v.departure
            if nxt is not None:
                loc = nxt

        # The end of the route.
        if end_visit is not None:
            ev = end_visit
            end_loc: int | None = ev.location if 0 <= ev.location < n_loc else None
            if vehicle.end_depot is not None:
                end_depot = depots[vehicle.end_depot]
                end_loc = end_depot.location
                if ev.arrival > end_depot.time_window.end:
                    add(
                        "depot_window",
                        f"vehicle {vid!r} returns to depot {end_depot.id!r} at "
                        f"{clock(ev.arrival)}, after it closes at "
                        f"{clock(end_depot.time_window.end)}",
                        vid,
                    )
            leg = 0
            if loc is not None and end_loc is not None:
                leg = int(dur[loc, end_loc])
                travel += leg
                distance += int(dist[loc, end_loc])
                leg -= driven
            if prev_dep is not None and ev.arrival != prev_dep + leg:
                add(
                    "arrival",
                    f"vehicle {vid!r} arrives at its end depot {clock(ev.arrival)}, but leaving "
                    f"the last visit at {clock(prev_dep)} and driving {leg}s gives "
                    f"{clock(prev_dep + leg)}",
                    vid,
                )
            if ev.load != load or ev.distance != distance or ev.travel != travel:
                compare(ev, len(visits) - 1)
            end_time = ev.arrival
        else:
            end_time = prev_dep if prev_dep is not None else 0
        if route_start is None:
            route_start = end_time

        # Route-wide limits.
        shift = vehicle.shift
        if route_start < shift.start:
            add(
                "shift_start",
                f"vehicle {vid!r} starts {clock(route_start)}, before its shift starts at "
                f"{clock(shift.start)}",
                vid,
            )
        if end_time > shift.end:
            add(
                "shift_end",
                f"vehicle {vid!r} ends {clock(end_time)}, after its shift ends at "
                f"{clock(shift.end)}",
                vid,
            )
        if vehicle.max_duration is not None and end_time - route_start > vehicle.max_duration:
            add(
                "max_duration",
                f"vehicle {vid!r} works {end_time - route_start}s "
                f"({clock(route_start)}–{clock(end_time)}), over its maximum "
                f"{vehicle.max_duration}s",
                vid,
            )
        if vehicle.max_travel_time is not None and travel > vehicle.max_travel_time:
            add(
                "max_travel_time",
                f"vehicle {vid!r} drives {travel}s, over its maximum {vehicle.max_travel_time}s",
                vid,
            )
        if vehicle.max_distance is not None and distance > vehicle.max_distance:
            add(
                "max_distance",
                f"vehicle {vid!r} drives {distance} m, over its maximum {vehicle.max_distance} m",
                vid,
            )
        if vehicle.max_tasks is not None and tasks > vehicle.max_tasks:
            add(
                "max_tasks",
                f"vehicle {vid!r} has {tasks} stops, over its maximum {vehicle.max_tasks}",
                vid,
            )
        if vehicle.max_reloads is not None and reloads > vehicle.max_reloads:
            add(
                "reload",
                f"vehicle {vid!r} reloads {reloads} times, over its maximum {vehicle.max_reloads}",
                vid,
            )
        if tasks:
            # An unused vehicle's driver takes no break; a used one takes every break.
            for brk in vehicle.breaks:
                if brk.id not in breaks_taken:
                    add(
                        "break",
                        f"vehicle {vid!r} does not take break {brk.id!r} "
                        f"({self.windows_text(brk.time_windows)}, {brk.duration}s)",
                        vid,
                    )

        # The route's times were checked above, so its duration is theirs.
        duration = charged_duration(self.problem, route.start_time, route.end_time)
        cost = route_cost(vehicle, travel, distance, duration_s=duration) if tasks else 0
        if self.check_cost and route.cost != cost:
            charged = "" if duration is None else f", duration {duration}s"
            add(
                "cost",
                f"vehicle {vid!r}: route reports cost {route.cost}, the objective gives {cost} "
                f"(travel {travel}s, distance {distance} m{charged})",
                vid,
            )
        return cost, distance, travel

    def check_ends(
        self,
        vehicle: Vehicle,
        start_visit: Visit | None,
        end_visit: Visit | None,
        visits: tuple[Visit, ...],
    ) -> None:
        vid = vehicle.id
        depots = self.problem.depots
        for name, want, got in (
            ("START", vehicle.start_depot, start_visit),
            ("END", vehicle.end_depot, end_visit),
        ):
            if want is None:
                if got is not None:
                    self.add("sequence", f"vehicle {vid!r} has an open route but a {name}", vid)
                continue
            if got is None:
                where = "begin" if name == "START" else "end"
                self.add(
                    "sequence",
                    f"vehicle {vid!r}: route must {where} with {name} at depot {depots[want].id!r}",
                    vid,
                )
                continue
            if got.depot != want or got.location != depots[want].location:
                self.add(
                    "sequence",
                    f"vehicle {vid!r}: {name} at depot {got.depot} (location {got.location}), "
                    f"expected depot {depots[want].id!r} (location {depots[want].location})",
                    vid,
                )

    def stop_of(self, order: Order, v: Visit, vid: str) -> Stop | None:
        """The stop a task visit serves, or None (reported) if the kind does not fit."""
        if order.kind is OrderKind.SHIPMENT:
            if v.kind is _PICKUP:
                return order.pickup
            if v.kind is _DELIVERY:
                return order.delivery
        elif v.kind is _JOB:
            return order.single_stop
        self.add(
            "kind",
            f"vehicle {vid!r}: a {v.kind} visit for {order.kind} order {order.id!r}",
            vid,
            order.id,
        )
        return None

    @staticmethod
    def next_location(visits: tuple[Visit, ...], i: int, stop_at: int) -> int | None:
        """The location of the first non-break visit after ``i`` (None if there is none)."""
        for j in range(i + 1, stop_at):
            if visits[j].kind is not _BREAK:
                return visits[j].location
        return None

    def label(self, v: Visit) -> str:
        if v.order_id is not None:
            return f"{v.kind} of order {v.order_id!r}"
        if v.break_id is not None:
            return f"break {v.break_id!r}"
        depots = self.problem.depots
        if v.depot is not None and 0 <= v.depot < len(depots):
            return f"{v.kind} at depot {depots[v.depot].id!r}"
        return str(v.kind)
