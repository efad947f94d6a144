"""Inserting an order into a live plan: valid, and exactly as cheap as the cheapest position.

The properties: a plan built by inserting orders one by one stays valid at
every step; with vehicles part-way through their routes (stops done, some
failed, goods on board), inserting a new order gives a plan the validator
accepts and costs exactly as little as the cheapest feasible position found
by trying every position of every route.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_cases import (
    HORIZON,
    D,
    J,
    P,
    brute_force,
    day,
    greedy,
    one_route,
    orders_for,
    problems,
    progress,
)

from lastmile.domain import (
    Break,
    Depot,
    Location,
    Order,
    OrderKind,
    Plan,
    Stop,
    TimeWindow,
    Unassigned,
    Vehicle,
    VehicleType,
)
from lastmile.planning.live import LivePlan, VehicleState
from lastmile.planning.problem import PlanningProblem, TravelMatrix
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import validate


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_a_plan_built_by_insertion_is_valid(problem: PlanningProblem) -> None:
    live = greedy(problem)
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
    base = greedy(problem)
    cuts = [
        (
            data.draw(st.integers(0, 6)),
            data.draw(st.booleans()),
            data.draw(st.booleans()),
            data.draw(st.sampled_from([0, 0, 900, 3600])),
        )
        for _ in base.plan.routes
    ]
    states, now = progress(base.plan, cuts)
    live = LivePlan.build(base.problem, base.plan, now_s=now, states=states)
    assert validate(live.residual, live.residual_plan).ok
    n_loc = len(problem.locations)
    (order,) = data.draw(orders_for(n_loc, 2, "new", 1, loose=True))

    expected = brute_force(live, order)
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
        done = len(live.view.tracks[vid].done)
        assert after.visits[:done] == before.visits[:done]
        for oid in live.pinned(vid):
            assert oid in {v.order_id for v in after.visits[done:]}


def test_a_pickup_that_does_not_fit_beside_the_load_is_refused() -> None:
    problem = day(vehicles=1, capacity=10)
    plan = one_route(problem)
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


def unusable_spare_day(spare_break: bool) -> PlanningProblem:
    """Four vans, 5.4 km a unit of cost: v0 full (four tasks), v1/v2 spare, v3 ending at B.

    v2 (and v1 with ``spare_break``) must take a break before 1:00, so from 1:30 on
    neither can leave at all, though alone on a van the order would cost least there.
    """
    durations = np.array(
        [[0, 813, 972, 750], [813, 0, 285, 757], [972, 285, 0, 1040], [750, 757, 1040, 0]]
    )
    distances = np.array(
        [
            [0, 6503, 7775, 6001],
            [6503, 0, 2279, 6055],
            [7775, 2279, 0, 8322],
            [6001, 6055, 8322, 0],
        ]
    )
    shift = TimeWindow(0, HORIZON)

    def van(k: int, start: int, end: int | None, lunch: bool, **limits: int) -> Vehicle:
        vtype = VehicleType(f"t{k}", (5, 2), fixed_cost=0, cost_per_hour=0, cost_per_km=1000)
        breaks = (Break(f"b{k}", (TimeWindow(0, 3600),), 900),) if lunch else ()
        return Vehicle(
            f"v{k}", vtype, start_depot=start, end_depot=end, shift=shift, breaks=breaks, **limits
        )

    def ship(oid: str, pickup: Stop, delivery: Stop) -> Order:
        return Order(oid, OrderKind.SHIPMENT, pickup=pickup, delivery=delivery, amount=(0, 0))

    two_slots = (TimeWindow(0, 1800), TimeWindow(5400, 9000))
    return PlanningProblem(
        locations=tuple(Location(float(i), 0.0, planar=True) for i in range(4)),
        matrices={"car": TravelMatrix(durations, distances)},
        depots=(Depot("A", 0), Depot("B", 1, TimeWindow(0, HORIZON + 3600))),
        vehicles=(
            van(0, 0, None, False, max_tasks=4),
            van(1, 0, 0, spare_break),
            van(2, 0, None, True),
            van(3, 1, 1, False),
        ),
        orders=(
            ship("o0", Stop(3), Stop(2)),
            Order("o1", OrderKind.DELIVERY, delivery=Stop(2), amount=(0, 0)),
            ship("o2", Stop(2), Stop(2)),
            ship(
                "o3",
                Stop(3, time_windows=(TimeWindow(761, 2561),)),
                Stop(2, time_windows=two_slots),
            ),
            Order("o4", OrderKind.DELIVERY, delivery=Stop(2), amount=(0, 0)),
        ),
        dimensions=("kg", "crates"),
    )


@pytest.mark.parametrize("spare_break", [True, False])
def test_a_route_passed_over_for_a_spare_van_that_cannot_leave_is_searched_again(
    spare_break: bool,
) -> None:
    # A spare van is priced without its times (14,323: A -> 3 -> 2) and the route of
    # v3, which costs more (16,644: 2 -> 3 -> 2), was passed over for it; once the
    # spare van is refused, v3 must be searched again, not left out.
    problem = unusable_spare_day(spare_break)
    v0 = [Step(P, order_id="o0"), Step(J, order_id="o4"), Step(J, order_id="o1")]
    v3 = [Step(P, order_id="o3"), Step(D, order_id="o3"), Step(P, order_id="o2")]
    plan = Plan(
        (
            build_route(problem, problem.vehicle("v0"), [*v0, Step(D, order_id="o0")]),
            build_route(problem, problem.vehicle("v3"), [*v3, Step(D, order_id="o2")]),
        )
    )
    assert validate(problem, plan).ok
    # v3 has served o3 and waits at 2 until 1:30; v0 has not left yet.
    state = VehicleState("v3", 2, 5400, completed={("o3", P), ("o3", D)})
    live = LivePlan.build(problem, plan, now_s=5400, states=[state])
    order = Order("new0", OrderKind.SHIPMENT, pickup=Stop(3), delivery=Stop(2), amount=(0, 0))
    assert brute_force(live, order) == 16644

    result = live.insert(order)

    assert isinstance(result, LivePlan), result
    assert validate(result.residual, result.residual_plan).ok
    assert result.plan.cost - live.plan.cost == 16644
    route = result.plan.route_of("v3")
    assert route is not None
    assert [v.kind for v in route.tasks if v.order_id == "new0"] == [P, D]
    assert result.plan.route_of("v1") is None and result.plan.route_of("v2") is None
