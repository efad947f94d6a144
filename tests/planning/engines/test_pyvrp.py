"""The PyVRP adapter models each feature faithfully; the validator checks it."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest

from lastmile.domain import (
    Break,
    Depot,
    Location,
    Order,
    OrderKind,
    Plan,
    Stop,
    TimeWindow,
    Vehicle,
    VehicleType,
    VisitKind,
)
from lastmile.exceptions import UnsupportedConstraint
from lastmile.formats.solomon import read_solomon
from lastmile.planning.engines.pyvrp import PyVRPEngine, model
from lastmile.planning.problem import PlanningProblem, TravelMatrix
from lastmile.planning.validate import validate
from lastmile.simulate import random_matrix_problem

# Six points on a line, 100 s / 1 km apart; location 0 and 5 are depots.
POS = np.arange(6)
DUR = np.abs(POS[:, None] - POS[None, :]).astype(np.int64) * 100
DIST = DUR * 10
VT = VehicleType("t", (10,), cost_per_hour=3600)


def problem(
    orders: tuple[Order, ...],
    vehicles: tuple[Vehicle, ...] | None = None,
    **kw: object,
) -> PlanningProblem:
    return PlanningProblem(
        locations=tuple(Location(float(i), 0.0, planar=True) for i in range(6)),
        matrices={"car": TravelMatrix(DUR, DIST)},
        depots=(Depot("west", 0), Depot("east", 5)),
        vehicles=vehicles or (Vehicle("v1", VT), Vehicle("v2", VT)),
        orders=orders,
        dimensions=("kg",),
        **kw,  # type: ignore[arg-type]
    )


def deliver(oid: str, loc: int, kg: int = 1, **stop: object) -> Order:
    return Order(oid, OrderKind.DELIVERY, delivery=Stop(loc, **stop), amount=(kg,))  # type: ignore[arg-type]


def solve(p: PlanningProblem, seconds: float = 0.5) -> Plan:
    plan = PyVRPEngine().solve(p, time_limit=seconds, seed=1)
    report = validate(p, plan)
    assert report.ok, report.violations
    return plan


def visited(plan: Plan) -> dict[str, str]:
    return {v.order_id: r.vehicle_id for r in plan.routes for v in r.visits if v.order_id}


def test_serves_everything_on_an_easy_problem() -> None:
    p = problem(tuple(deliver(f"o{i}", i) for i in range(1, 5)))
    plan = solve(p)
    assert set(visited(plan)) == {"o1", "o2", "o3", "o4"}
    assert plan.cost == 800  # out and back to location 4 in one route
    assert plan.unassigned == ()


def test_second_time_window_is_used() -> None:
    windows = (TimeWindow(0, 50), TimeWindow(2000, 2100))
    p = problem((deliver("a", 3, time_windows=windows),))
    plan = solve(p)
    (visit,) = plan.routes[0].tasks
    assert 2000 <= visit.start <= 2100


def test_skills_route_order_to_capable_vehicle() -> None:
    cold = VehicleType("cold", (10,), skills=frozenset({"cold"}))
    p = problem(
        (
            Order("ice", OrderKind.DELIVERY, delivery=Stop(2), skills=frozenset({"cold"})),
            deliver("bread", 3),
        ),
        vehicles=(Vehicle("plain", VT), Vehicle("fridge", cold)),
    )
    plan = solve(p)
    assert visited(plan)["ice"] == "fridge"


def test_capacity_forces_two_vehicles() -> None:
    p = problem((deliver("a", 1, 7), deliver("b", 2, 7)))
    plan = solve(p)
    assert plan.num_vehicles == 2


def test_pickups_and_shipments() -> None:
    p = problem(
        (
            Order("ret", OrderKind.PICKUP, pickup=Stop(2), amount=(6,)),
            Order("s", OrderKind.SHIPMENT, pickup=Stop(3), delivery=Stop(1), amount=(5,)),
        )
    )
    plan = solve(p)
    route = next(r for r in plan.routes if any(v.order_id == "s" for v in r.visits))
    kinds = [v.kind for v in route.visits if v.order_id == "s"]
    assert kinds == [VisitKind.PICKUP, VisitKind.DELIVERY]


def test_open_end_route() -> None:
    v = Vehicle("v", VT, end_depot=None)
    p = problem((deliver("far", 4),), vehicles=(v,))
    plan = solve(p)
    assert plan.routes[0].visits[-1].kind is VisitKind.JOB
    assert plan.cost == 400


def test_two_depots_each_vehicle_starts_at_its_own() -> None:
    west = Vehicle("w", VT, start_depot=0, end_depot=0)
    east = Vehicle("e", VT, start_depot=1, end_depot=1)
    p = problem((deliver("a", 1), deliver("b", 4)), vehicles=(west, east))
    plan = solve(p)
    assert visited(plan) == {"a": "w", "b": "e"}
    assert plan.cost == 400


def test_reloads_allow_multiple_trips() -> None:
    v = Vehicle("v", VT, reload_depots=(0,))
    p = problem((deliver("a", 2, 8), deliver("b", 3, 8)), vehicles=(v,))
    plan = solve(p)
    kinds = [x.kind for x in plan.routes[0].visits]
    assert VisitKind.RELOAD in kinds
    assert plan.unassigned == ()


def test_max_tasks_is_a_counting_dimension() -> None:
    vs = (Vehicle("v1", VT, max_tasks=2), Vehicle("v2", VT, max_tasks=2))
    p = problem(tuple(deliver(f"o{i}", i) for i in range(1, 5)), vehicles=vs)
    plan = solve(p)
    assert all(len(r.tasks) <= 2 for r in plan.routes)
    assert plan.num_vehicles == 2


def test_priorities_keep_the_important_order() -> None:
    v = Vehicle("v", VT, shift=TimeWindow(0, 700))
    p = problem(
        (
            Order("low", OrderKind.DELIVERY, delivery=Stop(3, service=200), priority=0),
            Order("high", OrderKind.DELIVERY, delivery=Stop(2, service=200), priority=90),
        ),
        vehicles=(v,),
    )
    plan = solve(p)
    assert set(visited(plan)) == {"high"}
    assert [u.order_id for u in plan.unassigned] == ["low"]


def test_max_distance_and_fixed_costs() -> None:
    pricey = VehicleType("pricey", (10,), fixed_cost=10_000)
    vs = (Vehicle("short", VT, max_distance=4000), Vehicle("long", pricey))
    p = problem((deliver("a", 1), deliver("b", 4)), vehicles=vs)
    plan = solve(p)
    assert visited(plan)["b"] == "long"


def test_breaks_are_refused() -> None:
    lunch = Break("lunch", (TimeWindow(0, 100),), 30)
    p = problem((deliver("a", 1),), vehicles=(Vehicle("v", VT, breaks=(lunch,)),))
    with pytest.raises(UnsupportedConstraint, match="breaks"):
        PyVRPEngine().solve(p, time_limit=0.2)


def test_setup_is_spent_once_per_place() -> None:
    # Two orders at the same place: setup counts once in the plan's times.
    p = problem((deliver("a", 2, setup=60, service=10), deliver("b", 2, setup=60, service=10)))
    plan = solve(p)
    (route,) = plan.routes
    a, b = route.tasks
    assert (a.departure - a.start, b.departure - b.start) == (70, 10)


def test_initial_plan_is_accepted_and_not_worsened() -> None:
    p = random_matrix_problem(n_orders=30, n_vehicles=6, seed=3)
    engine = PyVRPEngine()
    first = solve(p, 0.5)
    lowered = engine.lower(p)
    warm = model.initial_solution(p, lowered, first)
    assert warm is not None
    again = engine.solve(p, time_limit=0.3, seed=2, initial=first)
    assert validate(p, again).ok
    assert again.cost <= first.cost


@pytest.mark.parametrize("seed", range(3))
def test_random_problems_validate(seed: int) -> None:
    p = random_matrix_problem(n_orders=40, n_vehicles=8, seed=seed)
    plan = solve(p, 0.5)
    assert len(visited(plan)) + len(plan.unassigned) == 40


def test_a_search_requiring_every_order_stops_early_when_none_serves_them_all() -> None:
    """``feasible_within``: R101 with 10 of its vehicles has no plan serving all 100
    customers (the windows need about twenty); the search gives up after about 30 % of
    its time, while one that finds such a plan runs to its end."""
    r101 = read_solomon(Path(__file__).parents[2] / "data" / "R101.txt", rounding="dimacs")
    short = dataclasses.replace(r101, vehicles=r101.vehicles[:10])
    engine = PyVRPEngine(prize_collecting=False, feasible_within=0.3)
    began = time.perf_counter()
    plan = engine.solve(short, time_limit=4.0, seed=0)
    assert time.perf_counter() - began < 3.0
    assert not plan.unassigned  # every order on a route, some of them late
    assert not validate(short, plan).ok
    easy = random_matrix_problem(n_orders=20, n_vehicles=4, seed=1)
    began = time.perf_counter()
    plan = engine.solve(easy, time_limit=1.0, seed=0)
    assert time.perf_counter() - began > 0.8
    assert validate(easy, plan).ok and not plan.unassigned
