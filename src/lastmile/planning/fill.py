"""Put orders a plan leaves out where they still fit.

A search cut short, or one that makes orders optional (prize collecting), can
return a plan that leaves out an order a cheap insertion would serve; the
planner would then prefer a much costlier plan that serves it. Before plans
are compared, :func:`fill_left_out` tries each left-out single-stop order at
every position of the routes nearest to it (and on an idle vehicle), and keeps
the cheapest position whose rebuilt route the validator accepts. Shipments
(two stops on one route) are left to the search.
"""

from __future__ import annotations

import time

from lastmile.domain import OrderKind, Plan, Route, Vehicle, VisitKind
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.schedule import Step, build_route

#: Routes tried per order: the ones passing nearest to it.
NEAREST_ROUTES = 8


def fill_left_out(problem: PlanningProblem, plan: Plan, *, deadline: float) -> Plan:
    """``plan`` with as many left-out single-stop orders inserted as fit before
    ``deadline`` (``time.perf_counter()`` seconds); unchanged when none fits.

    The returned plan's ``unassigned`` lists only what is still left out (with
    the reasons ``plan`` gave); the caller explains them as usual.
    """
    from lastmile.planning.validate import validate_route

    served = {v.order_id for r in plan.routes for v in r.visits if v.order_id is not None}
    left = [o for o in problem.orders if o.id not in served and o.kind is not OrderKind.SHIPMENT]
    if not left:
        return plan
    routes: dict[str, Route] = {r.vehicle_id: r for r in plan.routes}
    inserted: set[str] = set()
    for order in sorted(left, key=lambda o: -o.priority):
        if time.perf_counter() >= deadline:
            break
        stop = order.stops[0]
        kind = VisitKind.JOB
        best: tuple[float, Route] | None = None
        for vehicle in _candidates(problem, routes, stop.location):
            if time.perf_counter() >= deadline:
                break
            if not order.skills <= vehicle.type.skills:
                continue
            route = routes.get(vehicle.id)
            steps = _steps(route) if route is not None else []
            before = route.cost if route is not None else 0
            for pos in range(len(steps) + 1):
                trial = [*steps[:pos], Step(kind, order_id=order.id), *steps[pos:]]
                candidate = build_route(problem, vehicle, trial)
                added = candidate.cost - before
                if best is not None and added >= best[0]:
                    continue
                if not validate_route(problem, candidate):
                    best = (added, candidate)
        if best is not None:
            routes[best[1].vehicle_id] = best[1]
            inserted.add(order.id)
    if not inserted:
        return plan
    order_of = {v.id: k for k, v in enumerate(problem.vehicles)}
    kept = tuple(sorted(routes.values(), key=lambda r: order_of[r.vehicle_id]))
    unassigned = tuple(u for u in plan.unassigned if u.order_id not in inserted)
    return Plan(kept, unassigned, plan.engine, plan.runtime_s)


def _steps(route: Route) -> list[Step]:
    return [
        Step(v.kind, order_id=v.order_id, break_id=v.break_id, depot=v.depot)
        for v in route.visits
        if v.kind not in (VisitKind.START, VisitKind.END)
    ]


def _candidates(problem: PlanningProblem, routes: dict[str, Route], location: int) -> list[Vehicle]:
    """The vehicles whose routes pass nearest to ``location``, and the idle vehicle
    whose depot is nearest."""
    scored: list[tuple[int, Vehicle]] = []
    idle: list[tuple[int, Vehicle]] = []
    for vehicle in problem.vehicles:
        durations = problem.matrix_for(vehicle).durations
        route = routes.get(vehicle.id)
        if route is None:
            if vehicle.start_depot is not None:
                home = problem.depots[vehicle.start_depot].location
                idle.append((int(durations[home, location]), vehicle))
            continue
        near = min(int(durations[v.location, location]) for v in route.visits)
        scored.append((near, vehicle))
    scored.sort(key=lambda pair: pair[0])
    idle.sort(key=lambda pair: pair[0])
    return [v for _, v in scored[:NEAREST_ROUTES]] + [v for _, v in idle[:1]]
