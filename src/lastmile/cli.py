"""The ``lastmile`` command: thin over the library.

Exit codes: 0 success, 1 unexpected failure, 2 bad input (the message names the
file, line or field and what is wrong; no output file is written).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from lastmile import __version__
from lastmile.domain import Plan
from lastmile.exceptions import InputError, LastmileError, UnknownEngine, UnsupportedConstraint
from lastmile.plan_output import print_plan, write_atomically
from lastmile.planning.problem import PlanningProblem
from lastmile.travel.network_options import add_network_arguments

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from lastmile.planning.robust import Robustness

OSM_ATTRIBUTION = "map data © OpenStreetMap contributors (ODbL)"

FORMATS = ("auto", "vroom", "solomon", "vrplib")
ENGINES = ("auto", "pyvrp", "vroom", "ortools")
ROUNDINGS = ("exact", "dimacs", "round")

err = Console(stderr=True, highlight=False, soft_wrap=True)


# -- reading and writing ----------------------------------------------------------------


def read_problem(
    path: Path, *, fmt: str = "auto", rounding: str | None = None, lazy_above: int | None = None
) -> PlanningProblem:
    """Read a problem file in any supported format (``auto``: by suffix);
    ``lazy_above``: see :func:`lastmile.formats.any.read_any`."""
    from lastmile.formats.any import format_by_suffix, read_any

    if not path.is_file():
        raise InputError("no such file", where=str(path))
    resolved = format_by_suffix(path) if fmt == "auto" else fmt
    if resolved == "vroom" and rounding is not None:
        raise InputError(
            "--rounding applies to Solomon and VRPLIB instances, not VROOM problems",
            where="--rounding",
        )
    return read_any(
        path,
        format=resolved,  # type: ignore[arg-type]
        rounding=rounding,  # type: ignore[arg-type]
        lazy_above=lazy_above,
    )


def _solve_with_progress(problem: PlanningProblem, *, show: bool, **kwargs: Any) -> Plan:
    from lastmile.planning import solve

    if not show:
        return solve(problem, **kwargs)
    with Progress(
        TextColumn("[bold]solving[/bold] {task.description}"),
        BarColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(problem.name or "", total=1.0)

        def report(fraction: float, message: str) -> None:
            progress.update(task, completed=fraction, description=message)

        return solve(problem, on_progress=report, **kwargs)


# -- commands ------------------------------------------------------------------------------


#: Seconds kept back from ``--time-limit`` for what follows the search: checking
#: the plan, writing the solution and the GeoJSON, printing the summary (a fixed
#: part and a part per stop).
OUTPUT_FIXED_S = 0.1
OUTPUT_PER_STOP_S = 1e-4
#: The shortest search ``lastmile solve`` runs, however long reading took.
MIN_SEARCH_S = 0.1


def process_age_s() -> float:
    """Seconds since this process started (interpreter start-up and imports
    included); 0 where the system does not say (only Linux's /proc does)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            after_name = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        started = int(after_name[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(0.0, uptime - started)


def cmd_solve(args: argparse.Namespace) -> int:
    """``lastmile solve``: the whole command keeps to ``--time-limit``. Start-up and
    reading come out of the search's time, and so does a reserve for the output.
    With ``--scheduler`` the searches run on a Dask cluster (connecting counts too)."""
    started = time.perf_counter() - process_age_s()
    if args.time_limit <= 0:
        raise InputError(
            f"must be more than 0 seconds, got {args.time_limit:g}", where="--time-limit"
        )
    if args.workers is not None and args.workers < 1:
        raise InputError(f"must be at least 1, got {args.workers}", where="--workers")
    robust = _robustness(args)
    if not args.scheduler:
        return _solve_file(args, started, robust, None)
    from lastmile.planning.executors import check_scheduler, open_executor

    # Connecting comes out of the time limit like reading the file does.
    address = check_scheduler(args.scheduler, where="--scheduler")
    with open_executor(address, workers=args.workers) as executor:
        return _solve_file(args, started, robust, executor)


def _solve_file(
    args: argparse.Namespace,
    started: float,
    robust: Robustness | None,
    executor: Executor | None,
) -> int:
    """The rest of ``lastmile solve``, its searches run by ``executor`` if any."""
    from lastmile.formats.geojson import plan_to_geojson
    from lastmile.formats.vroom import write_solution
    from lastmile.planning.validate import validate

    path = Path(args.input)
    loaded = time.perf_counter()
    if args.network:
        return _solve_on_network(args, path, robust, executor)
    problem = read_problem(
        path, fmt=args.format, rounding=args.rounding, lazy_above=_lazy_above(args, robust)
    )
    if args.waiting_costs:
        problem = dataclasses.replace(problem, cost_waiting=True)
    load_s = time.perf_counter() - loaded
    output_s = OUTPUT_FIXED_S + OUTPUT_PER_STOP_S * problem.num_stops
    used = time.perf_counter() - started
    search_s = max(MIN_SEARCH_S, min(args.time_limit, args.time_limit - used - output_s))
    plan = _solve_with_progress(
        problem,
        show=sys.stderr.isatty() and not args.quiet,
        engine=args.engine,
        time_limit=search_s,
        seed=args.seed,
        robust=robust,
        decompose=args.decompose,
        workers=args.workers,
        executor=executor,
    )
    report = validate(problem, plan)
    solution = write_solution(problem, plan, computing_time_s=plan.runtime_s + load_s)
    if args.output:
        write_atomically(Path(args.output), json.dumps(solution, indent=1) + "\n")
    if args.geojson:
        write_atomically(Path(args.geojson), json.dumps(plan_to_geojson(problem, plan)) + "\n")
    if not args.output:
        print(json.dumps(solution))
    if not args.quiet:
        print_plan(err, problem, plan, valid=report.ok)
        if robust is not None:
            err.print(robust.describe())
    if not report.ok:
        for v in report.violations[:20]:
            err.print(f"[red]violation[/red] {v.code}: {v.message}")
        return 1
    return 0


def _lazy_above(args: argparse.Namespace, robust: Robustness | None) -> int | None:
    """From how many stops a problem given by coordinates is read without a dense
    matrix: where ``solve`` will decompose it (never for robust plans)."""
    from lastmile.planning.decompose import DECOMPOSE_ABOVE

    if args.decompose == "off" or (robust is not None and robust.active):
        return None
    return 0 if args.decompose == "on" else DECOMPOSE_ABOVE


def _robustness(args: argparse.Namespace) -> Robustness | None:
    """``--robust`` and ``--noise`` as a :class:`Robustness` (None without ``--robust``)."""
    from lastmile.planning.robust import Robustness, bare_message

    if args.robust is None:
        if args.noise is not None:
            raise InputError("sizes the buffers of --robust: give --robust too", where="--noise")
        return None
    try:
        return Robustness.parse(args.robust, args.noise or "lognormal")
    except InputError as exc:
        if exc.where.startswith("robust.noise"):
            field = exc.where.removeprefix("robust.noise").lstrip(".")
            message = f"{field}: {bare_message(exc)}" if field else bare_message(exc)
            raise InputError(message, where="--noise") from exc
        raise InputError(bare_message(exc), where="--robust") from exc


def _profile_of(name: str) -> str:
    """The routing profile of a problem's profile name (``van@x1.5`` drives as ``van``)."""
    return name.split("@x", 1)[0]


def _solve_on_network(
    args: argparse.Namespace,
    path: Path,
    robust: Robustness | None,
    executor: Executor | None = None,
) -> int:
    """Plan a problem given by coordinates on a road network, with traffic and weather.

    Every vehicle travels on the network of its own routing profile (VROOM's
    ``vehicles[].profile``, default ``car``): vans, trucks, cargo bikes,
    bicycles and couriers on foot each get their roads and speeds.
    """
    import dataclasses

    from lastmile.formats.any import format_by_suffix
    from lastmile.formats.geojson import plan_to_geojson
    from lastmile.formats.vroom import read_problem as read_vroom
    from lastmile.formats.vroom import write_solution
    from lastmile.planning.solve_time_dependent import solve_time_dependent
    from lastmile.travel import HaversineModel
    from lastmile.travel.network import PROFILE_NAMES, get_profile
    from lastmile.travel.network_options import build_travel_models

    fmt = args.format if args.format != "auto" else format_by_suffix(path)
    if fmt != "vroom":
        raise InputError("--network needs a VROOM problem given by coordinates", where=str(path))
    raw = json.loads(path.read_text(encoding="utf-8"))
    if "matrices" in raw:
        raise InputError(
            "the problem gives its own matrices; --network is for problems given by coordinates",
            where=f"{path}: matrices",
        )
    # Read with straight lines (cheap): the time-dependent solve replaces every matrix.
    problem = read_vroom(raw, travel=HaversineModel(), source=str(path))
    for i, vehicle in enumerate(problem.vehicles):
        if _profile_of(vehicle.type.profile) not in PROFILE_NAMES:
            raise InputError(
                f"unknown profile {_profile_of(vehicle.type.profile)!r}; known: "
                f"{', '.join(PROFILE_NAMES)}",
                where=f"{path}: vehicles[{i}].profile",
            )
    names = sorted({vehicle.type.profile for vehicle in problem.vehicles})
    models = build_travel_models(args, sorted({_profile_of(n) for n in names}))
    notes: dict[str, list[str]] = {}
    for name in names:
        model = models[_profile_of(name)]
        note = model.description
        if get_profile(_profile_of(name)).mode != "motor":
            note += " (traffic slows motor vehicles only)"
        notes.setdefault(note, []).append(name)
    if len(notes) == 1:
        travel_note = next(iter(notes))
    else:
        travel_note = "; ".join(f"{', '.join(ns)}: {d}" for d, ns in notes.items())
    problem = dataclasses.replace(
        problem, travel_note=travel_note, cost_waiting=problem.cost_waiting or args.waiting_costs
    )
    bound = {id(m): m.bind(problem.locations) for m in models.values()}
    result = solve_time_dependent(
        problem,
        {name: bound[id(models[_profile_of(name)])] for name in names},
        engine=args.engine,
        time_limit=args.time_limit,
        seed=args.seed,
        robust=robust,
        workers=args.workers,
        executor=executor,
    )
    plan = result.plan
    violations = result.violations()
    solution = write_solution(result.stamped, plan, computing_time_s=plan.runtime_s)
    solution.setdefault("lastmile", {})["arrival_error_s"] = {
        "p50": result.error.p50_s,
        "p95": result.error.p95_s,
        "max": result.error.max_s,
        "within_60s": result.error.within_60s,
    }
    if args.output:
        write_atomically(Path(args.output), json.dumps(solution, indent=1) + "\n")
    else:
        print(json.dumps(solution))
    if args.geojson:
        geo = plan_to_geojson(result.stamped, plan, attribution=OSM_ATTRIBUTION)
        write_atomically(Path(args.geojson), json.dumps(geo) + "\n")
    if not args.quiet:
        print_plan(err, result.stamped, plan, valid=not violations)
        err.print(
            f"time-dependent travel: promised arrivals within 60 s of the re-timed ones for "
            f"{result.error.within_60s:.1%} of stops (p95 {result.error.p95_s:.0f} s); "
            f"{OSM_ATTRIBUTION}"
        )
        if robust is not None:
            err.print(robust.describe())
    for v in violations[:20]:
        err.print(f"[red]violation[/red] {v.code}: {v.message}")
    return 1 if violations else 0


def cmd_demo(args: argparse.Namespace) -> int:
    if args.serve:
        from lastmile.service.demo_day import serve_demo

        return serve_demo(
            out_dir=Path(args.out),
            host=args.host,
            port=args.port,
            orders=120 if args.orders is None else args.orders,
            network=args.network or "",
            seed=args.seed,
            time_limit_s=10.0 if args.time_limit is None else args.time_limit,
        )
    if args.service and args.in_process:
        raise InputError("give --service or --in-process, not both", where="--service")
    if args.in_process:
        from lastmile.demo import run_demo

        return run_demo(
            out_dir=Path(args.out),
            time_limit=10.0 if args.time_limit is None else args.time_limit,
            seed=args.seed,
            orders=250 if args.orders is None else args.orders,
            waiting_costs=args.waiting_costs,
        )
    from lastmile.demo_service import run_service_demo

    return run_service_demo(
        out_dir=Path(args.out),
        time_limit=5.0 if args.time_limit is None else args.time_limit,
        seed=args.seed,
        orders=100 if args.orders is None else args.orders,
        speed=args.speed,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lastmile", description="Last-mile delivery planning and operations."
    )
    parser.add_argument("--version", action="version", version=f"lastmile {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    solve = sub.add_parser("solve", help="plan routes for a problem file")
    solve.add_argument("input", help="problem file (VROOM JSON, Solomon .txt, VRPLIB .vrp)")
    solve.add_argument("--format", choices=FORMATS, default="auto")
    solve.add_argument("--engine", choices=ENGINES, default="auto")
    solve.add_argument(
        "--time-limit",
        type=float,
        default=10.0,
        help="seconds of wall time for the whole command (reading and writing included)",
    )
    solve.add_argument("--seed", type=int, default=0)
    solve.add_argument(
        "--rounding",
        choices=ROUNDINGS,
        default=None,
        help="benchmark instances: exact (x1000), dimacs (truncate to 0.1), round (nearest)",
    )
    solve.add_argument("-o", "--output", help="write the VROOM-format solution here")
    solve.add_argument("--geojson", help="write the routes as GeoJSON here")
    solve.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    solve.add_argument(
        "--waiting-costs",
        action="store_true",
        help="drivers paid by the hour: charge cost_per_hour on route duration "
        "(waiting and service included), not only driving time",
    )
    solve.add_argument(
        "--robust",
        type=float,
        metavar="ON_TIME",
        default=None,
        help="robust plan: each stop on time with at least this probability (e.g. 0.9) "
        "under the travel-time noise of --noise (docs/robust.md)",
    )
    solve.add_argument(
        "--noise",
        default=None,
        metavar="MODEL",
        help="travel-time noise for --robust: lognormal (default), gamma or none, "
        "with options, e.g. lognormal:sigma=0.25,median=1.05",
    )
    solve.add_argument(
        "--decompose",
        choices=("auto", "on", "off"),
        default="auto",
        help="plan in parts solved in parallel: auto from 4,000 stops (docs/decomposition.md)",
    )
    solve.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="searches run side by side (default: one per core, or with --scheduler "
        "one per thread of the Dask cluster)",
    )
    solve.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run the searches on the Dask cluster behind this scheduler instead of "
        "local processes (docs/scale.md)",
    )
    add_network_arguments(solve)
    solve.set_defaults(func=cmd_solve)

    demo = sub.add_parser(
        "demo",
        help="plan a realistic delivery day, drive it through the digital twin and report on it",
        description="By default (--service) a day in Helsinki played through a private "
        "service on a simulated clock: road network with traffic, offline geocoding, live "
        "tracking, notifications (docs/simulation.md, The demo day through the service). "
        "--in-process: a generated Lyon day, planned and driven in-process by the digital "
        "twin on straight lines.",
    )
    demo.add_argument("--out", default="out/demo", help="folder for the demo's files")
    demo.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds to plan (default: 10; 5 with --service)",
    )
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument(
        "--orders",
        type=int,
        default=None,
        help="deliveries (default: 250; 100 with --service, 120 with --serve)",
    )
    demo.add_argument(
        "--speed",
        type=float,
        default=400.0,
        help="with --service: simulated seconds per second of the service's clock (default 400)",
    )
    demo.add_argument(
        "--service",
        action="store_true",
        help="play a day in Helsinki (bundled OpenStreetMap extract) through a private "
        "service: orders geocoded offline, vans and cargo bikes, planning on the roads with "
        "traffic, live tracking, delay alerts, an urgent order, a failed delivery booked "
        "again, texts to customers in notifications.log (the default)",
    )
    demo.add_argument(
        "--in-process",
        action="store_true",
        help="the generated Lyon day planned and driven in-process by the digital twin",
    )
    demo.add_argument(
        "--waiting-costs",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --in-process: charge waiting like driving, as the service does by default "
        "(drivers paid by the hour); --no-waiting-costs charges driving time only",
    )
    served = demo.add_argument_group(
        "the demo served",
        "--serve: seed today in a demo organisation, caught at mid-day, and serve it in a "
        "browser (to watch a whole day played live instead: lastmile serve --demo)",
    )
    served.add_argument(
        "--serve",
        action="store_true",
        help="seed today into a fresh service.db in --out through the API and serve it "
        "until Ctrl-C",
    )
    served.add_argument("--host", default="127.0.0.1")
    served.add_argument("--port", type=int, default=8000)
    served.add_argument(
        "--network", metavar="PATH.osm.pbf", help="plan on this road network (points inside it)"
    )
    demo.set_defaults(func=cmd_demo)

    from lastmile.geocode.commands import add_geocode_parser

    add_geocode_parser(sub)

    from lastmile.travel.commands import add_matrix_parser, add_route_parser

    add_route_parser(sub)
    add_matrix_parser(sub)

    from lastmile.service.learning.commands import add_learn_parser

    add_learn_parser(sub)

    from lastmile.simulate.commands import add_simulate_parser

    simulate_parser = add_simulate_parser(sub)

    from lastmile.analytics.commands import add_report_parser

    add_report_parser(sub)

    from lastmile.demo_service import run_service_demo
    from lastmile.service.commands import (
        add_admin_parser,
        add_db_parser,
        add_orders_parser,
        add_serve_parser,
        add_worker_parser,
    )

    # `lastmile simulate --serve` starts its private service with this.
    simulate_parser.set_defaults(private_service=_private_service)
    # `lastmile serve --demo` plays the demo day live with this.
    add_serve_parser(sub, play_demo=run_service_demo)
    add_admin_parser(sub)
    add_orders_parser(sub)
    add_db_parser(sub)
    add_worker_parser(sub)
    return parser


def _private_service(**options: Any) -> Any:
    """:func:`lastmile.service.simulation.private_service`, imported when a command
    uses it: the service (FastAPI, its models and schemas) takes seconds to import,
    which no other command should pay for."""
    from lastmile.service.simulation import private_service

    return private_service(**options)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "func", None) or args.handler
    try:
        code: int = handler(args)
    except (InputError, UnsupportedConstraint, UnknownEngine) as exc:
        err.print(f"[red]error:[/red] {exc}")
        return 2
    except LastmileError as exc:
        err.print(f"[red]error:[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
