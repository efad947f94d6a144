"""Waiting costs (``PlanningProblem.cost_waiting``): drivers paid by the hour cost
the same waiting as driving, so the objective charges route duration."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lastmile.domain import (
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
from lastmile.planning import solve
from lastmile.planning.problem import Feature, PlanningProblem, TravelMatrix, route_cost
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import validate

# Depot 0; A (1) is 100 s from the depot, B (2) 300 s from it and 100 s from A.
DUR = np.array([[0, 100, 300], [100, 0, 100], [300, 100, 0]], dtype=np.int64)
VT = VehicleType("van", (10,), cost_per_hour=3600, cost_per_km=0)  # one unit per second


def problem(*, waiting: bool) -> PlanningProblem:
    """Two vans on open routes (no return); A until 1000, B at 2000-2100.

    One van serving A then B drives 200 s but waits at B for 900 s whatever its
    departure (A closes at 1000): 1100 s from departure to the end. Two vans, one
    each, drive 100 s + 300 s and never wait: 400 s. Driving time alone prefers
    the first, route duration the second."""
    orders = (
        Order("a", OrderKind.DELIVERY, delivery=Stop(1, time_windows=(TimeWindow(0, 1000),))),
        Order("b", OrderKind.DELIVERY, delivery=Stop(2, time_windows=(TimeWindow(2000, 2100),))),
    )
    vans = tuple(
        Vehicle(vid, VT, start_depot=0, end_depot=None, shift=TimeWindow(0, 5000))
        for vid in ("v1", "v2")
    )
    return PlanningProblem(
        locations=tuple(Location(float(i), 0.0, planar=True) for i in range(3)),
        matrices={"car": TravelMatrix(DUR, DUR * 10)},
        depots=(Depot("d", 0),),
        vehicles=vans,
        orders=orders,
        dimensions=("kg",),
        cost_waiting=waiting,
    )


def job(oid: str) -> Step:
    return Step(VisitKind.JOB, order_id=oid)


def test_flag_is_a_feature_only_with_hourly_costs() -> None:
    assert Feature.WAITING_COSTS in problem(waiting=True).features
    assert Feature.WAITING_COSTS not in problem(waiting=False).features
    free = dataclasses.replace(VT, cost_per_hour=0, cost_per_km=1000)
    p = problem(waiting=True)
    vans = tuple(dataclasses.replace(v, type=free) for v in p.vehicles)
    p = dataclasses.replace(p, vehicles=vans)
    assert Feature.WAITING_COSTS not in p.features


def test_route_cost_charges_duration_when_given() -> None:
    v = problem(waiting=True).vehicles[0]
    assert route_cost(v, 200, 0) == 200
    assert route_cost(v, 200, 0, duration_s=1100) == 1100


def test_schedule_leaves_as_late_as_the_windows_allow_and_costs_the_duration() -> None:
    for waiting in (False, True):
        p = problem(waiting=waiting)
        route = build_route(p, p.vehicles[0], [job("a"), job("b")])
        start, a, b = route.visits
        assert b.start == 2000
        if waiting:
            # Leaving at 900 reaches A as it closes: the wait at B cannot shrink further.
            assert (start.departure, a.start, b.arrival) == (900, 1000, 1100)
            assert route.cost == 2000 - 900
        else:
            assert start.departure == 0
            assert route.cost == 200
        report = validate(p, Plan((route,)))
        assert report.ok, report.violations


@pytest.mark.parametrize("engine", ["pyvrp", "ortools"])
def test_waiting_costs_change_the_plan(engine: str) -> None:
    # One worker searches in this process: a busy machine slows it down but cannot
    # keep a worker process from answering in time (the greedy plan would then win).
    driving = solve(problem(waiting=False), engine=engine, time_limit=1, seed=1, workers=1)
    waiting = solve(problem(waiting=True), engine=engine, time_limit=1, seed=1, workers=1)
    for p, plan in ((problem(waiting=False), driving), (problem(waiting=True), waiting)):
        report = validate(p, plan)
        assert report.ok, report.violations
        assert not plan.unassigned
    # Driving time only: one van does both and waits; duration: two vans, no wait.
    assert [len(r.tasks) for r in driving.routes if r.tasks] == [2]
    assert sorted(len(r.tasks) for r in waiting.routes if r.tasks) == [1, 1]
    assert sum(r.wait for r in waiting.routes) == 0
    assert waiting.cost == 400
    assert driving.cost == 200


def test_vroom_declines_waiting_costs_and_auto_picks_another_engine() -> None:
    with pytest.raises(UnsupportedConstraint, match="waiting_costs"):
        solve(problem(waiting=True), engine="vroom", time_limit=1)
    plan = solve(problem(waiting=True), time_limit=1, seed=1)
    assert plan.engine.split()[0] != "vroom"
    assert validate(problem(waiting=True), plan).ok
