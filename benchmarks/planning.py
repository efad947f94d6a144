"""Route planning quality: lastmile against PyVRP, VROOM and OR-Tools, side by side.

For every instance of a benchmark set, in the same run and one after the
other (never concurrently, so each has the machine to itself) with the same
wall-time limit:

* lastmile: ``lastmile.planning.solve(problem, engine="auto", time_limit=T, seed=0)``;
* PyVRP, called directly: ``pyvrp.read(<VRPLIB copy>, round_func=<rounding>)`` and
  ``pyvrp.solve(data, stop=MaxRuntime(T), seed=0)``;
* pyvroom, called directly: its own ``vroom.Input`` with the same integer matrices,
  exploration level 5, 2 threads, timeout T;
* OR-Tools, called directly: its own routing model, guided local search, limit T.

Every peer's routes are turned into a lastmile plan with
:func:`lastmile.planning.schedule.build_route` and checked by
:func:`lastmile.planning.validate.validate`, so all costs are counted by the
same rules and every violation shows. Costs are printed in instance units
(``cost / time_scale``) next to the best-known solution of the same rounding
convention. Run ``python benchmarks/planning.py --help`` for the options;
docs/benchmarks.md explains the conventions.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lastmile.domain import Plan, Unassigned, VisitKind
from lastmile.formats.any import read_any
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.schedule import Step, build_route

HERE = Path(__file__).resolve().parent
INSTANCES = HERE / "instances"

SOLVERS = ("lastmile", "pyvrp", "vroom", "ortools")
PEERS = ("pyvrp", "vroom", "ortools")


@dataclass(frozen=True)
class BenchmarkSet:
    """Where a set's files are and which rounding / BKS row it is compared under."""

    name: str
    folder: str
    classic: bool  # instances also come in Solomon text format (*.txt)
    default_rounding: str
    #: rounding -> objective column of bks.csv that was computed under it
    bks_objective: dict[str, str]
    #: what runs when neither --instances nor --families is given (empty: all)
    default_instances: tuple[str, ...] = ()


SETS: dict[str, BenchmarkSet] = {
    "solomon": BenchmarkSet(
        "solomon",
        "solomon",
        True,
        "dimacs",
        {"dimacs": "distance_dimacs", "exact": "distance_double"},
    ),
    "homberger1000": BenchmarkSet(
        "homberger1000",
        "homberger1000",
        True,
        "dimacs",
        {"dimacs": "distance_dimacs"},
        default_instances=tuple(
            f"{family}_10_1" for family in ("C1", "C2", "R1", "R2", "RC1", "RC2")
        ),
    ),
    "cvrp": BenchmarkSet("cvrp", "cvrplib_x", False, "round", {"round": "distance_round"}),
}


@dataclass(frozen=True)
class Instance:
    """One benchmark instance: the file lastmile reads and the VRPLIB copy PyVRP reads."""

    name: str
    problem_path: Path
    vrplib_path: Path
    rounding: str
    bks: float | None = None  # total distance in instance units, same rounding
    bks_vehicles: int | None = None
    bks_objective: str = ""


@dataclass
class SolverRun:
    """What one solver achieved on one instance. Costs are in scaled matrix units."""

    solver: str
    instance: str
    time_scale: int = 1
    cost: int | None = None  # lastmile objective of the plan (recomputed by build_route)
    own_cost: int | None = None  # the objective the solver itself reported
    vehicles: int | None = None
    unassigned: int | None = None
    violations: int | None = None  # None: the validator is not available
    runtime_s: float = 0.0
    error: str = ""
    violation_codes: list[str] = field(default_factory=list)
    engine: str = ""  # what the solver reported it used (lastmile: its portfolio label)
    time_limit_s: float = 0.0

    @property
    def overran(self) -> bool:
        """Took noticeably longer than the limit it was given (10 % + 0.5 s of slack)."""
        return self.time_limit_s > 0 and self.runtime_s > 1.1 * self.time_limit_s + 0.5

    @property
    def complete(self) -> bool:
        """Served every order and broke no rule (as far as the validator can tell)."""
        return (
            not self.error
            and self.cost is not None
            and self.unassigned == 0
            and (self.violations or 0) == 0
        )

    @property
    def distance(self) -> float | None:
        """The total distance in instance units."""
        return None if self.cost is None else self.cost / self.time_scale


