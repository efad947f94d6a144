"""Searching the positions of one order in a live route, checked against trying every one.

:class:`~lastmile.planning.live.search.Inserter` must list exactly the feasible
positions of a one-stop order (cheapest first), find the cheapest feasible pair
of positions of a shipment, price a vehicle without a route, and refuse what
no position can take.
"""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
from live_cases import day, greedy, line, one_route, route_ok

from lastmile.domain import (
    Break,
    Depot,
    Location,
    Order,
    OrderKind,
    Plan,
    Stop,
    TimeWindow,
    Vehicle,
    VehicleType,
    VisitKind,
)
from lastmile.planning.live import LivePlan
from lastmile.planning.live.routes import with_orders
from lastmile.planning.live.search import Inserter, new_stop, splits
from lastmile.planning.problem import PlanningProblem, TravelMatrix, route_cost
from lastmile.planning.schedule import Step, build_route

HOUR = 3600


def inserter(live: LivePlan, order: Order) -> tuple[Inserter, PlanningProblem]:
    problem = with_orders(live.residual, (*live.residual.orders, order))
    return Inserter(live.view, order, problem), problem


def new_steps(order: Order) -> list[Step]:
    if order.kind is OrderKind.SHIPMENT:
        return [
            Step(VisitKind.PICKUP, order_id=order.id),
            Step(VisitKind.DELIVERY, order_id=order.id),
        ]
    return [Step(VisitKind.JOB, order_id=order.id)]


def brute_force(
    live: LivePlan, problem: PlanningProblem, vid: str, order: Order
) -> dict[tuple[int, ...], int]:
    """Every feasible position of ``order`` in ``vid``'s route -> the added cost."""
    ix = live.view.route_index(vid)
    assert ix is not None
    vehicle = problem.vehicle(vid)
    old = live.plan.route_of(vid)
    assert old is not None
    steps = ix.steps
    new = new_steps(order)
    out = {}
    n = len(steps)
    wheres: list[tuple[int, ...]] = (
        [(i, j) for i in range(n + 1) for j in range(i, n + 1)]
        if len(new) == 2
        else [(k,) for k in range(n + 1)]
    )
    for where in wheres:
        if len(where) == 1:
            trial = [*steps[: where[0]], new[0], *steps[where[0] :]]
        else:
            i, j = where
            trial = [*steps[:i], new[0], *steps[i:j], new[1], *steps[j:]]
        route = build_route(problem, vehicle, trial)
        if route_ok(problem, route):
            out[where] = route_cost(vehicle, route.travel, route.distance) - old.cost
    return out


def test_splits_lists_every_cut_of_ordered_items() -> None:
    assert splits(0, 1) == [(0,)]
    assert splits(2, 2) == [(0, 2), (1, 2), (2, 2)]
    for n, slots in [(3, 2), (2, 3), (4, 3)]:
        cuts = splits(n, slots)
        # non-decreasing cut points ending at n: n + slots - 1 choose slots - 1 of them
        assert len(cuts) == len(set(cuts)) == comb(n + slots - 1, slots - 1)
        assert all(c[-1] == n and list(c) == sorted(c) for c in cuts)


def test_new_stop_carries_the_row_and_column_with_a_zero_at_minus_one() -> None:
    m = TravelMatrix(
        np.array([[0, 1, 2], [3, 0, 4], [5, 6, 0]]),
        np.array([[0, 10, 20], [30, 0, 40], [50, 60, 0]]),
    )
    s = new_stop(m, Stop(1, service=60, setup=5, time_windows=(TimeWindow(0, 100),)))
    assert (s.loc, s.service, s.setup) == (1, 60, 5)
    assert s.to_t == [1, 0, 6, 0] and s.from_t == [3, 0, 4, 0]
    assert s.to_d == [10, 0, 60, 0] and s.from_d == [30, 0, 40, 0]


def test_a_loose_delivery_can_go_anywhere_and_is_cheapest_at_the_far_end() -> None:
    problem = day()
    live = LivePlan.build(problem, one_route(problem), now_s=0)
    order = Order("new", OrderKind.DELIVERY, delivery=Stop(4, service=60), amount=(1,))
    ins, grown = inserter(live, order)
    ix = live.view.route_index("v0")
    assert ix is not None
    options = ins.single(ix)
    # between b and c, or after c: both add 0 -> 4 detours of two legs (1200 s)
    assert {options[0][3], options[1][3]} == {(2,), (3,)}
    assert options[0][0] == options[1][0] < options[2][0]
    assert {o[3] for o in options} == set(brute_force(live, grown, "v0", order))
    # the option's added seconds and metres are what the rebuilt route adds
    old = live.plan.route_of("v0")
    assert old is not None
    for cost, dt, dd, where in options:
        route = ins.realise("v0", where)
        assert route is not None
        assert (route.travel - old.travel, route.distance - old.distance) == (dt, dd)
        assert cost == 3600 * 1000 * dt  # cost_per_hour 3600, no cost per km
    assert ins.cost_delta(ix, grown.vehicle("v0"), options[0][1], options[0][2]) == 1200


