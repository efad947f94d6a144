"""Inserting one urgent order into a live plan of ~1,000 stops and 50 vehicles.

A delivery day in Lyon (``lastmile.simulate.city_day``: deliveries, returns,
shop-to-customer shipments, skills, two-slot customers, shifts, lunch breaks,
setup times) with 50 vans is planned, then watched at ``--at`` o'clock: every
stop planned to be finished by then is done (``--fail`` of them failed, their
parcels still on board), every van that has left is where its last stop was.
Then ``--repeat`` urgent orders (a third each of returns to collect, shop to
customer shipments and depot deliveries, at new addresses) are inserted, each
into that same live plan, and timed:

* ``insert``  -- :meth:`LivePlan.insert`: cheapest feasible position over every
  route and position, the chosen route rebuilt, the whole residual plan
  validated. The addresses' matrix rows are in the problem already (the
  service adds a new address when the order arrives);
* ``+ rows``  -- :func:`insert_order` with a problem grown by the new address,
  so the live view is grown by its rows first (a handful of calls: it copies
  the O(n^2) matrices once);
* ``view``    -- building the live view once (per change of state);
* ``move``    -- :meth:`LivePlan.move` (``--moves`` of them): a stop ahead moved
  to a random route at its cheapest position, or two places earlier or later
  on its own route; the routes it changes validated.

Side by side, in the same run: what a full re-solve of everything not yet done
takes (:meth:`LivePlan.reoptimise`, which calls :func:`lastmile.planning.solve`
on the residual problem), and the cost it reaches against insertion.

The base plan is built by inserting the day's orders one by one (``--base
insert``, quick) or by ``solve`` (``--base solve``, slow with breaks: VROOM).

    python benchmarks/insertion.py [--orders 1000] [--vans 50] [--repeat 200]
        [--at 11] [--moves 100] [--resolve 30] [--base insert|solve] [--seed 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import statistics
import time

import numpy as np

from lastmile.domain import (
    Location,
    Order,
    OrderKind,
    Plan,
    Stop,
    TimeWindow,
    Unassigned,
    VisitKind,
)
from lastmile.exceptions import InputError
from lastmile.planning import solve
from lastmile.planning.live import LivePlan, VehicleState, insert_order
from lastmile.planning.problem import PlanningProblem, TravelMatrix
from lastmile.planning.validate import validate
from lastmile.simulate.scenario import CitySpec, city_day
from lastmile.travel import HaversineModel

HOUR = 3600
SPEEDS = {"van": HaversineModel(speed_kph=25, detour_factor=1.3)}


def grow(problem: PlanningProblem, extra: list[Location]) -> PlanningProblem:
    """``problem`` with ``extra`` locations added (travel by the scenario's models)."""
    locations = (*problem.locations, *extra)
    matrices: dict[str, TravelMatrix] = {}
    for profile in problem.matrices:
        model = SPEEDS.get(profile, HaversineModel(speed_kph=15, detour_factor=1.2))
        matrices[profile] = model.matrix(list(locations))
    return dataclasses.replace(problem, locations=locations, matrices=matrices)


def urgent_orders(
    problem: PlanningProblem, n: int, at_s: int, seed: int
) -> tuple[list[Location], list[Order]]:
    rng = random.Random(seed)
    city = CitySpec()
    first = len(problem.locations)
    places: list[Location] = []
    orders: list[Order] = []

    def point(name: str) -> int:
        r = city.radius_km * 1000 * rng.random() ** 0.5 * rng.uniform(0.3, 1.0)
        a = rng.uniform(0, 2 * np.pi)
        dlat = r * np.cos(a) / 111_320
        dlon = r * np.sin(a) / (111_320 * np.cos(np.radians(city.lat)))
        places.append(Location(round(city.lon + dlon, 6), round(city.lat + dlat, 6), name=name))
        return first + len(places) - 1

    for k in range(n):
        kind = (OrderKind.PICKUP, OrderKind.SHIPMENT, OrderKind.DELIVERY)[k % 3]
        window = (TimeWindow(at_s + HOUR, at_s + 4 * HOUR),)
        weight = rng.randint(1, 15)
        amount = (weight, weight * 3, 1)
        here = point(f"urgent {k}")
        stop = Stop(here, service=180, setup=60, time_windows=window)
        oid = f"urgent-{k}"
        if kind is OrderKind.SHIPMENT:
            shop = Stop(point(f"shop {k}"), service=300, setup=60)
            orders.append(Order(oid, kind, pickup=shop, delivery=stop, amount=amount))
        elif kind is OrderKind.PICKUP:
            orders.append(Order(oid, kind, pickup=stop, amount=amount))
        else:
            orders.append(Order(oid, kind, delivery=stop, amount=amount))
    return places, orders


def base_plan(problem: PlanningProblem, how: str, seconds: float) -> Plan:
    if how == "solve":
        return solve(problem, time_limit=seconds, workers=os.cpu_count())
    nobody = Plan((), tuple(Unassigned(o.id, "not planned yet", "no_room") for o in problem.orders))
    live = LivePlan.build(problem, nobody, now_s=0)
    for order in sorted(problem.orders, key=lambda o: min(s.time_windows[0].end for s in o.stops)):
        found = live.insert(order)
        if isinstance(found, LivePlan):
            live = found
    return live.plan


def states_at(
    problem: PlanningProblem, plan: Plan, at_s: int, fail: float, seed: int
) -> tuple[list[VehicleState], list[Location], int, int]:
    """Where every van is at ``at_s`` if it drove exactly as planned.

    A van at a stop has that stop in progress (done) and leaves when planned;
    a van between two places is at a GPS fix on the straight line between them
    (a new matrix row), ready now.
    """
    rng = random.Random(seed)
    first_row = len(problem.locations)
    fixes: list[Location] = []
    states = []
    done_total = failed_total = 0
    for route in plan.routes:
        if route.visits[0].departure > at_s:
            continue
        done = [v for v in route.tasks if v.arrival <= at_s]
        keys = [(v.order_id or "", v.kind) for v in done]
        failed = {k for k in keys if rng.random() < fail}
        last = done[-1] if done else route.visits[0]
        if last.departure >= at_s:
            row, ready = last.location, last.departure
        else:
            ahead = next((v for v in route.visits if v.arrival > at_s), route.visits[-1])
            a, b = problem.locations[last.location], problem.locations[ahead.location]
            assert a.lon is not None and a.lat is not None and b.lon is not None
            assert b.lat is not None
            span = max(1, ahead.arrival - last.departure)
            f = min(1.0, (at_s - last.departure) / span)
            fixes.append(
                Location(a.lon + f * (b.lon - a.lon), a.lat + f * (b.lat - a.lat), name="fix")
            )
            row, ready = first_row + len(fixes) - 1, at_s
        states.append(
            VehicleState(
                route.vehicle_id,
                row,
                ready,
                completed=frozenset(k for k in keys if k not in failed),
                failed=frozenset(failed),
            )
        )
        done_total += len(done)
        failed_total += len(failed)
    return states, fixes, done_total, failed_total


def percentiles(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"p50 {statistics.median(ordered):7.1f}  p95 {p95:7.1f}  max {ordered[-1]:7.1f}"


def move_orders(live: LivePlan, n: int, seed: int) -> None:
    """Time ``n`` moves of a stop ahead, each from ``live``: half to a random route at
    the cheapest position, half two places earlier or later on its own route."""
    rng = random.Random(seed)
    real = {o.id for o in live.problem.orders}
    ahead = [
        (r.vehicle_id, v.order_id, i)
        for r in live.plan.routes
        for i, v in enumerate(r.tasks)
        if v.order_id in real
        and v.kind is not VisitKind.PICKUP
        and r.vehicle_id not in live.unavailable
        and any(w.order_id == v.order_id for w in live.residual_route(r.vehicle_id).tasks)
    ]
    targets = [r.vehicle_id for r in live.plan.routes if r.vehicle_id not in live.unavailable]
    timed: dict[str, list[float]] = {}
    refused = 0
    for k in range(n):
        src, oid, at = rng.choice(ahead)
        to, position = (
            (rng.choice(targets), None) if k % 2 == 0 else (src, at + rng.choice([-2, 2]))
        )
        route = live.plan.route_of(to)
        if position is not None and route is not None:
            position = min(max(position, 0), len(route.tasks) - 1)
        t0 = time.perf_counter()
        try:
            out = live.move(oid, to, position=position)
        except InputError:
            refused += 1  # a position among the stops done, a shipment, goods on board
            continue
        ms = (time.perf_counter() - t0) * 1000
        how = "random route" if position is None else "own route, 2 away"
        timed.setdefault(f"{how}, {'feasible' if out.ok else 'refused'}", []).append(ms)
    print(f"\nmove one order (ms), {n - refused} moves ({refused} refused before trying):")
    for how, values in sorted(timed.items()):
        print(f"  {how:28s} {percentiles(values)}   ({len(values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--vans", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--at", type=float, default=11.0, help="hour of the day watched")
    parser.add_argument("--fail", type=float, default=0.05, help="share of done stops failed")
    parser.add_argument("--moves", type=int, default=100, help="orders moved")
    parser.add_argument("--resolve", type=float, default=30.0, help="re-solve time limit (s)")
    parser.add_argument("--base", choices=["insert", "solve"], default="insert")
    parser.add_argument("--base-seconds", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    at_s = int(args.at * HOUR)

    day = city_day(n_orders=args.orders, n_vans=args.vans, n_bikes=0, seed=args.seed)
    places, urgent = urgent_orders(day, args.repeat, at_s, args.seed)
    problem = grow(day, places)
    t0 = time.perf_counter()
    plan = base_plan(problem, args.base, args.base_seconds)
    base_s = time.perf_counter() - t0
    assert validate(problem, plan).ok
    stops = sum(len(r.tasks) for r in plan.routes)
    print(
        f"day: {len(day.orders)} orders, {stops} stops planned on {len(plan.routes)} of "
        f"{len(problem.vehicles)} vans, {len(plan.unassigned)} unassigned "
        f"(base plan by {args.base}: {base_s:.1f} s)"
    )

    states, fixes, done, failed = states_at(problem, plan, at_s, args.fail, args.seed)
    problem = grow(problem, fixes)
    t0 = time.perf_counter()
    live = LivePlan.build(problem, plan, now_s=at_s, states=states)
    view_ms = (time.perf_counter() - t0) * 1000
    for route in live.residual_plan.routes:
        live.view.route_index(route.vehicle_id)
    ahead = sum(len(r.tasks) for r in live.plan.routes) - done
    print(
        f"at {args.at:g}h: {len(states)} vans on the road, {done} stops done ({failed} failed), "
        f"{ahead} stops ahead, {len(live.relaxations)} forecast late/relaxed; "
        f"live view built in {view_ms:.0f} ms"
    )

    by_kind: dict[str, list[float]] = {}
    deltas: list[int] = []
    placed = 0
    for k, order in enumerate(urgent):
        t0 = time.perf_counter()
        result = live.insert(order)
        ms = (time.perf_counter() - t0) * 1000
        by_kind.setdefault(order.kind.value, []).append(ms)
        if isinstance(result, LivePlan):
            placed += 1
            deltas.append(result.plan.cost - live.plan.cost)
            if k % 20 == 0:
                assert validate(result.residual, result.residual_plan).ok
    every = [ms for v in by_kind.values() for ms in v]
    print(f"\ninsert one order (ms), {len(urgent)} orders, {placed} placed:")
    print(f"  {'all':10s} {percentiles(every)}")
    for kind, values in by_kind.items():
        print(f"  {kind:10s} {percentiles(values)}")

    # A new address: the problem grows by one row, so the live view grows first.
    grown_ms = []
    n_rows = len(problem.locations)
    for order in [o for o in urgent if o.kind is not OrderKind.SHIPMENT][:5]:
        (stop,) = order.stops
        bigger = grow(problem, [problem.locations[stop.location]])
        moved_stop = dataclasses.replace(stop, location=n_rows)
        attr = "pickup" if order.kind is OrderKind.PICKUP else "delivery"
        moved = dataclasses.replace(order, **{attr: moved_stop})
        t0 = time.perf_counter()
        insert_order(bigger, live, moved)
        grown_ms.append((time.perf_counter() - t0) * 1000)
    print(f"  {'+ rows':10s} {percentiles(grown_ms)}   (new address: live view grown by its rows)")

    if args.moves > 0:
        move_orders(live, args.moves, args.seed)

    if args.resolve > 0:
        t0 = time.perf_counter()
        outcome = live.reoptimise(time_limit=args.resolve, workers=os.cpu_count())
        resolve_s = time.perf_counter() - t0
        better = outcome.live
        print(
            f"\nfull re-solve of what is ahead ({better.plan.engine}, "
            f"{outcome.reason.value}): {resolve_s:.1f} s wall "
            f"(limit {args.resolve:g} s); cost {live.plan.cost} -> {better.plan.cost}, "
            f"unassigned {len(live.plan.unassigned)} -> {len(better.plan.unassigned)}"
        )
        print(
            f"insertion vs re-solve: p95 {sorted(every)[int(0.95 * len(every))]:.1f} ms vs "
            f"{resolve_s * 1000:.0f} ms"
        )
    if deltas:
        print(f"added cost per placed order: median {statistics.median(deltas)}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nload average {load:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
