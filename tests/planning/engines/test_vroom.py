"""The VROOM adapter honours each feature it claims; the validator checks every plan."""

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
from lastmile.formats.vroom import read_problem, write_solution
from lastmile.planning.engines import get_engine
from lastmile.planning.engines.vroom import (
    VroomEngine,
    VroomRoute,
    plan_search,
    retime,
    run_vroom,
    search_seconds,
    vroom_arrivals_match,
)
from lastmile.planning.problem import Feature, PlanningProblem, TravelMatrix
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import validate
from lastmile.simulate import random_matrix_problem

DATA = Path(__file__).parents[2] / "data" / "vroom"

# Six points on a line, 100 s / 1 km apart; locations 0 and 5 are depots.
POS = np.arange(6)
DUR = np.abs(POS[:, None] - POS[None, :]).astype(np.int64) * 100
DIST = DUR * 10
VT = VehicleType("t", (10,))


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


def solve(p: PlanningProblem, seconds: float = 1.0) -> Plan:
    plan = VroomEngine().solve(p, time_limit=seconds, seed=1)
    report = validate(p, plan)
    assert report.ok, report.violations
    assert plan.engine == "vroom"
    return plan


def visited(plan: Plan) -> dict[str, str]:
    return {v.order_id: r.vehicle_id for r in plan.routes for v in r.visits if v.order_id}


def test_registered_and_honest_about_capabilities() -> None:
    engine = get_engine("vroom")
    assert isinstance(engine, VroomEngine) and engine.name == "vroom"
    assert Feature.RELOADS not in engine.capabilities
    assert Feature.MAX_DURATION not in engine.capabilities
    assert {Feature.BREAKS, Feature.SHIPMENTS, Feature.SETUP_TIMES} <= engine.capabilities


def test_serves_everything_on_an_easy_problem() -> None:
    p = problem(tuple(deliver(f"o{i}", i) for i in range(1, 5)))
    plan = solve(p)
    assert set(visited(plan)) == {"o1", "o2", "o3", "o4"}
    assert plan.cost == 800  # out and back to location 4: 800 s at 3600 per hour
    assert plan.unassigned == ()
    assert all(r.tasks for r in plan.routes)  # unused vehicles get no route


def test_second_time_window_is_used() -> None:
    windows = (TimeWindow(0, 50), TimeWindow(2000, 2100))
    plan = solve(problem((deliver("a", 3, time_windows=windows),)))
    (visit,) = plan.routes[0].tasks
    assert 2000 <= visit.start <= 2100


def test_break_is_taken_inside_its_window() -> None:
    brk = Break("lunch", (TimeWindow(250, 260),), 100)
    v = Vehicle("v1", VT, breaks=(brk,))
    plan = solve(problem(tuple(deliver(f"o{i}", i) for i in range(1, 5)), vehicles=(v,)))
    (route,) = plan.routes
    (taken,) = [x for x in route.visits if x.kind is VisitKind.BREAK]
    assert 250 <= taken.start <= 260 and taken.departure - taken.start == 100


def test_skills_send_orders_to_capable_vehicles() -> None:
    cold = VehicleType("cold", (10,), skills=frozenset({"fridge"}))
    vs = (Vehicle("plain", VT), Vehicle("fridge", cold, start_depot=1, end_depot=1))
    ice = Order(
        "ice", OrderKind.DELIVERY, delivery=Stop(1), amount=(1,), skills=frozenset({"fridge"})
    )
    plan = solve(problem((ice, deliver("bread", 4)), vehicles=vs))
    assert visited(plan)["ice"] == "fridge"  # although "plain" starts next door


def test_shipment_is_picked_up_before_delivery_on_one_vehicle() -> None:
    ship = Order(
        "s", OrderKind.SHIPMENT, pickup=Stop(4, ref="7"), delivery=Stop(1, ref="8"), amount=(3,)
    )
    plan = solve(problem((ship, deliver("d", 2))))
    (route,) = [r for r in plan.routes if r.tasks]
    kinds = [v.kind for v in route.visits if v.order_id == "s"]
    assert kinds == [VisitKind.PICKUP, VisitKind.DELIVERY]


def test_priorities_decide_what_is_left_out() -> None:
    small = VehicleType("small", (1,))
    low = deliver("low", 1)
    high = dataclasses.replace(deliver("high", 4), priority=90)
    plan = solve(problem((low, high), vehicles=(Vehicle("v", small),)))
    assert set(visited(plan)) == {"high"}
    (left,) = plan.unassigned
    assert left.order_id == "low" and left.code == "engine"


