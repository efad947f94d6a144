"""Realistic VROOM-format problems: lastmile against pyvroom, side by side.

Each problem is a generated delivery day (:func:`lastmile.simulate.city_day`:
several hundred orders with deliveries, returns, shop->customer shipments,
chilled and heavy goods needing skills, two windows on some customers, setup
and service times, vans and cargo bikes on their own travel profiles, lunch
breaks), written to VROOM's JSON problem format with custom matrices. Both
solvers then read that same file:

* lastmile: ``formats.vroom.read_problem`` + ``planning.solve`` (engine auto,
  every core, time limit T);
* pyvroom, called directly: ``vroom.Input.from_json`` + ``solve(exploration_level=5,
  nb_threads=2, timeout=T)``. VROOM's timeout covers its local search only, so
  its wall time is printed too.

Both answers are checked by ``lastmile.planning.validate`` under the same rules.

    .venv/bin/python benchmarks/realistic.py --time-limit 20
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import vroom
from rich.console import Console
from rich.table import Table

from lastmile.domain import Plan, Unassigned, VisitKind
from lastmile.formats.vroom import read_problem, write_problem
from lastmile.planning import solve
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import validate
from lastmile.simulate import city_day

HERE = Path(__file__).resolve().parent
CACHE = HERE.parent / ".cache" / "benchmarks" / "realistic"

#: (seed, orders, vans, bikes)
SPECS = ((11, 300, 12, 3), (12, 400, 16, 4), (13, 500, 20, 4))


@dataclass
class Result:
    solver: str
    cost: float | None = None
    unassigned: int | None = None
    violations: int | None = None
    wall_s: float = 0.0
    error: str = ""


def cached_problem(path: Path, build: Callable[[], PlanningProblem]) -> Path:
    """Write (once) the VROOM JSON of the problem ``build`` makes; return ``path``."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(write_problem(build())))
        tmp.replace(path)
    return path


def make_instance(seed: int, orders: int, vans: int, bikes: int) -> Path:
    """Write (once) the VROOM JSON of one generated day; return its path."""
    return cached_problem(
        CACHE / f"city-{orders}-s{seed}.json",
        lambda: city_day(n_orders=orders, n_vans=vans, n_bikes=bikes, seed=seed),
    )


def vroom_solution_to_plan(problem: PlanningProblem, solution: dict[str, Any]) -> Plan:
    """Map a VROOM solution (dict) of a problem read by lastmile onto a Plan."""
    step_order: dict[tuple[str, str], str] = {}
    for order in problem.orders:
        for stop in order.stops:
            if stop.ref:
                step_order[(order.kind.value, stop.ref)] = order.id
    kinds = {"job": VisitKind.JOB, "pickup": VisitKind.PICKUP, "delivery": VisitKind.DELIVERY}
    routes = []
    served: set[str] = set()
    for route in solution["routes"]:
        vehicle = problem.vehicle(str(route["vehicle"]))
        steps: list[Step] = []
        start_time = None
        for step in route["steps"]:
            kind = step["type"]
            if kind == "start":
                start_time = int(step["arrival"])
            elif kind == "break":
                steps.append(Step(VisitKind.BREAK, break_id=str(step["id"])))
            elif kind in kinds:
                sid = str(step["id"])
                oid = sid if kind == "job" else step_order["shipment", sid]
                served.add(oid)
                steps.append(Step(kinds[kind], order_id=oid))
        routes.append(build_route(problem, vehicle, steps, start_time=start_time))
    unassigned = tuple(
        Unassigned(o.id, "left out by VROOM", "engine")
        for o in problem.orders
        if o.id not in served
    )
    return Plan(tuple(routes), unassigned, "pyvroom")


def run_lastmile(path: Path, seconds: float) -> Result:
    began = time.perf_counter()
    problem = read_problem(path)
    plan = solve(problem, time_limit=seconds, seed=0)
    wall = time.perf_counter() - began
    report = validate(problem, plan)
    return Result(
        f"lastmile ({plan.engine})",
        plan.cost,
        len(plan.unassigned),
        len(report.violations),
        wall,
    )


def run_pyvroom(
    path: Path,
    seconds: float,
    *,
    level: int = 5,
    problem: PlanningProblem | None = None,
) -> Result:
    """pyvroom on the VROOM file at ``path``: 2 threads, ``level``, timeout ``seconds``.

    ``problem`` is the same file as lastmile read it (read here if not given);
    VROOM's routes are laid on it and validated.
    """
    problem = problem if problem is not None else read_problem(path)
    began = time.perf_counter()
    inp = vroom.Input.from_json(path)
    solution = inp.solve(
        exploration_level=level, nb_threads=2, timeout=timedelta(seconds=seconds)
    ).to_dict()
    wall = time.perf_counter() - began
    plan = vroom_solution_to_plan(problem, solution)
    report = validate(problem, plan)
    return Result("pyvroom", report.cost, len(plan.unassigned), len(report.violations), wall)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-limit", type=float, default=20.0)
    parser.add_argument("--only", help="comma-separated order counts, e.g. 300,500")
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    console.print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    console.print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()}")
    specs = [s for s in SPECS if not args.only or str(s[1]) in args.only.split(",")]

    table = Table(title=f"Realistic VROOM-format days, {args.time_limit:g} s per solver")
    for col in ("instance", "solver", "cost", "unassigned", "violations", "wall s", "ratio"):
        table.add_column(col, justify="left" if col in ("instance", "solver") else "right")
    for spec in specs:
        path = make_instance(*spec)
        results = []
        for runner in (run_lastmile, run_pyvroom):
            try:
                results.append(runner(path, args.time_limit))
            except Exception as exc:  # a failing solver is reported, not fatal
                results.append(Result(runner.__name__[4:], error=f"{type(exc).__name__}: {exc}"))
        ours, peer = results
        for res in results:
            ratio = ""
            if res is ours and ours.cost and peer.cost:
                ratio = f"{ours.cost / peer.cost:.4f}"
            table.add_row(
                path.stem,
                res.solver if not res.error else f"{res.solver}: {res.error}",
                f"{res.cost:,.0f}" if res.cost is not None else "-",
                str(res.unassigned) if res.unassigned is not None else "-",
                str(res.violations) if res.violations is not None else "-",
                f"{res.wall_s:.1f}",
                ratio,
            )
        table.add_section()
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
