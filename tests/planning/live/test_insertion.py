"""Inserting an order into a live plan: valid, and exactly as cheap as the cheapest position.

The properties: a plan built by inserting orders one by one stays valid at
every step; with vehicles part-way through their routes (stops done, some
failed, goods on board), inserting a new order gives a plan the validator
accepts and costs exactly as little as the cheapest feasible position found
by trying every position of every route.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_cases import brute_force, day, greedy, one_route, orders_for, problems, progress

from lastmile.domain import Order, OrderKind, Stop, TimeWindow, Unassigned
from lastmile.planning.live import LivePlan, VehicleState
from lastmile.planning.problem import PlanningProblem
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