def test_max_tasks_spreads_orders() -> None:
    vs = (Vehicle("v1", VT, max_tasks=1), Vehicle("v2", VT, max_tasks=1))
    plan = solve(problem((deliver("a", 1), deliver("b", 2)), vehicles=vs))
    assert sorted(visited(plan).values()) == ["v1", "v2"]


def test_open_routes_have_no_missing_end() -> None:
    vs = (Vehicle("open-end", VT, end_depot=None), Vehicle("open-start", VT, start_depot=None))
    plan = solve(problem((deliver("a", 4), deliver("b", 1)), vehicles=vs))
    for route in plan.routes:
        if route.vehicle_id == "open-end":
            assert route.visits[-1].kind is not VisitKind.END
        else:
            assert route.visits[0].kind is not VisitKind.START
    assert plan.cost <= 400  # west to 4 without coming back, or 1 to west


def test_multi_depot_uses_the_nearest_vehicle() -> None:
    vs = (Vehicle("west", VT), Vehicle("east", VT, start_depot=1, end_depot=1))
    plan = solve(problem((deliver("a", 1), deliver("b", 4)), vehicles=vs))
    assert visited(plan) == {"a": "west", "b": "east"}
    assert plan.cost == 400


def test_setup_is_spent_once_per_place() -> None:
    orders = (deliver("a", 3, setup=50, service=10), deliver("b", 3, setup=50, service=10))
    plan = solve(problem(orders, vehicles=(Vehicle("v", VT),)))
    (route,) = plan.routes
    first, second = route.tasks
    assert first.departure - first.start == 60
    assert second.departure - second.start == 10


def test_distance_and_travel_limits_leave_far_orders_out() -> None:
    vs = (
        Vehicle("short", VT, max_distance=4000),
        Vehicle("quick", VT, max_travel_time=400),
    )
    plan = solve(problem((deliver("near", 2), deliver("far", 5)), vehicles=vs))
    assert set(visited(plan)) == {"near"}
    assert [u.order_id for u in plan.unassigned] == ["far"]


def test_costs_pick_the_cheaper_vehicle() -> None:
    dear = VehicleType("dear", (10,), fixed_cost=1000)
    cheap = VehicleType("cheap", (10,), cost_per_hour=1800, cost_per_km=50)
    vs = (Vehicle("dear", dear), Vehicle("cheap", cheap))
    plan = solve(problem((deliver("a", 3),), vehicles=vs))
    assert visited(plan) == {"a": "cheap"}
    assert plan.cost == round(1800 * 600 / 3600 + 50 * 6000 / 1000)


def test_unsupported_features_raise() -> None:
    capped = problem((deliver("a", 1),), vehicles=(Vehicle("v", VT, max_duration=3600),))
    multi = problem((deliver("a", 1),), vehicles=(Vehicle("v", VT, reload_depots=(0,)),))
    engine = VroomEngine()
    for p, feature in ((capped, "max_duration"), (multi, "reloads")):
        with pytest.raises(UnsupportedConstraint, match=feature):
            engine.solve(p, time_limit=1)
        with pytest.raises(UnsupportedConstraint):
            engine.check_supported(p)
        assert feature in (engine.supports(p) or "")
    assert engine.supports(problem((deliver("a", 1),))) is None


def test_depot_hours_bound_the_route() -> None:
    p = problem(
        (deliver("a", 2, time_windows=(TimeWindow(500, 600),)),),
        vehicles=(Vehicle("v", VT),),
    )
    p = dataclasses.replace(p, depots=(Depot("west", 0, TimeWindow(100, 700)), p.depots[1]))
    plan = solve(p)
    assert set(visited(plan)) == {"a"}
    closed = dataclasses.replace(p, depots=(Depot("west", 0, TimeWindow(100, 650)), p.depots[1]))
    plan = solve(closed)  # back at 500 + 200 = 700 is too late
    assert [u.order_id for u in plan.unassigned] == ["a"]


def test_no_orders_gives_an_empty_plan() -> None:
    plan = solve(problem(()))
    assert plan.routes == () and plan.unassigned == ()


def test_seed_is_accepted_and_ignored() -> None:
    p = random_matrix_problem(n_orders=25, n_vehicles=4, seed=5)
    a = VroomEngine().solve(p, time_limit=2, seed=1)
    b = VroomEngine().solve(p, time_limit=2, seed=2)
    assert a.routes == b.routes


