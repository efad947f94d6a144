"""Exact optimum of tiny planning problems by enumeration (a test helper).

:func:`brute_force_optimum` tries every way to split the orders over at most
two vehicles and every order of stops on each vehicle, keeps the plans that
serve the most orders, and of those the cheapest. Orders are left out only if
no plan can include them.

How: for each vehicle, a depth-first search over stop sequences (pickups
before their deliveries) gives the cheapest feasible route for every subset
of orders; prefixes whose service would start after every window are cut
(time only moves forward). Feasibility of a complete sequence follows the
shared semantics directly (windows, setup, shift and depot closing, limits,
loads). The chosen routes are then scheduled with
:func:`lastmile.planning.schedule.build_route` and must pass
:func:`lastmile.planning.validate.validate`, so a disagreement between this
search and the validator fails loudly instead of hiding.

Not enumerated: breaks and reloads (the helper refuses problems that use them).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from lastmile.domain import Order, OrderKind, Plan, Route, Stop, Vehicle, VisitKind
from lastmile.domain.time import earliest_start
from lastmile.planning.problem import PlanningProblem, route_cost
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.unassigned import explain_unassigned
from lastmile.planning.validate import validate

MAX_STOPS = 7
MAX_VEHICLES = 2


@dataclass(frozen=True, slots=True)
class _Node:
    """One stop the search can append: order ``index``'s ``stop`` as ``kind``."""

    index: int
    kind: VisitKind
    stop: Stop


def brute_force_optimum(problem: PlanningProblem) -> Plan:
    """The plan minimising (number of unassigned orders, cost), found by enumeration.

    Raises ``ValueError`` for problems beyond its reach: more than 7 stops,
    more than 2 vehicles, breaks or reloads.
    """
    if problem.num_stops > MAX_STOPS or len(problem.vehicles) > MAX_VEHICLES:
        raise ValueError(
            f"brute force handles <= {MAX_STOPS} stops and <= {MAX_VEHICLES} vehicles, got "
            f"{problem.num_stops} stops and {len(problem.vehicles)} vehicles"
        )
    if any(v.breaks or v.reload_depots for v in problem.vehicles):
        raise ValueError("brute force does not enumerate breaks or reloads")

    orders = problem.orders
    full = (1 << len(orders)) - 1
    tables = [_best_routes(problem, v) for v in problem.vehicles]

    # Combine: each vehicle serves a disjoint subset (the empty subset costs nothing).
    best_key: tuple[int, int] | None = None
    best_pick: tuple[int, ...] = ()
    for picks in itertools.product(*(table.keys() for table in tables)):
        union = 0
        clash = False
        for mask in picks:
            clash = clash or bool(union & mask)
            union |= mask
        if clash:
            continue
        key = (
            len(orders) - union.bit_count(),
            sum(table[mask][0] for table, mask in zip(tables, picks, strict=True)),
        )
        if best_key is None or key < best_key:
            best_key, best_pick = key, picks
        if union == full and key[1] == 0:
            break

    routes: list[Route] = []
    for vehicle, table, mask in zip(problem.vehicles, tables, best_pick, strict=True):
        if mask:
            routes.append(build_route(problem, vehicle, table[mask][1]))
    plan = Plan(tuple(routes))
    plan = Plan(plan.routes, explain_unassigned(problem, plan), "brute-force")
    report = validate(problem, plan)
    if not report.ok:
        raise AssertionError(
            "brute force chose routes the validator rejects:\n"
            + "\n".join(str(v) for v in report.violations)
        )
    assert best_key is not None and plan.cost == best_key[1], (plan.cost, best_key)
    return plan


