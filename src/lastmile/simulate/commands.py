"""``lastmile simulate``: drive a plan through simulated days and write their records.

The main CLI adds it with ``add_simulate_parser(subparsers)``; it sets
``func`` to :func:`simulate_command`, which returns the exit status (input
errors propagate as :class:`~lastmile.exceptions.InputError` for the CLI to
report with exit code 2).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from lastmile.exceptions import InputError

if TYPE_CHECKING:  # the planner and the twin load when the command runs
    from lastmile.domain import Plan
    from lastmile.domain.day import DayRecord
    from lastmile.planning.problem import PlanningProblem
    from lastmile.simulate.incidents import Scheduled
    from lastmile.simulate.scenario import CitySpec
    from lastmile.simulate.summary import DaySummary
    from lastmile.simulate.twin import TwinResult

GENERATORS = ("city-day",)


def add_simulate_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="drive a plan through simulated days (noise, failures, incidents)",
        description=(
            "Simulate delivery days in-process with the digital twin and write each day's "
            "record (JSON, lastmile.domain.day.DayRecord). With --service URL or --serve the "
            "day is driven through the service's HTTP API instead, as drivers' phones would."
        ),
    )
    p.add_argument("problem", nargs="?", help="problem file (VROOM JSON, Solomon, VRPLIB)")
    p.add_argument(
        "--generate", choices=GENERATORS, help="generate the day instead of reading a problem"
    )
    p.add_argument("--orders", type=int, default=250, help="orders of a generated day")
    p.add_argument("--plan", metavar="PLAN.json", help="VROOM solution to drive (else: plan now)")
    p.add_argument("--time-limit", type=float, default=5.0, help="seconds to plan (no --plan)")
    p.add_argument("--engine", default="auto", help="planning engine (no --plan)")
    p.add_argument(
        "--noise",
        default="lognormal",
        metavar="NAME[:key=value,...]",
        help="per-leg travel-time noise, e.g. lognormal:sigma=0.25, gamma, none",
    )
    p.add_argument(
        "--weather", default="clear", metavar="CONDITION", help="e.g. rain, snow+strong_wind"
    )
    p.add_argument("--absent-rate", type=float, default=0.03, help="share of customers away")
    p.add_argument(
        "--scan-failure-rate", type=float, default=0.005, help="share of parcels failing the scan"
    )
    p.add_argument("--urgent-orders", type=int, default=0, help="orders arriving during the day")
    p.add_argument("--breakdowns", type=int, default=0, help="vans breaking down (drawn)")
    p.add_argument(
        "--breakdown",
        action="append",
        default=[],
        metavar="VEHICLE@HH:MM",
        help="this vehicle breaks down at this time (repeatable)",
    )
    p.add_argument("--road-closures", type=int, default=0, help="roads closed during the day")
    p.add_argument(
        "--no-replan",
        dest="replan",
        action="store_false",
        help="do not re-plan breakdowns nor insert urgent orders",
    )
    p.add_argument("--ping-every", type=int, default=30, help="seconds between GPS pings (0: none)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated day and the twin")
    p.add_argument(
        "--days", type=int, default=1, help="days to simulate (seed, seed+1..., day after day)"
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="record JSON (with --days N: one file per day, -dayNN before the suffix)",
    )
    p.add_argument("--legs", metavar="PATH.json", help="write the legs driven on the network here")
    net = p.add_argument_group("road network")
    net.add_argument("--network", metavar="EXTRACT.osm.pbf", help="drive on this road network")
    net.add_argument(
        "--traffic", default="default", metavar="default|none|PATH.csv", help="speed factors"
    )
    net.add_argument(
        "--depart",
        metavar="YYYY-MM-DDTHH:MM",
        help="the day (default: today); problem times count from its midnight",
    )
    svc = p.add_argument_group("through the service (docs/simulation.md, Driving the service)")
    svc.add_argument(
        "--service",
        metavar="URL",
        help="drive the service at URL (on a simulated clock) through its API, in the "
        "organisation of --token's admin: the day is set up, planned and driven there",
    )
    svc.add_argument("--token", help="an admin's session token or API key (with --service)")
    svc.add_argument(
        "--serve",
        action="store_true",
        help="start a private service (temporary SQLite, simulated clock) and drive it",
    )
    svc.add_argument(
        "--speed", type=float, default=120.0, help="with --serve: simulated seconds per second"
    )
    svc.add_argument("--vans", type=int, default=0, help="vans of the day (default: orders/25)")
    p.set_defaults(func=simulate_command, private_service=None)
    return p


def _through_service(args: argparse.Namespace, config: Any, console: Console) -> int:
    """``--service``/``--serve``: the day driven through the service's API."""
    import httpx

    from lastmile.simulate.http import DayPlan, ServiceDay, clock_start

    if args.service and args.serve:
        raise InputError("give --service URL or --serve, not both", where="--service")
    if args.service and not args.token:
        raise InputError("an admin's token is needed to drive a service", where="--token")
    if args.breakdown:
        raise InputError("through the service, give --breakdowns N", where="--breakdown")
    for given, option in (
        (args.problem, "problem"),
        (args.plan, "--plan"),
        (args.network, "--network"),
        (args.days != 1, "--days"),
    ):
        if given:
            raise InputError(
                "not with --service/--serve: the service sets its day up and plans it",
                where=option,
            )
    vans = args.vans or max(2, math.ceil(args.orders / 25))
    spec = DayPlan(
        orders=args.orders,
        vans=vans,
        seed=args.seed,
        time_limit_s=args.time_limit,
        urgent_orders=args.urgent_orders,
        breakdowns=args.breakdowns,
    )

    def drive(url: str, token: str, before_driving: Any = None) -> Any:
        with httpx.Client(base_url=url, timeout=120) as client:
            day = ServiceDay(
                client,
                token,
                spec=spec,
                config=config,
                log=console.print,
                before_driving=before_driving,
            )
            return day.run()

    if args.serve:
        start_service = args.private_service
        if start_service is None:
            raise InputError("this installation cannot start a service", where="--serve")
        if not (math.isfinite(args.speed) and args.speed > 0):
            raise InputError(f"must be more than 0, got {args.speed:g}", where="--speed")
        day = dt.date.fromisoformat(args.depart[:10]) if args.depart else dt.date.today()
        zone = ZoneInfo("Europe/Helsinki")
        # The private service's clock is held while the day is set up and planned,
        # and runs from ten minutes before the first shift.
        start = clock_start(day, zone, args.speed, setup_s=0)
        console.print(
            f"starting a private service on a clock at {start:%Y-%m-%d %H:%M} x{args.speed:g} "
            "(held until the day is set up)"
        )
        with start_service(start=start, speed=args.speed, planning_limit_s=args.time_limit) as svc:
            result = drive(svc.url, svc.token, svc.run_clock)
    else:
        result = drive(args.service, args.token)
    _write(Path(args.output), result.record)
    from lastmile.simulate.summary import summarise_day

    summary = summarise_day(result.record, seconds=result.seconds)
    console.print(_service_table(result, summary))
    console.print(f"wrote {args.output}")
    return 0


