"""Speed learning on simulated trips: the fit, the map matching, and ETAs on held-back days.

``--part fit``: fitted factors converge on a known truth. Ground truth: the
default traffic profile with a 20 % worse weekday morning rush (07:00-10:00) on
primary roads and residential streets 10 % slower all day.
Legs between random nodes of a 25x25 synthetic grid, departures uniform over
06:00-20:00 of one Tuesday, timed exactly under the truth, then given a
lognormal noise of 10 % and, in the outlier rows, 10 % of legs 2-4 times too
long. The prior is the default profile. Printed: the mean absolute factor error
over the cells the data touch, for the prior, the robust fit (Huber) and a
plain least-squares fit.

``--part match``: map-matching accuracy on the Monaco extract (tests/data/osm):
fastest paths between random nodes at least 800 m apart, driven at the default
profile's speeds between 08:00 and 17:00, pinged every 5, 15 or 30 s with
Gaussian noise of 5, 10 or 20 m per axis. Printed per setting: the share of the
true path's edges the matched path has (and of the matched path's edges the true
one has: the smaller of the two, :func:`lastmile.travel.mapmatch.edge_accuracy`),
mean and worst trip, breaks, and matching time per ping.

``--part days``: simulated days on the Monaco extract with known "true" speeds
(the default profile with residential and unclassified streets 25 % slower all day,
primary/secondary/tertiary roads 30 % slower in the weekday rushes and service
roads 15 % slower), vans visiting random stops (within ``--area-km`` of the
network's middle) with 3 minutes' service, a ping every ``--interval`` s with
``--gps-noise`` m of noise, and each leg's time drawn around the truth with
``--leg-noise`` (default: the default lognormal travel noise, lastmile.travel.noise;
``none``: every leg at the true speeds).
Learned (map matching, fit) on the first ``--train-days`` weekdays, checked on the
next ``--test-days``: the error of leg durations (stop to stop, the planner's
time-dependent fastest path between the stops) and of the ETAs of the stops
within the next hour after each departure (the sum of the predicted legs and
service), under the prior (default profile), the learned one and the "true" one
the days were driven at (the floor the leg noise leaves to any learned profile).

``--part twin``: the same on days the digital twin (lastmile.simulate.twin) plans
and drives on the Monaco extract with the same "true" speeds: ``--orders`` orders
and 3 vans a day (lastmile.simulate.city_day around Monaco), planned on the
prior, driven at the truth with ``--leg-noise``, pings every ``--interval`` s
with ``--gps-noise`` m; learned from the records of the first days
(lastmile.travel.mapmatch.traces_of_day), and on the held-back days the ETAs of
the stops each van reached within the hour after each departure, predicted with
the prior, the learned and the true profile (the dwell at each stop as it was:
only travel is predicted).

    python benchmarks/learning.py [--part all|fit|match|days|twin] [--seed 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

from lastmile.travel.learning import (
    fit_traffic_profile,
    learn_traffic,
    profile_error,
    simulate_observations,
)
from lastmile.travel.mapmatch import (
    MapMatcher,
    SimulatedDay,
    drive_positions,
    edge_accuracy,
    legs_between_stops,
    simulate_day,
)
from lastmile.travel.network import RoadNetwork
from lastmile.travel.noise import TravelNoise
from lastmile.travel.synthetic import grid_network
from lastmile.travel.time_dependent import TimeDependentModel
from lastmile.travel.traffic import TrafficProfile

MONACO = Path(__file__).resolve().parents[1] / "tests" / "data" / "osm" / "monaco.osm.pbf"
SERVICE_S = 180.0


def fit_part(args: argparse.Namespace) -> None:
    print("== fit: factors against a known truth (25x25 grid)")
    net = grid_network(rows=25, cols=25)
    prior = TrafficProfile.default()
    f = np.array(prior.factors)
    f[0, prior.class_index("primary"), 28:40] *= 0.8
    f[0, prior.class_index("residential"), :] *= 0.9
    truth = TrafficProfile(road_classes=prior.road_classes, factors=f)
    print("legs    outliers  prior   robust  plain LS  cells  fit s")
    for n in (200, 1000, 5000, 20000):
        for outliers in (0.0, 0.1):
            legs = simulate_observations(
                net, truth, n=n, start=dt.date(2024, 3, 5), outlier_share=outliers, seed=args.seed
            )
            began = time.perf_counter()
            robust = fit_traffic_profile(net, legs, prior=prior)
            took = time.perf_counter() - began
            plain = fit_traffic_profile(net, legs, prior=prior, huber_k=1e9)
            mask = robust.weight > 0
            print(
                f"{n:6d}  {outliers:7.0%}  {profile_error(prior, truth, mask=mask):.4f}  "
                f"{profile_error(robust.profile, truth, mask=mask):.4f}  "
                f"{profile_error(plain.profile, truth, mask=mask):.4f}    "
                f"{robust.cells_with_data:4d}  {took:5.2f}"
            )


def trips(model: TimeDependentModel, n: int, seed: int) -> list[tuple[list[int], float]]:
    rng = np.random.default_rng(seed)
    nodes = model._largest_component()
    out: list[tuple[list[int], float]] = []
    while len(out) < n:
        a, b = (int(x) for x in rng.choice(nodes, size=2, replace=False))
        depart = float(rng.uniform(8, 17) * 3600)
        edges, _ = model.fastest_path(a, b, depart)
        if model._length[edges].sum() >= 800:
            out.append((edges, depart))
    return out


def match_part(args: argparse.Namespace) -> None:
    print("== map matching on Monaco: share of edges right")
    network = RoadNetwork.from_pbf(MONACO, profile="car")
    model = TimeDependentModel(network, TrafficProfile.default(), epoch=dt.datetime(2024, 3, 5))
    matcher = MapMatcher(network)
    paths = trips(model, args.trips, args.seed)
    km = sum(float(model._length[e].sum()) for e, _ in paths) / 1000 / len(paths)
    print(f"{len(paths)} trips, {km:.1f} km on average")
    print("noise m  ping s   mean   worst  breaks  ms/ping")
    rng = np.random.default_rng(args.seed)
    for noise in (5.0, 10.0, 20.0):
        for interval in (5.0, 15.0, 30.0):
            scores, breaks, pings, took = [], 0, 0, 0.0
            for edges, depart in paths:
                _, _, arrival = drive_positions(model, edges, depart, np.array([depart]))
                times = np.append(np.arange(depart, arrival, interval), arrival)
                lon, lat, _ = drive_positions(model, edges, depart, times)
                x, y = matcher.project(lon, lat)
                x = x + rng.normal(0, noise, len(times))
                y = y + rng.normal(0, noise, len(times))
                began = time.perf_counter()
                result = matcher.match(times, x / matcher._kx, y / matcher._ky)
                took += time.perf_counter() - began
                pings += len(times)
                breaks += len(result.segments) - 1
                matched = [e for seg in result.segments for e in seg.edges]
                scores.append(edge_accuracy(matched, edges))
            print(
                f"{noise:7.0f}  {interval:6.0f}  {np.mean(scores):.3f}  {min(scores):.3f}  "
                f"{breaks:6d}  {1000 * took / pings:7.2f}"
            )


def truth_profile(prior: TrafficProfile) -> TrafficProfile:
    f = np.array(prior.factors)
    for name in ("residential", "unclassified"):
        f[:, prior.class_index(name), :] *= 0.75
    rush = np.r_[28:38, 64:76]  # 07:00-09:30, 16:00-19:00
    for name in ("primary", "secondary", "tertiary"):
        f[0, prior.class_index(name), rush] *= 0.7
    f[:, prior.class_index("service"), :] *= 0.85
    return TrafficProfile(road_classes=prior.road_classes, factors=f)


def weekdays(start: dt.date, n: int) -> list[dt.date]:
    out, day = [], start
    while len(out) < n:
        if day.weekday() < 5:
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def days_part(args: argparse.Namespace) -> None:
    noise = TravelNoise.parse(args.leg_noise)
    print(
        f"== simulated days on Monaco: {args.train_days} learned, {args.test_days} held back, "
        f"{args.vans} vans x {args.stops} stops a day, ping every {args.interval:g} s, "
        f"GPS noise {args.gps_noise:g} m, leg noise {noise.describe()}, stops within "
        f"{args.area_km:g} km of the centre"
    )
    network = RoadNetwork.from_pbf(MONACO, profile="car")
    prior = TrafficProfile.default()
    truth = truth_profile(prior)
    matcher = MapMatcher(network)
    rng = np.random.default_rng(args.seed)
    days = weekdays(dt.date(2024, 3, 4), args.train_days + args.test_days)
    sims: dict[dt.date, list[SimulatedDay]] = {}
    stops_of: dict[dt.date, list[list[int]]] = {}
    began = time.perf_counter()
    for d, day in enumerate(days):
        model = TimeDependentModel(network, truth, epoch=dt.datetime.combine(day, dt.time()))
        nodes = model._largest_component()
        # Stops in a delivery area: within area_km of the middle of the network.
        x, y = matcher.project(network.node_lon[nodes], network.node_lat[nodes])
        mid_x, mid_y = np.median(x), np.median(y)
        nodes = nodes[np.hypot(x - mid_x, y - mid_y) <= 1000 * args.area_km]
        sims[day], stops_of[day] = [], []
        for v in range(args.vans):
            stops = [int(x) for x in rng.choice(nodes, size=args.stops + 1, replace=False)]
            sims[day].append(
                simulate_day(
                    model,
                    stops,
                    vehicle=f"{day}-v{v}",
                    depart_s=float(rng.uniform(7.0, 9.5) * 3600),
                    service_s=SERVICE_S,
                    interval_s=args.interval,
                    noise_m=args.gps_noise,
                    seed=1000 * d + v,
                    leg_noise=None if noise.is_none else noise,
                )
            )
            stops_of[day].append(stops)
    print(f"simulated in {time.perf_counter() - began:.1f} s")
    train = days[: args.train_days]
    test = days[args.train_days :]
    began = time.perf_counter()
    report = legs_between_stops(
        matcher,
        [p for day in train for s in sims[day] for p in s.pings],
        [e for day in train for s in sims[day] for e in s.events],
    )
    matched = time.perf_counter() - began
    true_edges = {
        (s.pings[0].vehicle, departed): edges
        for day in train
        for s in sims[day]
        for edges, departed, _ in s.legs
    }
    acc = [edge_accuracy(m.edges, true_edges[(m.vehicle, m.departed)]) for m in report.legs]
    truth_legs = list(true_edges)
    print(
        f"matched {len(report.legs)} of {len(truth_legs)} legs in {matched:.1f} s "
        f"({report.pings} pings; share of edges right {np.mean(acc):.3f}), "
        f"{len(report.observed)} with whole edges"
    )
    began = time.perf_counter()
    learned = learn_traffic(network, report.observed, prior=prior, holdout_share=0.2)
    print(f"fitted in {time.perf_counter() - began:.1f} s")
    for line in learned.lines():
        print("  " + line)
    mask = learned.fit.weight > 0
    print(
        f"factor error on the cells with data: prior {profile_error(prior, truth, mask=mask):.3f}, "
        f"learned {profile_error(learned.profile, truth, mask=mask):.3f}"
    )
    # The speeds the days were driven at: the best any learned profile can do, the
    # leg noise aside (what is left in its row is the noise itself).
    rows = {"prior": prior, "learned": learned.profile, "truth": truth}
    leg_err: dict[str, list[float]] = {name: [] for name in rows}
    eta_err: dict[str, list[float]] = {name: [] for name in rows}
    for day in test:
        epoch = dt.datetime.combine(day, dt.time())
        models = {name: TimeDependentModel(network, p, epoch=epoch) for name, p in rows.items()}
        for sim, stops in zip(sims[day], stops_of[day], strict=True):
            leaves = [(dep - epoch).total_seconds() for _, dep, _ in sim.legs]
            true_arrivals = [lv + dur for lv, (_, _, dur) in zip(leaves, sim.legs, strict=True)]
            for name, model in models.items():
                predicted = [
                    model.travel_time(stops[k], stops[k + 1], leaves[k]) for k in range(len(leaves))
                ]
                leg_err[name].extend(
                    abs(p - dur) for p, (_, _, dur) in zip(predicted, sim.legs, strict=True)
                )
                # From each departure, the ETAs of the stops reached within the next hour.
                for k in range(len(leaves)):
                    clock = leaves[k]
                    for j in range(k, len(leaves)):
                        if true_arrivals[j] - leaves[k] > 3600:
                            break
                        go = leaves[k] if j == k else clock + SERVICE_S
                        clock = go + model.travel_time(stops[j], stops[j + 1], go)
                        eta_err[name].append(abs(clock - true_arrivals[j]))
    print("held-back days      legs   median s  mean s  p90 s  | ETAs <1 h  median s  p90 s")
    for name in rows:
        le, ee = np.array(leg_err[name]), np.array(eta_err[name])
        print(
            f"{name:18s}  {len(le):5d}  {np.median(le):8.1f}  {le.mean():6.1f}  "
            f"{np.percentile(le, 90):5.1f}  |  {len(ee):8d}  {np.median(ee):8.1f}  "
            f"{np.percentile(ee, 90):5.1f}"
        )


def twin_part(args: argparse.Namespace) -> None:
    """The same check on days the digital twin drives (lastmile.simulate.twin)."""
    import dataclasses

    from lastmile.planning import solve
    from lastmile.simulate import CitySpec, city_day
    from lastmile.simulate.twin import TwinConfig
    from lastmile.simulate.twin import simulate_day as twin_day
    from lastmile.travel.mapmatch import traces_of_day

    noise = TravelNoise.parse(args.leg_noise)
    print(
        f"== the twin on Monaco: {args.train_days} days learned, {args.test_days} held back, "
        f"{args.orders} orders and 3 vans a day, ping every {args.interval:g} s, "
        f"GPS noise {args.gps_noise:g} m, leg noise {noise.describe()}"
    )
    network = RoadNetwork.from_pbf(MONACO, profile="car")
    prior = TrafficProfile.default()
    truth = truth_profile(prior)
    matcher = MapMatcher(network)
    city = CitySpec("Monaco", 7.4215, 43.7370, 0.9)
    config = TwinConfig(
        noise=noise,
        gps_sigma_m=args.gps_noise,
        ping_every_s=int(args.interval),
        absent_rate=0.0,
        scan_failure_rate=0.0,
    )
    days = weekdays(dt.date(2024, 3, 4), args.train_days + args.test_days)
    records = []
    problems = []
    began = time.perf_counter()
    for d, day in enumerate(days):
        epoch = dt.datetime.combine(day, dt.time())
        problem = city_day(
            n_orders=args.orders, n_vans=3, n_bikes=0, seed=d, city=city, breaks=False
        )
        planner = TimeDependentModel(network, prior, epoch=epoch).bind(problem.locations)
        matrix = planner.departure_matrix([9 * 3600] * planner.size)
        problem = dataclasses.replace(problem, matrices=dict.fromkeys(problem.matrices, matrix))
        plan = solve(problem, time_limit=2.0, seed=0, workers=1)
        true = TimeDependentModel(network, truth, epoch=epoch).bind(problem.locations)
        result = twin_day(
            problem,
            plan,
            config=dataclasses.replace(config, day=day),
            seed=d,
            truth=dict.fromkeys(problem.matrices, true),
        )
        records.append(result.record)
        problems.append(problem)
    print(f"{len(days)} days planned and driven in {time.perf_counter() - began:.1f} s")
    pings, events = [], []
    for record in records[: args.train_days]:
        p, e = traces_of_day(record)
        pings += [dataclasses.replace(x, vehicle=f"{record.day}/{x.vehicle}") for x in p]
        events += [dataclasses.replace(x, vehicle=f"{record.day}/{x.vehicle}") for x in e]
    began = time.perf_counter()
    report = legs_between_stops(matcher, pings, events)
    print(
        f"matched {len(report.legs)} legs from {report.pings} pings in "
        f"{time.perf_counter() - began:.1f} s ({report.broken} broken)"
    )
    learned = learn_traffic(network, report.observed, prior=prior, holdout_share=0.2)
    for line in learned.lines():
        print("  " + line)
    profiles = {"prior": prior, "learned": learned.profile, "truth": truth}
    errors: dict[str, list[float]] = {name: [] for name in profiles}
    for record, problem in zip(
        records[args.train_days :], problems[args.train_days :], strict=True
    ):
        epoch = dt.datetime.combine(record.day, dt.time())
        bound = {
            name: TimeDependentModel(network, p, epoch=epoch).bind(problem.locations)
            for name, p in profiles.items()
        }
        row_of = {(loc.lon, loc.lat): i for i, loc in enumerate(problem.locations)}
        for route in record.routes:
            if route.actual_start is None:
                continue
            vehicle = next(v for v in problem.vehicles if v.id == route.vehicle_id)
            assert vehicle.start_depot is not None
            rows = [problem.depots[vehicle.start_depot].location]
            arrive: list[int] = [route.actual_start]
            leave: list[int] = [route.actual_start]
            for stop in sorted(
                (s for s in record.stops_of(route.vehicle_id) if s.arrival is not None),
                key=lambda s: s.arrival or 0,
            ):
                row = row_of.get((stop.lon, stop.lat))
                if row is None or stop.arrival is None:
                    continue
                rows.append(row)
                arrive.append(stop.arrival)
                leave.append(stop.departure if stop.departure is not None else stop.arrival)
            for name, model in bound.items():
                # From each departure, the stops reached within the next hour: predicted
                # legs, the dwell at each stop as it was (only travel is predicted).
                for k in range(len(rows) - 1):
                    clock = float(leave[k])
                    for j in range(k + 1, len(rows)):
                        if arrive[j] - leave[k] > 3600:
                            break
                        clock += model.leg_duration(rows[j - 1], rows[j], int(clock))
                        errors[name].append(abs(clock - arrive[j]))
                        clock += leave[j] - arrive[j]
    print("held-back days    ETAs of stops within the next hour: n   median s  mean s  p90 s")
    for name, err in errors.items():
        e = np.array(err)
        print(
            f"{name:18s}{len(e):38d}  {np.median(e):8.1f}  {e.mean():6.1f}  "
            f"{np.percentile(e, 90):5.1f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("all", "fit", "match", "days", "twin"), default="all")
    ap.add_argument("--orders", type=int, default=60, help="orders a day (--part twin)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--trips", type=int, default=30, help="trips per matching setting")
    ap.add_argument("--train-days", type=int, default=10)
    ap.add_argument("--test-days", type=int, default=3)
    ap.add_argument("--vans", type=int, default=4)
    ap.add_argument("--stops", type=int, default=20)
    ap.add_argument("--interval", type=float, default=15.0, help="ping interval, s")
    ap.add_argument("--gps-noise", type=float, default=10.0, help="GPS noise per axis, m")
    ap.add_argument(
        "--leg-noise", default="lognormal", help="travel noise per leg (TravelNoise.parse)"
    )
    ap.add_argument("--area-km", type=float, default=2.0, help="stops within this radius")
    args = ap.parse_args()
    print("python benchmarks/learning.py " + " ".join(sys.argv[1:]))
    if args.part in ("all", "fit"):
        fit_part(args)
    if args.part in ("all", "match"):
        match_part(args)
    if args.part in ("all", "days"):
        days_part(args)
    if args.part in ("all", "twin"):
        twin_part(args)


if __name__ == "__main__":
    main()
