"""The scale benchmark: the fleet option, the day cut to PyVRP's model, PyVRP as a peer."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from lastmile.domain import OrderKind
from lastmile.planning.validate import validate

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    bench_dir = str(ROOT / "benchmarks")
    if bench_dir not in sys.path:
        sys.path.insert(0, bench_dir)  # scale imports its sibling realistic_wide.py
    return importlib.import_module("scale")


scale = _load()


def test_the_fleet_is_one_vehicle_per_100_orders_unless_given() -> None:
    seed, orders = scale.seed_and_orders(20_000)
    assert (seed, orders) == (52, 18_520)
    assert scale.fleet(orders, None) == (167, 18)  # the 185 vehicles measured before
    assert scale.fleet(orders, 200) == (180, 20)  # the target's fleet
    assert scale.seed_and_orders(5_000, "pyvrp") == (51, 5_000)
    assert scale.fleet(5_000, None, "pyvrp") == (113, 12)
    runs = scale.plan_runs(5_000, 60.0, [2], day="city", vehicles=200, whole=True)
    assert [(r.mode, r.vehicles) for r in runs] == [("decomposed", 200), ("whole", 200)]


def test_a_city_day_with_the_given_fleet() -> None:
    run = scale.Run(400, "decomposed", 1, 1.0, vehicles=7)
    problem = scale.make_day(run)
    assert len(problem.vehicles) == 7
    assert sum(v.type.profile == "bike" for v in problem.vehicles) == 0  # 7 // 10
    assert len(problem.orders) == 400 * 463 // 500


def test_the_pyvrp_day_is_the_city_day_cut_to_what_pyvrp_models() -> None:
    import realistic_wide

    run = scale.Run(300, "whole", 1, 1.0, day="pyvrp")
    problem = scale.make_day(run)
    assert realistic_wide.pyvrp_misfit(problem) == ""
    assert problem.num_stops == len(problem.orders) == 300
    assert len(problem.vehicles) == 300 // 40
    assert {o.kind for o in problem.orders} == {OrderKind.DELIVERY, OrderKind.PICKUP}
    assert all(len(s.time_windows) == 1 and not s.setup for o in problem.orders for s in o.stops)
    assert not any(o.skills or o.priority for o in problem.orders)
    # No place left unused: the depots and one place per stop.
    used = {d.location for d in problem.depots} | {
        s.location for o in problem.orders for s in o.stops
    }
    assert used == set(range(len(problem.locations)))
    # Travel by coordinates (decomposed) is the same as the dense matrices.
    lazy = scale.make_day(scale.Run(300, "decomposed", 1, 1.0, day="pyvrp"))
    assert lazy.locations == problem.locations
    for name, dense in problem.matrices.items():
        picks = np.arange(0, len(problem.locations), 37)
        block = lazy.matrices[name].block(picks, picks)
        assert (block[0] == dense.durations[np.ix_(picks, picks)]).all()
        assert (block[1] == dense.distances[np.ix_(picks, picks)]).all()


def test_pyvrp_on_the_whole_day_keeps_to_its_budget_and_its_plan_validates() -> None:
    problem = scale.make_day(scale.Run(300, "pyvrp", 1, 2.0, day="pyvrp"))
    plan, wall, feasible = scale.run_pyvrp(problem, 2.0)
    assert feasible and 1.5 < wall < 2.5
    report = validate(problem, plan)
    assert report.violations == () and report.cost > 0
    assert len(plan.unassigned) < 0.1 * 300  # a fleet with room for the orders


def test_one_run_per_mode_end_to_end() -> None:
    pyvrp = scale.measured(scale.Run(300, "pyvrp", 1, 1.0, day="pyvrp"))
    ours = scale.measured(scale.Run(300, "decomposed", 1, 1.0, day="pyvrp"))
    for res in (pyvrp, ours):
        assert "error" not in res, res
        assert res["stops"] == 300 and res["violations"] == 0 and res["cost"] > 0
        assert res["tree_peak_mb"] > 0
    assert pyvrp["engine"] == "pyvrp" and pyvrp["feasible"]
    runs = scale.plan_runs(300, 1.0, [2], day="pyvrp", vehicles=None, whole=True)
    ref = scale.reference([(run, res) for run, res in zip(runs, [pyvrp, ours], strict=False)])
    assert ref is pyvrp
