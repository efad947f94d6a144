"""Building the live view: goods on board, failed stops and inputs that do not fit."""

from __future__ import annotations

import pytest
from live_cases import J, day, one_route

from lastmile.domain import Order, OrderKind, Stop, Unassigned, VisitKind
from lastmile.exceptions import InputError
from lastmile.planning.live import LivePlan, VehicleState
from lastmile.planning.validate import validate


def test_goods_on_board_stay_on_their_vehicle() -> None:
    problem = day()
    plan = one_route(problem)
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


def test_a_failed_delivery_stays_on_board() -> None:
    problem = day(vehicles=1, capacity=10)
    plan = one_route(problem)
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


def test_inputs_that_do_not_fit_are_refused() -> None:
    problem = day()
    plan = one_route(problem)
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


def test_a_vehicle_back_at_its_depot_starts_a_new_trip_there() -> None:
    problem = day(vehicles=1, capacity=9)
    plan = one_route(problem)
    back = plan.routes[0].visits[-1]  # its round done, at the depot
    assert back.kind is VisitKind.END
    did = {"completed": frozenset({("a", J), ("b", J)}), "failed": frozenset({("c", J)})}
    urgent = Order("u", OrderKind.DELIVERY, delivery=Stop(2, service=60), amount=(9,))
    # On the road, c's parcels ride along and depot goods need a reload first.
    out = LivePlan.build(
        problem, plan, now_s=back.arrival, states=[VehicleState("v0", 0, back.arrival, **did)]
    )
    assert isinstance(out.insert(urgent), Unassigned)
    # Back at the depot: it unloaded c's parcels, loads the urgent ones, drives again.
    home = VehicleState("v0", 0, back.arrival, at_depot=True, **did)
    live = LivePlan.build(problem, plan, now_s=back.arrival, states=[home])
    assert "v0~on-board" not in {o.id for o in live.residual.orders}
    result = live.insert(urgent)
    assert isinstance(result, LivePlan)
    route = result.plan.route_of("v0")
    assert route is not None
    assert [v.order_id for v in route.tasks] == ["a", "b", "c", "u"]
    assert route.tasks[-1].arrival >= back.arrival + 2 * 600  # from the depot, not before now
    assert validate(result.residual, result.residual_plan).ok
    # Only a depot's row can be one.
    with pytest.raises(InputError, match="no depot's"):
        LivePlan.build(
            problem, plan, now_s=back.arrival, states=[VehicleState("v0", 2, 0, at_depot=True)]
        )
