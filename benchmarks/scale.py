"""Large delivery days: the decomposed solve at 5,000, 20,000 and 50,000 stops.

Each day is :func:`lastmile.simulate.city_day` (deliveries, returns, shop ->
customer shipments, skills, customer slots, lunch breaks, vans and cargo
bikes on their own profiles) with one vehicle per 100 orders, from a fixed
seed; travel is computed leg by leg from the coordinates
(:class:`~lastmile.travel.lazy.CoordinateMatrix`), as ``lastmile solve`` reads
such a day. Where the whole day still fits one search (5,000 stops), the same
day is also solved whole (dense matrices, ``decompose="off"``) with the same
time limit, and the cost ratio printed.

Every run happens in a fresh process; its peak memory is that process tree's
largest total resident size, sampled every 0.2 s (psutil), next to the
largest single process's (``getrusage``). Every plan is checked by
``lastmile.planning.validate``.

    nice .venv/bin/python benchmarks/scale.py --sizes 5000 --time-limit 60
    nice .venv/bin/python benchmarks/scale.py --sizes 20000 --time-limit 600 --workers 2
    nice .venv/bin/python benchmarks/scale.py --sizes 20000 --workers 2 --no-whole --vehicles 200
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

#: stops -> (seed, orders). By default one vehicle per 100 orders (9 vans for each bike).
DAYS = {5_000: (51, 4_630), 20_000: (52, 18_520), 50_000: (53, 46_300)}


@dataclass
class Run:
    stops: int
    mode: str
    workers: int
    time_limit: float
    vehicles: int | None = None  # the fleet (one bike in ten); None: one per 100 orders


def fleet(orders: int, vehicles: int | None) -> tuple[int, int]:
    """(vans, bikes): ``vehicles`` (default one per 100 orders), one in ten a bike."""
    total = orders // 100 if vehicles is None else vehicles
    bikes = total // 10
    return total - bikes, bikes


def one(run: Run) -> dict[str, Any]:
    """Solve one day in this process (the child) and return the figures."""
    from lastmile.planning import solve
    from lastmile.planning.validate import validate
    from lastmile.simulate import city_day

    seed, orders = DAYS[run.stops]
    vans, bikes = fleet(orders, run.vehicles)
    made = time.perf_counter()
    problem = city_day(
        n_orders=orders,
        n_vans=vans,
        n_bikes=bikes,
        seed=seed,
        lazy=run.mode != "whole",
    )
    made_s = time.perf_counter() - made
    began = time.perf_counter()
    plan = solve(
        problem,
        time_limit=run.time_limit,
        seed=0,
        workers=run.workers,
        decompose="off" if run.mode == "whole" else "on",
    )
    wall = time.perf_counter() - began
    checked = time.perf_counter()
    report = validate(problem, plan)
    return {
        "stops": problem.num_stops,
        "orders": len(problem.orders),
        "vehicles": len(problem.vehicles),
        "seed": seed,
        "engine": plan.engine,
        "cost": plan.cost,
        "routes": len(plan.routes),
        "unassigned": len(plan.unassigned),
        "without_reason": sum(1 for u in plan.unassigned if not u.reason),
        "violations": len(report.violations),
        "wall_s": wall,
        "generate_s": made_s,
        "validate_s": time.perf_counter() - checked,
    }


def measured(run: Run) -> dict[str, Any]:
    """Run ``run`` in a fresh process; add its peak memory."""
    import psutil

    cmd = [sys.executable, __file__, "--one", json.dumps(run.__dict__)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        total = 0
        with contextlib.suppress(psutil.Error):
            for p in [parent, *parent.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
        peak = max(peak, total)
        time.sleep(0.2)
    out, _ = proc.communicate()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit code {proc.returncode}", "tree_peak_mb": peak / 2**20}
    result: dict[str, Any] = json.loads(lines[-1])
    result["tree_peak_mb"] = peak / 2**20
    result["largest_process_mb"] = (
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    )  # the largest so far
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="5000,20000", help="stops, of 5000,20000,50000")
    parser.add_argument(
        "--time-limit", type=float, default=None, help="seconds (default: 60 / 600 / 900)"
    )
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument("--no-whole", action="store_true", help="skip the whole-day solve")
    parser.add_argument(
        "--vehicles",
        type=int,
        default=None,
        help="vehicles per day, one in ten a cargo bike (default: one per 100 orders)",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(Run(**json.loads(args.one)))), flush=True)
        return 0
    console = Console(highlight=False, width=180)
    console.print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    console.print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()}")
    defaults = {5_000: 60.0, 20_000: 600.0, 50_000: 900.0}
    table = Table(title="Large city days, decomposed")
    cols = (
        "stops",
        "seed",
        "vehicles",
        "mode",
        "workers",
        "limit s",
        "wall s",
        "cost",
        "ratio",
        "unassigned",
        "violations",
        "tree peak MB",
        "load",
    )
    for col in cols:
        table.add_column(col, justify="left" if col == "mode" else "right")
    for stops in (int(s) for s in args.sizes.split(",")):
        limit = args.time_limit or defaults[stops]
        runs = [
            Run(stops, "decomposed", int(w), limit, args.vehicles) for w in args.workers.split(",")
        ]
        if stops <= 5_000 and not args.no_whole:
            most = max(int(w) for w in args.workers.split(","))
            runs.append(Run(stops, "whole", most, limit, args.vehicles))
        results = []
        for run in runs:
            res = measured(run)
            res["load_after"] = os.getloadavg()[0]
            console.print(json.dumps({"mode": run.mode, "workers": run.workers, **res}))
            results.append((run, res))
        whole = next((r for run, r in results if run.mode == "whole" and "cost" in r), None)
        for run, res in results:
            load = f"{res['load_after']:.1f}"
            if "error" in res:
                table.add_row(
                    str(stops),
                    "",
                    "",
                    run.mode,
                    str(run.workers),
                    f"{limit:g}",
                    res["error"],
                    *[""] * 4,
                    f"{res['tree_peak_mb']:,.0f}",
                    load,
                )
                continue
            ratio = f"{res['cost'] / whole['cost']:.4f}" if whole and run.mode != "whole" else ""
            table.add_row(
                f"{res['stops']:,}",
                str(res["seed"]),
                str(res["vehicles"]),
                run.mode,
                str(run.workers),
                f"{limit:g}",
                f"{res['wall_s']:.1f}",
                f"{res['cost']:,}",
                ratio,
                f"{res['unassigned']:,}",
                str(res["violations"]),
                f"{res['tree_peak_mb']:,.0f}",
                load,
            )
        table.add_section()
    console.print(table)
    console.print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