# -- arithmetic ------------------------------------------------------------------


def gap_pct(distance: float | None, bks: float | None) -> float | None:
    """Percent above the best-known solution (negative: better than BKS)."""
    if distance is None or not bks:
        return None
    return 100.0 * (distance - bks) / bks


def best_peer(runs: Sequence[SolverRun]) -> SolverRun | None:
    """The complete peer run with the lowest cost (ties: first listed)."""
    done = [r for r in runs if r.solver != "lastmile" and r.complete and r.cost is not None]
    return min(done, key=lambda r: r.cost or 0) if done else None


def ratio_to_best_peer(runs: Sequence[SolverRun]) -> tuple[float | None, str]:
    """lastmile cost / best peer cost (< 1: lastmile is better), and that peer's name."""
    ours = next((r for r in runs if r.solver == "lastmile"), None)
    peer = best_peer(runs)
    if ours is None or peer is None or not ours.complete or not peer.cost:
        return None, peer.solver if peer else ""
    return (ours.cost or 0) / peer.cost, peer.solver


# -- instances -------------------------------------------------------------------


def load_bks(path: Path) -> dict[tuple[str, str], tuple[float, int]]:
    """(instance, objective) -> (distance, vehicles) from a bks.csv."""
    table: dict[tuple[str, str], tuple[float, int]] = {}
    if not path.exists():
        return table
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            table[(row["instance"], row["objective"])] = (
                float(row["distance"]),
                int(row["vehicles"]),
            )
    return table


def family(name: str) -> str:
    """The instance family: ``C1`` for C1_10_4 and C104, ``X`` for X-n101-k25."""
    if "_" in name:
        return name.split("_", 1)[0]
    if name.startswith("X-"):
        return "X"
    head = name.rstrip("0123456789")
    return name[: len(head) + 1]


def list_instances(
    bench: BenchmarkSet,
    *,
    rounding: str,
    only: Sequence[str] = (),
    families: Sequence[str] = (),
    per_family: int | None = None,
    root: Path = INSTANCES,
) -> list[Instance]:
    """The set's instances, sorted by name.

    ``only`` keeps those names (case-insensitive), ``families`` those families
    (``all``: every family; see :func:`family`) and ``per_family`` the first N
    of each family. With neither ``only`` nor ``families``, the set's default
    instances. A classic set's instance without a ``.txt`` copy is read from its
    ``.vrp`` (the same instance, field by field).
    """
    folder = root / bench.folder
    vrp_folder = folder / "vrplib" if bench.classic else folder
    bks = load_bks(folder / "bks.csv")
    objective = bench.bks_objective.get(rounding, "")
    if not only and not families:
        only = bench.default_instances
    wanted = {name.upper() for name in only}
    fams = {f.upper() for f in families}
    every_family = "ALL" in fams
    out = []
    taken: dict[str, int] = {}
    for vrp in sorted(vrp_folder.glob("*.vrp"), key=lambda p: _natural(p.stem)):
        name = vrp.stem
        if wanted and name.upper() not in wanted:
            continue
        fam = family(name)
        if fams and not every_family and fam.upper() not in fams:
            continue
        if per_family is not None and taken.get(fam, 0) >= per_family:
            continue
        taken[fam] = taken.get(fam, 0) + 1
        problem_path = folder / f"{name}.txt" if bench.classic else vrp
        if not problem_path.exists():
            problem_path = vrp
        best = bks.get((name, objective))
        out.append(
            Instance(
                name=name,
                problem_path=problem_path,
                vrplib_path=vrp,
                rounding=rounding,
                bks=best[0] if best else None,
                bks_vehicles=best[1] if best else None,
                bks_objective=objective if best else "",
            )
        )
    missing = wanted - {i.name.upper() for i in out}
    if missing and per_family is None:
        raise SystemExit(f"unknown instance(s) in set {bench.name}: {', '.join(sorted(missing))}")
    unknown = fams - {"ALL"} - {family(i.name).upper() for i in out}
    if unknown:
        raise SystemExit(f"unknown famil(ies) in set {bench.name}: {', '.join(sorted(unknown))}")
    return out


