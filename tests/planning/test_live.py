"""Re-planning in flight: the live view, insertion, breakdowns, re-optimisation.

The properties: a plan built by inserting orders one by one stays valid at
every step; with vehicles part-way through their routes (stops done, some
failed, goods on board), inserting a new order gives a plan the validator
accepts and costs exactly as little as the cheapest feasible position found
by trying every position of every route.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
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
from lastmile.exceptions import InputError
from lastmile.planning.live import (
    LOADED_AT_DEPOT,
    LivePlan,
    VehicleState,
    insert_order,
    reassign_vehicle,
    reoptimise,
)
from lastmile.planning.problem import PlanningProblem, TravelMatrix, route_cost
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import validate

HORIZON = 8 * 3600
J, P, D = VisitKind.JOB, VisitKind.PICKUP, VisitKind.DELIVERY


# -- problems ---------------------------------------------------------------------------


def _matrix(n: int, seed: int) -> TravelMatrix:
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
    matrix = _matrix(n_loc, draw(st.integers(0, 2**32 - 1)))
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


def _greedy(problem: PlanningProblem) -> LivePlan:
    """A plan made by inserting every order in turn (each step validated)."""
    nobody = Plan((), tuple(Unassigned(o.id, "not planned yet", "no_room") for o in problem.orders))
    live = LivePlan.build(problem, nobody, now_s=0)
    for order in problem.orders:
        found = live.insert(order)
        if isinstance(found, LivePlan):
            assert validate(found.problem, found.plan).ok
            live = found
    return live


def _progress(
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


# -- brute force ------------------------------------------------------------------------


def _route_ok(problem: PlanningProblem, route: Route) -> bool:
    report = validate(problem, Plan((route,)))
    return not [v for v in report.violations if v.vehicle_id == route.vehicle_id]


def _brute_force(live: LivePlan, order: Order) -> int | None:
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
            if not _route_ok(problem, route):
                continue
            cost = route_cost(original, off_t + route.travel, off_d + route.distance)
            delta = cost - old_cost
            best = delta if best is None else min(best, delta)
    return best


# -- properties ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_a_plan_built_by_insertion_is_valid(problem: PlanningProblem) -> None:
    live = _greedy(problem)
    assert validate(problem, live.plan).ok
    assert validate(live.residual, live.residual_plan).ok
    listed = {u.order_id for u in live.plan.unassigned}
    served = {v.order_id for r in live.plan.routes for v in r.visits if v.order_id}
    assert listed | served == {o.id for o in problem.orders}
    assert all(u.reason for u in live.plan.unassigned)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_insertion_into_a_live_plan_is_valid_and_cheapest(data: st.DataObject) -> None:
    problem = data.draw(problems())
    base = _greedy(problem)
    cuts = [
        (
            data.draw(st.integers(0, 6)),
            data.draw(st.booleans()),
            data.draw(st.booleans()),
            data.draw(st.sampled_from([0, 0, 900, 3600])),
        )
        for _ in base.plan.routes
    ]
    states, now = _progress(base.plan, cuts)
    live = LivePlan.build(base.problem, base.plan, now_s=now, states=states)
    assert validate(live.residual, live.residual_plan).ok
    n_loc = len(problem.locations)
    (order,) = data.draw(orders_for(n_loc, 2, "new", 1, loose=True))

    expected = _brute_force(live, order)
    result = live.insert(order)
    if expected is None:
        assert isinstance(result, Unassigned)
        assert result.order_id == order.id and result.reason
        return
    assert isinstance(result, LivePlan), f"brute force found {expected}, insertion: {result}"
    assert validate(result.residual, result.residual_plan).ok
    assert result.plan.cost - live.plan.cost == expected
    # Everything behind the vehicles is unchanged, and what they carry stays on them.
    for vid in live.states:
        before, after = live.plan.route_of(vid), result.plan.route_of(vid)
        assert before is not None and after is not None
        done = len(live._tracks[vid].done)
        assert after.visits[:done] == before.visits[:done]
        for oid in live.pinned(vid):
            assert oid in {v.order_id for v in after.visits[done:]}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_broken_vehicle_leaves_nothing_behind(data: st.DataObject) -> None:
    problem = data.draw(problems())
    base = _greedy(problem)
    if not base.plan.routes:
        return
    cuts = [(data.draw(st.integers(0, 4)), False, True, 0) for _ in base.plan.routes]
    states, now = _progress(base.plan, cuts)
    live = LivePlan.build(base.problem, base.plan, now_s=now, states=states)
    broken = data.draw(st.sampled_from([r.vehicle_id for r in live.plan.routes]))
    after = live.without_vehicle(broken)
    assert validate(after.residual, after.residual_plan).ok
    assert broken in after.unavailable
    assert after.residual_route(broken) is None
    remaining = live.residual_route(broken)
    carried = set(live.pinned(broken))
    unassigned = {u.order_id: u for u in after.plan.unassigned}
    for oid in carried:
        assert unassigned[oid].code == "on_board"
    moved = {
        v.order_id
        for v in (remaining.tasks if remaining is not None else ())
        if v.order_id and not v.order_id.endswith("~on-board")
    }
    for oid in moved - carried:
        served = [r.vehicle_id for r in after.plan.routes for v in r.visits if v.order_id == oid]
        assert oid in unassigned or (served and broken not in served[-1:])


# -- worked examples -------------------------------------------------------------------


def _line(n: int) -> TravelMatrix:
    """Locations on a line, 600 s (and 6 km) apart."""
    xs = np.arange(n)
    d = np.abs(xs[:, None] - xs[None]).astype(np.int64)
    return TravelMatrix(d * 600, d * 6000)


def _day(*, vehicles: int = 2, capacity: int = 10, shift_end: int = 12 * 3600) -> PlanningProblem:
    van = VehicleType("van", (capacity,), cost_per_hour=3600)
    return PlanningProblem(
        locations=tuple(Location(float(i), 0.0, planar=True) for i in range(8)),
        matrices={"car": _line(8)},
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


def _one_route(problem: PlanningProblem) -> Plan:
    steps = [Step(J, order_id=o) for o in ("a", "b", "c")]
    return Plan((build_route(problem, problem.vehicles[0], steps),))


def test_goods_on_board_stay_on_their_vehicle() -> None:
    problem = _day()
    plan = _one_route(problem)
    a = plan.routes[0].visits[1]
    state = VehicleState("v0", a.location, a.departure, completed=frozenset({("a", J)}))
    live = LivePlan.build(problem, plan, now_s=a.departure, states=[state])
    # b and c are on board: shipments picked up where the van is, only it can reach them.
    assert dict(live.pinned("v0")) == {"b": OrderKind.DELIVERY, "c": OrderKind.DELIVERY}
    assert live.residual.order("b").kind is OrderKind.SHIPMENT
    assert live.residual_route("v0") is not None
    # The full plan reads as before: visits behind, then b and c as jobs.
    assert [(v.kind, v.order_id) for v in live.plan.routes[0].visits] == [
        (VisitKind.START, None),
        (J, "a"),
        (J, "b"),
        (J, "c"),
        (VisitKind.END, None),
    ]
    assert live.plan.routes[0].visits[2].load == (3,)
    # A new delivery cannot join the van that left: it goes to the other van.
    urgent = Order("u", OrderKind.DELIVERY, delivery=Stop(2, service=60), amount=(1,))
    result = live.insert(urgent)
    assert isinstance(result, LivePlan)
    route = result.plan.route_of("v1")
    assert route is not None and [v.order_id for v in route.tasks] == ["u"]
    # A pickup can: the van passes by and has room.
    ret = Order("r", OrderKind.PICKUP, pickup=Stop(2, service=60), amount=(2,))
    result = live.insert(ret)
    assert isinstance(result, LivePlan)
    ids = [v.order_id for v in result.plan.route_of("v0").tasks]  # type: ignore[union-attr]
    assert ids in (["a", "r", "b", "c"], ["a", "b", "r", "c"])  # beside b, at the same place
    assert result.plan.cost - live.plan.cost == 0


def test_a_pickup_that_does_not_fit_beside_the_load_is_refused() -> None:
    problem = _day(vehicles=1, capacity=10)
    plan = _one_route(problem)
    start = plan.routes[0].visits[0]
    state = VehicleState("v0", 0, start.departure)
    live = LivePlan.build(problem, plan, now_s=start.departure, states=[state])
    big = Order("r", OrderKind.PICKUP, pickup=Stop(1, service=60), amount=(2,))
    # 9 on board: a pickup of 2 at stop 1 (after a drops 3) fits only after a.
    result = live.insert(big)
    assert isinstance(result, LivePlan)
    assert [v.order_id for v in result.plan.routes[0].tasks] == ["a", "r", "b", "c"]
    # 9 fits only once everything is delivered, after 8:40 when its window closes.
    late = (TimeWindow(0, 8 * 3600 + 2400),)
    huge = Order("h", OrderKind.PICKUP, pickup=Stop(1, service=60, time_windows=late), amount=(9,))
    refused = live.insert(huge)
    assert isinstance(refused, Unassigned)
    assert refused.code == "no_room"


def test_a_failed_delivery_stays_on_board() -> None:
    problem = _day(vehicles=1, capacity=10)
    plan = _one_route(problem)
    a = plan.routes[0].visits[1]
    state = VehicleState("v0", a.location, a.departure, failed=frozenset({("a", J)}))
    live = LivePlan.build(problem, plan, now_s=a.departure, states=[state])
    route = live.plan.routes[0]
    assert [v.load for v in route.visits[2:]] == [(6,), (3,), (3,)]  # a's parcels ride along
    assert live.residual.order("v0~on-board").amount == (3,)
    # 8 more would fit once b and c are delivered, were a's 3 parcels not still on board.
    pick = Order("r", OrderKind.PICKUP, pickup=Stop(2, service=60), amount=(8,))
    assert isinstance(live.insert(pick), Unassigned)
    done = VehicleState("v0", a.location, a.departure, completed=frozenset({("a", J)}))
    delivered = LivePlan.build(problem, plan, now_s=a.departure, states=[done])
    assert isinstance(delivered.insert(pick), LivePlan)


def test_a_late_vehicle_is_tolerated_but_not_made_later() -> None:
    problem = dataclasses.replace(
        _day(vehicles=1),
        orders=(
            Order("a", OrderKind.DELIVERY, delivery=Stop(1, service=60), amount=(1,)),
            Order(
                "b",
                OrderKind.DELIVERY,
                delivery=Stop(2, service=60, time_windows=(TimeWindow(0, 9 * 3600),)),
                amount=(1,),
            ),
            Order("c", OrderKind.DELIVERY, delivery=Stop(3, service=60), amount=(1,)),
        ),
    )
    plan = _one_route(problem)
    assert validate(problem, plan).ok
    # The van is stuck at a until 9:30: b's window (until 9:00) will be missed.
    state = VehicleState("v0", 1, 9 * 3600 + 1800, completed=frozenset({("a", J)}))
    live = LivePlan.build(problem, plan, now_s=9 * 3600, states=[state])
    assert [r.code for r in live.relaxations] == ["time_window"]
    assert live.relaxations[0].order_id == "b"
    # A pickup before b would make b later still: refused there, taken after c.
    pick = Order("r", OrderKind.PICKUP, pickup=Stop(1, service=600), amount=(1,))
    result = live.insert(pick)
    assert isinstance(result, LivePlan)
    assert [v.order_id for v in result.plan.routes[0].tasks] == ["a", "b", "c", "r"]


def test_insert_order_takes_a_grown_problem() -> None:
    problem = _day()
    plan = _one_route(problem)
    live = LivePlan.build(problem, plan, now_s=0)
    grown = dataclasses.replace(
        problem,
        locations=(*problem.locations, Location(3.5, 0.0, planar=True)),
        matrices={"car": _line(9)},
    )
    urgent = Order("u", OrderKind.DELIVERY, delivery=Stop(8, service=60), amount=(1,))
    out = insert_order(grown, live, urgent)
    assert isinstance(out, Plan)
    assert "u" in {v.order_id for v in out.routes[0].tasks}
    assert validate(dataclasses.replace(grown, orders=(*grown.orders, urgent)), out).ok


def test_inputs_that_do_not_fit_are_refused() -> None:
    problem = _day()
    plan = _one_route(problem)
    with pytest.raises(InputError, match="not on its route"):
        LivePlan.build(
            problem,
            plan,
            now_s=0,
            states=[VehicleState("v0", 1, 0, completed=frozenset({("zz", J)}))],
        )
    with pytest.raises(InputError, match="no such vehicle"):
        LivePlan.build(problem, plan, now_s=0, states=[VehicleState("nope", 0, 0)])
    live = LivePlan.build(problem, plan, now_s=0)
    with pytest.raises(InputError, match="already planned"):
        live.insert(problem.order("a"))
    with pytest.raises(InputError, match="not a row"):
        live.insert(Order("x", OrderKind.DELIVERY, delivery=Stop(99)))


def test_breakdown_moves_stops_and_reports_goods_on_board() -> None:
    problem = _day()
    plan = _one_route(problem)
    a = plan.routes[0].visits[1]
    pickup = Order("r", OrderKind.PICKUP, pickup=Stop(4, service=60), amount=(1,))
    problem = dataclasses.replace(problem, orders=(*problem.orders, pickup))
    plan = Plan(
        (
            build_route(
                problem,
                problem.vehicles[0],
                [Step(J, order_id=o) for o in ("a", "b", "c", "r")],
            ),
        )
    )
    state = VehicleState("v0", a.location, a.departure, completed=frozenset({("a", J)}))
    live = LivePlan.build(problem, plan, now_s=a.departure, states=[state])
    out = reassign_vehicle(problem, live, "v0")
    codes = {u.order_id: u.code for u in out.unassigned}
    assert codes == {"b": "on_board", "c": "on_board"}
    v1 = out.route_of("v1")
    assert v1 is not None and [v.order_id for v in v1.tasks] == ["r"]
    broken = out.route_of("v0")
    assert broken is not None and [v.order_id for v in broken.tasks] == ["a"]
    # With transfers, another van collects b and c from the broken one.
    moved = live.without_vehicle("v0", transfer_s=300)
    assert not moved.plan.unassigned
    v1 = moved.plan.route_of("v1")
    assert v1 is not None
    kinds = [(v.kind, v.order_id) for v in v1.tasks]
    assert (P, "b") in kinds and (D, "b") in kinds and (P, "c") in kinds
    assert moved.problem.order("b").kind is OrderKind.SHIPMENT
    assert validate(moved.residual, moved.residual_plan).ok


@pytest.mark.parametrize("engine", ["pyvrp", "vroom", "ortools"])
def test_reoptimise_keeps_what_is_done_and_carried(engine: str) -> None:
    problem = _day(vehicles=2, shift_end=14 * 3600)
    extra = tuple(
        Order(f"x{i}", OrderKind.PICKUP, pickup=Stop(i, service=60), amount=(1,))
        for i in (4, 5, 6, 7)
    )
    problem = dataclasses.replace(problem, orders=(*problem.orders, *extra))
    steps = [Step(J, order_id=o) for o in ("a", "x7", "b", "x4", "c", "x6", "x5")]
    plan = Plan((build_route(problem, problem.vehicles[0], steps),))
    assert validate(problem, plan).ok
    a = plan.routes[0].visits[1]
    state = VehicleState("v0", a.location, a.departure, completed=frozenset({("a", J)}))
    live = LivePlan.build(problem, plan, now_s=a.departure, states=[state])
    better = live.reoptimise(time_limit=1.0, workers=1, engine=engine)
    assert validate(better.residual, better.residual_plan).ok
    assert "re-optimised" in better.plan.engine
    assert better.plan.cost < live.plan.cost
    v0 = better.plan.route_of("v0")
    assert v0 is not None
    assert v0.visits[:2] == live.plan.routes[0].visits[:2]
    assert {"b", "c"} <= {v.order_id for v in v0.tasks}
    kept = reoptimise(problem, live, time_limit=1.0, workers=1, keep_started=True)
    assert kept.route_of("v0") == live.plan.route_of("v0") or "kept" in kept.engine


def _grow(problem: PlanningProblem, k: int, seed: int) -> PlanningProblem:
    """``problem`` with ``k`` locations more at the end; old rows keep their values."""
    n = len(problem.locations)
    big = _matrix(n + k, seed)
    old = problem.matrices["car"]
    durations, distances = big.durations.copy(), big.distances.copy()
    durations[:n, :n], distances[:n, :n] = old.durations, old.distances
    extra = tuple(Location(float(n + i), 1.0, planar=True) for i in range(k))
    return dataclasses.replace(
        problem,
        locations=(*problem.locations, *extra),
        matrices={"car": TravelMatrix(durations, distances)},
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_view_grown_by_locations_is_the_view_built_on_them(data: st.DataObject) -> None:
    """``rebase`` on a problem that only adds locations takes the fast path; what it
    gives is what building the view on that problem gives, and inserting an order
    at a new location into either gives the same plan."""
    problem = data.draw(problems())
    base = _greedy(problem)
    cuts = [
        (
            data.draw(st.integers(0, 6)),
            data.draw(st.booleans()),
            data.draw(st.booleans()),
            data.draw(st.sampled_from([0, 900])),
        )
        for _ in base.plan.routes
    ]
    states, now = _progress(base.plan, cuts)
    live = LivePlan.build(base.problem, base.plan, now_s=now, states=states)
    for route in live.residual_plan.routes:  # route indexes made before growing are kept
        live._route_index(route.vehicle_id)
    k = data.draw(st.integers(1, 3))
    grown = _grow(base.problem, k, data.draw(st.integers(0, 2**32 - 1)))

    n = len(problem.locations)
    index = {(loc.lon, loc.lat): i for i, loc in enumerate(grown.locations)}

    def between(
        origins: Sequence[Location], destinations: Sequence[Location]
    ) -> tuple[np.ndarray, np.ndarray]:
        at = np.ix_(
            [index[o.lon, o.lat] for o in origins], [index[d.lon, d.lat] for d in destinations]
        )
        g = grown.matrices["car"]
        return g.durations[at], g.distances[at]

    slow = LivePlan.build(grown, live.plan, now_s=now, states=states)
    (order,) = data.draw(orders_for(n + k, 2, "new", 1, loose=True))
    expected = slow.insert(order)

    fast = live.rebase(grown)
    assert fast.residual.locations == slow.residual.locations
    for a, b in (
        (fast.residual.matrices["car"], slow.residual.matrices["car"]),
        (fast.problem.matrices["car"], slow.problem.matrices["car"]),
    ):
        assert np.array_equal(a.durations, b.durations)
        assert np.array_equal(a.distances, b.distances)
    assert fast.residual.orders == slow.residual.orders
    assert fast.residual.depots == slow.residual.depots
    assert fast.residual.vehicles == slow.residual.vehicles
    assert fast.residual_plan == slow.residual_plan
    assert fast.plan == slow.plan
    assert fast._tracks == slow._tracks
    assert validate(fast.residual, fast.residual_plan).ok
    got = fast.insert(order)
    if isinstance(expected, Unassigned):
        assert isinstance(got, Unassigned) and got.reason == expected.reason
    else:
        assert isinstance(got, LivePlan)
        assert got.plan == expected.plan and got.residual_plan == expected.residual_plan

    # Grown by rows and columns: the new locations come after the private rows,
    # the same plans otherwise (compared by place, not row).
    base = live.next_row
    via = live.with_locations(grown.locations[n:], {"car": between})
    assert via.problem.locations == via.residual.locations
    assert via.problem.locations[base:] == grown.locations[n:]
    assert via.residual_plan == live.residual_plan and via.plan == live.plan
    assert validate(via.residual, via.residual_plan).ok

    def at(i: int) -> int:
        return base + i - n if i >= n else i

    moved = dataclasses.replace(
        order,
        pickup=dataclasses.replace(order.pickup, location=at(order.pickup.location))
        if order.pickup
        else None,
        delivery=dataclasses.replace(order.delivery, location=at(order.delivery.location))
        if order.delivery
        else None,
    )

    def places(lp: LivePlan) -> list[tuple[object, ...]]:
        locs = lp.problem.locations
        return [
            (r.vehicle_id, v.kind, v.order_id, v.arrival, v.departure, v.load, locs[v.location])
            for r in lp.plan.routes
            for v in r.visits
        ]

    got = via.insert(moved)
    if isinstance(expected, Unassigned):
        assert isinstance(got, Unassigned) and got.reason == expected.reason
    else:
        assert isinstance(got, LivePlan)
        assert got.plan.cost == expected.plan.cost
        assert places(got) == places(expected)
        assert validate(got.residual, got.residual_plan).ok
        # Growing again writes into the room the first growth left.
        again = got.with_locations(
            [Location(float(n + k + 1), 2.0, planar=True)],
            {"car": lambda o, d: (np.ones((len(o), len(d)), np.int64),) * 2},
        )
        assert again.residual.matrices["car"].durations.base is not None
        assert validate(again.residual, again.residual_plan).ok
