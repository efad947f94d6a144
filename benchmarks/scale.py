"""Large delivery days: the decomposed solve at 5,000, 20,000 and 50,000 stops.

Each day is :func:`lastmile.simulate.city_day` (deliveries, returns, shop ->
customer shipments, skills, customer slots, lunch breaks, vans and cargo
bikes on their own profiles) with one vehicle per 100 orders, from a fixed
seed; travel is computed leg by leg from the coordinates
(:class:`~lastmile.travel.lazy.CoordinateMatrix`), as ``lastmile solve`` reads
such a day. Where the whole day still fits one search (5,000 stops), the same
day is also solved whole (dense matrices, ``decompose="off"``) with the same
time limit, and the cost ratio printed. ``--vehicles`` sets another fleet (one
vehicle in ten a cargo bike), e.g. the 200 vehicles of the 20,000-stop target.

``--day pyvrp`` cuts the day to what PyVRP models (:func:`pyvrp_day`: one window
per stop, capacities, no breaks, set-up times, shipments or skills; one stop per
order, one vehicle per 40 orders) and adds PyVRP as a peer, called directly on
the whole day with ``benchmarks/realistic_wide.py``'s model (every order optional
with a large prize), one core, its wall time from building its data held to the
time limit. Its routes are laid on the same problem and costed and checked by
the validator like lastmile's plans; the ratios are to PyVRP's cost.

Every run happens in a fresh process; its peak memory is that process tree's
largest total resident size, sampled every 0.2 s (psutil), next to the
largest single process's (``getrusage``). Every plan is checked by
``lastmile.planning.validate``.

    nice .venv/bin/python benchmarks/scale.py --sizes 5000 --time-limit 60
    nice .venv/bin/python benchmarks/scale.py --sizes 20000 --time-limit 600 --workers 2
    nice .venv/bin/python benchmarks/scale.py --sizes 20000 --workers 2 --no-whole --vehicles 200
    nice .venv/bin/python benchmarks/scale.py --sizes 5000 --time-limit 60 --workers 2 --day pyvrp
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
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from lastmile.domain import Order, Plan, Stop
    from lastmile.planning.problem import PlanningProblem

#: stops -> (seed, orders). By default one vehicle per 100 orders (9 vans for each bike).
DAYS = {5_000: (51, 4_630), 20_000: (52, 18_520), 50_000: (53, 46_300)}
#: The kinds of day: the full city day, and the same day cut to what PyVRP models.
KINDS = ("city", "pyvrp")
#: The modes of a run: lastmile decomposed (travel by coordinates), lastmile on the
#: whole day (dense matrices), PyVRP called directly on the whole day (dense matrices).
MODES = ("decomposed", "whole", "pyvrp")


@dataclass
class Run:
    stops: int
    mode: str
    workers: int
    time_limit: float
    vehicles: int | None = None  # the fleet (one bike in ten); None: the day's default
    day: str = "city"  # of KINDS


def seed_and_orders(stops: int, day: str = "city") -> tuple[int, int]:
    """The day's seed and orders: :data:`DAYS` for the sizes there (other sizes: seed 50,
    as many orders per stop as there). A PyVRP day has one stop per order."""
    seed, orders = DAYS.get(stops, (50, stops * 463 // 500))
    return seed, stops if day == "pyvrp" else orders


def fleet(orders: int, vehicles: int | None, day: str = "city") -> tuple[int, int]:
    """(vans, bikes): ``vehicles``, one in ten a bike. Default: one per 100 orders on a
    city day (over-full by design), one per 40 on a PyVRP day (room for every order, so
    that the plans compare on cost)."""
    total = vehicles if vehicles is not None else orders // (40 if day == "pyvrp" else 100)
    bikes = total // 10
    return total - bikes, bikes


def pyvrp_day(
    orders: int, vans: int, bikes: int, seed: int, *, lazy: bool = False
) -> PlanningProblem:
    """:func:`lastmile.simulate.city_day` cut to what PyVRP models: no lunch breaks or
    set-up times (its own knobs), every stop its first window only, shipments delivered
    from the depot instead of fetched at a shop (the shops' places dropped), no skills
    (orders or vans) and no priorities. Same places, amounts, services, vans, bikes and
    depots as the city day of that seed; ``lazy`` as there."""
    from lastmile.domain import Order, OrderKind
    from lastmile.simulate import city_day
    from lastmile.travel.lazy import CoordinateMatrix

    day = city_day(
        n_orders=orders, n_vans=vans, n_bikes=bikes, seed=seed, breaks=False, setup=False,
        lazy=True,
    )  # fmt: skip
    cut = []
    for order in day.orders:
        stop = order.delivery if order.kind is OrderKind.SHIPMENT else order.single_stop
        assert stop is not None
        stop = replace(stop, time_windows=stop.time_windows[:1])
        if order.kind is OrderKind.PICKUP:
            cut.append(Order(order.id, OrderKind.PICKUP, pickup=stop, amount=order.amount))
        else:
            cut.append(Order(order.id, OrderKind.DELIVERY, delivery=stop, amount=order.amount))
    used = sorted({d.location for d in day.depots} | {s.location for o in cut for s in o.stops})
    index = {old: new for new, old in enumerate(used)}
    locations = tuple(day.locations[i] for i in used)
    matrices = {}
    for name, matrix in day.matrices.items():
        assert isinstance(matrix, CoordinateMatrix)
        matrices[name] = (
            CoordinateMatrix(locations, matrix.model, factor=matrix.factor)
            if lazy
            else matrix.model.matrix(locations)
        )
    return replace(
        day,
        locations=locations,
        matrices=matrices,
        depots=tuple(replace(d, location=index[d.location]) for d in day.depots),
        vehicles=tuple(replace(v, type=replace(v.type, skills=frozenset())) for v in day.vehicles),
        orders=tuple(
            replace(o, **{k: replace(s, location=index[s.location]) for k, s in _stops(o)})
            for o in cut
        ),
        name=f"{day.name}, cut to PyVRP's model",
    )


def _stops(order: Order) -> list[tuple[str, Stop]]:
    return [(k, s) for k in ("pickup", "delivery") if (s := getattr(order, k)) is not None]


def make_day(run: Run) -> PlanningProblem:
    """The day ``run`` solves: travel by coordinates when decomposed, dense otherwise."""
    from lastmile.simulate import city_day

    seed, orders = seed_and_orders(run.stops, run.day)
    vans, bikes = fleet(orders, run.vehicles, run.day)
    lazy = run.mode == "decomposed"
    if run.day == "pyvrp":
        return pyvrp_day(orders, vans, bikes, seed, lazy=lazy)
    return city_day(n_orders=orders, n_vans=vans, n_bikes=bikes, seed=seed, lazy=lazy)


def run_pyvrp(problem: PlanningProblem, seconds: float) -> tuple[Plan, float, bool]:
    """PyVRP on the whole ``problem`` (``realistic_wide``'s model: every order optional with
    a large prize, one cost matrix per travel profile and cost rates), one core, its wall
    time from building its data to its result held to ``seconds``. Returns the plan (PyVRP's
    routes laid on ``problem``), the wall time and whether PyVRP called its best feasible."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    import realistic_wide

    began = time.perf_counter()
    model = realistic_wide.to_pyvrp(problem)
    stop = MaxRuntime(max(seconds - (time.perf_counter() - began), 0.0))
    # Its clock starts at its first call: now, so that PyVRP's own set-up (neighbours,
    # the local search of its first solution) is inside the budget too.
    stop(0)
    result = pyvrp.solve(model.data, stop=stop, seed=0, collect_stats=False, display=False)  # type: ignore[arg-type]
    wall = time.perf_counter() - began
    return realistic_wide.pyvrp_plan(problem, model, result.best), wall, result.is_feasible()


def one(run: Run) -> dict[str, Any]:
    """Solve one day in this process (the child) and return the figures."""
    from lastmile.planning import solve
    from lastmile.planning.validate import validate

    made = time.perf_counter()
    problem = make_day(run)
    made_s = time.perf_counter() - made
    feasible = True
    if run.mode == "pyvrp":
        plan, wall, feasible = run_pyvrp(problem, run.time_limit)
    else:
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
        "day": run.day,
        "stops": problem.num_stops,
        "orders": len(problem.orders),
        "vehicles": len(problem.vehicles),
        "seed": seed_and_orders(run.stops, run.day)[0],
        "engine": plan.engine,
        "cost": report.cost,
        "routes": len(plan.routes),
        "unassigned": len(plan.unassigned),
        "without_reason": sum(1 for u in plan.unassigned if not u.reason),
        "violations": len(report.violations),
        "feasible": feasible,
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


def plan_runs(
    stops: int, limit: float, workers: list[int], *, day: str, vehicles: int | None, whole: bool
) -> list[Run]:
    """The runs of one size, the reference first: PyVRP on the whole day (a PyVRP day),
    lastmile decomposed with each worker count, lastmile on the whole day (``whole``, up
    to 5,000 stops: beyond, its dense matrices do not fit)."""
    runs = [Run(stops, "pyvrp", 1, limit, vehicles, day)] if day == "pyvrp" else []
    runs += [Run(stops, "decomposed", w, limit, vehicles, day) for w in workers]
    if stops <= 5_000 and whole:
        runs.append(Run(stops, "whole", max(workers), limit, vehicles, day))
    return runs


def reference(results: list[tuple[Run, dict[str, Any]]]) -> dict[str, Any] | None:
    """The plan the others are compared to: PyVRP's if it ran, else lastmile's whole one."""
    for mode in ("pyvrp", "whole"):
        for run, res in results:
            if run.mode == mode and "cost" in res:
                return res
    return None


LABELS = {"decomposed": "decomposed", "whole": "lastmile whole", "pyvrp": "PyVRP whole"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="5000,20000", help="stops, e.g. 5000,20000,50000")
    parser.add_argument(
        "--time-limit", type=float, default=None, help="seconds (default: 60 / 600 / 900)"
    )
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument("--no-whole", action="store_true", help="skip lastmile's whole-day solve")
    parser.add_argument(
        "--vehicles",
        type=int,
        default=None,
        help="vehicles per day, one in ten a cargo bike (default: one per 100 orders on a "
        "city day, one per 40 on a PyVRP day)",
    )
    parser.add_argument(
        "--day",
        choices=KINDS,
        default="city",
        help="city: the full city day; pyvrp: the day cut to PyVRP's model (one window, "
        "no breaks, set-up times, shipments or skills), PyVRP solving it whole too",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(Run(**json.loads(args.one)))), flush=True)
        return 0
    console = Console(highlight=False, width=180)
    console.print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    console.print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; cores: {os.cpu_count()}, "
        f"load average before: {os.getloadavg()}"
    )
    defaults = {5_000: 60.0, 20_000: 600.0, 50_000: 900.0}
    title = "Large city days" if args.day == "city" else "City days cut to PyVRP's model"
    table = Table(title=title)
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
    workers = [int(w) for w in args.workers.split(",")]
    for stops in (int(s) for s in args.sizes.split(",")):
        limit = args.time_limit or defaults.get(stops, 60.0)
        runs = plan_runs(
            stops, limit, workers, day=args.day, vehicles=args.vehicles, whole=not args.no_whole
        )
        results = []
        for run in runs:
            res = measured(run)
            res["load_after"] = os.getloadavg()[0]
            console.print(json.dumps({"mode": run.mode, "workers": run.workers, **res}))
            results.append((run, res))
        ref = reference(results)
        for run, res in results:
            load = f"{res['load_after']:.1f}"
            mode = LABELS[run.mode]
            if "error" in res:
                table.add_row(
                    str(stops),
                    "",
                    "",
                    mode,
                    str(run.workers),
                    f"{limit:g}",
                    res["error"],
                    *[""] * 4,
                    f"{res['tree_peak_mb']:,.0f}",
                    load,
                )
                continue
            ratio = f"{res['cost'] / ref['cost']:.4f}" if ref else ""
            table.add_row(
                f"{res['stops']:,}",
                str(res["seed"]),
                str(res["vehicles"]),
                mode,
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
