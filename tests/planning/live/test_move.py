"""A dispatcher moves an order: within its route, to another route, checked by the validator."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_cases import D, J, P, day, greedy, one_route, problems, progress

from lastmile.domain import Order, OrderKind, Plan, Stop, TimeWindow, Unassigned
from lastmile.exceptions import InputError
from lastmile.planning.live import LivePlan, VehicleState
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import validate


def stops(plan: Plan, vehicle_id: str) -> list[str]:
    route = plan.route_of(vehicle_id)
    return [v.order_id or "" for v in route.tasks] if route is not None else []


def test_a_stop_moves_within_its_route_at_the_position_asked() -> None:
    problem = day()
    live = LivePlan.build(problem, one_route(problem), now_s=0)
    out = live.move("c", "v0", position=0)
    assert out.ok and out.live is not None
    assert stops(out.plan, "v0") == ["c", "a", "b"]
    assert out.move.position == 0 and out.move.changed == ("v0",)
    # Driving back to a then b costs more than the line a, b, c.
    assert out.plan.cost > live.plan.cost
    assert validate(out.live.residual, out.live.residual_plan).ok
    # Without a position: the cheapest one (a, c, b drives as far as a, b, c and
    # comes first: vans go back to the depot).
    back = out.live.move("c", "v0")
    assert back.ok and stops(back.plan, "v0") == ["a", "c", "b"]
    assert back.plan.cost == live.plan.cost


def test_a_stop_moves_to_another_route_and_an_emptied_route_goes() -> None:
    problem = day()
    live = LivePlan.build(problem, one_route(problem), now_s=0)
    out = live.move("b", "v1")
    assert out.ok and out.live is not None
    assert stops(out.plan, "v0") == ["a", "c"] and stops(out.plan, "v1") == ["b"]
    assert out.move.from_vehicle == "v0" and out.move.changed == ("v0", "v1")
    assert out.move.position == 0
    assert out.plan.cost == sum(r.cost for r in out.plan.routes)
    alone = out.live.move("b", "v0", position=1)
    assert alone.ok and stops(alone.plan, "v0") == ["a", "b", "c"]
    assert alone.plan.route_of("v1") is None


def test_an_unassigned_order_moves_onto_a_route() -> None:
    problem = day()
    steps = [Step(J, order_id=o) for o in ("a", "b")]
    route = build_route(problem, problem.vehicles[0], steps)
    plan = Plan((route,), (Unassigned("c", "no room", "capacity"),))
    live = LivePlan.build(problem, plan, now_s=0)
    out = live.move("c", "v0", position=1)
    assert out.ok and out.live is not None and out.move.from_vehicle is None
    assert stops(out.plan, "v0") == ["a", "c", "b"] and not out.plan.unassigned
    assert validate(out.live.residual, out.live.residual_plan).ok


def test_a_move_the_validator_refuses_is_answered_with_its_violations() -> None:
    problem = day()
    late = Order(
        "a",
        OrderKind.DELIVERY,
        delivery=Stop(1, service=60, time_windows=(TimeWindow(8 * 3600, 8 * 3600 + 900),)),
        amount=(3,),
    )
    problem = dataclasses.replace(problem, orders=(late, *problem.orders[1:]))
    live = LivePlan.build(problem, one_route(problem), now_s=0)
    out = live.move("a", "v0", position=2)
    assert not out.ok and out.live is None
    assert {v.code for v in out.move.violations} == {"time_window"}
    assert all(v.order_id == "a" for v in out.move.violations)
    assert stops(out.plan, "v0") == ["b", "c", "a"]  # what the move would give
    small = dataclasses.replace(problem.vehicles[1].type, capacity=(2,))
    problem = dataclasses.replace(
        problem,
        vehicles=(problem.vehicles[0], dataclasses.replace(problem.vehicles[1], type=small)),
    )
    live = LivePlan.build(problem, one_route(problem), now_s=0)
    full = live.move("b", "v1")
    assert not full.ok and "capacity" in {v.code for v in full.move.violations}


def test_what_is_done_or_on_board_another_vehicle_does_not_move() -> None:
    problem = day()
    plan = one_route(problem)
    a = plan.routes[0].visits[1]
    state = VehicleState("v0", a.location, a.departure, completed=frozenset({("a", J)}))
    live = LivePlan.build(problem, plan, now_s=a.departure, states=[state])
    with pytest.raises(InputError, match="already served"):
        live.move("a", "v0")
    with pytest.raises(InputError, match="on board"):
        live.move("b", "v1")
    with pytest.raises(InputError, match="position"):
        live.move("b", "v0", position=0)  # before the stop already done
    with pytest.raises(InputError, match="position"):
        live.move("b", "v0", position=3)
    # Goods on board can change places on their own van.
    out = live.move("c", "v0", position=1)
    assert out.ok, out.move.violations
    assert stops(out.plan, "v0") == ["a", "c", "b"]
    assert out.live is not None and validate(out.live.residual, out.live.residual_plan).ok


def test_a_shipment_moves_to_its_cheapest_pair_of_positions() -> None:
    problem = day()
    ship = Order("s", OrderKind.SHIPMENT, pickup=Stop(4, service=60), delivery=Stop(5), amount=(1,))
    problem = dataclasses.replace(problem, orders=(*problem.orders, ship))
    steps = [Step(J, order_id=o) for o in ("a", "b", "c")] + [
        Step(P, order_id="s"),
        Step(D, order_id="s"),
    ]
    plan = Plan((build_route(problem, problem.vehicles[0], steps),))
    live = LivePlan.build(problem, plan, now_s=0)
    out = live.move("s", "v1")
    assert out.ok and stops(out.plan, "v1") == ["s", "s"]
    with pytest.raises(InputError, match="two stops"):
        live.move("s", "v1", position=0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_move_is_what_the_validator_says(data: st.DataObject) -> None:
    """On plans part-way through the day, a move the library accepts gives a residual
    plan the validator accepts, changes only the routes it names, and moving the order
    back where it was restores the plan's cost when nothing else moved."""
    problem = data.draw(problems())
    base = greedy(problem)
    if not base.plan.routes:
        return
    cuts = [(data.draw(st.integers(0, 3)), False, True, 0) for _ in base.plan.routes]
    states, now = progress(base.plan, cuts)
    live = LivePlan.build(base.problem, base.plan, now_s=now, states=states)
    ahead = [
        (r.vehicle_id, v.order_id)
        for r in live.residual_plan.routes
        for v in r.tasks
        if v.order_id and v.order_id in {o.id for o in live.problem.orders} and v.kind is not P
    ]
    if not ahead:
        return
    src, oid = data.draw(st.sampled_from(ahead))
    to = data.draw(st.sampled_from([v.id for v in live.problem.vehicles]))
    try:
        out = live.move(oid, to)
    except InputError:
        assert to != src and oid in live.pinned(src)
        return
    if out.live is None:
        assert out.move.violations
        return
    assert validate(out.live.residual, out.live.residual_plan).ok
    assert out.live.problem.order(oid) == live.problem.order(oid)
    for route in live.plan.routes:
        if route.vehicle_id not in out.move.changed:
            assert out.plan.route_of(route.vehicle_id) == route
    served = [r.vehicle_id for r in out.plan.routes for v in r.tasks if v.order_id == oid]
    assert set(served) == {to}