def _natural(name: str) -> tuple[Any, ...]:
    """Sort key that puts X-n148 before X-n1001."""
    parts: list[Any] = []
    digits = ""
    for ch in name + " ":
        if ch.isdigit():
            digits += ch
            continue
        if digits:
            parts.append(int(digits))
            digits = ""
        parts.append(ch)
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in parts)


# -- turning any solver's routes into a checked lastmile plan ----------------------


def routes_to_plan(
    problem: PlanningProblem, routes: Sequence[Sequence[str]], *, engine: str, runtime_s: float
) -> Plan:
    """Schedule order-id routes on the problem's vehicles (k-th route, k-th vehicle).

    Orders on no route become unassigned. Raises ValueError if there are more
    non-empty routes than vehicles.
    """
    routes = [list(r) for r in routes if r]
    if len(routes) > len(problem.vehicles):
        raise ValueError(f"{len(routes)} routes for {len(problem.vehicles)} vehicles")
    built = tuple(
        build_route(problem, vehicle, [Step(VisitKind.JOB, order_id=oid) for oid in route])
        for vehicle, route in zip(problem.vehicles, routes, strict=False)
    )
    served = {oid for route in routes for oid in route}
    left = tuple(
        Unassigned(o.id, f"not served by {engine}") for o in problem.orders if o.id not in served
    )
    return Plan(built, left, engine, runtime_s)


def check_plan(problem: PlanningProblem, plan: Plan, run: SolverRun) -> SolverRun:
    """Fill cost, vehicles, unassigned and violations of ``run`` from ``plan``."""
    run.cost = plan.cost
    run.engine = plan.engine
    run.vehicles = plan.num_vehicles
    run.unassigned = len(plan.unassigned)
    try:
        from lastmile.planning.validate import validate
    except ImportError as exc:  # the validator is optional while it is being written
        run.error = run.error or f"validator unavailable: {exc}"
        return run
    report = validate(problem, plan)
    run.violations = len(report.violations)
    run.violation_codes = sorted({v.code for v in report.violations})
    return run


@dataclass(frozen=True)
class _Flat:
    """A benchmark problem as the arrays the peers' models take.

    Node 0 is the depot; node ``k`` serves ``order_ids[k - 1]``.
    """

    order_ids: list[str]
    locations: list[int]  # matrix row per node
    demand: list[int]
    service: list[int]
    windows: list[tuple[int, int] | None]  # per node; node 0 = depot/shift window
    capacity: int
    num_vehicles: int


def flatten(problem: PlanningProblem) -> _Flat:
    """Check the problem is a plain (C)VRP(TW) and lay it out for the peers' models."""
    if len(problem.depots) != 1 or len(problem.dimensions) != 1:
        raise ValueError("the peers' models take one depot and one capacity dimension")
    vtypes = {v.type for v in problem.vehicles}
    if len(vtypes) != 1:
        raise ValueError("the peers' models take one vehicle type")
    vehicle = problem.vehicles[0]
    depot = problem.depots[0]
    shift = vehicle.shift
    start = max(shift.start, depot.time_window.start)
    end = min(shift.end, depot.time_window.end)
    depot_window = (start, end) if (shift.is_bounded or depot.time_window.is_bounded) else None
    order_ids, locations, demand, service = [], [depot.location], [0], [0]
    windows: list[tuple[int, int] | None] = [depot_window]
    for order in problem.orders:
        stop = order.single_stop
        if order.kind.value != "delivery" or len(stop.time_windows) > 1 or stop.setup:
            raise ValueError(f"order {order.id!r} is not a plain delivery with <= 1 window")
        order_ids.append(order.id)
        locations.append(stop.location)
        demand.append(problem.amount(order)[0])
        service.append(stop.service)
        tw = stop.time_windows[0] if stop.time_windows else None
        windows.append((tw.start, tw.end) if tw is not None and tw.is_bounded else None)
    return _Flat(
        order_ids, locations, demand, service, windows, vehicle.capacity[0], len(problem.vehicles)
    )