def _best_routes(problem: PlanningProblem, vehicle: Vehicle) -> dict[int, tuple[int, list[Step]]]:
    """For every subset of orders (a bit mask) ``vehicle`` can serve alone and
    feasibly: the cheapest route's cost and steps. The empty subset costs 0."""
    orders = problem.orders
    matrix = problem.matrix_for(vehicle)
    dur, dist = matrix.durations, matrix.distances
    depots = problem.depots
    able = [o.skills <= vehicle.skills for o in orders]
    amounts = [problem.amount(o) for o in orders]

    t0 = vehicle.shift.start
    loc0: int | None = None
    if vehicle.start_depot is not None:
        t0 = max(t0, depots[vehicle.start_depot].time_window.start)
        loc0 = depots[vehicle.start_depot].location
    end_by = vehicle.shift.end
    end_loc: int | None = None
    if vehicle.end_depot is not None:
        end_loc = depots[vehicle.end_depot].location
        end_by = min(end_by, depots[vehicle.end_depot].time_window.end)

    best: dict[int, tuple[int, list[Step]]] = {0: (0, [])}
    seq: list[_Node] = []

    def first_node(i: int, order: Order) -> _Node:
        if order.kind is OrderKind.SHIPMENT:
            assert order.pickup is not None
            return _Node(i, VisitKind.PICKUP, order.pickup)
        return _Node(i, VisitKind.JOB, order.single_stop)

    def complete(t: int, loc: int | None, travel: int, distance: int, done: int) -> None:
        if not seq:
            return
        end = t
        if end_loc is not None and loc is not None:
            end += int(dur[loc, end_loc])
            travel += int(dur[loc, end_loc])
            distance += int(dist[loc, end_loc])
        if end > end_by:
            return
        if vehicle.max_travel_time is not None and travel > vehicle.max_travel_time:
            return
        if vehicle.max_distance is not None and distance > vehicle.max_distance:
            return
        if vehicle.max_tasks is not None and len(seq) > vehicle.max_tasks:
            return
        if vehicle.max_duration is not None and end - route_begin[0] > vehicle.max_duration:
            return
        if not _loads_fit(problem, vehicle, orders, amounts, seq):
            return
        cost = route_cost(vehicle, travel, distance)
        if done not in best or cost < best[done][0]:
            best[done] = (cost, [Step(n.kind, order_id=orders[n.index].id) for n in seq])

    # route_begin[0]: the START departure as build_route reports it (delayed so
    # that the vehicle does not wait at its first stop), or the first service start.
    route_begin = [t0]

    def search(
        t: int, loc: int | None, travel: int, distance: int, done: int, carrying: int
    ) -> None:
        if not carrying:
            complete(t, loc, travel, distance, done)
        candidates: list[_Node] = []
        for i, order in enumerate(orders):
            bit = 1 << i
            if carrying & bit:
                assert order.delivery is not None
                candidates.append(_Node(i, VisitKind.DELIVERY, order.delivery))
            elif able[i] and not (done & bit):
                candidates.append(first_node(i, order))
        for node in candidates:
            stop = node.stop
            leg = int(dur[loc, stop.location]) if loc is not None else 0
            arrival = t + leg
            start = earliest_start(stop.time_windows, arrival)
            if start is None:
                continue  # every window closed: later arrivals cannot do better
            leave = start + stop.service + (stop.setup if stop.location != loc else 0)
            if not seq:
                route_begin[0] = start - leg if loc is not None else start
            leg_m = int(dist[loc, stop.location]) if loc is not None else 0
            bit = 1 << node.index
            seq.append(node)
            if node.kind is VisitKind.PICKUP:
                search(leave, stop.location, travel + leg, distance + leg_m, done, carrying | bit)
            else:
                search(
                    leave,
                    stop.location,
                    travel + leg,
                    distance + leg_m,
                    done | bit,
                    carrying & ~bit,
                )
            seq.pop()

    search(t0, loc0, 0, 0, 0, 0)
    return best


def _loads_fit(
    problem: PlanningProblem,
    vehicle: Vehicle,
    orders: tuple[Order, ...],
    amounts: list[tuple[int, ...]],
    seq: list[_Node],
) -> bool:
    """Whether the load stays within capacity along ``seq`` (no reloads)."""
    capacity = vehicle.capacity
    load = [0] * len(problem.dimensions)
    for n in seq:
        if orders[n.index].kind is OrderKind.DELIVERY:
            for d, a in enumerate(amounts[n.index]):
                load[d] += a
    if any(x > c for x, c in zip(load, capacity, strict=True)):
        return False
    for n in seq:
        sign = 1 if n.kind is VisitKind.PICKUP or orders[n.index].kind is OrderKind.PICKUP else -1
        for d, a in enumerate(amounts[n.index]):
            load[d] += sign * a
        if any(x > c for x, c in zip(load, capacity, strict=True)):
            return False
    return True
