"""Time-dependent re-timing error on a realistic delivery day.

A weekday on a road network (the Monaco extract when the OSM road network
loader is available, else a 40x40 synthetic grid), the default traffic
profile, rain from 07:00 to 10:00, one depot, ``--stops`` deliveries (60 %
with a 1- or 2-hour window between 07:00 and 18:00, the rest any time),
3-5 minutes of service each, vans of 25 parcels on 07:00-19:00 shifts.

For each planning method the engine's promised arrival at every stop is
compared with the arrival recomputed with the exact time-dependent model
(``solve_time_dependent``'s ``ArrivalError``):

* ``shift``: every matrix row at the vehicles' shift start (one profile per
  shift start), one solve;
* ``stamped``: rows stamped with the expected departure from each location,
  ``--rounds`` rounds of solve / re-time / re-stamp.

Also printed: the exact time-dependent fastest path against the free-flow
fastest path re-timed with the same model, on random legs through the day.

    python benchmarks/timedep.py [--network tests/data/osm/monaco.osm.pbf]
        [--stops 150] [--time-limit 30] [--rounds 4] [--seed 1]

OSM data (c) OpenStreetMap contributors, ODbL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from lastmile.domain import (
    Depot,
    Location,
    Order,
    OrderKind,
    Stop,
    TimeWindow,
    Vehicle,
    VehicleType,
)
from lastmile.planning import PlanningProblem
from lastmile.planning.solve_time_dependent import solve_time_dependent
from lastmile.travel.synthetic import grid_network
from lastmile.travel.time_dependent import TimeDependentModel
from lastmile.travel.traffic import TrafficProfile
from lastmile.travel.weather import FileWeather

H = 3600
MONACO = Path(__file__).resolve().parent.parent / "tests" / "data" / "osm" / "monaco.osm.pbf"


def load_network(path: Path | None) -> tuple[Any, str]:
    """The road network at ``path`` (or Monaco), or a synthetic grid if none can be loaded."""
    try:
        from lastmile.travel.network import RoadNetwork
    except ImportError:
        if path is not None:
            sys.exit("the OSM road network loader (lastmile.travel.network) is not available")
        return grid_network(rows=40, cols=40, spacing_m=150), "synthetic 40x40 grid, 150 m"
    target = path or MONACO
    return RoadNetwork.from_pbf(target, cache=False), target.name


def make_problem(
    model: TimeDependentModel, n_stops: int, seed: int, radius_m: float
) -> tuple[PlanningProblem, Any]:
    rng = np.random.default_rng(seed)
    net = model.network
    nodes = model._largest_component()
    lon = np.asarray(net.node_lon)
    lat = np.asarray(net.node_lat)
    centre = int(nodes[np.argmin((lon[nodes] - lon.mean()) ** 2 + (lat[nodes] - lat.mean()) ** 2)])
    # A delivery area: nodes within --radius metres of the depot.
    kx = 111_320 * np.cos(np.radians(lat[centre]))
    near = nodes[
        np.hypot((lon[nodes] - lon[centre]) * kx, (lat[nodes] - lat[centre]) * 110_540) < radius_m
    ]
    picks = [centre, *(int(x) for x in rng.choice(near[near != centre], n_stops, replace=False))]
    locations = [Location(float(lon[n]), float(lat[n]), name=f"n{n}") for n in picks]
    bound = model.bind(locations)
    orders = []
    for i in range(n_stops):
        service = int(rng.integers(180, 301))
        windows: tuple[TimeWindow, ...] = ()
        if rng.random() < 0.6:
            start = int(rng.integers(7 * 4, 17 * 4)) * 900
            windows = (TimeWindow(start, start + int(rng.choice([H, 2 * H]))),)
        stop = Stop(i + 1, service=service, time_windows=windows)
        orders.append(Order(f"o{i}", OrderKind.DELIVERY, delivery=stop, amount=(1,)))
    van = VehicleType("van", (25,), cost_per_hour=3600, fixed_cost=0)
    n_vans = max(2, n_stops // 15)
    problem = PlanningProblem(
        locations=tuple(locations),
        matrices={"car": bound.departure_matrix([7 * H] * len(locations))},
        depots=(Depot("depot", 0),),
        vehicles=tuple(
            Vehicle(f"van{i}", van, shift=TimeWindow(7 * H, 19 * H)) for i in range(n_vans)
        ),
        orders=tuple(orders),
        dimensions=("parcels",),
        name=f"{n_stops} stops",
    )
    return problem, bound


def path_choice(model: TimeDependentModel, legs: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    nodes = model._largest_component()
    rel = []
    exact_s = []
    began = time.perf_counter()
    for _ in range(legs):
        a, b = (int(x) for x in rng.choice(nodes, 2, replace=False))
        t = float(rng.uniform(6, 20)) * H
        exact = model.travel_time(a, b, t)
        rel.append(model.freeflow_path_duration(a, b, t) / exact - 1)
        exact_s.append(exact)
    took = time.perf_counter() - began
    r = np.array(rel) * 100
    print(
        f"path choice on {legs} random legs 06:00-20:00 (median leg {np.median(exact_s):.0f} s): "
        f"free-flow path re-timed is slower than the exact time-dependent path by "
        f"p50 {np.percentile(r, 50):.2f} %, p95 {np.percentile(r, 95):.2f} %, "
        f"max {r.max():.2f} %; {np.mean(r > 0.01) * 100:.0f} % of legs differ ({took:.1f} s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--network", type=Path, default=None)
    ap.add_argument("--stops", type=int, default=150)
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--radius", type=float, default=3000.0, help="delivery area radius (m)")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()

    net, label = load_network(args.network)
    with tempfile.TemporaryDirectory() as tmp:
        rain = Path(tmp) / "rain.csv"
        rain.write_text("start,end,conditions\n2024-03-05T07:00,2024-03-05T10:00,rain\n")
        began = time.perf_counter()
        model = TimeDependentModel(
            net, TrafficProfile.default(), FileWeather(rain), epoch=dt.datetime(2024, 3, 5)
        )
        print(f"network: {label}: {model.num_nodes} nodes, {model.num_edges} edges")
        problem, bound = make_problem(model, args.stops, args.seed, args.radius)
    print(
        f"problem: {len(problem.orders)} deliveries, {len(problem.vehicles)} vans, "
        f"Tuesday 07:00-19:00, default traffic, rain 07:00-10:00 "
        f"(set-up {time.perf_counter() - began:.1f} s)"
    )
    path_choice(model, 200, args.seed)
    for method, rounds in (("shift", 1), ("stamped", args.rounds)):
        began = time.perf_counter()
        result = solve_time_dependent(
            problem,
            bound,
            method=method,
            rounds=rounds,
            time_limit=args.time_limit,
            seed=args.seed,
            workers=args.workers,
        )
        took = time.perf_counter() - began
        print(f"\nmethod {method} ({rounds} round{'s' if rounds > 1 else ''}, {took:.1f} s):")
        for r in result.rounds:
            print(
                f"  round {r.round}: {r.error}; promised cost {r.promised_cost}, "
                f"re-timed {r.retimed_cost}, {r.breaking_routes} route(s) break, "
                f"after repair {r.unassigned} unassigned and cost {r.final_cost}; {r.seconds:.1f} s"
            )
        e = result.error
        print(
            f"  kept plan: p50 {e.p50_s:.0f} s, p95 {e.p95_s:.0f} s, max {e.max_s:.0f} s, "
            f"{100 * e.within_60s:.1f} % within 60 s (target: 95 %)"
        )
        print(
            f"  repair: {len(result.dropped)} dropped, {len(result.reinserted)} re-inserted, "
            f"{len(result.plan.unassigned)} unassigned; final cost {result.plan.cost}; "
            f"violations {len(result.violations())}"
        )


if __name__ == "__main__":
    main()