# -- the solvers -------------------------------------------------------------------


def run_lastmile(
    instance: Instance, problem: PlanningProblem, time_limit: float, workers: int | None
) -> tuple[Plan, int | None]:
    try:
        from lastmile.planning import solve
    except ImportError as exc:
        raise RuntimeError(f"lastmile.planning.solve is not available: {exc}") from exc
    plan = solve(problem, engine="auto", time_limit=time_limit, seed=0, workers=workers)
    return plan, plan.cost


def run_pyvrp(
    instance: Instance, problem: PlanningProblem, time_limit: float, workers: int | None
) -> tuple[Plan, int | None]:
    import pyvrp
    from pyvrp.stop import MaxRuntime

    began = time.perf_counter()
    data = pyvrp.read(instance.vrplib_path, round_func=instance.rounding)
    result = pyvrp.solve(data, stop=MaxRuntime(time_limit), seed=0, display=False)
    by_location = {o.single_stop.location: o.id for o in problem.orders}
    routes = [
        [by_location[data.client(a.idx).location] for a in route if a.is_client()]
        for route in result.best.routes()
    ]
    own = int(result.cost()) if result.is_feasible() else None
    return routes_to_plan(
        problem, routes, engine="pyvrp", runtime_s=time.perf_counter() - began
    ), own


def run_vroom(
    instance: Instance, problem: PlanningProblem, time_limit: float, workers: int | None
) -> tuple[Plan, int | None]:
    import vroom

    began = time.perf_counter()
    flat = flatten(problem)
    matrix = problem.matrices[problem.vehicles[0].type.profile]
    profile = "car"
    inp = vroom.Input()
    inp.set_durations_matrix(profile, matrix.durations)
    inp.set_costs_matrix(profile, matrix.distances)
    depot_window = flat.windows[0]
    for k in range(flat.num_vehicles):
        inp.add_vehicle(
            vroom.Vehicle(
                k,
                start=flat.locations[0],
                end=flat.locations[0],
                profile=profile,
                capacity=[flat.capacity],
                time_window=vroom.TimeWindow(*depot_window) if depot_window else None,
            )
        )
    inp.add_job(
        [
            vroom.Job(
                node,
                location=flat.locations[node],
                default_service=flat.service[node],
                delivery=[flat.demand[node]],
                time_windows=[vroom.TimeWindow(*w)] if (w := flat.windows[node]) else (),
            )
            for node in range(1, len(flat.locations))
        ]
    )
    solution = inp.solve(
        exploration_level=5, nb_threads=2, timeout=timedelta(seconds=time_limit)
    ).to_dict()
    routes = [
        [flat.order_ids[step["id"] - 1] for step in route["steps"] if step["type"] == "job"]
        for route in solution["routes"]
    ]
    return routes_to_plan(
        problem, routes, engine="vroom", runtime_s=time.perf_counter() - began
    ), int(solution["summary"]["cost"])


