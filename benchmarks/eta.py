"""ETA recomputation for one 50-stop route: how long it takes.

A route of 50 deliveries around Paris (time windows, 4-minute service, one
30-minute break) is scheduled with the planner's ``build_route``; then the
tracking logic (``lastmile.operations``: progress, position, eta) recomputes it as it
would on the road, in four situations:

* ``start``    -- nothing reported yet (all 50 stops ahead);
* ``midway``   -- 20 stops delivered, 1 failed, a GPS fix newer than the last one;
* ``at_stop``  -- the driver is at stop 25 (arrived, not finished);
* ``+matrix``  -- ``midway`` plus building the durations between the fix and the
  remaining stops with the straight-line travel model (the service does both).

Side by side, in the same run: rescheduling the remaining steps with the
planner's ``build_route`` (the peer: what re-timing with the planning code
costs). Each figure is the median and 95th percentile of ``--repeat`` calls,
in microseconds, with the machine's load average (the machine may be shared).

    python benchmarks/eta.py [--stops 50] [--repeat 3000] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

from lastmile.domain import (
    Break,
    Depot,
    Location,
    Order,
    OrderKind,
    Stop,
    TimeWindow,
    Vehicle,
    VehicleType,
    VisitKind,
)
from lastmile.operations.eta import track_route
from lastmile.operations.position import Fix, Origin
from lastmile.operations.progress import StopEventKind, StopEventRecord, tracked_stops
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.schedule import Step, build_route
from lastmile.travel import HaversineModel

HOUR = 3600


def build_case(n_stops: int, seed: int) -> tuple[PlanningProblem, list[Step]]:
    rng = random.Random(seed)
    locations = [Location(2.35, 48.85, name="depot")]
    orders = []
    for k in range(n_stops):
        locations.append(Location(2.25 + rng.random() * 0.2, 48.80 + rng.random() * 0.1))
        start = 8 * HOUR + (k * 9 * HOUR) // n_stops
        window = TimeWindow(start - HOUR, start + 2 * HOUR)
        orders.append(
            Order(
                f"o{k}",
                OrderKind.DELIVERY,
                delivery=Stop(k + 1, service=240, setup=30, time_windows=(window,)),
                amount=(1,),
            )
        )
    vehicle = Vehicle(
        "v",
        VehicleType("van", (n_stops,)),
        shift=TimeWindow(7 * HOUR, 20 * HOUR),
        breaks=(Break("lunch", (TimeWindow(12 * HOUR, 14 * HOUR),), 1800),),
    )
    matrix = HaversineModel(speed_kph=30, detour_factor=1.3).matrix(locations)
    problem = PlanningProblem(
        locations=tuple(locations),
        matrices={"car": matrix},
        depots=(Depot("d", 0, TimeWindow(6 * HOUR, 21 * HOUR)),),
        vehicles=(vehicle,),
        orders=tuple(orders),
        dimensions=("units",),
    )
    steps = [Step(VisitKind.JOB, order_id=f"o{k}") for k in range(n_stops)]
    steps.insert(n_stops // 2, Step(VisitKind.BREAK, break_id="lunch"))
    return problem, steps


def measure(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    for _ in range(min(100, repeat)):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        times.append((time.perf_counter_ns() - t0) / 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stops", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    problem, steps = build_case(args.stops, args.seed)
    vehicle = problem.vehicles[0]
    route = build_route(problem, vehicle, steps)
    stops = tracked_stops(problem, route)
    rows = problem.matrices["car"].durations.tolist()
    depart = route.visits[0]
    start = Origin(depart.location, depart.departure)
    tasks = [v for v in route.visits if v.is_task]

    # Midway: 20 delivered, one failed, a fix on the way to the next stop.
    n = len(problem.locations)
    fix_loc = Location(2.33, 48.84)
    model = HaversineModel(speed_kph=30, detour_factor=1.3)
    full = model.matrix([*problem.locations, fix_loc]).durations.tolist()
    done_at = tasks[20].departure
    events = [
        StopEventRecord(v.order_id or "", v.kind, StopEventKind.DELIVERED, v.departure)
        for v in tasks[:20]
    ]
    events.append(
        StopEventRecord(tasks[20].order_id or "", tasks[20].kind, StopEventKind.FAILED, done_at)
    )
    fix = Fix(n, done_at + 300)
    now = done_at + 320
    at_stop = [
        *events,
        StopEventRecord(tasks[25].order_id or "", tasks[25].kind, StopEventKind.ARRIVED, now),
    ]

    def start_case() -> object:
        return track_route(stops, [], durations=rows, now_s=depart.departure, start=start)

    def midway_case() -> object:
        return track_route(
            stops, events, durations=full, now_s=now, start=start, fix=fix, margin_s=600
        )

    def at_stop_case() -> object:
        return track_route(stops, at_stop, durations=full, now_s=now, start=start, margin_s=600)

    # As the service does it: a matrix over the fix and the places still ahead
    # only (row 0 = the fix), the stops re-indexed onto its rows.
    first_ahead = 22  # START + 20 delivered + 1 failed
    ahead = [problem.locations[v.location] for v in route.visits[first_ahead:]]
    local = [
        *stops[:first_ahead],
        *(replace(s, location=k + 1) for k, s in enumerate(stops[first_ahead:])),
    ]

    def with_matrix_case() -> object:
        m = model.matrix([fix_loc, *ahead], departure=now).durations.tolist()
        return track_route(
            local, events, durations=m, now_s=now, start=start, fix=Fix(0, fix.at_s), margin_s=600
        )

    remaining_steps = steps[21:]

    def build_route_case() -> object:
        return build_route(problem, vehicle, remaining_steps, start_time=now)

    load = os.getloadavg()
    print(
        f"ETA recomputation, one route of {args.stops} stops (+ break), "
        f"{args.repeat} calls each; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        f"on {os.cpu_count()} cores"
    )
    print(f"{'case':<28}{'median us':>12}{'p95 us':>10}")
    figures = {}
    for name, fn in (
        ("start (50 ahead)", start_case),
        ("midway (29 ahead, fix)", midway_case),
        ("at_stop", at_stop_case),
        ("midway + haversine matrix", with_matrix_case),
        ("peer: build_route (29)", build_route_case),
    ):
        med, p95 = measure(fn, args.repeat)
        figures[name] = med
        print(f"{name:<28}{med:>12.1f}{p95:>10.1f}")
    ratio = figures["midway (29 ahead, fix)"] / figures["peer: build_route (29)"]
    print(f"ratio midway / build_route: {ratio:.2f}")
    target_ok = all(v <= 2000 for v in figures.values())
    print(f"target <= 2000 us per route: {'met' if target_ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