def _service_table(result: Any, summary: Any) -> str:
    counts = result.counts
    lines = [
        f"day driven through the service in {result.seconds:.1f} s "
        f"({(result.simulated_s - result.started_s) / 3600:.1f} simulated hours, "
        f"{result.requests} requests, "
        f"at most {result.behind_s:.0f} simulated s behind its clock)",
        "  " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
        f"  stops {summary.stops}: done {summary.done}, failed {summary.failed}, "
        f"not reached {summary.not_reached}, inserted {summary.inserted}; "
        + (f"on time {summary.on_time_rate:.1%}" if summary.on_time_rate is not None else "")
        + (
            f"; service ETA error median {summary.eta_error_p50_s:.0f} s, "
            f"p90 {summary.eta_error_p90_s:.0f} s"
            if summary.eta_error_p50_s is not None and summary.eta_error_p90_s is not None
            else ""
        ),
    ]
    return "\n".join(x for x in lines if x)


# -- the day and its plan ---------------------------------------------------------------


def _problem(args: argparse.Namespace) -> PlanningProblem:
    from lastmile.simulate.scenario import city_day

    if args.generate and args.problem:
        raise InputError("give a problem file or --generate, not both", where="--generate")
    if args.generate:
        if args.orders < 1:
            raise InputError(f"must be at least 1, got {args.orders}", where="--orders")
        city = _city_of_network(args.network) if args.network else None
        vans = max(2, math.ceil(args.orders / 25))
        bikes = max(1, vans // 4)
        return city_day(n_orders=args.orders, n_vans=vans, n_bikes=bikes, seed=args.seed, city=city)
    if not args.problem:
        raise InputError("give a problem file or --generate city-day", where="problem")
    path = Path(args.problem)
    if not path.is_file():
        raise InputError("no such file", where=str(path))
    from lastmile.formats.any import read_any

    return read_any(path)


def _city_of_network(path: str) -> CitySpec:
    """A city centred on the network, small enough to stay on it."""
    from lastmile.simulate.scenario import CitySpec
    from lastmile.travel.network import RoadNetwork

    net = RoadNetwork.from_pbf(Path(path), profile="car")
    lon, lat = float(net.node_lon.mean()), float(net.node_lat.mean())
    west, south, east, north = net.bounds
    half_km = min((east - west) * 111.32 * math.cos(math.radians(lat)), (north - south) * 111.32)
    return CitySpec(Path(path).name.split(".")[0], lon, lat, max(0.3, 0.4 * half_km))


def read_plan(problem: PlanningProblem, data: Any, *, where: str = "plan") -> Plan:
    """A plan from a VROOM solution (as ``lastmile solve`` writes it), timed again
    by the planner's rule on ``problem``'s matrices, leaving when each route left."""
    from lastmile.domain import Plan, Route, Unassigned, VisitKind
    from lastmile.planning.schedule import Step, build_route

    if not isinstance(data, dict) or not isinstance(data.get("routes"), list):
        raise InputError("expected a VROOM solution with routes", where=where)
    from lastmile.formats.vroom.fields import json_id

    stops: dict[tuple[Any, str], tuple[str, VisitKind]] = {}
    for order in problem.orders:
        kinds = (
            [("pickup", VisitKind.PICKUP), ("delivery", VisitKind.DELIVERY)]
            if order.pickup is not None and order.delivery is not None
            else [("job", VisitKind.JOB)]
        )
        for (name, kind), stop in zip(kinds, order.stops, strict=True):
            stops[(json_id(stop.ref or order.id), name)] = (order.id, kind)
    vehicles = {json_id(v.id): v for v in problem.vehicles}
    routes: list[Route] = []
    for i, raw in enumerate(data["routes"]):
        here = f"{where}: routes[{i}]"
        vehicle = vehicles.get(raw.get("vehicle"))
        if vehicle is None:
            raise InputError(f"unknown vehicle {raw.get('vehicle')!r}", where=here)
        steps: list[Step] = []
        start: int | None = None
        for j, step in enumerate(raw.get("steps", [])):
            kind = step.get("type")
            if kind == "start":
                start = int(step.get("arrival", 0))
            elif kind == "break":
                steps.append(Step(VisitKind.BREAK, break_id=str(step.get("id"))))
            elif kind == "reload":
                ids = [d.id for d in problem.depots]
                depot = str(step.get("depot"))
                if depot not in ids:
                    raise InputError(f"unknown depot {depot!r}", where=f"{here}.steps[{j}]")
                steps.append(Step(VisitKind.RELOAD, depot=ids.index(depot)))
            elif kind in ("job", "pickup", "delivery"):
                found = stops.get((step.get("id"), kind))
                if found is None:
                    raise InputError(
                        f"no {kind} {step.get('id')!r} in the problem", where=f"{here}.steps[{j}]"
                    )
                steps.append(Step(found[1], order_id=found[0]))
        routes.append(build_route(problem, vehicle, steps, start_time=start))
    served = {v.order_id for r in routes for v in r.visits if v.order_id}
    unassigned = tuple(
        Unassigned(o.id, "not in the plan file", "not_planned")
        for o in problem.orders
        if o.id not in served
    )
    return Plan(tuple(routes), unassigned, engine="file")


def _profile_of(name: str) -> str:
    return name.split("@x", 1)[0]


def _on_network(
    args: argparse.Namespace, problem: PlanningProblem, console: Console
) -> tuple[PlanningProblem, Plan | None, dict[str, Any]]:
    """The problem with matrices on the road network, its plan (None with --plan),
    and the true travel (bound models by profile)."""
    from lastmile.planning.solve_time_dependent import solve_time_dependent
    from lastmile.travel.network_options import build_travel_models

    names = sorted({v.type.profile for v in problem.vehicles})
    ns = argparse.Namespace(
        network=args.network, depart=args.depart, traffic=args.traffic, weather="clear"
    )
    models = build_travel_models(ns, sorted({_profile_of(n) for n in names}))
    bound = {id(m): m.bind(problem.locations) for m in models.values()}
    legs = {name: bound[id(models[_profile_of(name)])] for name in names}
    note = next(iter(models.values())).description
    problem = dataclasses.replace(problem, travel_note=note)
    if args.plan:
        _, start = _depart_seconds(args)
        matrices = {name: legs[name].departure_matrix([start] * legs[name].size) for name in names}
        return dataclasses.replace(problem, matrices=matrices), None, legs
    console.print(f"planning on the road network for up to {args.time_limit:g} s ...")
    result = solve_time_dependent(
        problem, legs, engine=args.engine, time_limit=args.time_limit, seed=args.seed
    )
    return result.stamped, result.plan, legs


def _depart_seconds(args: argparse.Namespace) -> tuple[Any, int]:
    from lastmile.travel.network_options import departure_of

    return departure_of(args)


# -- the command --------------------------------------------------------------------------


def simulate_command(args: argparse.Namespace) -> int:
    from lastmile.planning import solve
    from lastmile.simulate.summary import summarise_day
    from lastmile.simulate.twin import TwinConfig, simulate_day
    from lastmile.travel.noise import TravelNoise

    # Wide enough for the table when stderr is not a terminal (a log, a pipe).
    width = None if sys.stderr.isatty() else 132
    console = Console(stderr=True, highlight=False, soft_wrap=True, width=width)
    if args.days < 1:
        raise InputError(f"must be at least 1, got {args.days}", where="--days")
    if args.time_limit <= 0:
        raise InputError(f"must be more than 0, got {args.time_limit:g}", where="--time-limit")
    config = TwinConfig(
        noise=TravelNoise.parse(args.noise),
        weather=args.weather,
        absent_rate=args.absent_rate,
        scan_failure_rate=args.scan_failure_rate,
        urgent_orders=args.urgent_orders,
        breakdowns=args.breakdowns,
        road_closures=args.road_closures,
        replan=args.replan,
        ping_every_s=args.ping_every,
    )
    if args.service or args.serve:
        return _through_service(args, config, console)
    incidents = [_breakdown(text) for text in args.breakdown]  # checked before planning
    problem = _problem(args)
    truth: dict[str, Any] | None = None
    plan: Plan | None = None
    if args.network:
        problem, plan, truth = _on_network(args, problem, console)
    if args.plan:
        path = Path(args.plan)
        if not path.is_file():
            raise InputError("no such file", where=str(path))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"not JSON: {exc}", where=str(path)) from None
        plan = read_plan(problem, data, where=str(path))
    elif plan is None:
        console.print(f"planning {problem.name or 'the day'} for up to {args.time_limit:g} s ...")
        plan = solve(problem, engine=args.engine, time_limit=args.time_limit, seed=args.seed)
    if config.day is None and truth is None and args.depart:
        epoch, _ = _depart_seconds(args)
        config = dataclasses.replace(config, day=epoch.date())
    output = Path(args.output)
    summaries: list[DaySummary] = []
    first: dt.date | None = None
    for k in range(args.days):
        seed = args.seed + k
        # The same plan on successive dates: the first day's, then one day later each.
        day_config = (
            config if first is None else dataclasses.replace(config, day=first + dt.timedelta(k))
        )
        began = time.perf_counter()
        result = simulate_day(
            problem, plan, config=day_config, seed=seed, truth=truth, incidents=incidents
        )
        first = first or result.record.day
        seconds = time.perf_counter() - began
        target = (
            output
            if args.days == 1
            else output.with_name(f"{output.stem}-day{k + 1:02d}{output.suffix}")
        )
        _write(target, result.record)
        if args.legs and result.legs:
            legs_path = Path(args.legs)
            if args.days > 1:
                legs_path = legs_path.with_name(
                    f"{legs_path.stem}-day{k + 1:02d}{legs_path.suffix}"
                )
            _write_legs(legs_path, result)
        summaries.append(summarise_day(result.record, seconds=seconds, seed=seed))
        console.print(f"day {k + 1} (seed {seed}): {seconds:.2f} s -> {target}")
    print_summaries(console, summaries, plan_routes=len([r for r in plan.routes if r.tasks]))
    return 0