def run_ortools(
    instance: Instance, problem: PlanningProblem, time_limit: float, workers: int | None
) -> tuple[Plan, int | None]:
    import numpy as np
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    began = time.perf_counter()
    flat = flatten(problem)
    matrix = problem.matrices[problem.vehicles[0].type.profile]
    rows = np.asarray(flat.locations)
    dist = matrix.distances[np.ix_(rows, rows)]
    dur = matrix.durations[np.ix_(rows, rows)]
    n = len(rows)
    manager = pywrapcp.RoutingIndexManager(n, flat.num_vehicles, 0)
    model = pywrapcp.RoutingModel(manager)
    model.SetArcCostEvaluatorOfAllVehicles(model.RegisterTransitMatrix(dist.tolist()))
    demand = model.RegisterUnaryTransitVector(flat.demand)
    model.AddDimensionWithVehicleCapacity(
        demand, 0, [flat.capacity] * flat.num_vehicles, True, "load"
    )
    if any(w is not None for w in flat.windows):
        # service is counted on the arc leaving a node: cumul = service start time
        travel = dur + np.asarray(flat.service)[:, None]
        bounded = [w for w in flat.windows if w is not None]
        horizon = max(e for _, e in bounded)
        model.AddDimension(
            model.RegisterTransitMatrix(travel.tolist()), horizon, horizon, False, "time"
        )
        clock = model.GetDimensionOrDie("time")
        for node in range(1, n):
            window = flat.windows[node]
            if window is not None:
                clock.CumulVar(manager.NodeToIndex(node)).SetRange(*window)
        if flat.windows[0] is not None:
            for v in range(flat.num_vehicles):
                clock.CumulVar(model.Start(v)).SetRange(*flat.windows[0])
                clock.CumulVar(model.End(v)).SetRange(*flat.windows[0])
    params = pywrapcp.DefaultRoutingSearchParameters()
    if any(w is not None for w in flat.windows[1:]):
        # The default first solution (path cheapest arc) often finds nothing
        # on tight windows with a fixed fleet (e.g. R101, RC101 in 2 s).
        params.first_solution_strategy = (
            routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
        )
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    remaining = max(0.1, time_limit - (time.perf_counter() - began))
    params.time_limit.FromMilliseconds(int(remaining * 1000))
    solution = model.SolveWithParameters(params)
    if solution is None:
        raise RuntimeError("OR-Tools found no solution within the time limit")
    routes = []
    for v in range(flat.num_vehicles):
        index = solution.Value(model.NextVar(model.Start(v)))
        route = []
        while not model.IsEnd(index):
            route.append(flat.order_ids[manager.IndexToNode(index) - 1])
            index = solution.Value(model.NextVar(index))
        routes.append(route)
    return routes_to_plan(
        problem, routes, engine="ortools", runtime_s=time.perf_counter() - began
    ), int(solution.ObjectiveValue())


RUNNERS: dict[
    str, Callable[[Instance, PlanningProblem, float, int | None], tuple[Plan, int | None]]
] = {
    "lastmile": run_lastmile,
    "pyvrp": run_pyvrp,
    "vroom": run_vroom,
    "ortools": run_ortools,
}


def run_solver(
    name: str,
    instance: Instance,
    problem: PlanningProblem,
    *,
    time_limit: float,
    workers: int | None = None,
) -> SolverRun:
    """Run one solver on one instance; failures become ``error``, never a fake result."""
    run = SolverRun(name, instance.name, problem.time_scale, time_limit_s=time_limit)
    began = time.perf_counter()
    try:
        plan, own = RUNNERS[name](instance, problem, time_limit, workers)
    except Exception as exc:  # a broken solver must not stop the benchmark
        run.runtime_s = time.perf_counter() - began
        run.error = f"{type(exc).__name__}: {exc}".strip()
        if os.environ.get("LASTMILE_BENCH_TRACE"):
            traceback.print_exc()
        return run
    run.runtime_s = time.perf_counter() - began
    run.own_cost = own
    return check_plan(problem, plan, run)


def run_instance(
    instance: Instance,
    *,
    solvers: Sequence[str],
    time_limit: float,
    workers: int | None = None,
) -> list[SolverRun]:
    """Every solver on ``instance``, one after the other."""
    problem = read_any(instance.problem_path, rounding=instance.rounding)  # type: ignore[arg-type]
    return [
        run_solver(name, instance, problem, time_limit=time_limit, workers=workers)
        for name in solvers
    ]


# -- output ------------------------------------------------------------------------


def _fmt(value: float | None, spec: str) -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else format(value, spec)
    )


def _decimals(scale: int) -> int:
    return max(0, round(math.log10(scale))) if scale > 0 else 0


