"""solve(): engine choice, hopeless orders, repair, reasons, the portfolio."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

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
from lastmile.exceptions import UnknownEngine, UnsupportedConstraint
from lastmile.formats.solomon import read_solomon
from lastmile.planning import solve
from lastmile.planning.engines.pyvrp import PyVRPEngine
from lastmile.planning.problem import PlanningProblem, TravelMatrix
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.solve import _choose_engines, _repair
from lastmile.planning.validate import validate
from lastmile.simulate import city_day, random_matrix_problem

DATA = Path(__file__).parents[1] / "data"
POS = np.arange(5)
DUR = np.abs(POS[:, None] - POS[None, :]).astype(np.int64) * 600
VT = VehicleType("van", (10,))


def problem(orders: tuple[Order, ...], vehicles: tuple[Vehicle, ...] = ()) -> PlanningProblem:
    return PlanningProblem(
        locations=tuple(Location(float(i), 0.0, planar=True) for i in range(5)),
        matrices={"car": TravelMatrix(DUR, DUR * 10)},
        depots=(Depot("main", 0),),
        vehicles=vehicles or (Vehicle("v1", VT, shift=TimeWindow(0, 8 * 3600)),),
        orders=orders,
        dimensions=("kg",),
        name="tiny",
    )


def deliver(oid: str, loc: int, kg: int = 1, **kw: object) -> Order:
    return Order(oid, OrderKind.DELIVERY, delivery=Stop(loc), amount=(kg,), **kw)  # type: ignore[arg-type]


def test_unknown_engine_fails_loudly() -> None:
    with pytest.raises(UnknownEngine, match="unknown engine 'gurobi'"):
        solve(problem((deliver("a", 1),)), engine="gurobi", time_limit=1)


def test_named_engine_lacking_a_feature_names_it() -> None:
    lunch = Break("lunch", (TimeWindow(3600, 7200),), 1800)
    p = problem((deliver("a", 1),), (Vehicle("v", VT, breaks=(lunch,)),))
    with pytest.raises(UnsupportedConstraint, match="breaks"):
        solve(p, engine="pyvrp", time_limit=1)


def test_auto_prefers_pyvrp_and_falls_back_when_it_cannot() -> None:
    plain = problem((deliver("a", 1),))
    assert _choose_engines(plain, "auto")[0] == "pyvrp"
    lunch = Break("lunch", (TimeWindow(3600, 7200),), 1800)
    with_break = problem((deliver("a", 1),), (Vehicle("v", VT, breaks=(lunch,)),))
    assert _choose_engines(with_break, "auto")[0] == "vroom"


def test_hopeless_orders_come_back_with_reasons() -> None:
    p = problem(
        (
            deliver("ok", 1),
            deliver("heavy", 2, kg=25),
            Order(
                "cold",
                OrderKind.DELIVERY,
                delivery=Stop(2),
                amount=(1,),
                skills=frozenset({"refrigerated"}),
            ),
        )
    )
    plan = solve(p, time_limit=1, workers=1)
    assert validate(p, plan).ok
    reasons = {u.order_id: u for u in plan.unassigned}
    assert set(reasons) == {"heavy", "cold"}
    assert reasons["cold"].code == "skills" and "refrigerated" in reasons["cold"].reason
    assert reasons["heavy"].code == "capacity" and "15 kg" in reasons["heavy"].reason


def test_every_order_is_served_or_explained_on_a_busy_day() -> None:
    p = random_matrix_problem(n_orders=60, n_vehicles=3, seed=5, capacity=60)
    plan = solve(p, time_limit=2, workers=2)
    report = validate(p, plan)
    assert report.ok, report.violations
    served = {v.order_id for r in plan.routes for v in r.tasks}
    assert served.isdisjoint({u.order_id for u in plan.unassigned})
    assert len(served) + len(plan.unassigned) == 60
    assert plan.unassigned, "three small vans cannot carry sixty orders"
    assert all(u.reason for u in plan.unassigned)


def test_portfolio_uses_several_workers() -> None:
    p = random_matrix_problem(n_orders=30, n_vehicles=6, seed=2)
    plan = solve(p, time_limit=1.5, workers=2, seed=4)
    # On a busy machine a worker that lags past the limit is stopped and the
    # label says so ("pyvrp x2 (partial)"), or the greedy plan was better than
    # what the workers had by then ("greedy (pyvrp x2 gave no better plan in
    # time)"); two workers were run either way.
    assert "pyvrp x2" in plan.engine, plan.engine
    assert validate(p, plan).ok


def test_no_worker_hands_in_a_plan_breaking_rules_on_a_day_over_full_through_its_windows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """R101 (100 customers, tight windows) with 10 of its vehicles: they carry the
    demand twice over, but the windows need about twenty, so some orders must be
    left out. The worker requiring every order finds no plan serving them all and
    lets orders out for the rest of its time: each worker's plan passes the
    validator as it is and leaves out about as few orders as a search with prizes
    (a plan serving everyone by breaking windows would lose some 40 more to the
    repair step)."""
    solve_module = sys.modules["lastmile.planning.solve"]
    r101 = read_solomon(DATA / "R101.txt", rounding="dimacs")
    short = dataclasses.replace(r101, vehicles=r101.vehicles[:10])
    plans: list[Plan] = []

    def one_after_the_other(
        problem: PlanningProblem, jobs: list[Any], budget: float, *args: object
    ) -> list[Plan | None]:
        out = [solve_module._run_job(problem, job) for job in jobs]
        plans.extend(out)
        return list(out)

    monkeypatch.setattr(solve_module, "_run_jobs", one_after_the_other)
    plan = solve(short, time_limit=3.0, workers=2)
    assert plan.engine == "pyvrp x2", plan.engine
    assert validate(short, plan).ok
    collector = PyVRPEngine(prize_collecting=True).solve(short, time_limit=3.0, seed=0)
    assert len(plans) == 2
    for found in plans:
        assert validate(short, found).ok
        assert len(found.unassigned) <= len(collector.unassigned) + 10
    assert len(plan.unassigned) <= len(collector.unassigned) + 5


def test_repair_takes_out_the_order_that_breaks_a_route() -> None:
    late = Order(
        "late",
        OrderKind.DELIVERY,
        delivery=Stop(4, time_windows=(TimeWindow(0, 100),)),
        amount=(1,),
    )
    p = problem((deliver("a", 1), late))
    v = p.vehicles[0]
    bad = build_route(
        p, v, [Step(VisitKind.JOB, order_id="a"), Step(VisitKind.JOB, order_id="late")]
    )
    assert not validate(p, Plan((bad,))).ok
    fixed = _repair(p, Plan((bad,)))
    assert [x.order_id for r in fixed.routes for x in r.tasks] == ["a"]
    assert validate(p, Plan(fixed.routes, ())).of("unserved")


def test_breaks_and_setup_go_through_vroom_then_ortools() -> None:
    p = city_day(n_orders=40, n_vans=4, n_bikes=1, seed=3)
    plan = solve(p, time_limit=4, seed=1)
    assert plan.engine.startswith("vroom")
    report = validate(p, plan)
    assert report.ok, report.violations
    for route in plan.routes:
        vehicle = p.vehicle(route.vehicle_id)
        taken = [x.break_id or "" for x in route.visits if x.kind is VisitKind.BREAK]
        assert sorted(taken) == sorted(b.id for b in vehicle.breaks)


@pytest.mark.parametrize("engine", ["auto", "vroom", "ortools"])
def test_vehicles_that_cannot_work_get_no_route_and_the_rest_plan(engine: str) -> None:
    """A van ready only after its depot closed (open end: its hours are not empty)
    with a lunch break it cannot take: VROOM refused the whole problem ("Inconsistent
    breaks"); now that van is set aside and the others plan."""
    import dataclasses

    day = city_day(n_orders=30, n_vans=3, n_bikes=0, seed=1)
    van = day.vehicles[0]
    late = dataclasses.replace(van, shift=TimeWindow(22 * 3600, 23 * 3600), end_depot=None)
    no_break_room = dataclasses.replace(
        day.vehicles[1],
        id="van-short",
        shift=TimeWindow(9 * 3600, 10 * 3600),
        breaks=(Break("lunch", (TimeWindow(12 * 3600, 13 * 3600),), 1800),),
    )
    p = dataclasses.replace(day, vehicles=(late, no_break_room, *day.vehicles[1:]))
    assert p.idle_reason(late) == "its start depot closes before it is ready"
    assert p.idle_reason(no_break_room) == "its break 'lunch' does not fit in its working hours"
    assert all(p.idle_reason(v) is None for v in day.vehicles[1:])
    plan = solve(p, engine=engine, time_limit=1.0, seed=0)
    assert validate(p, plan).ok
    used = {r.vehicle_id for r in plan.routes if r.tasks}
    assert used and not used & {late.id, "van-short"}
    served = {v.order_id for r in plan.routes for v in r.visits if v.order_id}
    assert served | {u.order_id for u in plan.unassigned} == {o.id for o in p.orders}


def test_no_vehicle_able_to_work_leaves_every_order_unassigned_with_a_reason() -> None:
    import dataclasses

    day = city_day(n_orders=10, n_vans=1, n_bikes=0, seed=2)
    late = dataclasses.replace(
        day.vehicles[0], shift=TimeWindow(22 * 3600, 23 * 3600), end_depot=None
    )
    p = dataclasses.replace(day, vehicles=(late,))
    plan = solve(p, time_limit=1.0, seed=0)
    assert not any(r.tasks for r in plan.routes)
    assert len(plan.unassigned) == 10 and all(u.reason for u in plan.unassigned)


# -- large days VROOM cannot search whole: its constructions, improved group by group --


def _break_day() -> PlanningProblem:
    return city_day(n_orders=260, n_vans=10, n_bikes=2, seed=5, breaks=True)


def test_groups_improve_a_vroom_plan_and_never_make_it_worse() -> None:
    import time

    from lastmile.planning.engines import get_engine
    from lastmile.planning.solve import _improve_in_groups

    day = _break_day()
    start = get_engine("vroom", construct_only=True).solve(day, time_limit=5)
    assert start.engine == "vroom" and validate(day, start).ok
    began = time.perf_counter()
    improved, rounds = _improve_in_groups(day, start, began + 6, 2, 0, None, None)
    wall = time.perf_counter() - began
    assert rounds >= 1
    assert wall <= 6 + 0.5, wall
    assert validate(day, improved).ok
    # each group's routes are replaced only by better ones, so the plan as a whole
    # serves at least as many orders for no more cost
    assert (len(improved.unassigned), improved.cost) <= (len(start.unassigned), start.cost)
    assert improved.cost < start.cost  # VROOM searched to its end beats its constructions


def test_a_day_vroom_cannot_search_whole_uses_its_budget_within_the_allowance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib
    import time

    module = importlib.import_module("lastmile.planning.solve")
    # The day stands for a 1,500-stop one: VROOM's whole-day search would be cut short.
    monkeypatch.setattr(module, "GROUP_ABOVE", 200)
    monkeypatch.setattr(module, "GROUP_STOPS", 90)
    monkeypatch.setattr("lastmile.planning.engines.vroom.cut_short", lambda *a, **k: True)
    day = _break_day()
    limit = 10.0
    began = time.perf_counter()
    plan = solve(day, time_limit=limit, workers=2, seed=0)
    wall = time.perf_counter() - began
    assert plan.engine.startswith("vroom+groups"), plan.engine
    # the groups stop when less than a group's shortest search is left
    assert 0.7 * limit <= wall <= limit + max(2.0, 0.05 * limit), wall
    assert validate(day, plan).ok
    served = {v.order_id for r in plan.routes for v in r.tasks}
    assert served | {u.order_id for u in plan.unassigned} == {o.id for o in day.orders}


def test_long_routes_make_vroom_constructions_estimated_slower() -> None:
    from lastmile.planning.engines.vroom import whole_construction_seconds

    # the same 2,000 tasks: 45 per vehicle (a compact city day) against 20 (suburbs)
    long_routes = whole_construction_seconds(2_000, 44, nb_threads=2)
    short_routes = whole_construction_seconds(2_000, 99, nb_threads=2)
    assert long_routes > 10.0 > short_routes
    assert whole_construction_seconds(2_000, 44, nb_threads=1) > long_routes


def test_a_day_vroom_cannot_construct_whole_is_planned_in_parts_then_groups(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib
    import time

    from lastmile.planning.construct import greedy_plan

    module = importlib.import_module("lastmile.planning.solve")
    # The day stands for a 2,000-stop one whose whole-day constructions overrun the budget.
    monkeypatch.setattr(module, "GROUP_ABOVE", 200)
    monkeypatch.setattr(module, "GROUP_STOPS", 90)
    monkeypatch.setattr(module, "BIG_PART_STOPS", 90)
    monkeypatch.setattr("lastmile.planning.engines.vroom.cut_short", lambda *a, **k: True)
    monkeypatch.setattr(
        "lastmile.planning.engines.vroom.whole_construction_seconds", lambda *a, **k: 1e3
    )
    day = _break_day()
    limit = 10.0
    began = time.perf_counter()
    plan = solve(day, time_limit=limit, workers=2, seed=0)
    wall = time.perf_counter() - began
    assert plan.engine.startswith("decomposed (vroom"), plan.engine
    assert "groups (" in plan.engine and "groups (0 round" not in plan.engine, plan.engine
    assert wall <= limit + max(2.0, 0.05 * limit), wall
    assert validate(day, plan).ok
    served = {v.order_id for r in plan.routes for v in r.tasks}
    assert served | {u.order_id for u in plan.unassigned} == {o.id for o in day.orders}
    # the greedy plan is the fallback this replaces: the parts and groups do better
    greedy = greedy_plan(day, deadline=time.perf_counter() + 5)
    assert (len(plan.unassigned), plan.cost) < (len(greedy.unassigned), greedy.cost)


@pytest.mark.parametrize("overrun", [False, True])
def test_a_day_is_planned_in_parts_only_when_constructions_overrun_and_allowed(
    monkeypatch: pytest.MonkeyPatch, overrun: bool
) -> None:
    import importlib

    module = importlib.import_module("lastmile.planning.solve")
    monkeypatch.setattr(module, "GROUP_ABOVE", 200)
    monkeypatch.setattr("lastmile.planning.engines.vroom.cut_short", lambda *a, **k: True)
    if overrun:  # constructions estimated to overrun, but decompose="off" below
        monkeypatch.setattr(
            "lastmile.planning.engines.vroom.whole_construction_seconds", lambda *a, **k: 1e3
        )

    def no_parts(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("planned in parts")

    monkeypatch.setattr(module, "_planned_in_parts", no_parts)
    day = _break_day()  # 260 stops: constructions of well under a second
    plan = solve(day, time_limit=5, workers=2, seed=0, decompose="off" if overrun else "auto")
    assert plan.engine.startswith("vroom"), plan.engine
