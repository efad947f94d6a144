"""Lowering problems to PyVRP data and mapping PyVRP solutions back to plans.

The checks are on :mod:`lastmile.planning.engines.pyvrp.model` directly: what
becomes a client, a group, a shipment, a vehicle type and a depot; that the
edge costs PyVRP sees are lastmile's; and that a plan taken to PyVRP and back
keeps its routes and has the cost lastmile computes.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any, cast

import numpy as np
import pytest
import pyvrp
from pyvrp.search import NeighbourhoodParams
from pyvrp.stop import MaxIterations

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
from lastmile.planning.engines.pyvrp import model
from lastmile.planning.live import LivePlan
from lastmile.planning.problem import PlanningProblem, TravelMatrix, edge_cost
from lastmile.planning.validate import validate
from lastmile.simulate import city_day, random_matrix_problem

POS = np.arange(6)
DUR = np.abs(POS[:, None] - POS[None, :]).astype(np.int64) * 100
DIST = DUR * 10
VAN = VehicleType("van", (10,), cost_per_hour=3600, cost_per_km=1000)
COLD = VehicleType("cold", (10,), frozenset({"cold"}), cost_per_hour=7200, fixed_cost=50)


def mixed() -> PlanningProblem:
    """One of each kind of order, two identical vans, a cold van with an open end."""
    two = (TimeWindow(0, 1000), TimeWindow(2000, 3000))
    return PlanningProblem(
        locations=tuple(Location(float(i), 0.0, planar=True) for i in range(6)),
        matrices={"car": TravelMatrix(DUR, DIST)},
        depots=(Depot("west", 0), Depot("east", 5)),
        vehicles=(
            Vehicle("v1", VAN),
            Vehicle("v2", VAN),
            Vehicle("c1", COLD, start_depot=1, end_depot=None),
        ),
        orders=(
            Order("d", OrderKind.DELIVERY, delivery=Stop(1, service=30, setup=5), amount=(2,)),
            Order("w", OrderKind.DELIVERY, delivery=Stop(2, time_windows=two), amount=(1,)),
            Order("p", OrderKind.PICKUP, pickup=Stop(3), amount=(3,)),
            Order("s", OrderKind.SHIPMENT, pickup=Stop(1), delivery=Stop(4), amount=(1,)),
            Order(
                "f", OrderKind.DELIVERY, delivery=Stop(3), amount=(1,), skills=frozenset({"cold"})
            ),
        ),
        dimensions=("kg",),
    )


def test_cost_scale_is_one_for_whole_edge_costs() -> None:
    assert model.cost_scale(mixed()) == 1
    odd = VehicleType("odd", (10,), cost_per_hour=1000)
    p = dataclasses.replace(mixed(), vehicles=(Vehicle("o", odd),))
    assert model.cost_scale(p) == model.FINE_COST_SCALE


def test_lowering_keeps_clients_groups_shipments_and_vehicle_types() -> None:
    p = mixed()
    low = model.lower(p, prize_collecting=False)
    data = low.data
    # d, w (two windows: two clients in one group), p, f; s is a shipment
    assert data.num_clients == 5 and data.num_groups == 1 and data.num_shipments == 1
    assert [oid for oid, _ in low.clients] == ["d", "w", "w", "p", "f"]
    assert all(kind is VisitKind.JOB for _, kind in low.clients)
    assert low.shipments == ["s"]
    group = data.group(0)
    assert list(group.clients) == [1, 2] and group.required
    assert [(c.tw_early, c.tw_late) for c in data.clients()[1:3]] == [(0, 1000), (2000, 3000)]
    assert all(c.required for i, c in enumerate(data.clients()) if i not in (1, 2))
    # setup is added to the service time
    assert data.clients()[0].service_duration == 35
    # identical vans share a type; the cold van has its own
    assert data.num_vehicle_types == 2 and data.num_vehicles == 3
    assert [[v.id for v in vs] for vs in low.type_vehicles] == [["v1", "v2"], ["c1"]]
    assert [t.num_available for t in data.vehicle_types()] == [2, 1]
    # two depots and a dummy for the open end, which the cold van ends at
    assert data.num_depots == 3 and low.depots == [0, 1, None]
    cold = data.vehicle_type(1)
    assert (cold.start_depot, cold.end_depot, cold.fixed_cost) == (1, 2, 50)


def test_prize_collecting_makes_orders_optional_with_a_prize() -> None:
    low = model.lower(mixed(), prize_collecting=True)
    clients = low.data.clients()
    assert not any(c.required for c in clients)
    assert all(c.prize > 0 for c in clients)
    assert not low.data.group(0).required


def test_edge_costs_are_lastmiles_and_skills_block_the_others() -> None:
    p = mixed()
    low = model.lower(p, prize_collecting=False)
    data = low.data
    van_profile = data.vehicle_type(0).profile
    cold_profile = data.vehicle_type(1).profile
    assert van_profile != cold_profile
    n = len(p.locations)
    for profile, vehicle in ((van_profile, p.vehicles[0]), (cold_profile, p.vehicles[2])):
        cost = np.asarray(data.distance_matrix(profile))
        duration = np.asarray(data.duration_matrix(profile))
        assert np.array_equal(duration[:n, :n], DUR)
        for i in range(n):
            for j in range(n):
                if (profile, j) == (van_profile, 3):
                    continue
                assert cost[i, j] == round(edge_cost(vehicle, int(DUR[i, j]), int(DIST[i, j])))
    # f needs "cold" and shares location 3 with p: it gets a private copy of the
    # place, the van cannot reach it, and p's place stays open to the van
    (f_client,) = [c for c, (oid, _) in zip(data.clients(), low.clients, strict=True) if oid == "f"]
    private = f_client.location
    assert private == len(p.locations) and data.num_locations == len(p.locations) + 2
    van_cost = np.asarray(data.distance_matrix(van_profile))
    assert (np.delete(van_cost[:, private], private) >= 10**9).all()
    assert van_cost[0, 3] == round(edge_cost(p.vehicles[0], 300, 3000))
    cold_cost = np.asarray(data.distance_matrix(cold_profile))
    assert cold_cost[0, private] == cold_cost[0, 3] < 10**9
    # the open end is free to enter and impossible to leave
    end = data.depot(2).location
    assert (cold_cost[:n, end] == 0).all() and (cold_cost[end, :n] >= 10**9).all()


def greedy(problem: PlanningProblem) -> Plan:
    """A validated plan made by inserting the orders one by one."""
    nobody = Plan((), tuple(Unassigned(o.id, "not planned yet", "no_room") for o in problem.orders))
    live = LivePlan.build(problem, nobody, now_s=0)
    for order in problem.orders:
        found = live.insert(order)
        if isinstance(found, LivePlan):
            live = found
    plan = live.plan
    assert validate(problem, plan).ok
    return plan


def tasks(plan: Plan) -> Counter[tuple[tuple[str | None, VisitKind], ...]]:
    return Counter(tuple((v.order_id, v.kind) for v in r.tasks) for r in plan.routes if r.tasks)


@pytest.mark.parametrize(
    "problem",
    [
        pytest.param(mixed(), id="mixed"),
        pytest.param(random_matrix_problem(n_orders=25, n_vehicles=4, seed=3), id="random"),
        pytest.param(city_day(n_orders=30, n_vans=4, n_bikes=1, seed=2, breaks=False), id="city"),
    ],
)
def test_a_plan_taken_to_pyvrp_and_back_keeps_its_routes_and_cost(
    problem: PlanningProblem,
) -> None:
    plan = greedy(problem)
    assert plan.routes
    low = model.lower(problem, prize_collecting=False)
    assert low.cost_scale == 1
    solution = model.initial_solution(problem, low, plan)
    assert solution is not None
    served = sum(len(r.tasks) for r in plan.routes)
    visits = sum(1 for r in solution.routes() for act in r if not act.is_depot())
    assert visits == served
    # PyVRP's objective of the same routes is lastmile's cost
    assert solution.distance_cost() + solution.fixed_vehicle_cost() == plan.cost
    assert solution.duration_cost() == 0
    back = model.to_plan(problem, low, solution)
    assert validate(problem, back).ok
    assert tasks(back) == tasks(plan)
    assert back.cost == plan.cost
    assert back.engine == "pyvrp"
    assert {u.order_id for u in back.unassigned} == {u.order_id for u in plan.unassigned}


def test_fine_costs_are_reproduced_to_within_rounding() -> None:
    odd = VehicleType("odd", (100,), cost_per_hour=1000, cost_per_km=300)
    base = random_matrix_problem(n_orders=20, n_vehicles=3, seed=7)
    problem = dataclasses.replace(
        base, vehicles=tuple(dataclasses.replace(v, type=odd) for v in base.vehicles)
    )
    plan = greedy(problem)
    low = model.lower(problem, prize_collecting=False)
    assert low.cost_scale == model.FINE_COST_SCALE
    solution = model.initial_solution(problem, low, plan)
    assert solution is not None
    legs = sum(len(r.visits) - 1 for r in plan.routes)
    fine = solution.distance_cost() + solution.duration_cost() + solution.fixed_vehicle_cost()
    # per leg at most half a fine unit of rounding, per route half a unit in lastmile
    assert (
        abs(fine / low.cost_scale - plan.cost)
        <= legs * 0.5 / low.cost_scale + len(plan.routes) * 0.5
    )
    assert model.to_plan(problem, low, solution).cost == plan.cost


def test_a_plan_pyvrp_cannot_express_gives_no_initial_solution() -> None:
    problem = mixed()
    plan = greedy(problem)
    route = next(r for r in plan.routes if any(v.order_id == "s" for v in r.visits))
    visits = list(route.visits)
    i = next(k for k, v in enumerate(visits) if (v.order_id, v.kind) == ("s", VisitKind.PICKUP))
    j = next(k for k, v in enumerate(visits) if (v.order_id, v.kind) == ("s", VisitKind.DELIVERY))
    visits[i], visits[j] = visits[j], visits[i]  # the delivery now comes before its pickup
    swapped = dataclasses.replace(route, visits=tuple(visits))
    bad = dataclasses.replace(plan, routes=tuple(swapped if r is route else r for r in plan.routes))
    low = model.lower(problem, prize_collecting=False)
    assert model.initial_solution(problem, low, plan) is not None
    assert model.initial_solution(problem, low, bad) is None


def test_a_search_from_a_feasible_plan_also_visits_infeasible_solutions() -> None:
    # PyVRP's penalties started at half their bound (50,000 times a second's
    # driving per second late) and fell too slowly for a short search to ever
    # leave the feasible region: from a good start plan it stalled at once.
    problem = city_day(n_orders=30, n_vans=4, n_bikes=1, seed=2, breaks=False)
    plan = greedy(problem)
    assert not plan.unassigned
    low = model.lower(problem, prize_collecting=False)
    start = model.initial_solution(problem, low, plan)
    assert start is not None and start.is_feasible() and start.is_complete()
    params = model.solve_params(low)
    assert params.penalty.max_penalty == model.max_penalty(low)
    result = pyvrp.solve(
        low.data,
        stop=MaxIterations(500),
        seed=0,
        collect_stats=True,
        display=False,
        params=params,
        initial_solution=start,
    )
    assert any(not datum.candidate_feas for datum in result.stats.data)
    assert result.best.is_feasible()
    back = model.to_plan(problem, low, result.best)
    assert validate(problem, back).ok
    assert not back.unassigned
    assert back.cost <= plan.cost


def test_penalties_are_updated_once_their_time_is_up_however_few_solutions() -> None:
    # one van of capacity 1 for three parcels of 5: every solution is overloaded
    data = pyvrp.ProblemData(
        locations=[pyvrp.Location(x=k, y=0) for k in range(4)],
        clients=[pyvrp.Client(location=k, delivery=[5]) for k in (1, 2, 3)],
        depots=[pyvrp.Depot(location=0)],
        vehicle_types=[pyvrp.VehicleType(capacity=[1])],
        distance_matrices=cast(Any, [np.abs(np.subtract.outer(range(4), range(4)))]),
        duration_matrices=cast(Any, [np.zeros((4, 4), dtype=int)]),
    )
    overloaded = pyvrp.Solution(data, [[0, 1, 2]])
    params = pyvrp.PenaltyParams(max_penalty=1e6, solutions_between_updates=500)
    start = ([10.0], 10.0, 10.0)
    waiting = model.TimedPenaltyManager(start, params, every_s=3600.0)
    due = model.TimedPenaltyManager(start, params, every_s=0.0)
    for _ in range(3):
        waiting.register(overloaded)
        due.register(overloaded)
    # 3 solutions of 500: PyVRP's rule alone leaves the penalties where they were
    assert waiting.penalties() == start
    assert waiting.updates == 0
    # every registration is past its time: each overloaded one raises the load
    # penalty by half; time warp and distance, never violated, fall
    loads, tw, dist = due.penalties()
    assert loads[0] == pytest.approx(10.0 * params.penalty_increase**3)
    assert tw == dist == pytest.approx(10.0 * params.penalty_decrease**3)


def test_the_search_is_pyvrps_own_when_the_time_rule_never_fires() -> None:
    problem = city_day(n_orders=30, n_vans=4, n_bikes=1, seed=2, breaks=False)
    low = model.lower(problem, prize_collecting=False)
    params = model.solve_params(low)
    ours = model.search(low.data, MaxIterations(300), seed=4, params=params, update_s=1e9)
    # the same neighbourhoods: waiting weighed in the problem's cost units
    theirs_params = pyvrp.SolveParams(
        ils=params.ils,
        penalty=params.penalty,
        neighbourhood=model.scaled_neighbourhood(low.data, params.neighbourhood),
        operators=params.operators,
    )
    theirs = pyvrp.solve(
        low.data, stop=MaxIterations(300), seed=4, collect_stats=False, params=theirs_params
    )
    assert ours.best.is_feasible()
    assert ours.cost() == theirs.cost()

    def routes(solution: pyvrp.Solution) -> list[list[str]]:
        return [[str(a) for a in route] for route in solution.routes()]

    assert routes(ours.best) == routes(theirs.best)


def test_a_seconds_driving_costs_what_the_vehicles_pay_for_it_in_lowered_units() -> None:
    # whole costs, time only: a second costs one unit, PyVRP's own convention
    timed = VehicleType("timed", (100,), cost_per_hour=3600)
    base = random_matrix_problem(n_orders=20, n_vehicles=3, seed=7)
    problem = dataclasses.replace(
        base, vehicles=tuple(dataclasses.replace(v, type=timed) for v in base.vehicles)
    )
    low = model.lower(problem, prize_collecting=False)
    assert low.cost_scale == 1
    assert model.cost_per_second(low.data) == pytest.approx(1.0, abs=0.01)
    # fine costs (per km too): the median over edges of the cost per second, x 1000
    odd = VehicleType("odd", (100,), cost_per_hour=1000, cost_per_km=300)
    problem = dataclasses.replace(
        base, vehicles=tuple(dataclasses.replace(v, type=odd) for v in base.vehicles)
    )
    low = model.lower(problem, prize_collecting=False)
    assert low.cost_scale == model.FINE_COST_SCALE
    m = problem.matrices[problem.vehicles[0].type.profile]
    dur, dist = np.asarray(m.durations, float), np.asarray(m.distances, float)
    moving = dur > 0
    per_s = np.median((1000 / 3600 * dur[moving] + 0.3 * dist[moving]) / dur[moving])
    assert model.cost_per_second(low.data) == pytest.approx(1000 * per_s, rel=0.1)


def test_neighbourhoods_weigh_waiting_in_the_problems_cost_units() -> None:
    odd = VehicleType("odd", (100,), cost_per_hour=1000, cost_per_km=300)
    base = random_matrix_problem(n_orders=20, n_vehicles=3, seed=7)
    problem = dataclasses.replace(
        base, vehicles=tuple(dataclasses.replace(v, type=odd) for v in base.vehicles)
    )
    low = model.lower(problem, prize_collecting=False)
    default = NeighbourhoodParams(weight_wait_time=0.2, num_neighbours=7)
    scaled = model.scaled_neighbourhood(low.data, default)
    assert scaled.weight_wait_time == pytest.approx(0.2 * model.cost_per_second(low.data))
    assert scaled.weight_wait_time > 100 * default.weight_wait_time
    assert scaled.num_neighbours == 7
    assert scaled.symmetric_proximity == default.symmetric_proximity
