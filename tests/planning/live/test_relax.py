"""Promises the forecast already breaks: relaxed, listed, never made worse."""

from __future__ import annotations

import dataclasses

from live_cases import J, day, one_route

from lastmile.domain import Order, OrderKind, Stop, TimeWindow
from lastmile.planning.live import LivePlan, VehicleState
from lastmile.planning.validate import validate


def test_a_late_vehicle_is_tolerated_but_not_made_later() -> None:
    problem = dataclasses.replace(
        day(vehicles=1),
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
    plan = one_route(problem)
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
