"""The planning benchmark's arithmetic, instance lists and peer-result conversion."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from lastmile.formats.solomon import read_solomon
from lastmile.formats.vrplib import read_vrplib_solution

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def _load() -> ModuleType:
    name = "lastmile_bench_planning"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "planning.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


bench = _load()


def _run(solver: str, cost: int | None, **kw: object) -> object:
    defaults: dict[str, object] = {"unassigned": 0, "violations": 0, "vehicles": 3}
    defaults.update(kw)
    return bench.SolverRun(solver, "X", 10, cost=cost, **defaults)


def test_gap_and_ratio_arithmetic() -> None:
    assert bench.gap_pct(110.0, 100.0) == pytest.approx(10.0)
    assert bench.gap_pct(99.0, 100.0) == pytest.approx(-1.0)
    assert bench.gap_pct(None, 100.0) is None
    assert bench.gap_pct(100.0, None) is None
    runs = [
        _run("lastmile", 1010),
        _run("pyvrp", 1000),
        _run("vroom", 900, unassigned=1),  # cheaper, but left an order out
        _run("ortools", 800, violations=2),  # cheaper, but broke rules
    ]
    assert runs[0].distance == pytest.approx(101.0)
    ratio, peer = bench.ratio_to_best_peer(runs)
    assert peer == "pyvrp"
    assert ratio == pytest.approx(1.01)
    failed = [_run("lastmile", None, error="boom"), _run("pyvrp", 1000)]
    assert bench.ratio_to_best_peer(failed) == (None, "pyvrp")
    assert _run("vroom", 1, time_limit_s=30.0, runtime_s=103.0).overran
    assert not _run("vroom", 1, time_limit_s=30.0, runtime_s=33.0).overran


def test_summary_means_and_common_subset() -> None:
    insts = [
        bench.Instance("A", Path("A.txt"), Path("A.vrp"), "dimacs", bks=100.0),
        bench.Instance("B", Path("B.txt"), Path("B.vrp"), "dimacs", bks=200.0),
    ]
    results = [
        [_run("lastmile", 1020), _run("pyvrp", 1010)],  # +2 %, +1 %
        [_run("lastmile", 2000), _run("pyvrp", None, error="x")],  # 0 %, failed
    ]
    rows, geo, counted = bench.summarise(insts, results, ["lastmile", "pyvrp"])
    by = {r.solver: r for r in rows}
    assert by["lastmile"].complete == 2 and by["pyvrp"].complete == 1
    assert by["lastmile"].mean_gap_pct == pytest.approx(1.0)
    assert by["lastmile"].common_gap_pct == pytest.approx(2.0)  # only A: both completed
    assert by["pyvrp"].mean_gap_pct == pytest.approx(1.0)
    assert counted == 1 and geo == pytest.approx(1020 / 1010)


def test_instance_lists_carry_the_matching_bks() -> None:
    solomon = bench.list_instances(bench.SETS["solomon"], rounding="dimacs")
    assert len(solomon) == 56
    assert all(i.bks is not None and i.bks_objective == "distance_dimacs" for i in solomon)
    c101 = next(i for i in solomon if i.name == "C101")
    assert c101.bks == pytest.approx(827.3)
    assert c101.problem_path.suffix == ".txt" and c101.vrplib_path.suffix == ".vrp"
    assert all(i.problem_path.exists() and i.vrplib_path.exists() for i in solomon)
    assert len(bench.list_instances(bench.SETS["homberger1000"], rounding="dimacs")) == 6
    cvrp = bench.list_instances(bench.SETS["cvrp"], rounding="round", only=["x-n101-k25"])
    assert [(i.name, i.bks) for i in cvrp] == [("X-n101-k25", 27591.0)]
    # no BKS was computed under nint rounding for Solomon: no gap rather than a wrong one
    assert (
        bench.list_instances(bench.SETS["solomon"], rounding="round", only=["C101"])[0].bks is None
    )
    with pytest.raises(SystemExit, match="C999"):
        bench.list_instances(bench.SETS["solomon"], rounding="dimacs", only=["C999"])


def test_routes_to_plan_matches_the_bks() -> None:
    problem = read_solomon(DATA / "C101.txt")
    routes = read_vrplib_solution(DATA / "C101.sol")
    plan = bench.routes_to_plan(problem, routes[:-1], engine="bks", runtime_s=0.0)
    left = {u.order_id for u in plan.unassigned}
    assert left == set(routes[-1])
    run = bench.check_plan(problem, plan, bench.SolverRun("bks", "C101", 10))
    assert run.unassigned == len(routes[-1]) and not run.complete
    full = bench.routes_to_plan(problem, routes, engine="bks", runtime_s=0.0)
    run = bench.check_plan(problem, full, bench.SolverRun("bks", "C101", 10))
    assert run.complete and run.cost == 8273 and run.vehicles == 10
    assert bench.gap_pct(run.distance, 827.3) == pytest.approx(0.0)


@pytest.mark.slow
def test_every_solver_on_a_tiny_instance(tmp_path: Path) -> None:
    """One second per solver on 10 customers; peers' results convert and validate."""
    inst = bench.Instance("C101_10", DATA / "C101_10.txt", DATA / "C101_10.vrp", "dimacs")
    runs = bench.run_instance(inst, solvers=bench.SOLVERS, time_limit=1.0, workers=1)
    by = {r.solver: r for r in runs}
    assert list(by) == list(bench.SOLVERS)
    for name in bench.PEERS:
        run = by[name]
        assert run.complete, (name, run.error, run.violation_codes)
        assert run.cost == run.own_cost, name  # our recount equals the solver's own objective
        assert run.runtime_s < 10
    ours = by["lastmile"]
    # lastmile either plans completely or says why it could not; never a made-up figure
    assert ours.complete or (ours.error and ours.cost is None)
    table = bench.instance_table(inst, runs)
    assert table.row_count == 4

    # the command line end to end, on a folder laid out like benchmarks/instances
    root = tmp_path / "instances"
    (root / "solomon" / "vrplib").mkdir(parents=True)
    shutil.copy(DATA / "C101_10.txt", root / "solomon")
    shutil.copy(DATA / "C101_10.vrp", root / "solomon" / "vrplib")
    out = tmp_path / "out.json"
    argv = ["benchmarks/planning.py", "--root", str(root), "--peers", "vroom"]
    argv += ["--time-limit", "1", "--workers", "1", "--json", str(out)]
    assert bench.main(argv) == 0
    saved = json.loads(out.read_text())
    assert saved["command"].endswith("--json " + str(out))
    assert [r["solver"] for r in saved["instances"][0]["runs"]] == ["lastmile", "vroom"]


