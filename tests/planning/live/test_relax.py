"""Promises the forecast already breaks: relaxed, listed, never made worse."""

from __future__ import annotations

import dataclasses

from live_cases import J, day, one_route

from lastmile.domain import Order, OrderKind, Plan, Stop, TimeWindow
from lastmile.planning.live import LivePlan, VehicleState
from lastmile.planning.live.relax import relax
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.schedule import Step, build_route
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


def _late_b() -> PlanningProblem:
    """The worked-example day on one van, b's window closing at 9:00."""
    problem = day(vehicles=1)
    b = problem.order("b")
    assert b.delivery is not None
    late = dataclasses.replace(
        b, delivery=dataclasses.replace(b.delivery, time_windows=(TimeWindow(0, 9 * 3600),))
    )
    return dataclasses.replace(
        problem, orders=tuple(late if o.id == "b" else o for o in problem.orders)
    )


def test_relaxing_a_forecast_that_breaks_nothing_changes_nothing() -> None:
    problem = day(vehicles=1)
    steps = {"v0": [Step(J, order_id=o) for o in ("a", "b", "c")]}
    relaxed, notes, out_steps, depot_map, forecast = relax(problem, steps, frozenset(), [0])
    assert relaxed is problem and notes == ()
    assert out_steps == steps and depot_map == [0]
    assert forecast["v0"] == build_route(problem, problem.vehicles[0], steps["v0"])


def test_a_window_the_forecast_misses_is_relaxed_to_the_forecast() -> None:
    problem = _late_b()
    # c, then a, then b: b is reached after 9:00.
    steps = {"v0": [Step(J, order_id=o) for o in ("c", "a", "b")]}
    relaxed, notes, _, _, forecast = relax(problem, steps, frozenset(), [0])
    at_b = next(v for v in forecast["v0"].visits if v.order_id == "b")
    assert at_b.start > 9 * 3600
    assert [(n.vehicle_id, n.code, n.order_id) for n in notes] == [("v0", "time_window", "b")]
    assert "after its window ends at" in notes[0].message
    delivery = relaxed.order("b").delivery
    assert delivery is not None
    assert delivery.time_windows == (TimeWindow(0, at_b.start),)
    # The relaxed problem accepts the forecast as it is; the strict one does not.
    assert validate(relaxed, Plan((forecast["v0"],))).ok
    assert not validate(problem, Plan((forecast["v0"],))).ok


def test_a_shift_the_forecast_overruns_is_relaxed_to_the_forecast() -> None:
    problem = day(vehicles=1, shift_end=8 * 3600 + 3000)
    steps = {"v0": [Step(J, order_id=o) for o in ("a", "b", "c")]}
    relaxed, notes, _, _, forecast = relax(problem, steps, frozenset(), [0])
    end = forecast["v0"].visits[-1].arrival
    assert end > problem.vehicles[0].shift.end
    assert [n.code for n in notes] == ["shift_end"]
    assert relaxed.vehicles[0].shift == TimeWindow(8 * 3600, end)
    assert validate(relaxed, Plan((forecast["v0"],))).ok
