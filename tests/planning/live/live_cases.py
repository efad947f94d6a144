"""Problems, plans and oracles shared by the tests of :mod:`lastmile.planning.live`.

Random problems and orders (Hypothesis strategies), a plan made by inserting
every order in turn, vehicles part-way through their routes, the least added
cost of an insertion by trying every position, and small worked-example days.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st

from lastmile.domain import (
    Break,
    Depot,
    Location,
    Order,
    OrderKind,
    Plan,
    Route,
    Stop,
    TimeWindow,
    Unassigned,
    Vehicle,
    VehicleType,
    VisitKind,
)
from lastmile.planning.live import LOADED_AT_DEPOT, LivePlan, VehicleState
from lastmile.planning.problem import PlanningProblem, TravelMatrix, route_cost
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import validate

HORIZON = 8 * 3600
J, P, D = VisitKind.JOB, VisitKind.PICKUP, VisitKind.DELIVERY


def random_matrix(n: int, seed: int) -> TravelMatrix:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 10_000, size=(n, 2))
    metres = np.rint(np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))).astype(np.int64)
    return TravelMatrix(np.rint(metres / 8.0).astype(np.int64), metres)


@st.composite
def orders_for(
    draw: st.DrawFn, n_loc: int, first: int, prefix: str, count: int, loose: bool = False
) -> list[Order]:
    def windows() -> tuple[TimeWindow, ...]:
        kinds = ["none", "none", "none", "one", "two"] if loose else ["none", "one", "one", "two"]
        kind = draw(st.sampled_from(kinds))
        start = draw(st.integers(0, HORIZON // 2))
        if kind == "none":
            return ()
        if kind == "one":
            return (TimeWindow(start, start + draw(st.integers(1800, HORIZON))),)
        return (TimeWindow(start, start + 1800), TimeWindow(start + 5400, start + 9000))

    def stop() -> Stop:
        return Stop(
            draw(st.integers(first, n_loc - 1)),
            service=draw(st.sampled_from([0, 60, 300])),
            setup=draw(st.sampled_from([0, 0, 30])),
            time_windows=windows(),
        )

    out = []
    for i in range(count):
        kind = draw(st.sampled_from([OrderKind.DELIVERY, OrderKind.PICKUP, OrderKind.SHIPMENT]))
        amount = (draw(st.integers(0, 5)), draw(st.integers(0, 2)))
        skills = frozenset(draw(st.sets(st.sampled_from(["cold"]), max_size=1)))
        oid = f"{prefix}{i}"
        if kind is OrderKind.SHIPMENT:
            out.append(
                Order(oid, kind, pickup=stop(), delivery=stop(), amount=amount, skills=skills)
            )
        elif kind is OrderKind.PICKUP:
            out.append(Order(oid, kind, pickup=stop(), amount=amount, skills=skills))
        else:
            out.append(Order(oid, kind, delivery=stop(), amount=amount, skills=skills))
    return out


@st.composite
def problems(draw: st.DrawFn) -> PlanningProblem:
    n_loc = draw(st.integers(4, 9))
    matrix = random_matrix(n_loc, draw(st.integers(0, 2**32 - 1)))
    depots = (Depot("A", 0), Depot("B", 1, TimeWindow(0, HORIZON + 3600)))
    orders = draw(orders_for(n_loc, 2, "o", draw(st.integers(2, 7))))
    vehicles = []
    for k in range(draw(st.integers(1, 4))):
        vtype = VehicleType(
            f"t{k}",
            (draw(st.integers(5, 12)), draw(st.integers(2, 5))),
            skills=frozenset(draw(st.sets(st.sampled_from(["cold"])))),
            fixed_cost=draw(st.sampled_from([0, 500])),
            cost_per_hour=draw(st.sampled_from([0, 3600])),
            cost_per_km=draw(st.sampled_from([0, 1000])) or 1000,
        )
        breaks: tuple[Break, ...] = ()
        if draw(st.booleans()):
            b0 = draw(st.integers(0, HORIZON // 2))
            breaks = (Break(f"b{k}", (TimeWindow(b0, b0 + 3600),), 900),)
        start = draw(st.integers(0, 1))
        vehicles.append(
            Vehicle(
                f"v{k}",
                vtype,
                start_depot=start,
                end_depot=draw(st.sampled_from([start, None])),
                shift=TimeWindow(0, HORIZON),
                breaks=breaks,
                max_tasks=draw(st.sampled_from([None, None, 4])),
                max_distance=draw(st.sampled_from([None, None, 40_000])),
            )
        )
    return PlanningProblem(
        locations=tuple(Location(float(i), 0.0, planar=True) for i in range(n_loc)),
        matrices={"car": matrix},
        depots=depots,
        vehicles=tuple(vehicles),
        orders=tuple(orders),
        dimensions=("kg", "crates"),
    )


def greedy(problem: PlanningProblem) -> LivePlan:
    """A plan made by inserting every order in turn (each step validated)."""
    nobody = Plan((), tuple(Unassigned(o.id, "not planned yet", "no_room") for o in problem.orders))
    live = LivePlan.build(problem, nobody, now_s=0)
    for order in problem.orders:
        found = live.insert(order)
        if isinstance(found, LivePlan):
            assert validate(found.problem, found.plan).ok
            live = found
    return live


def progress(
    plan: Plan, cuts: Sequence[tuple[int, bool, bool, int]]
) -> tuple[list[VehicleState], int]:
    """States with the first ``cut`` tasks of each route done (the last one failed if asked),
    each vehicle at its last stop, ready ``delay`` seconds after it was planned to leave."""
    states = []
    for route, (cut, fail, started, delay) in zip(plan.routes, cuts, strict=False):
        tasks = route.tasks
        cut = min(cut, len(tasks))
        if not started and cut == 0:
            continue
        done = tasks[:cut]
        last = done[-1] if done else route.visits[0]
        keys = [(v.order_id or "", v.kind) for v in done]
        failed = {keys[-1]} if fail and keys else set()
        states.append(
            VehicleState(
                route.vehicle_id,
                last.location,
                last.departure + delay,
                completed=frozenset(k for k in keys if k not in failed),
                failed=frozenset(failed),
            )
        )
    now = min((s.ready_s for s in states), default=0)
    return states, now


def route_ok(problem: PlanningProblem, route: Route) -> bool:
    report = validate(problem, Plan((route,)))
    return not [v for v in report.violations if v.vehicle_id == route.vehicle_id]


def brute_force(live: LivePlan, order: Order) -> int | None:
    """The least added cost over every feasible position of every available vehicle."""
    placed = (
        dataclasses.replace(order, skills=order.skills | {LOADED_AT_DEPOT})
        if live.states and order.kind is OrderKind.DELIVERY
        else order
    )
    problem = dataclasses.replace(live.residual, orders=(*live.residual.orders, placed))
    if order.kind is OrderKind.SHIPMENT:
        new = [Step(P, order_id=order.id), Step(D, order_id=order.id)]
    else:
        new = [Step(J, order_id=order.id)]
    best: int | None = None
    for vehicle in problem.vehicles:
        if vehicle.id in live.unavailable:
            continue
        started = live.is_started(vehicle.id)
        residual = live.residual_route(vehicle.id)
        full = live.plan.route_of(vehicle.id)
        options: list[list[Step]] = []
        if residual is None:
            items = [*new, *(Step(VisitKind.BREAK, break_id=b.id) for b in vehicle.breaks)]
            for perm in itertools.permutations(items):
                if [s for s in perm if s.order_id] == new:
                    options.append(list(perm))
            off_t = off_d = 0
            old_cost, had_tasks = 0, False
        else:
            steps = [
                Step(v.kind, order_id=v.order_id, break_id=v.break_id, depot=v.depot)
                for v in residual.visits
                if v.kind not in (VisitKind.START, VisitKind.END)
            ]
            pinned = live.pinned(vehicle.id)
            first = 0
            while first < len(steps) and (
                (steps[first].kind is P and steps[first].order_id in pinned)
                or (steps[first].order_id or "").endswith("~on-board")
            ):
                first += 1
            for i in range(first, len(steps) + 1):
                if order.kind is OrderKind.SHIPMENT:
                    for j in range(i, len(steps) + 1):
                        s2 = [*steps[:j], new[1], *steps[j:]]
                        options.append([*s2[:i], new[0], *s2[i:]])
                else:
                    if (
                        started
                        and order.kind is OrderKind.DELIVERY
                        and not any(s.kind is VisitKind.RELOAD for s in steps[first:i])
                    ):
                        continue
                    options.append(steps[:i] + new + steps[i:])
            assert full is not None
            off_t = full.travel - residual.travel
            off_d = full.distance - residual.distance
            old_cost, had_tasks = full.cost, bool(full.tasks)
        del had_tasks
        original = live.problem.vehicle(vehicle.id)
        for steps in options:
            route = build_route(
                problem, vehicle, steps, start_time=vehicle.shift.start if started else None
            )
            if not route_ok(problem, route):
                continue
            cost = route_cost(original, off_t + route.travel, off_d + route.distance)
            delta = cost - old_cost
            best = delta if best is None else min(best, delta)
    return best


def line(n: int) -> TravelMatrix:
    """Locations on a line, 600 s (and 6 km) apart."""
    xs = np.arange(n)
    d = np.abs(xs[:, None] - xs[None]).astype(np.int64)
    return TravelMatrix(d * 600, d * 6000)


def day(*, vehicles: int = 2, capacity: int = 10, shift_end: int = 12 * 3600) -> PlanningProblem:
    van = VehicleType("van", (capacity,), cost_per_hour=3600)
    return PlanningProblem(
        locations=tuple(Location(float(i), 0.0, planar=True) for i in range(8)),
        matrices={"car": line(8)},
        depots=(Depot("D", 0),),
        vehicles=tuple(
            Vehicle(f"v{k}", van, shift=TimeWindow(8 * 3600, shift_end)) for k in range(vehicles)
        ),
        orders=(
            Order("a", OrderKind.DELIVERY, delivery=Stop(1, service=60), amount=(3,)),
            Order("b", OrderKind.DELIVERY, delivery=Stop(2, service=60), amount=(3,)),
            Order("c", OrderKind.DELIVERY, delivery=Stop(3, service=60), amount=(3,)),
        ),
        dimensions=("parcels",),
    )


def one_route(problem: PlanningProblem) -> Plan:
    steps = [Step(J, order_id=o) for o in ("a", "b", "c")]
    return Plan((build_route(problem, problem.vehicles[0], steps),))


def grow(problem: PlanningProblem, k: int, seed: int) -> PlanningProblem:
    """``problem`` with ``k`` locations more at the end; old rows keep their values."""
    n = len(problem.locations)
    big = random_matrix(n + k, seed)
    old = problem.matrices["car"]
    durations, distances = big.durations.copy(), big.distances.copy()
    durations[:n, :n], distances[:n, :n] = old.durations, old.distances
    extra = tuple(Location(float(n + i), 1.0, planar=True) for i in range(k))
    return dataclasses.replace(
        problem,
        locations=(*problem.locations, *extra),
        matrices={"car": TravelMatrix(durations, distances)},
    )