def test_a_tight_window_leaves_only_the_positions_that_reach_it() -> None:
    problem = day()
    live = LivePlan.build(problem, one_route(problem), now_s=0)
    # Straight from the depot it is reached at 8:40; after a, only at 8:41.
    early = (TimeWindow(8 * HOUR, 8 * HOUR + 2400),)
    order = Order("new", OrderKind.DELIVERY, delivery=Stop(4, time_windows=early), amount=(1,))
    ins, grown = inserter(live, order)
    ix = live.view.route_index("v0")
    assert ix is not None
    assert [o[3] for o in ins.single(ix)] == [(0,)] == list(brute_force(live, grown, "v0", order))
    # and a window nobody can reach (before the shift) leaves none at all
    gone = Order(
        "gone",
        OrderKind.DELIVERY,
        delivery=Stop(4, time_windows=(TimeWindow(0, 600),)),
        amount=(1,),
    )
    ins, _ = inserter(live, gone)
    assert ins.single(ix) == []
    assert ins.realise("v1", ()) is None


def test_what_the_vehicle_cannot_carry_or_serve_is_refused() -> None:
    problem = day(capacity=10)  # the route already carries 9
    live = LivePlan.build(problem, one_route(problem), now_s=0)
    ix = live.view.route_index("v0")
    assert ix is not None
    heavy = Order("heavy", OrderKind.DELIVERY, delivery=Stop(4), amount=(2,))
    ins, _ = inserter(live, heavy)
    assert ins.single(ix) == []
    assert ins.unused(problem.vehicle("v1")) is not None  # an empty van takes it
    cold = Order("cold", OrderKind.DELIVERY, delivery=Stop(4), amount=(1,), skills=frozenset({"c"}))
    ins, _ = inserter(live, cold)
    assert ins.single(ix) == []
    assert ins.unused(problem.vehicle("v1")) is None
    too_big = Order("big", OrderKind.DELIVERY, delivery=Stop(4), amount=(11,))
    ins, _ = inserter(live, too_big)
    assert ins.unused(problem.vehicle("v1")) is None


def test_a_vehicle_without_a_route_is_priced_there_and_back() -> None:
    problem = day()
    live = LivePlan.build(problem, one_route(problem), now_s=0)
    order = Order(
        "ship",
        OrderKind.SHIPMENT,
        pickup=Stop(2, service=60),
        delivery=Stop(5, service=60),
        amount=(1,),
    )
    ins, grown = inserter(live, order)
    option = ins.unused(grown.vehicle("v1"))
    assert option is not None
    _, dt, dd, where = option
    assert (dt, dd, where) == (5 * 600 * 2, 5 * 6000 * 2, ())  # 0 -> 2 -> 5 -> 0
    route = ins.realise("v1", ())
    assert route is not None and (route.travel, route.distance) == (dt, dd)
    assert [v.kind for v in route.tasks] == [VisitKind.PICKUP, VisitKind.DELIVERY]


def random_problem(seed: int) -> PlanningProblem:
    rng = np.random.default_rng(seed)
    n = 8
    xy = rng.uniform(0, 10_000, size=(n, 2))
    metres = np.rint(np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))).astype(np.int64)
    matrix = TravelMatrix(np.rint(metres / 8.0).astype(np.int64), metres)

    def window() -> tuple[TimeWindow, ...]:
        if rng.uniform() < 0.4:
            return ()
        start = int(rng.integers(0, 3 * HOUR))
        return (TimeWindow(start, start + int(rng.integers(1800, 3 * HOUR))),)

    orders = []
    for i in range(5):
        stop = Stop(int(rng.integers(1, n)), service=120, time_windows=window())
        kind = OrderKind.PICKUP if rng.uniform() < 0.3 else OrderKind.DELIVERY
        field = "pickup" if kind is OrderKind.PICKUP else "delivery"
        orders.append(Order(f"o{i}", kind, amount=(int(rng.integers(1, 4)),), **{field: stop}))  # type: ignore[arg-type]
    vt = VehicleType("t", (8,), cost_per_hour=3600, cost_per_km=1000)
    return PlanningProblem(
        locations=tuple(Location(float(x), float(y), planar=True) for x, y in xy),
        matrices={"car": matrix},
        depots=(Depot("d", 0),),
        vehicles=(Vehicle("v0", vt, shift=TimeWindow(0, 5 * HOUR)),),
        orders=tuple(orders),
        dimensions=("kg",),
    )


