"""The live plan: a view of the data behind it, and changes that return new live plans."""

from __future__ import annotations

import dataclasses

from live_cases import J, day, one_route

from lastmile.domain import Order, OrderKind, Plan, Stop
from lastmile.planning.live import LivePlan, VehicleState, insert_order, reassign_vehicle


def _started() -> LivePlan:
    problem = day()
    plan = one_route(problem)
    a = plan.routes[0].visits[1]
    state = VehicleState("v0", a.location, a.departure, completed=frozenset({("a", J)}))
    return LivePlan.build(problem, plan, now_s=a.departure, states=[state])


def test_the_live_plan_reads_its_view() -> None:
    live = _started()
    view = live.view
    assert live.problem is view.problem and live.plan is view.plan
    assert live.residual is view.residual and live.residual_plan is view.residual_plan
    assert live.now_s == view.now_s and live.states is view.states
    assert live.relaxations == view.relaxations and live.unavailable == view.unavailable
    assert live.is_started("v0") and not live.is_started("v1")
    assert live.residual_route("v0") == view.residual_plan.route_of("v0")
    assert live.residual_route("v1") is None
    assert dict(live.pinned("v0")) == {"b": OrderKind.DELIVERY, "c": OrderKind.DELIVERY}
    assert dict(live.pinned("v1")) == {}
    assert live.next_row == len(view.residual.locations)


def test_changes_leave_the_live_plan_they_start_from_as_it_was() -> None:
    live = _started()
    before = dataclasses.replace(live.view)
    ret = Order("r", OrderKind.PICKUP, pickup=Stop(2, service=60), amount=(2,))
    inserted = live.insert(ret)
    assert isinstance(inserted, LivePlan) and inserted.view is not live.view
    broken = live.without_vehicle("v0")
    assert "v0" in broken.unavailable and "v0" not in live.unavailable
    assert live.view == before
    assert live.with_locations([], {}) is live


def test_the_functions_are_the_methods_from_a_problem() -> None:
    live = _started()
    ret = Order("r", OrderKind.PICKUP, pickup=Stop(2, service=60), amount=(2,))
    inserted = live.insert(ret)
    assert isinstance(inserted, LivePlan)
    assert insert_order(live.problem, live, ret) == inserted.plan
    assert reassign_vehicle(live.problem, live, "v0") == live.without_vehicle("v0").plan
    rebased = live.rebase(live.problem)
    assert rebased.view == live.view
    assert isinstance(reassign_vehicle(live.problem, rebased, "v1"), Plan)
