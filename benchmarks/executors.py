"""Executors: one generated day planned on 1 and 2 local worker processes, on a
2-process local pool executor, and on a 2-worker Dask ``LocalCluster``.

The same problem (:func:`lastmile.simulate.random_matrix_problem`, ``--orders``
orders, one vehicle per 4: the fleet fits the day, so large days are decomposed) and
the same time limit for each, one after the other in this process, so they share the
machine alike:

* ``processes x1`` / ``processes x2``: ``solve(problem, workers=N)``, the
  default path (child processes of this one, started with fork);
* ``local pool x2``: ``solve(problem, executor=pool)`` with
  ``open_executor(None, workers=2)`` (forkserver processes, started before the clock);
* ``dask x2``: ``solve(problem, executor=ex)`` with
  ``open_executor(cluster.scheduler_address)`` on ``LocalCluster(n_workers=2,
  processes=True, threads_per_worker=1)`` (workers warmed before the clock).

Printed per run: the plan's cost, orders left out, the planner's label and the
wall time of ``solve``; last, the cost of each against ``processes x2``.

    .venv/bin/python benchmarks/executors.py --orders 500 --time-limit 10
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import time

from rich.console import Console
from rich.table import Table

from lastmile.domain import Plan
from lastmile.planning import solve
from lastmile.planning.executors import open_executor
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.validate import validate
from lastmile.simulate import random_matrix_problem


def run(
    name: str, problem: PlanningProblem, limit: float, **kwargs: object
) -> tuple[str, Plan, float]:
    began = time.perf_counter()
    plan = solve(problem, time_limit=limit, seed=0, **kwargs)  # type: ignore[arg-type]
    wall = time.perf_counter() - began
    assert validate(problem, plan).ok, name
    return name, plan, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    console = Console()
    problem = random_matrix_problem(
        n_orders=args.orders, n_vehicles=max(2, -(-args.orders // 4)), seed=args.seed
    )
    console.print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at start; {args.orders} orders, "
        f"{args.time_limit:g} s per run"
    )
    limit = args.time_limit
    results = [
        run("processes x1", problem, limit, workers=1),
        run("processes x2", problem, limit, workers=2),
    ]
    with open_executor(None, workers=2) as pool:
        results.append(run("local pool x2", problem, limit, executor=pool))
    from distributed import LocalCluster

    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    with (
        LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        ) as cluster,
        open_executor(cluster.scheduler_address) as executor,
    ):
        results.append(run("dask x2", problem, limit, executor=executor))
    reference = results[1][1].cost
    table = Table("run", "cost", "unassigned", "label", "wall s", "cost / processes x2")
    for name, plan, wall in results:
        table.add_row(
            name,
            f"{plan.cost:,}",
            str(len(plan.unassigned)),
            plan.engine,
            f"{wall:.2f}",
            f"{plan.cost / reference:.3f}",
        )
    console.print(table)
    console.print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