def new_order(seed: int, kind: OrderKind) -> Order:
    rng = np.random.default_rng(10_000 + seed)

    def stop() -> Stop:
        start = int(rng.integers(0, 3 * HOUR))
        windows = (TimeWindow(start, start + int(rng.integers(900, 2 * HOUR))),)
        return Stop(int(rng.integers(1, 8)), service=60, time_windows=windows)

    amount = (int(rng.integers(1, 5)),)
    if kind is OrderKind.SHIPMENT:
        return Order("new", kind, pickup=stop(), delivery=stop(), amount=amount)
    if kind is OrderKind.PICKUP:
        return Order("new", kind, pickup=stop(), amount=amount)
    return Order("new", kind, delivery=stop(), amount=amount)


@pytest.mark.parametrize("kind", [OrderKind.DELIVERY, OrderKind.PICKUP])
def test_single_lists_exactly_the_feasible_positions_cheapest_first(kind: OrderKind) -> None:
    checked = refused = 0
    for seed in range(40):
        problem = random_problem(seed)
        live = greedy(problem)
        ix = live.view.route_index("v0")
        if ix is None:
            continue
        order = new_order(seed, kind)
        ins, grown = inserter(live, order)
        options = ins.single(ix)
        expected = brute_force(live, grown, "v0", order)
        assert {o[3] for o in options} == set(expected), seed
        assert [o[0] for o in options] == sorted(o[0] for o in options)
        vehicle = grown.vehicle("v0")
        deltas = [ins.cost_delta(ix, vehicle, o[1], o[2]) for o in options]
        assert deltas == [expected[o[3]] for o in options], seed
        if expected:
            assert deltas[0] == min(expected.values())
            checked += 1
        else:
            refused += 1
    assert checked >= 10 and refused >= 1  # both outcomes were exercised


def test_best_pair_is_the_cheapest_feasible_pair_of_positions() -> None:
    checked = refused = 0
    for seed in range(40):
        problem = random_problem(seed)
        live = greedy(problem)
        ix = live.view.route_index("v0")
        if ix is None:
            continue
        order = new_order(seed, OrderKind.SHIPMENT)
        ins, grown = inserter(live, order)
        expected = brute_force(live, grown, "v0", order)
        best = ins.best_pair(ix, None, set())
        if not expected:
            assert best is None, seed
            refused += 1
            continue
        assert best is not None, seed
        where = best[3]
        assert where in expected
        delta = ins.cost_delta(ix, grown.vehicle("v0"), best[1], best[2])
        assert delta == expected[where] == min(expected.values()), seed
        assert ins.realise("v0", where) is not None
        # excluding the pair found gives the next best, never the same pair
        second = ins.best_pair(ix, None, {where})
        rest = {w: c for w, c in expected.items() if w != where}
        if rest:
            assert second is not None and second[3] != where
            assert ins.cost_delta(ix, grown.vehicle("v0"), second[1], second[2]) == min(
                rest.values()
            )
        checked += 1
    assert checked >= 10 and refused >= 1


def test_a_bound_prunes_pairs_that_cannot_beat_it() -> None:
    problem = day()
    live = LivePlan.build(problem, one_route(problem), now_s=0)
    order = Order("ship", OrderKind.SHIPMENT, pickup=Stop(4), delivery=Stop(5), amount=(1,))
    ins, grown = inserter(live, order)
    ix = live.view.route_index("v0")
    assert ix is not None
    best = ins.best_pair(ix, None, set())
    assert best is not None
    delta = ins.cost_delta(ix, grown.vehicle("v0"), best[1], best[2])
    assert delta == min(brute_force(live, grown, "v0", order).values())
    assert ins.best_pair(ix, delta, set()) == best  # a bound it meets
    assert ins.best_pair(ix, delta - 2, set()) is None  # a bound it cannot beat


def test_breaks_of_an_unused_vehicle_are_placed_around_the_order() -> None:
    van = VehicleType("van", (10,), cost_per_hour=3600)
    lunch = Break("lunch", (TimeWindow(8 * HOUR, 8 * HOUR + 600),), 900)
    problem = PlanningProblem(
        locations=tuple(Location(float(i), 0.0, planar=True) for i in range(8)),
        matrices={"car": line(8)},
        depots=(Depot("D", 0),),
        vehicles=(Vehicle("v0", van, shift=TimeWindow(8 * HOUR, 12 * HOUR), breaks=(lunch,)),),
        orders=(),
        dimensions=("parcels",),
    )
    live = LivePlan.build(problem, Plan(()), now_s=0)
    order = Order("new", OrderKind.DELIVERY, delivery=Stop(3, service=60), amount=(1,))
    ins, _ = inserter(live, order)
    route = ins.realise("v0", ())
    assert route is not None
    kinds = [v.kind for v in route.visits if v.kind in (VisitKind.BREAK, VisitKind.JOB)]
    # the break must start by 8:10, so it comes before the job
    assert kinds == [VisitKind.BREAK, VisitKind.JOB]
    (taken,) = [v for v in route.visits if v.kind is VisitKind.BREAK]
    assert 8 * HOUR <= taken.start <= 8 * HOUR + 600