def instance_table(instance: Instance, runs: Sequence[SolverRun]) -> Table:
    """One instance: a row per solver, with the ratio lastmile / best peer below."""
    ratio, peer = ratio_to_best_peer(runs)
    bks = (
        f"BKS {instance.bks:g} ({instance.bks_vehicles} veh, {instance.bks_objective})"
        if instance.bks is not None
        else "no BKS for this rounding"
    )
    caption = (
        f"lastmile / best peer ({peer}) = {ratio:.4f}"
        if ratio is not None
        else "lastmile / best peer: -"
    )
    table = Table(title=f"{instance.name}  [{bks}]", caption=caption, title_justify="left")
    for col in ("solver", "cost", "veh", "gap %", "unassigned", "violations", "time s", "note"):
        table.add_column(col, justify="left" if col in ("solver", "note") else "right")
    for r in runs:
        digits = _decimals(r.time_scale)
        note = r.error
        if not note and r.own_cost is not None and r.cost is not None and r.own_cost != r.cost:
            note = f"own cost {r.own_cost / r.time_scale:.{digits}f}"
        if not note and r.violation_codes:
            note = ", ".join(r.violation_codes)
        if r.overran:
            note = f"over the {r.time_limit_s:g} s limit" + (f"; {note}" if note else "")
        table.add_row(
            r.solver,
            _fmt(r.distance, f".{digits}f"),
            _fmt(r.vehicles, "d"),
            _fmt(gap_pct(r.distance, instance.bks), "+.2f"),
            _fmt(r.unassigned, "d"),
            "n/a" if r.violations is None and not r.error else _fmt(r.violations, "d"),
            f"{r.runtime_s:.1f}",
            note[:160],
        )
    return table


@dataclass
class Summary:
    solver: str
    instances: int
    complete: int
    mean_gap_pct: float | None
    common_gap_pct: float | None  # over the instances every solver completed
    mean_vehicles: float | None
    violations: int
    mean_time_s: float


def summarise(
    instances: Sequence[Instance], results: Sequence[Sequence[SolverRun]], solvers: Sequence[str]
) -> tuple[list[Summary], float | None, int]:
    """Per-solver means over the instances, and the geometric-mean ratio lastmile / best peer.

    ``mean_gap_pct`` averages over the instances the solver completed (every
    order served, no violation; ``complete`` says how many), ``common_gap_pct``
    over the instances that every solver completed, the fair comparison.
    """
    common = [
        k
        for k, runs in enumerate(results)
        if all(any(r.solver == name and r.complete for r in runs) for name in solvers)
    ]
    rows = []
    for name in solvers:
        gaps: list[float] = []
        common_gaps: list[float] = []
        vehicles: list[int] = []
        times: list[float] = []
        violations = complete = 0
        for k, (inst, runs) in enumerate(zip(instances, results, strict=True)):
            run = next((r for r in runs if r.solver == name), None)
            if run is None:
                continue
            times.append(run.runtime_s)
            violations += run.violations or 0
            if run.complete:
                complete += 1
                gap = gap_pct(run.distance, inst.bks)
                if gap is not None:
                    gaps.append(gap)
                    if k in common:
                        common_gaps.append(gap)
                if run.vehicles is not None:
                    vehicles.append(run.vehicles)
        rows.append(
            Summary(
                name,
                len(times),
                complete,
                statistics.fmean(gaps) if gaps else None,
                statistics.fmean(common_gaps) if common_gaps else None,
                statistics.fmean(vehicles) if vehicles else None,
                violations,
                statistics.fmean(times) if times else 0.0,
            )
        )
    ratios = [r for runs in results if (r := ratio_to_best_peer(runs)[0]) is not None]
    geo = math.exp(statistics.fmean(math.log(r) for r in ratios)) if ratios else None
    return rows, geo, len(ratios)


