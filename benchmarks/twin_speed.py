"""How fast the digital twin simulates a day, in-process, with and without a road network.

A generated day (``city_day``: vans and cargo bikes, two depots, windows, breaks) is
planned once, then simulated with the default twin (log-normal noise, 3 % absent
customers, pings every 30 s, ETAs every 15 min) plus one breakdown, three urgent
orders and one closed road, for ``--days`` seeds. With ``--network`` the day is
placed on the extract, planned with the time-dependent planner and driven on the
road network (exact time-dependent paths, default traffic). Printed: seconds per
simulated day (planning excluded), events, pings, legs.

    python benchmarks/twin_speed.py [--orders 250] [--days 3] [--time-limit 5]
    python benchmarks/twin_speed.py --network tests/data/osm/helsinki.osm.pbf
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import time
from pathlib import Path

from lastmile.planning import solve
from lastmile.planning.solve_time_dependent import solve_time_dependent
from lastmile.simulate import CitySpec, city_day
from lastmile.simulate.twin import TwinConfig, simulate_day
from lastmile.travel.network import RoadNetwork
from lastmile.travel.time_dependent import TimeDependentModel
from lastmile.travel.traffic import TrafficProfile

EPOCH = dt.datetime(2026, 11, 24)  # a Tuesday


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=250)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=5.0)
    ap.add_argument("--network", help="an .osm.pbf extract to drive on")
    args = ap.parse_args()
    vans = max(2, math.ceil(args.orders / 21))
    truth = None
    began = time.perf_counter()
    if args.network:
        network = RoadNetwork.from_pbf(Path(args.network), profile="car")
        lon, lat = float(network.node_lon.mean()), float(network.node_lat.mean())
        west, south, east, north = network.bounds
        half = min((east - west) * 111.32 * math.cos(math.radians(lat)), (north - south) * 111.32)
        city = CitySpec(Path(args.network).stem, lon, lat, 0.4 * half)
        problem = city_day(n_orders=args.orders, n_vans=vans, n_bikes=3, seed=7, city=city)
        model = TimeDependentModel(network, TrafficProfile.default(), epoch=EPOCH)
        bound = model.bind(problem.locations)
        legs = {"van": bound, "bike": bound}
        result = solve_time_dependent(problem, legs, time_limit=args.time_limit, seed=0)
        problem, plan = result.stamped, result.plan
        truth = legs
        where = f"road network {Path(args.network).name} ({network.n_nodes} nodes)"
    else:
        problem = city_day(n_orders=args.orders, n_vans=vans, n_bikes=3, seed=7)
        plan = solve(problem, time_limit=args.time_limit, seed=0)
        where = "the plan's matrices"
    planned = time.perf_counter() - began
    stops = sum(len(r.tasks) for r in plan.routes)
    print(
        f"{args.orders} orders, {stops} stops on {len([r for r in plan.routes if r.tasks])} "
        f"routes, travel on {where}; planned in {planned:.1f} s"
    )
    config = TwinConfig(breakdowns=1, urgent_orders=3, road_closures=1)
    print("seed  seconds  events  pings  legs on roads  on time")
    for seed in range(args.days):
        t0 = time.perf_counter()
        day = simulate_day(problem, plan, config=config, seed=seed, truth=truth)
        seconds = time.perf_counter() - t0
        timed = [s.on_time for s in day.record.stops if s.on_time is not None]
        print(
            f"{seed:4d}  {seconds:7.2f}  {day.events:6d}  {len(day.record.positions):5d}  "
            f"{len(day.legs):13d}  {sum(timed) / max(1, len(timed)):.1%}"
        )
    quiet = dataclasses.replace(config, ping_every_s=0, eta_every_s=0)
    t0 = time.perf_counter()
    simulate_day(problem, plan, config=quiet, seed=0, truth=truth)
    print(f"without pings and ETA samples: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
