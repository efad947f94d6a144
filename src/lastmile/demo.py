"""The demo day: what ``make demo`` runs.

Generates a realistic delivery day (see :mod:`lastmile.simulate.scenario`),
plans it with the default engines on every core, checks the plan with the
independent validator, prints the summary and writes the plan as a VROOM
solution and as GeoJSON.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from rich.console import Console

from lastmile.formats.geojson import plan_to_geojson
from lastmile.formats.vroom import write_problem, write_solution
from lastmile.plan_output import print_plan, write_atomically
from lastmile.planning import solve
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.validate import validate
from lastmile.simulate import city_day


def demo_day(*, seed: int = 7, orders: int = 250, waiting_costs: bool = True) -> PlanningProblem:
    """The demo's delivery day; ``waiting_costs``: drivers paid by the hour, so
    waiting costs what driving costs (the service's default)."""
    problem = city_day(n_orders=orders, n_vans=12, n_bikes=3, seed=seed)
    return dataclasses.replace(problem, cost_waiting=waiting_costs)


def run_demo(
    *,
    out_dir: Path,
    time_limit: float = 10.0,
    seed: int = 7,
    orders: int = 250,
    waiting_costs: bool = True,
) -> int:
    """Plan one demo day; return 0 if the plan validates."""
    console = Console(highlight=False)
    began = time.perf_counter()
    problem = demo_day(seed=seed, orders=orders, waiting_costs=waiting_costs)
    console.print(
        f"[bold]{problem.name}[/bold]: {len(problem.orders)} orders, "
        f"{len(problem.vehicles)} vehicles, {len(problem.depots)} depots; "
        f"constraints: {', '.join(sorted(problem.features))}"
    )
    charged = "route duration (waiting too)" if waiting_costs else "driving time only"
    console.print(
        f"planning with up to {time_limit:g} s of wall time; hours charged: {charged} ..."
    )
    plan = solve(problem, time_limit=time_limit, seed=seed)
    report = validate(problem, plan)
    print_plan(console, problem, plan, valid=report.ok)
    # VROOM's format has no waiting costs: the file holds the day, charged as VROOM does.
    as_vroom = dataclasses.replace(problem, cost_waiting=False)
    write_atomically(out_dir / "problem.json", json.dumps(write_problem(as_vroom)) + "\n")
    write_atomically(
        out_dir / "plan.json",
        json.dumps(write_solution(problem, plan, computing_time_s=plan.runtime_s), indent=1) + "\n",
    )
    write_atomically(out_dir / "plan.geojson", json.dumps(plan_to_geojson(problem, plan)) + "\n")
    console.print(
        f"wrote {out_dir}/problem.json, plan.json, plan.geojson "
        f"in {time.perf_counter() - began:.1f} s in all"
    )
    for v in report.violations[:20]:
        console.print(f"[red]violation[/red] {v.code}: {v.message}")
    return 0 if report.ok else 1
