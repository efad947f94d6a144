"""Turn a vehicle's sequence of steps into a timed route.

Engines decide *what* each vehicle does and in which order; this module
computes *when* (earliest feasible start at every step, the route's departure
delayed so the vehicle does not wait at its first stop; when waiting is
charged, ``PlanningProblem.cost_waiting``, delayed further as long as no stop,
break or the route's end gets later than allowed: see :func:`_leave_latest`),
what it carries and how far it has gone. It never checks feasibility: a step that cannot be served
in any window is still scheduled (at its arrival) and left for the validator
to report. Breaks are taken on the way: see :func:`build_route`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lastmile.domain import Order, OrderKind, Route, Stop, TimeWindow, Vehicle, Visit, VisitKind
from lastmile.domain.time import HORIZON, earliest_start
from lastmile.planning.problem import PlanningProblem, charged_duration, route_cost


@dataclass(frozen=True, slots=True)
class Step:
    """One step an engine chose: an order stop, a break or a reload."""

    kind: VisitKind
    order_id: str | None = None
    break_id: str | None = None
    depot: int | None = None


def _add(a: tuple[int, ...], b: tuple[int, ...], sign: int = 1) -> tuple[int, ...]:
    return tuple(x + sign * y for x, y in zip(a, b, strict=True))


def _trip_deliveries(
    problem: PlanningProblem, steps: Sequence[Step], begin: int
) -> tuple[int, ...]:
    """Sum of depot-loaded amounts (delivery jobs) from ``begin`` to the next reload."""
    load = (0,) * len(problem.dimensions)
    for step in steps[begin:]:
        if step.kind is VisitKind.RELOAD:
            break
        if step.kind is VisitKind.JOB:
            order = problem.order(step.order_id or "")
            if order.kind is OrderKind.DELIVERY:
                load = _add(load, problem.amount(order))
    return load


def _stop(problem: PlanningProblem, step: Step) -> tuple[Order, Stop]:
    order = problem.order(step.order_id or "")
    if step.kind is VisitKind.JOB:
        return order, order.single_stop
    stop = order.pickup if step.kind is VisitKind.PICKUP else order.delivery
    assert stop is not None, f"{step.kind} step on a {order.kind} order {order.id!r}"
    return order, stop


def _step_location(problem: PlanningProblem, step: Step) -> int | None:
    if step.kind is VisitKind.BREAK:
        return None
    if step.kind is VisitKind.RELOAD:
        return problem.depots[step.depot if step.depot is not None else 0].location
    return _stop(problem, step)[1].location


def build_route(
    problem: PlanningProblem,
    vehicle: Vehicle,
    steps: Sequence[Step],
    *,
    start_time: int | None = None,
) -> Route:
    """Schedule ``steps`` (START/END excluded) for ``vehicle``.

    ``start_time`` fixes the departure from the start depot; by default the
    vehicle leaves at its shift start, delayed by any wait at its first stop
    (and, when the problem charges waiting, by as much more waiting as it can
    absorb: :func:`_leave_latest`).

    A break is taken on the way to the next place: the driver drives until
    the break's window opens (or arrives and waits there), rests, and drives
    the rest of the leg. The break visit's ``arrival`` is when the vehicle
    pulls over, its ``location`` where the leg began (or its end, when the
    vehicle got there first).
    """
    matrix = problem.matrix_for(vehicle)
    dur, dist = matrix.durations, matrix.distances
    depots = problem.depots
    breaks = {b.id: b for b in vehicle.breaks}
    end_loc = depots[vehicle.end_depot].location if vehicle.end_depot is not None else None

    # Where the vehicle heads next after each step (the next non-break place).
    heading: list[int | None] = [None] * len(steps)
    nxt_loc = end_loc
    for i in range(len(steps) - 1, -1, -1):
        heading[i] = nxt_loc
        here = _step_location(problem, steps[i])
        if here is not None:
            nxt_loc = here
    first_loc = nxt_loc  # the first place the route goes to

    visits: list[Visit] = []
    t = problem.earliest_departure(vehicle, start_time)
    load = _trip_deliveries(problem, steps, 0)
    on_board = (0,) * len(problem.dimensions)  # shipments picked up, not yet delivered
    loc: int | None = None
    travel = distance = 0
    driven = 0  # seconds of the current leg already driven (before breaks)
    if vehicle.start_depot is not None:
        loc = depots[vehicle.start_depot].location
        visits.append(Visit(VisitKind.START, loc, t, t, t, load, 0, 0, depot=vehicle.start_depot))

    for i, step in enumerate(steps):
        if step.kind is VisitKind.BREAK:
            brk = breaks[step.break_id or ""]
            target = heading[i]
            here = loc if loc is not None else first_loc
            leg = int(dur[loc, target]) if loc is not None and target is not None else 0
            remaining = leg - driven
            start = earliest_start(brk.time_windows, t)
            start = t if start is None else start
            drive = min(remaining, start - t)
            driven += drive
            where = target if target is not None and driven == leg and leg > 0 else here
            visits.append(
                Visit(
                    VisitKind.BREAK,
                    where if where is not None else 0,
                    t + drive,
                    start,
                    start + brk.duration,
                    load,
                    distance,
                    travel,
                    break_id=brk.id,
                )
            )
            t = start + brk.duration
            continue

        order: Order | None = None
        if step.kind is VisitKind.RELOAD:
            depot = depots[step.depot if step.depot is not None else 0]
            windows: tuple[TimeWindow, ...] = (depot.time_window,)
            nxt, work = depot.location, depot.reload_time
        else:
            order, stop = _stop(problem, step)
            nxt, windows = stop.location, stop.time_windows
            work = stop.service + (stop.setup if nxt != loc else 0)
        if loc is not None:
            travel += int(dur[loc, nxt])
            distance += int(dist[loc, nxt])
            t += int(dur[loc, nxt]) - driven
        driven = 0
        arrival = t
        start = earliest_start(windows, arrival)
        start = arrival if start is None else start
        t = start + work
        if step.kind is VisitKind.RELOAD:
            load = _add(_trip_deliveries(problem, steps, i + 1), on_board)
        else:
            assert order is not None
            amount = problem.amount(order)
            delivers = step.kind is VisitKind.DELIVERY or (
                step.kind is VisitKind.JOB and order.kind is OrderKind.DELIVERY
            )
            load = _add(load, amount, -1 if delivers else 1)
            if order.kind is OrderKind.SHIPMENT:
                on_board = _add(on_board, amount, -1 if delivers else 1)
        visits.append(
            Visit(
                step.kind,
                nxt,
                arrival,
                start,
                t,
                load,
                distance,
                travel,
                order_id=order.id if order else None,
                depot=step.depot if step.kind is VisitKind.RELOAD else None,
            )
        )
        loc = nxt

    if vehicle.end_depot is not None:
        end = depots[vehicle.end_depot]
        if loc is not None:
            travel += int(dur[loc, end.location])
            distance += int(dist[loc, end.location])
            t += int(dur[loc, end.location]) - driven
        visits.append(
            Visit(
                VisitKind.END,
                end.location,
                t,
                t,
                t,
                load,
                distance,
                travel,
                depot=vehicle.end_depot,
            )
        )

    if start_time is None:
        visits = _delay_departure(visits)
    has_task = any(v.is_task for v in visits)
    duration = charged_duration(problem, visits[0].departure, visits[-1].departure)
    cost = route_cost(vehicle, travel, distance, duration_s=duration) if has_task else 0
    route = Route(vehicle.id, tuple(visits), cost)
    if start_time is None and problem.cost_waiting and has_task:
        return _leave_latest(problem, vehicle, steps, route)
    return route


def _visit_windows(
    problem: PlanningProblem, vehicle: Vehicle, visit: Visit
) -> tuple[TimeWindow, ...]:
    if visit.kind is VisitKind.BREAK:
        return next((b.time_windows for b in vehicle.breaks if b.id == visit.break_id), ())
    if visit.kind is VisitKind.RELOAD and visit.depot is not None:
        return (problem.depots[visit.depot].time_window,)
    if visit.order_id is None:
        return ()
    order = problem.order(visit.order_id)
    if visit.kind is VisitKind.PICKUP:
        stop = order.pickup
    elif visit.kind is VisitKind.DELIVERY:
        stop = order.delivery
    else:
        stop = order.single_stop
    return stop.time_windows if stop is not None else ()


def _leave_latest(
    problem: PlanningProblem, vehicle: Vehicle, steps: Sequence[Step], route: Route
) -> Route:
    """``route`` leaving as late as it can without anything getting worse: every
    visit still starts within the window it started in (or no later, when it
    started outside every window) and the route ends no later. Every time grows
    with the departure, so bisection over departures up to the route's total wait
    finds it; the waiting saved is what ``cost_waiting`` no longer charges."""
    if route.wait <= 0 or route.visits[0].kind is not VisitKind.START:
        return route
    bounds: list[int] = []
    for visit in route.visits:
        windows = _visit_windows(problem, vehicle, visit)
        inside = [w.end for w in windows if w.start <= visit.start <= w.end]
        bounds.append(inside[0] if inside else (visit.start if windows else HORIZON))
    bounds[-1] = min(bounds[-1], route.visits[-1].departure)
    first = route.visits[0].departure

    def build(start: int) -> Route:
        return build_route(problem, vehicle, steps, start_time=start)

    def keeps(candidate: Route) -> bool:
        later = candidate.visits
        return (
            len(later) == len(bounds)
            and all(v.start <= bound for v, bound in zip(later, bounds, strict=True))
            and later[-1].departure <= bounds[-1]
        )

    lo, hi = first, first + route.wait
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if keeps(build(mid)):
            lo = mid
        else:
            hi = mid - 1
    return route if lo == first else build(lo)


def _delay_departure(visits: list[Visit]) -> list[Visit]:
    """Leave later by the wait at the first stop; nothing after it changes."""
    if len(visits) < 2 or visits[0].kind is not VisitKind.START:
        return visits
    first = visits[1]
    delay = first.wait if first.is_task or first.kind is VisitKind.RELOAD else 0
    if delay <= 0:
        return visits
    s = visits[0]
    t = s.departure + delay
    shifted = Visit(s.kind, s.location, t, t, t, s.load, 0, 0, depot=s.depot)
    moved = Visit(
        first.kind,
        first.location,
        first.start,
        first.start,
        first.departure,
        first.load,
        first.distance,
        first.travel,
        order_id=first.order_id,
        break_id=first.break_id,
        depot=first.depot,
    )
    return [shifted, moved, *visits[2:]]
