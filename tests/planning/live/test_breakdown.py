"""A vehicle breaks down: its stops go elsewhere, goods on board are reported or transferred."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_cases import D, J, P, day, greedy, one_route, problems, progress

from lastmile.domain import Order, OrderKind, Plan, Stop
from lastmile.planning.live import LivePlan, VehicleState, reassign_vehicle
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import validate


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_broken_vehicle_leaves_nothing_behind(data: st.DataObject) -> None:
    problem = data.draw(problems())
    base = greedy(problem)
    if not base.plan.routes:
        return
    cuts = [(data.draw(st.integers(0, 4)), False, True, 0) for _ in base.plan.routes]
    states, now = progress(base.plan, cuts)
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


def test_breakdown_moves_stops_and_reports_goods_on_board() -> None:
    problem = day()
    plan = one_route(problem)
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
