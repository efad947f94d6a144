"""fill_left_out: orders a plan leaves out go where they still fit, checked by the
validator; what cannot fit stays out."""

from __future__ import annotations

import time

import numpy as np

from lastmile.domain import (
    Depot,
    Location,
    Order,
    OrderKind,
    Plan,
    Stop,
    TimeWindow,
    Unassigned,
    Vehicle,
    VehicleType,
    VisitKind,
)
from lastmile.planning.fill import fill_left_out
from lastmile.planning.problem import PlanningProblem, TravelMatrix
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import validate
from lastmile.simulate import city_day

POS = np.arange(6)
DUR = np.abs(POS[:, None] - POS[None, :]).astype(np.int64) * 600
VT = VehicleType("van", (3,))


def problem(orders: tuple[Order, ...]) -> PlanningProblem:
    return PlanningProblem(
        locations=tuple(Location(float(i), 0.0, planar=True) for i in range(6)),
        matrices={"car": TravelMatrix(DUR, DUR * 10)},
        depots=(Depot("main", 0),),
        vehicles=(Vehicle("v1", VT, shift=TimeWindow(0, 8 * 3600)),),
        orders=orders,
        dimensions=("kg",),
    )


def deliver(oid: str, loc: int, kg: int = 1, **kw: object) -> Order:
    return Order(oid, OrderKind.DELIVERY, delivery=Stop(loc), amount=(kg,), **kw)  # type: ignore[arg-type]


def plan_of(p: PlanningProblem, served: list[str]) -> Plan:
    steps = [Step(VisitKind.JOB, order_id=oid) for oid in served]
    route = build_route(p, p.vehicles[0], steps)
    left = tuple(Unassigned(o.id, "", "") for o in p.orders if o.id not in served)
    return Plan((route,), left, "pyvrp")


def test_a_left_out_order_goes_to_its_cheapest_valid_position() -> None:
    p = problem((deliver("a", 1), deliver("b", 3), deliver("c", 2)))
    filled = fill_left_out(p, plan_of(p, ["a", "b"]), deadline=time.perf_counter() + 5)
    assert validate(p, filled).ok
    order = [v.order_id for v in filled.routes[0].visits if v.kind is VisitKind.JOB]
    assert order == ["a", "c", "b"]  # on the way: no detour
    assert filled.unassigned == ()
    assert filled.cost == plan_of(p, ["a", "c", "b"]).cost


def test_what_does_not_fit_stays_out_with_its_reason() -> None:
    p = problem((deliver("a", 1, kg=2), deliver("b", 3, kg=1), deliver("heavy", 2, kg=2)))
    start = plan_of(p, ["a", "b"])
    filled = fill_left_out(p, start, deadline=time.perf_counter() + 5)
    assert filled.unassigned == start.unassigned
    assert filled.routes == start.routes


def test_nothing_is_tried_after_the_deadline() -> None:
    p = problem((deliver("a", 1), deliver("c", 2)))
    start = plan_of(p, ["a"])
    assert fill_left_out(p, start, deadline=time.perf_counter() - 1) is start


def test_a_generated_day_missing_orders_gets_them_back_and_stays_valid() -> None:
    p = city_day(n_orders=80, n_vans=4, n_bikes=1, seed=3, breaks=True)
    from lastmile.planning.construct import greedy_plan

    full = greedy_plan(p)
    dropped = {v.order_id for r in full.routes for v in r.visits if v.kind is VisitKind.JOB}
    dropped = set(sorted(dropped)[:6])
    routes = []
    for r in full.routes:
        steps = [
            Step(v.kind, order_id=v.order_id, break_id=v.break_id, depot=v.depot)
            for v in r.visits
            if v.kind not in (VisitKind.START, VisitKind.END) and v.order_id not in dropped
        ]
        routes.append(build_route(p, p.vehicle(r.vehicle_id), steps))
    left = tuple(Unassigned(oid, "", "") for oid in dropped) + full.unassigned
    start = Plan(tuple(routes), left, "pyvrp")
    filled = fill_left_out(p, start, deadline=time.perf_counter() + 10)
    assert validate(p, filled).ok
    served = {v.order_id for r in filled.routes for v in r.visits if v.order_id}
    assert len(dropped & served) >= 4
    assert {u.order_id for u in filled.unassigned} == {o.id for o in p.orders if o.id not in served}
