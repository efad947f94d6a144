"""The robust-plans benchmark measures every plan's cost the same way: as driven."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from lastmile.planning import solve
from lastmile.planning.robust import Robustness
from lastmile.planning.validate import validate
from lastmile.simulate.scenario import city_day
from lastmile.travel.traffic import WEEKDAY, TrafficProfile

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    name = "lastmile_bench_robust_days"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "robust_days.py")
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


@pytest.fixture(scope="module")
def day():  # type: ignore[no-untyped-def]
    problem = city_day(n_orders=16, n_vans=2, n_bikes=1, seed=7)
    bench = _load()
    # The day's truth without traffic: every leg takes its free-flow time.
    free = {
        name: bench.TrafficLegs(m.durations, m.distances, np.ones(96), 900)
        for name, m in problem.matrices.items()
    }
    plain = solve(problem, engine="vroom", time_limit=1.0, workers=1)
    robust = Robustness.parse(0.9)
    sturdy = solve(problem, engine="vroom", time_limit=1.0, workers=1, robust=robust)
    return problem, free, plain, sturdy


def test_a_plan_driven_as_planned_costs_its_objective(day) -> None:  # type: ignore[no-untyped-def]
    """No noise, no traffic: every plan is on time and costs what it says, the
    robust one included (its buffers are waiting, which these days do not charge)."""
    bench = _load()
    problem, free, plain, sturdy = day
    exact = Robustness.parse(0.9, "none")
    for plan in (plain, sturdy):
        driven = bench.drive_twin(problem, plan, free, exact, draws=1, seed=1)
        assert driven.on_time == 1.0 and driven.missed == 0.0
        assert driven.cost == pytest.approx(plan.cost, rel=1e-3, abs=2)


def test_stops_not_reached_are_counted_late_and_cut_the_cost(day) -> None:  # type: ignore[no-untyped-def]
    """Legs three times as long as planned: the vans' shifts end before their last
    stops, which are late, counted as not reached, and not driven to."""
    bench = _load()
    problem, free, plain, _ = day
    slow = Robustness.parse(0.9, "lognormal:sigma=0,median=3")
    driven = bench.drive_twin(problem, plain, free, slow, draws=1, seed=1)
    assert driven.missed > 0
    assert driven.late_stops >= driven.missed
    assert driven.on_time < 1.0
    # Fixed costs plus three times the planned hours would be more than was driven.
    fixed = sum(problem.vehicle(r.vehicle_id).type.fixed_cost for r in plain.routes)
    assert driven.cost < fixed + 3 * (plain.cost - fixed)


def test_the_typical_matrix_lies_between_free_flow_and_the_slowest_slice(day) -> None:  # type: ignore[no-untyped-def]
    """The static plan at typical speeds plans vans on their true leg times
    averaged over their shifts: never faster than free flow, never slower than
    the slowest slice of the shifts; bikes ride free of traffic and keep theirs."""
    bench = _load()
    problem = day[0]
    legs = bench.day_legs(problem)
    typical = bench.typical_problem(problem, legs)
    vans = [v for v in problem.vehicles if v.type.profile == "van"]
    first = min(v.shift.start for v in vans) // 900
    last = -(-max(v.shift.end for v in vans) // 900)
    profile = TrafficProfile.default()
    speeds = profile.factors[profile.day_index(WEEKDAY), profile.class_index(bench.VAN_ROADS)]
    slowest = float(speeds[first:last].min())
    free = problem.matrices["van"].durations
    mean = typical.matrices["van"].durations
    assert (mean >= free).all()
    assert (mean <= np.ceil(free / slowest)).all()
    assert (mean > free)[free > 60].all()  # the day's traffic slows every van leg
    assert (typical.matrices["van"].distances == problem.matrices["van"].distances).all()
    assert (typical.matrices["bike"].durations == problem.matrices["bike"].durations).all()


def test_a_typical_speed_plan_is_valid_and_driven_like_the_others() -> None:
    """End to end on a small day of vans only: planned by plain ``solve`` on the
    typical matrices, valid against them, and driven through the day's true
    traffic, where (without noise) it is on time at the stop the free-flow plan
    reaches late."""
    bench = _load()
    problem = city_day(n_orders=16, n_vans=2, n_bikes=0, seed=7)
    legs = bench.day_legs(problem)
    typical = bench.typical_problem(problem, legs)
    flat = solve(problem, engine="vroom", time_limit=1.0, workers=1)
    plan = solve(typical, engine="vroom", time_limit=1.0, workers=1)
    assert validate(typical, plan).ok
    assert len(plan.unassigned) == len(flat.unassigned)
    assert plan.cost > flat.cost  # the same day on slower legs
    exact = Robustness.parse(0.5, "none")
    driven = bench.drive_twin(problem, plan, legs, exact, draws=1, seed=1)
    free = bench.drive_twin(problem, flat, legs, exact, draws=1, seed=1)
    assert free.on_time < 1.0
    assert driven.on_time == 1.0 and driven.missed == 0.0
