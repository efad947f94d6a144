"""Time limits: wall time of ``lastmile solve`` against its ``--time-limit``, per engine.

For each size (stops) and engine, a generated delivery day
(:func:`lastmile.simulate.city_day`) is written once as a VROOM problem given by
coordinates (the command then computes straight-line matrices itself, as a
user's file would make it), and ``lastmile solve FILE --engine E --time-limit T``
runs as a separate process. The wall time printed is the whole command's, from
process start to exit: start-up, reading, the search, checking the plan and
writing it. The command exits 0 only when its plan passes the validator.

Each engine gets a day it can take: ``auto``, VROOM and OR-Tools the full day
(lunch breaks, shipments, two windows on some customers, skills); PyVRP, which
models no breaks and no shipment with two windows, the same day without breaks
and with one window per shipment stop.

    .venv/bin/python benchmarks/time_limits.py --stops 3000 --time-limit 10
    .venv/bin/python benchmarks/time_limits.py --stops 1000,3000,5000 --engines auto,pyvrp
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lastmile.domain import OrderKind
from lastmile.formats.vroom import write_problem
from lastmile.planning.problem import PlanningProblem
from lastmile.simulate import city_day

HERE = Path(__file__).resolve().parent
CACHE = HERE.parent / ".cache" / "benchmarks" / "time_limits"
ENGINES = ("auto", "pyvrp", "vroom", "ortools")
#: Stops per order of a generated day (shipments have two).
STOPS_PER_ORDER = 1.08


def grace_s(time_limit: float) -> float:
    """What a solve may take beyond its limit: max(2 s, 5 %)."""
    return max(2.0, 0.05 * time_limit)


def day(stops: int, *, plain: bool, seed: int = 1) -> PlanningProblem:
    """A generated day of about ``stops`` stops; ``plain``: no breaks, one window
    per shipment stop (what PyVRP models)."""
    orders = round(stops / STOPS_PER_ORDER)
    problem = city_day(
        n_orders=orders,
        n_vans=max(3, orders // 25),
        n_bikes=max(1, orders // 100),
        seed=seed,
        breaks=not plain,
    )
    if not plain:
        return problem
    kept = []
    for o in problem.orders:
        if o.kind is OrderKind.SHIPMENT and o.delivery is not None:
            single = dataclasses.replace(o.delivery, time_windows=o.delivery.time_windows[:1])
            o = dataclasses.replace(o, delivery=single)
        kept.append(o)
    return dataclasses.replace(problem, orders=tuple(kept))


def instance(stops: int, plain: bool) -> tuple[Path, int]:
    """The problem file (written once) and its number of stops."""
    path = CACHE / f"day-{stops}{'-plain' if plain else ''}.json"
    meta = path.with_suffix(".stops")
    if not path.exists() or not meta.exists():
        problem = day(stops, plain=plain)
        data = write_problem(problem)
        data.pop("matrices", None)  # given by coordinates: the command makes the matrices
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)
        meta.write_text(str(problem.num_stops))
    return path, int(meta.read_text())


@dataclasses.dataclass
class Row:
    stops: int
    engine: str
    limit: float
    wall: float
    code: int
    routes: int | None
    unassigned: int | None
    cost: int | None = None
    plan_by: str = ""
    message: str = ""

    @property
    def kept(self) -> bool:
        return self.wall <= self.limit + grace_s(self.limit)


def run(path: Path, stops: int, engine: str, limit: float) -> Row:
    lastmile = Path(sys.executable).with_name("lastmile")
    command = [str(lastmile), "solve", str(path), "--engine", engine, "--time-limit", f"{limit:g}"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "plan.json"
        began = time.perf_counter()
        done = subprocess.run(
            [*command, "-q", "-o", str(out)], capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - began
        routes = unassigned = cost = None
        plan_by = ""
        if out.exists():
            solution = json.loads(out.read_text())
            routes = len(solution.get("routes", []))
            unassigned = len(solution.get("unassigned", []))
            cost = solution.get("summary", {}).get("cost")
            plan_by = solution.get("lastmile", {}).get("engine", "")
    message = done.stderr.strip().splitlines()[-1] if done.returncode and done.stderr else ""
    code = done.returncode
    return Row(stops, engine, limit, wall, code, routes, unassigned, cost, plan_by, message)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stops", default="1000,3000,5000", help="comma-separated sizes")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated engines")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--json", help="save the rows as JSON here")
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    console.print("$ " + shlex.join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]))
    load = os.getloadavg()
    console.print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, Python {platform.python_version()}"
    )
    engines = [e for e in args.engines.split(",") if e]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}; choose from {', '.join(ENGINES)}")
    rows = []
    table = Table(title=f"lastmile solve, --time-limit {args.time_limit:g} s")
    columns = ("stops", "engine", "wall s", "over limit s", "kept", "exit", "routes", "unassigned")
    for column in columns:
        table.add_column(column, justify="right")
    table.add_column("cost", justify="right")
    table.add_column("plan by")
    for size in (int(s) for s in args.stops.split(",") if s):
        for engine in engines:
            path, stops = instance(size, plain=engine == "pyvrp")
            row = run(path, stops, engine, args.time_limit)
            rows.append(row)
            table.add_row(
                str(stops),
                engine,
                f"{row.wall:.2f}",
                f"{row.wall - row.limit:+.2f}",
                "yes" if row.kept else "[red]no[/red]",
                str(row.code),
                "-" if row.routes is None else str(row.routes),
                "-" if row.unassigned is None else str(row.unassigned),
                "-" if row.cost is None else str(row.cost),
                row.plan_by,
            )
            if row.message:
                console.print(f"[red]{stops} stops, {engine}:[/red] {row.message}")
    console.print(table)
    if args.json:
        Path(args.json).write_text(json.dumps([dataclasses.asdict(r) for r in rows], indent=1))
    return 0 if all(r.kept and r.code == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