def summary_tables(
    instances: Sequence[Instance], results: Sequence[Sequence[SolverRun]], solvers: Sequence[str]
) -> tuple[Table, Table]:
    """An instance-by-solver gap overview and the per-solver means."""
    overview = Table(title="gap % to BKS per instance (x: not complete)", title_justify="left")
    overview.add_column("instance")
    overview.add_column("BKS", justify="right")
    for name in solvers:
        overview.add_column(name, justify="right")
    overview.add_column("lastmile / best peer", justify="right")
    for inst, runs in zip(instances, results, strict=True):
        cells = []
        for name in solvers:
            run = next((r for r in runs if r.solver == name), None)
            if run is None:
                cells.append("")
            elif not run.complete:
                cells.append("x")
            else:
                cells.append(_fmt(gap_pct(run.distance, inst.bks), "+.2f"))
        ratio, _ = ratio_to_best_peer(runs)
        overview.add_row(inst.name, _fmt(inst.bks, "g"), *cells, _fmt(ratio, ".4f"))

    rows, geo, counted = summarise(instances, results, solvers)
    means = Table(
        title="means per solver",
        caption=(
            f"lastmile / best peer, geometric mean over {counted} instance(s): {geo:.4f}"
            if geo is not None
            else "lastmile / best peer: no instance where both completed"
        ),
        title_justify="left",
    )
    columns = ("solver", "instances", "complete", "mean gap %", "gap % (all complete)")
    for col in (*columns, "mean veh", "violations"):
        means.add_column(col, justify="left" if col == "solver" else "right")
    means.add_column("mean time s", justify="right")
    for s in rows:
        means.add_row(
            s.solver,
            str(s.instances),
            str(s.complete),
            _fmt(s.mean_gap_pct, "+.2f"),
            _fmt(s.common_gap_pct, "+.2f"),
            _fmt(s.mean_vehicles, ".1f"),
            str(s.violations),
            f"{s.mean_time_s:.1f}",
        )
    return overview, means


@dataclass
class FamilyRow:
    family: str
    instances: int
    #: solver -> (mean gap % over the instances it completed, how many it completed)
    gaps: dict[str, tuple[float | None, int]]


def family_gaps(
    instances: Sequence[Instance], results: Sequence[Sequence[SolverRun]], solvers: Sequence[str]
) -> list[FamilyRow]:
    """Per family, each solver's mean gap to the BKS over the instances it completed."""
    rows: dict[str, FamilyRow] = {}
    for inst in instances:
        row = rows.setdefault(family(inst.name), FamilyRow(family(inst.name), 0, {}))
        row.instances += 1
    for fam, row in rows.items():
        for name in solvers:
            gaps = [
                gap
                for inst, runs in zip(instances, results, strict=True)
                if family(inst.name) == fam
                for r in runs
                if r.solver == name and r.complete
                if (gap := gap_pct(r.distance, inst.bks)) is not None
            ]
            row.gaps[name] = (statistics.fmean(gaps) if gaps else None, len(gaps))
    return list(rows.values())


def family_table(rows: Sequence[FamilyRow], solvers: Sequence[str]) -> Table:
    """Mean gap % per family, solvers side by side, and whether lastmile is below each peer."""
    table = Table(title="mean gap % to BKS per family (instances completed)", title_justify="left")
    table.add_column("family")
    table.add_column("instances", justify="right")
    for name in solvers:
        table.add_column(name, justify="right")
    peers = [s for s in solvers if s != "lastmile"]
    for peer in peers:
        table.add_column(f"lastmile below {peer}", justify="right")
    for row in rows:
        cells = [
            f"{_fmt(gap, '+.2f')} ({done})" for gap, done in (row.gaps[name] for name in solvers)
        ]
        ours = row.gaps.get("lastmile", (None, 0))
        verdicts = []
        for peer in peers:
            theirs = row.gaps[peer]
            if ours[0] is None or theirs[0] is None or ours[1] < theirs[1]:
                verdicts.append("no" if ours[1] < theirs[1] else "-")
            else:
                verdicts.append("yes" if ours[0] < theirs[0] else "no")
        table.add_row(row.family, str(row.instances), *cells, *verdicts)
    return table