def test_families_and_instance_selection() -> None:
    assert [bench.family(n) for n in ("C1_10_4", "C104", "RC208", "RC2_10_10", "X-n101-k25")] == [
        "C1",
        "C1",
        "RC2",
        "RC2",
        "X",
    ]
    gh = bench.SETS["homberger1000"]
    default = bench.list_instances(gh, rounding="dimacs")
    assert [i.name for i in default] == [
        f"{f}_10_1" for f in ("C1", "C2", "R1", "R2", "RC1", "RC2")
    ]
    two = bench.list_instances(gh, rounding="dimacs", families=["all"], per_family=2)
    assert [i.name for i in two][:4] == ["C1_10_1", "C1_10_2", "C2_10_1", "C2_10_2"]
    assert len(two) == 12 and all(i.bks for i in two)
    rc2 = bench.list_instances(gh, rounding="dimacs", families=["rc2"])
    assert len(rc2) == 10 and rc2[-1].name == "RC2_10_10"
    # instances without a classic .txt copy are read from their VRPLIB file
    assert rc2[0].problem_path.suffix == ".txt" and rc2[1].problem_path.suffix == ".vrp"
    with pytest.raises(SystemExit, match="famil"):
        bench.list_instances(gh, rounding="dimacs", families=["Z9"])


def test_family_gaps_average_what_each_solver_completed() -> None:
    insts = [
        bench.Instance("C1_10_1", Path("a"), Path("a"), "dimacs", bks=100.0),
        bench.Instance("C1_10_2", Path("b"), Path("b"), "dimacs", bks=200.0),
        bench.Instance("R1_10_1", Path("c"), Path("c"), "dimacs", bks=100.0),
    ]
    results = [
        [_run("lastmile", 1010), _run("pyvrp", 1020)],  # +1 %, +2 %
        [_run("lastmile", 2060), _run("pyvrp", 2020)],  # +3 %, +1 %
        [_run("lastmile", 1050), _run("pyvrp", None, error="x")],
    ]
    rows = {r.family: r for r in bench.family_gaps(insts, results, ["lastmile", "pyvrp"])}
    assert rows["C1"].instances == 2
    assert rows["C1"].gaps["lastmile"][0] == pytest.approx(2.0)
    assert rows["C1"].gaps["pyvrp"] == (pytest.approx(1.5), 2)
    assert rows["R1"].gaps["pyvrp"] == (None, 0)