def test_time_limit_is_respected() -> None:
    p = random_matrix_problem(n_orders=400, n_vehicles=30, seed=2)
    began = time.perf_counter()
    plan = VroomEngine(nb_threads=2).solve(p, time_limit=1.0)
    elapsed = time.perf_counter() - began
    assert elapsed < 1.5, elapsed
    assert validate(p, plan).ok


def test_the_search_level_is_the_highest_whose_searches_finish_in_time() -> None:
    # Small problem, ample time: the level asked for.
    assert plan_search(50, 10.0, nb_threads=2, max_level=5)[0] == 5
    assert plan_search(50, 10.0, nb_threads=2, max_level=3)[0] == 3
    # Each step down runs fewer searches per thread; the level chosen fits the aim.
    for tasks, budget in ((300, 10.0), (450, 10.0), (450, 30.0), (900, 30.0)):
        for aim in (budget, 0.7 * budget):
            level, timeout = plan_search(tasks, budget, nb_threads=2, max_level=5, aim_s=aim)
            assert 1 <= level <= 5
            assert 0 < timeout <= budget
            if level > 1:
                searches = 4 * (level + 1) + 4 * (level >= 4) + 4 * (level >= 5)
                assert -(-searches // 2) * search_seconds(tasks) <= aim
            if level < 5:
                above = level + 1
                searches = 4 * (above + 1) + 4 * (above >= 4) + 4 * (above >= 5)
                assert -(-searches // 2) * search_seconds(tasks) > aim
    # Too big for any level to finish: level 1, cut by its timeout; level 0 (half the
    # searches) when even level 1's constructions, which the timeout cannot cut, would
    # overrun the budget.
    assert plan_search(2000, 200.0, nb_threads=2, max_level=5)[0] == 1
    assert plan_search(2000, 5.0, nb_threads=2, max_level=5)[0] == 0
    # A tighter aim never raises the level.
    assert (
        plan_search(450, 10.0, nb_threads=2, max_level=5, aim_s=3.0)[0]
        <= plan_search(450, 10.0, nb_threads=2, max_level=5)[0]
    )


def test_aim_share_is_checked() -> None:
    with pytest.raises(ValueError, match="aim_share"):
        VroomEngine(aim_share=0)


@pytest.mark.parametrize("name", ["matrices.json", "coordinates.json"])
def test_solves_vroom_problems(name: str) -> None:
    p = read_problem(DATA / name)
    plan = solve(p)
    assert not plan.unassigned
    out = write_solution(p, plan)
    assert out["summary"]["routes"] == sum(1 for r in plan.routes if r.tasks)


# -- VROOM's own times against ours ----------------------------------------------------


def _without_breaks(p: PlanningProblem) -> PlanningProblem:
    return dataclasses.replace(
        p, vehicles=tuple(dataclasses.replace(v, breaks=()) for v in p.vehicles)
    )


@pytest.mark.parametrize("name", ["matrices.json", "coordinates.json"])
def test_vroom_arrivals_agree_with_ours(name: str) -> None:
    p = _without_breaks(read_problem(DATA / name))
    result = run_vroom(p)
    assert result.routes
    for vroom_route in result.routes:
        ours = build_route(
            p, vroom_route.vehicle, vroom_route.steps, start_time=vroom_route.arrivals[0]
        )
        assert vroom_arrivals_match(ours, vroom_route), (vroom_route.arrivals, ours)


def test_write_solution_matches_vroom_output() -> None:
    p = _without_breaks(read_problem(DATA / "matrices.json"))
    result = run_vroom(p)
    theirs = result.solution.to_dict()
    routes = tuple(
        build_route(p, r.vehicle, r.steps, start_time=r.arrivals[0]) for r in result.routes
    )
    ours = write_solution(p, Plan(routes))
    assert len(ours["routes"]) == len(theirs["routes"])
    keys = ("type", "arrival", "duration", "distance", "setup", "service", "waiting_time", "load")
    for mine, vroom_route in zip(ours["routes"], theirs["routes"], strict=True):
        for key in ("setup", "service", "duration", "waiting_time", "priority", "distance"):
            assert mine[key] == vroom_route[key], key
        assert len(mine["steps"]) == len(vroom_route["steps"])
        for a, b in zip(mine["steps"], vroom_route["steps"], strict=True):
            assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
            assert a["location_index"] == b["location_index"]
    # Vehicle 1 and 3 charge by time only per_hour=3600 or 1800 plus per_km: same objective.
    assert ours["summary"]["cost"] == theirs["summary"]["cost"]


# -- breaks taken on the way ------------------------------------------------------------


def _break_while_driving(
    break_window: TimeWindow = TimeWindow(1000, 1100),
    b_window: TimeWindow = TimeWindow(1100, 1150),
) -> tuple[PlanningProblem, VroomRoute]:
    """VROOM drives A→B while waiting for the break window to open.

    Leave A (location 1) at 800; the break opens at 1000 and A→B takes 200 s.
    The vehicle reaches B at 1000, rests 1000-1100 and serves B at 1100: the
    break is taken on the way, as lastmile's own timing rule has it.
    """
    brk = Break("rest", (break_window,), 100)
    a = deliver("A", 1, time_windows=(TimeWindow(800, 800),))
    b = deliver("B", 3, time_windows=(b_window,))
    v = Vehicle("v", VT, breaks=(brk,))
    p = problem((a, b), vehicles=(v,))
    steps = (
        Step(VisitKind.JOB, order_id="A"),
        Step(VisitKind.BREAK, break_id="rest"),
        Step(VisitKind.JOB, order_id="B"),
    )
    return p, VroomRoute(v, steps, (700, 800, 1000, 1100, 1400))


def test_break_taken_on_the_way_matches_vroom_timing() -> None:
    p, vroom_route = _break_while_driving()
    as_given = build_route(p, vroom_route.vehicle, vroom_route.steps, start_time=700)
    assert validate(p, Plan((as_given,))).ok
    assert vroom_arrivals_match(as_given, vroom_route)
    route, dropped = retime(p, vroom_route)
    assert route is not None and dropped == []
    assert [v.order_id or v.break_id for v in route.visits[1:-1]] == ["A", "rest", "B"]


def test_retime_drops_a_task_when_no_break_position_works() -> None:
    # The break must start by 1020 and lasts 100 s; B must be served by 1060:
    # before B it makes B late, after B it cannot start in its window.
    p, vroom_route = _break_while_driving(TimeWindow(1000, 1020), TimeWindow(1050, 1060))
    vroom_route = dataclasses.replace(vroom_route, arrivals=(700, 800, 1000, 1100, 1400))
    route, dropped = retime(p, vroom_route)
    assert dropped == ["B"]
    assert route is not None
    plan = Plan((route,), ())
    report = validate(p, plan)
    assert report.codes == {"unserved"}  # only because B is not listed as unassigned here


def test_engine_plans_with_breaks_are_valid_on_random_problems() -> None:
    for seed in range(3):
        p = random_matrix_problem(n_orders=30, n_vehicles=5, seed=seed)
        brk = Break("lunch", (TimeWindow(9000, 9600), TimeWindow(14000, 15000)), 1800)
        vs = tuple(dataclasses.replace(v, breaks=(brk,)) for v in p.vehicles)
        solve(dataclasses.replace(p, vehicles=vs))


def test_a_stoppable_search_tries_vroom_beyond_its_construction_estimate() -> None:
    from lastmile.simulate import city_day

    problem = city_day(n_orders=300, n_vans=12, n_bikes=2, seed=1, breaks=False)
    careful = get_engine("vroom")
    too_short = careful.first_plan_seconds(problem) / 4
    # estimated not to fit: the careful engine returns the greedy plan at once...
    assert careful.solve(problem, time_limit=too_short).engine == "greedy"
    # ...while one its caller stops at the deadline tries VROOM's constructions
    plan = get_engine("vroom", stoppable=True).solve(problem, time_limit=too_short)
    assert plan.engine == "vroom"
    assert plan.routes
    assert validate(problem, plan).ok


def test_construct_only_gives_vroom_constructions_quickly_and_valid() -> None:
    from lastmile.simulate import city_day

    problem = city_day(n_orders=300, n_vans=12, n_bikes=2, seed=2, breaks=True)
    began = time.perf_counter()
    plan = get_engine("vroom", construct_only=True).solve(problem, time_limit=20)
    quick = time.perf_counter() - began
    assert plan.engine == "vroom"
    assert validate(problem, plan).ok
    served = {v.order_id for r in plan.routes for v in r.tasks}
    assert served | {u.order_id for u in plan.unassigned} == {o.id for o in problem.orders}
    # the constructions only: far from the 20 s a full search may use
    assert quick < 5, quick
