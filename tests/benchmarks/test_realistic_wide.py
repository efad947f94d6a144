"""The wide realistic-day benchmark: days, PyVRP model, verdicts, one tiny run end to end."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from lastmile.planning.validate import validate

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    bench_dir = str(ROOT / "benchmarks")
    if bench_dir not in sys.path:
        sys.path.insert(0, bench_dir)  # realistic_wide imports its sibling realistic.py
    return importlib.import_module("realistic_wide")


wide = _load()
realistic = sys.modules["realistic"]

TINY = wide.DaySpec(7, 30, "multidepot", "loose", volume=True, returns=0.2, shipments=0.15)


def test_the_days_cover_sizes_shapes_and_constraints() -> None:
    days = wide.DAYS
    assert len(days) >= 20
    assert min(d.orders for d in days) == 200 and max(d.orders for d in days) == 2000
    assert {d.shape for d in days} == set(wide.SHAPES)
    assert {d.windows for d in days} == set(wide.WINDOWS)
    assert len({d.seed for d in days}) == len(days)
    assert any(d.breaks for d in days) and any(d.skills for d in days)
    assert any(d.shipments for d in days) and any(d.volume for d in days)
    fits = [d for d in days if not d.pyvrp_misfit]
    assert 5 <= len(fits) < len(days)


def test_a_day_is_the_same_for_the_same_seed_and_has_what_its_spec_says() -> None:
    spec = wide.DaySpec(3, 40, "compact", "mixed", breaks=True, skills=True, bikes=True, setup=True)
    a, b = wide.make_day(spec), wide.make_day(spec)
    assert a.orders == b.orders and a.locations == b.locations
    assert len(a.orders) == 40 and set(a.matrices) == {"car", "bike"}
    assert all(v.breaks for v in a.vehicles if v.type.profile == "car")
    assert wide.pyvrp_misfit(a) != ""
    tiny = wide.make_day(TINY)
    assert len(tiny.depots) == 3 and tiny.dimensions == ("weight_kg", "volume_l")
    assert {o.kind.value for o in tiny.orders} == {"delivery", "pickup", "shipment"}
    assert wide.pyvrp_misfit(tiny) == ""
    with pytest.raises(ValueError, match="shape"):
        wide.DaySpec(1, 10, "moon", "none")


def _run(
    cost: int | None, unassigned: int = 0, violations: int = 0, error: str = "", wall: float = 1.0
) -> object:
    return realistic.Result("x", cost, unassigned, violations, wall, error)


def test_verdicts_compare_orders_served_first_then_cost_and_skip_invalid_peers() -> None:
    run = wide.DayRun("d", 10, "", 10.0)
    run.results = {
        "lastmile": _run(1010),
        "pyvroom": _run(1000),
        "pyvrp": _run(900, violations=3),  # cheaper but broke a rule: never the best peer
    }
    assert run.best_peer() == "pyvroom"
    ok, excess = run.verdict()
    assert ok is False and excess == pytest.approx(1.0)
    run.results["pyvroom"] = _run(500, unassigned=2)  # cheaper, but left orders out
    assert run.verdict() == (True, None)
    run.results["lastmile"] = _run(400, unassigned=3)
    assert run.verdict() == (False, None)
    run.results["pyvroom"] = _run(None, error="boom")
    assert run.verdict() == (None, None)

    win = wide.DayRun("e", 10, "", 10.0, {"lastmile": _run(990), "pyvroom": _run(1000)})
    loss = wide.DayRun("f", 10, "", 10.0, {"lastmile": _run(1020), "pyvroom": _run(1000)})
    (summary,) = wide.summarise([win, loss])
    assert (summary.days, summary.wins) == (2, 1)
    assert summary.worst_excess_pct == pytest.approx(2.0)

    # a peer that took far longer than the budget counts in the plain verdict only
    late = wide.DayRun(
        "g",
        10,
        "",
        10.0,
        {"lastmile": _run(1000), "pyvroom": _run(900, wall=45.0), "pyvrp": _run(1010, wall=11.0)},
    )
    assert late.best_peer() == "pyvroom" and late.best_peer(on_time=True) == "pyvrp"
    assert late.verdict()[0] is False and late.verdict(on_time=True)[0] is True
    (strict,) = wide.summarise([late])
    (timely,) = wide.summarise([late], on_time=True)
    assert strict.overran == {"pyvroom": 1} and (strict.wins, timely.wins) == (0, 1)


def test_select_days_by_number_name_and_spread_subset() -> None:
    assert [d.seed for d in wide.select_days("1,compact-300-s103", None)] == [101, 103]
    subset = wide.select_days("", 4)
    assert len(subset) == 4 and subset[0] == wide.DAYS[0] and subset[-1] == wide.DAYS[-1]
    with pytest.raises(SystemExit, match="unknown day"):
        wide.select_days("nowhere", None)


def test_a_seed_offset_redraws_the_same_days_from_other_seeds() -> None:
    base = wide.select_days("", 6)
    other = wide.select_days("", 6, seed_offset=100)
    assert [d.seed for d in other] == [d.seed + 100 for d in base]
    for a, b in zip(base, other, strict=True):
        assert (a.orders, a.shape, a.mix) == (b.orders, b.shape, b.mix)
    small = wide.reseeded(wide.DAYS[0], 100)
    assert wide.make_day(small).orders != wide.make_day(wide.DAYS[0]).orders


def test_pyvrp_model_costs_what_the_validator_costs() -> None:
    import pyvrp
    from pyvrp.stop import MaxIterations

    problem = wide.make_day(TINY)
    model = wide.to_pyvrp(problem)
    assert model.data.num_clients + 2 * model.data.num_shipments >= len(problem.orders)
    assert sum(len(ids) for ids in model.type_vehicles) == len(problem.vehicles)
    best = pyvrp.solve(model.data, stop=MaxIterations(200), seed=0, display=False).best
    assert best.is_feasible()
    plan = wide.pyvrp_plan(problem, model, best)
    report = validate(problem, plan)
    assert report.ok, report.violations[:3]
    assert not plan.unassigned
    # PyVRP's own cost of the same routes, up to rounding each edge's per-km part
    own = best.distance_cost() + best.fixed_vehicle_cost()
    edges = sum(len(r.visits) + 1 for r in plan.routes)
    assert abs(report.cost - own) <= edges


def test_one_tiny_day_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wide, "DAYS", (TINY,))
    out = tmp_path / "out.json"
    code = wide.main(["--budgets", "1", "--cache", str(tmp_path), "--json", str(out)])
    assert code == 0
    (run,) = json.loads(out.read_text())["runs"]
    assert run["day"] == TINY.name and run["budget_s"] == 1.0
    assert set(run["results"]) == {"lastmile", "pyvroom", "pyvrp"}
    for name, res in run["results"].items():
        assert res["cost"] is not None, name
        assert res["violations"] == 0, name  # every solver's plan passes lastmile's validator
    (again,) = wide.load_runs(out)
    assert again.results["pyvrp"].cost == run["results"]["pyvrp"]["cost"]
    assert wide.main(["--report", str(out)]) == 0
