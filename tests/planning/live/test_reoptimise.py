"""Re-optimising what has not happened yet, and the typed outcome that says what it did."""

from __future__ import annotations

import dataclasses

import pytest
from live_cases import J, day

from lastmile.domain import Order, OrderKind, Plan, Stop
from lastmile.planning.live import LivePlan, ReoptimiseReason, VehicleState, reoptimise
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import validate


@pytest.mark.parametrize("engine", ["pyvrp", "vroom", "ortools"])
def test_reoptimise_keeps_what_is_done_and_carried(engine: str) -> None:
    problem = day(vehicles=2, shift_end=14 * 3600)
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
    outcome = live.reoptimise(time_limit=1.0, workers=1, engine=engine)
    assert not outcome.kept and outcome.reason is ReoptimiseReason.IMPROVED
    better = outcome.live
    assert validate(better.residual, better.residual_plan).ok
    assert "re-optimised" in better.plan.engine
    assert better.plan.cost < live.plan.cost
    v0 = better.plan.route_of("v0")
    assert v0 is not None
    assert v0.visits[:2] == live.plan.routes[0].visits[:2]
    assert {"b", "c"} <= {v.order_id for v in v0.tasks}
    again = reoptimise(problem, live, time_limit=1.0, workers=1, keep_started=True)
    kept = again.plan
    assert again.kept == kept.engine.endswith(" (kept)")
    assert kept.route_of("v0") == live.plan.route_of("v0") or again.kept