def _breakdown(text: str) -> Scheduled:
    """``VEHICLE@HH:MM`` as a breakdown."""
    from lastmile.simulate.incidents import BREAKDOWN, Scheduled
    from lastmile.travel.traffic import parse_clock

    vehicle, sep, clock = text.rpartition("@")
    if not sep or not vehicle:
        raise InputError(f"expected VEHICLE@HH:MM, got {text!r}", where="--breakdown")
    return Scheduled(parse_clock(clock, where="--breakdown"), BREAKDOWN, vehicle_id=vehicle)


def _write(path: Path, record: DayRecord) -> None:
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(record.to_dict()) + "\n", encoding="utf-8")
    tmp.replace(path)


def _write_legs(path: Path, result: TwinResult) -> None:
    legs = [
        {
            "vehicle_id": leg.vehicle_id,
            "edges": list(leg.edges),
            "departure_s": leg.departure_s,
            "duration_s": leg.duration_s,
            "distance_m": leg.distance_m,
            "weather_multiplier": leg.weather_multiplier,
        }
        for leg in result.legs
    ]
    epoch = result.epoch.isoformat() if result.epoch is not None else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"epoch": epoch, "legs": legs}) + "\n", encoding="utf-8")


def print_summaries(console: Console, days: list[DaySummary], *, plan_routes: int) -> None:
    table = Table(title=f"simulated days ({plan_routes} routes planned)")
    for name in (
        "seed",
        "stops",
        "on time",
        "failed",
        "not reached",
        "inserted",
        "km",
        "hours",
        "ETA error p50/p90",
        "sim s",
    ):
        table.add_column(name, justify="right")
    for d in days:
        table.add_row(
            str(d.seed),
            str(d.stops),
            f"{d.on_time_rate:.1%}" if d.on_time_rate is not None else "-",
            str(d.failed),
            str(d.not_reached),
            str(d.inserted),
            f"{d.km:.1f}",
            f"{d.hours:.1f}",
            (
                f"{d.eta_error_p50_s / 60:.1f} / {d.eta_error_p90_s / 60:.1f} min"
                if d.eta_error_p50_s is not None and d.eta_error_p90_s is not None
                else "-"
            ),
            f"{d.seconds:.2f}",
        )
    console.print(table)