def command_line(argv: Sequence[str]) -> str:
    """The command as typed from the current directory (interpreter included)."""
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):  # keep it absolute when outside the cwd
        python = python.relative_to(Path.cwd())
    script = Path(argv[0]) if argv else Path(__file__)
    return shlex.join([str(python), str(script), *argv[1:]])


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in ("lastmile", "pyvrp", "pyvroom", "ortools"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    try:
        commit = subprocess.run(
            ["git", "-C", str(HERE), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_1_5_15min": load,
        "python": platform.python_version(),
        "versions": versions,
        "commit": commit,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="benchmarks/planning.py",
        description="lastmile against PyVRP, VROOM and OR-Tools on published instances.",
    )
    parser.add_argument("--set", choices=sorted(SETS), default="solomon", dest="bench")
    parser.add_argument("--time-limit", type=float, default=5.0, help="seconds per solver")
    parser.add_argument("--instances", default="", help="comma-separated names, e.g. C101,R101")
    parser.add_argument(
        "--families",
        default="",
        help="comma-separated families, e.g. C1,R2 (or 'all'); "
        "default: the set's usual instances (homberger1000: the six *_10_1)",
    )
    parser.add_argument(
        "--per-family", type=int, default=None, help="only the first N instances of each family"
    )
    parser.add_argument(
        "--peers", default=",".join(PEERS), help=f"comma-separated subset of {','.join(PEERS)}"
    )
    parser.add_argument(
        "--rounding",
        choices=("dimacs", "round", "exact"),
        default=None,
        help="distance convention (default: dimacs for solomon/homberger1000, round for cvrp)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="lastmile worker processes (default: all cores)"
    )
    parser.add_argument("--root", type=Path, default=INSTANCES, help="instances folder")
    parser.add_argument("--json", type=Path, default=None, help="save raw results here")
    args = parser.parse_args(args_in[1:])

    bench = SETS[args.bench]
    rounding = args.rounding or bench.default_rounding
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = set(peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown peer(s): {', '.join(sorted(unknown))}; use {', '.join(PEERS)}")
    solvers = ["lastmile", *peers]
    only = [n.strip() for n in args.instances.split(",") if n.strip()]
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    if args.per_family is not None and args.per_family < 1:
        parser.error(f"--per-family: must be >= 1, got {args.per_family}")
    if args.per_family is not None and not families and not only:
        families = ["all"]
    instances = list_instances(
        bench,
        rounding=rounding,
        only=only,
        families=families,
        per_family=args.per_family,
        root=args.root,
    )

    console = Console(width=None if sys.stdout.isatty() else 120)
    info = machine()
    console.print(f"$ {command_line(args_in)}", highlight=False, soft_wrap=True)
    console.print(
        f"set {bench.name}, {len(instances)} instance(s), rounding {rounding}, "
        f"{args.time_limit:g} s per solver, run one after the other; "
        f"{info['cpu']}, {info['cores']} cores, load {'/'.join(map(str, info['load_1_5_15min']))}; "
        + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
        + (f"; commit {info['commit']}" if info["commit"] else ""),
        highlight=False,
    )
    console.print(
        "lastmile: engine=auto, seed 0, workers "
        + (str(args.workers) if args.workers else "= all cores")
        + "; PyVRP: 1 core, seed 0; VROOM: -x 5, 2 threads; OR-Tools: GLS, 1 core",
        highlight=False,
    )

    results: list[list[SolverRun]] = []
    for inst in instances:
        runs = run_instance(inst, solvers=solvers, time_limit=args.time_limit, workers=args.workers)
        results.append(runs)
        console.print(instance_table(inst, runs))
    overview, means = summary_tables(instances, results, solvers)
    console.print(overview)
    console.print(means)
    console.print(family_table(family_gaps(instances, results, solvers), solvers))
    with contextlib.suppress(OSError):
        load = "/".join(f"{x:.2f}" for x in os.getloadavg())
        console.print(f"load average at the end (1/5/15 min): {load}", highlight=False)

    if args.json:
        payload = {
            "command": command_line(args_in),
            "machine": info,
            "set": bench.name,
            "rounding": rounding,
            "time_limit_s": args.time_limit,
            "instances": [
                {
                    **{k: str(v) if isinstance(v, Path) else v for k, v in asdict(inst).items()},
                    "runs": [asdict(r) for r in runs],
                }
                for inst, runs in zip(instances, results, strict=True)
            ],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        console.print(f"raw results: {args.json}", highlight=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
