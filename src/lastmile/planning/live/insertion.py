"""Cheapest feasible insertion of one order into a live view.

:func:`insert` takes every vehicle's cheapest option from
:class:`~lastmile.planning.live.search.Inserter`, best overall first (the
objective of :mod:`lastmile.planning.problem`); the first one whose rebuilt
route passes the validator wins, else the vehicle's next option takes its
place. The order-level rules are then checked before the new view is
returned; when nothing fits, the order comes back unassigned with a reason.
"""

from __future__ import annotations

import dataclasses
import heapq

from lastmile.domain import Order, OrderKind, Plan, Route, Unassigned, Vehicle
from lastmile.exceptions import InputError
from lastmile.planning.live.assemble import full_plan
from lastmile.planning.live.routes import unassigned_orders, with_depot_skill, with_orders
from lastmile.planning.live.search import Inserter, Option
from lastmile.planning.live.state import LiveChangeRejected
from lastmile.planning.live.view import LiveView
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.validate import Violation


def insert(live: LiveView, order: Order, *, known: bool = False) -> LiveView | Unassigned:
    """``live`` with ``order`` (new, or unassigned so far) at its cheapest feasible
    position, or the order unassigned with a reason. ``known``: the order may already be
    in the problem (it is being moved off a vehicle)."""
    residual = live.residual
    where = f"order {order.id!r}"
    n_loc = len(live.problem.locations)
    for stop in order.stops:
        if stop.location >= n_loc:
            raise InputError(f"location {stop.location} is not a row of the problem", where=where)
    if order.amount and len(order.amount) != len(residual.dimensions):
        raise InputError(
            f"amount has {len(order.amount)} values for {len(residual.dimensions)} dimensions",
            where=f"{where}.amount",
        )
    in_residual = any(o.id == order.id for o in residual.orders)
    if in_residual:
        if order.id not in {u.order_id for u in live.residual_plan.unassigned}:
            raise InputError("the order is already planned", where=where)
    elif not known and any(o.id == order.id for o in live.problem.orders):
        raise InputError("the order is already served or on board", where=where)

    placed = with_depot_skill(order) if live.states else order
    if in_residual:
        orders = tuple(placed if o.id == order.id else o for o in residual.orders)
    else:
        orders = (*residual.orders, placed)
    problem = with_orders(residual, orders)
    ins = Inserter(live, placed, problem)

    shipment = order.kind is OrderKind.SHIPMENT
    routed = {r.vehicle_id for r in live.residual_plan.routes}
    # One entry per vehicle: its cheapest remaining option; the heap gives the best overall.
    heap: list[tuple[int, int, int, tuple[int, ...], str]] = []
    streams: dict[str, tuple[list[Option], int]] = {}
    excluded: dict[str, set[tuple[int, ...]]] = {}
    pruned: list[str] = []
    best: int | None = None

    def push(vid: str, rank: int, option: Option) -> None:
        nonlocal best
        ix = live.route_index(vid)
        vehicle = problem.vehicles[rank]
        delta = ins.cost_delta(ix, vehicle, option[1], option[2])
        heapq.heappush(heap, (delta, option[0], rank, option[3], vid))
        best = delta if best is None else min(best, delta)

    def pair(vid: str, rank: int, bound: int | None) -> None:
        ix = live.route_index(vid)
        assert ix is not None
        option = ins.best_pair(ix, bound, excluded.setdefault(vid, set()))
        if option is not None:
            push(vid, rank, option)
        elif bound is not None:
            pruned.append(vid)

    ranks = {v.id: rank for rank, v in enumerate(problem.vehicles)}
    unused_seen: set[Vehicle] = set()
    for rank, vehicle in enumerate(problem.vehicles):
        vid = vehicle.id
        if vid in live.unavailable:
            continue
        if vid not in routed:
            key = dataclasses.replace(vehicle, id="")
            if key not in unused_seen:
                unused_seen.add(key)
                option = ins.unused(vehicle)
                if option is not None:
                    push(vid, rank, option)
        elif shipment:
            pair(vid, rank, best)
        else:
            ix = live.route_index(vid)
            assert ix is not None
            options = ins.single(ix)
            if options:
                streams[vid] = (options, 0)
                push(vid, rank, options[0])
    while heap:
        _, _, rank, at_pos, vid = heapq.heappop(heap)
        route = ins.realise(vid, at_pos)
        if route is not None:
            return _after_insert(live, problem, order, route)
        # Rejected on verification (a limit the O(1) checks leave to the validator, or
        # the times of a vehicle without a route, which they do not check at all):
        # the vehicle's next option takes its place.
        if vid in streams:
            options, at = streams[vid]
            if at + 1 < len(options):
                streams[vid] = (options, at + 1)
                push(vid, rank, options[at + 1])
        elif at_pos:
            excluded.setdefault(vid, set()).add(at_pos)
            pair(vid, rank, None)
        # Routes pruned because they could not beat an option are searched again once
        # any option is rejected: the one they could not beat may have been it.
        for other in pruned:
            pair(other, ranks[other], None)
        pruned.clear()
    asked = (Unassigned(order.id, "", ""), *live.residual_plan.unassigned)
    reasons = unassigned_orders(problem, live.residual_plan.routes, asked)
    return next(u for u in reasons if u.order_id == order.id)


def _after_insert(live: LiveView, problem: PlanningProblem, order: Order, route: Route) -> LiveView:
    """``live`` with ``route`` (which serves ``order``) in place of its vehicle's route."""
    vid = route.vehicle_id
    old = live.residual_plan
    if old.route_of(vid) is not None:
        routes = tuple(route if r.vehicle_id == vid else r for r in old.routes)
    else:
        routes = (*old.routes, route)
    unassigned = tuple(u for u in old.unassigned if u.order_id != order.id)
    residual_plan = Plan(routes, unassigned, old.engine, old.runtime_s)
    # The new route passed the validator (``Inserter.realise``) and every other
    # route is unchanged and was valid: what is left is the order-level rule.
    served = [r.vehicle_id for r in routes for v in r.visits if v.order_id == order.id]
    if len(set(served)) != 1 or len(served) != len(order.stops):
        raise LiveChangeRejected(
            f"inserting order {order.id!r}",
            (Violation("duplicate", f"order {order.id!r} is served by {served}"),),
        )
    if any(o.id == order.id for o in live.problem.orders):
        full_orders = tuple(order if o.id == order.id else o for o in live.problem.orders)
    else:
        full_orders = (*live.problem.orders, order)
    index = {k: v for k, v in live.index.items() if k != vid}
    new = dataclasses.replace(
        live,
        problem=with_orders(live.problem, full_orders),
        residual=problem,
        residual_plan=residual_plan,
        index=index,
    )
    return dataclasses.replace(new, plan=full_plan(new, residual_plan, old.engine, only=vid))
