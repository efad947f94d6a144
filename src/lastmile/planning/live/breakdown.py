"""A vehicle breaks down: its stops still to do go to other vehicles.

Orders not yet on board are inserted one by one, tightest deadline first;
goods on board are reported for a transfer, or planned as shipments picked
up from the broken vehicle when a handover time is given.
"""

from __future__ import annotations

import copy
import dataclasses

from lastmile.domain import Order, OrderKind, Plan, Stop, TimeWindow, Unassigned
from lastmile.domain.time import HORIZON
from lastmile.exceptions import InputError
from lastmile.planning.live.assemble import full_plan
from lastmile.planning.live.insertion import insert
from lastmile.planning.live.routes import check, readable, with_depot_skill
from lastmile.planning.live.view import LiveView
from lastmile.planning.unassigned import explain_unassigned


def _deadline(order: Order) -> int:
    """The earliest end of the order's last windows (the horizon without windows)."""
    ends = [s.time_windows[-1].end for s in order.stops if s.time_windows]
    return min(ends) if ends else HORIZON


def _why(live: LiveView, order: Order, fallback: Unassigned) -> Unassigned:
    """Why no vehicle still taking work can serve ``order``, judged on those vehicles
    only (the broken one would otherwise be named as the one that fares best)."""
    residual = live.residual
    vehicles = tuple(v for v in residual.vehicles if v.id not in live.unavailable)
    if not vehicles:
        return fallback
    placed = with_depot_skill(order) if live.states else order
    problem = copy.copy(residual)
    object.__setattr__(problem, "vehicles", vehicles)
    object.__setattr__(problem, "orders", (placed,))
    object.__setattr__(problem, "_by_id", {placed.id: placed})
    problem.__dict__.pop("features", None)
    found = explain_unassigned(problem, Plan((), (Unassigned(order.id, "", ""),)))
    return readable(found[0]) if found else fallback


def without_vehicle(live: LiveView, vehicle_id: str, transfer_s: int | None) -> LiveView:
    """``live`` after ``vehicle_id`` broke down: its stops still to do moved to other
    vehicles, goods on board reported (``transfer_s=None``) or handed over in
    ``transfer_s`` seconds (see ``LivePlan.without_vehicle``)."""
    where = f"vehicle {vehicle_id!r}"
    if vehicle_id not in {v.id for v in live.problem.vehicles}:
        raise InputError("no such vehicle in the problem", where=where)
    if transfer_s is not None and transfer_s < 0:
        raise InputError(f"must be >= 0, got {transfer_s}", where="transfer_s")
    residual = live.residual
    track = live.tracks[vehicle_id]
    route = live.residual_plan.route_of(vehicle_id)
    on_route: list[str] = []
    for v in route.tasks if route is not None else ():
        oid = v.order_id
        if oid is not None and oid != track.dead_load_id and oid not in on_route:
            on_route.append(oid)
    drop = set(on_route) | {track.dead_load_id}
    routes = tuple(r for r in live.residual_plan.routes if r.vehicle_id != vehicle_id)
    old = live.residual_plan
    stripped = dataclasses.replace(
        residual, orders=tuple(o for o in residual.orders if o.id not in drop)
    )
    residual_plan = Plan(routes, old.unassigned, old.engine, old.runtime_s)
    current = dataclasses.replace(
        live,
        residual=stripped,
        residual_plan=residual_plan,
        unavailable=live.unavailable | {vehicle_id},
        index={k: v for k, v in live.index.items() if k != vehicle_id},
    )
    current = dataclasses.replace(
        current, plan=full_plan(current, residual_plan, old.engine, only=vehicle_id)
    )

    moving = sorted(
        (residual.order(oid) for oid in on_route),
        key=lambda o: (_deadline(o), -o.priority, o.id),
    )
    left: list[tuple[Order, Unassigned]] = []
    # Every other vehicle unavailable too: that is the reason, not a lack of room.
    alone = all(v.id in current.unavailable for v in live.problem.vehicles)
    ready = max(live.states[vehicle_id].ready_s, live.now_s) if track.started else live.now_s
    for order in moving:
        original = live.problem.order(order.id)
        if order.id in track.pinned:
            if transfer_s is None:
                left.append(
                    (
                        original,
                        Unassigned(
                            order.id,
                            f"on board {vehicle_id}, which broke down: it needs a transfer to "
                            "another vehicle",
                            "on_board",
                        ),
                    )
                )
                continue
            assert track.here is not None and order.delivery is not None
            order = Order(
                order.id,
                OrderKind.SHIPMENT,
                pickup=Stop(
                    track.here,
                    service=transfer_s,
                    time_windows=(TimeWindow(ready, HORIZON),),
                    ref=f"transfer from {vehicle_id}",
                ),
                delivery=order.delivery,
                amount=order.amount,
                skills=original.skills,
                priority=order.priority,
            )
        else:
            order = dataclasses.replace(order, skills=original.skills)
        if alone:
            reason = f"moved off {vehicle_id}, which broke down: no other vehicle is available"
            left.append((original, Unassigned(order.id, reason, "no_vehicle")))
            continue
        result = insert(current, order, known=True)
        if isinstance(result, LiveView):
            current = result
        else:
            why = _why(current, order, result)
            reason = f"moved off {vehicle_id}, which broke down: {why.reason}"
            left.append((original, Unassigned(order.id, reason, why.code)))
    if not left:
        return current
    # Orders that found no vehicle stay in the problem, unassigned with their reason.
    residual = dataclasses.replace(
        current.residual, orders=(*current.residual.orders, *(o for o, _ in left))
    )
    old = current.residual_plan
    residual_plan = Plan(
        old.routes, (*old.unassigned, *(u for _, u in left)), old.engine, old.runtime_s
    )
    check(residual, residual_plan, f"moving the stops of {vehicle_id!r}")
    current = dataclasses.replace(current, residual=residual, residual_plan=residual_plan)
    return dataclasses.replace(current, plan=full_plan(current, residual_plan, old.engine))
