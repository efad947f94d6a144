"""Re-optimising what has not happened yet, and the typed outcome that says what it did."""

from __future__ import annotations

import dataclasses

import pytest
from live_cases import J, day, one_route

from lastmile.domain import Order, OrderKind, Plan, Stop, Unassigned
from lastmile.planning.live import (
    LivePlan,
    ReoptimiseOutcome,
    ReoptimiseReason,
    VehicleState,
    reoptimise,
)
from lastmile.planning.live import reoptimisation as reoptimise_module
from lastmile.planning.problem import PlanningProblem
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


def _started() -> LivePlan:
    """The worked-example day: v0 has delivered a and carries b and c; v1 is idle."""
    problem = day()
    plan = one_route(problem)
    a = plan.routes[0].visits[1]
    state = VehicleState("v0", a.location, a.departure, completed=frozenset({("a", J)}))
    return LivePlan.build(problem, plan, now_s=a.departure, states=[state])


def _kept_as_it_was(outcome: ReoptimiseOutcome, live: LivePlan) -> None:
    assert outcome.kept and outcome.reason.kept
    assert outcome.live.residual_plan == live.residual_plan
    assert outcome.plan == outcome.live.plan
    assert outcome.plan.routes == live.plan.routes
    assert outcome.plan.engine == f"{live.plan.engine} (kept)"


def test_only_an_improvement_is_not_kept() -> None:
    assert [r for r in ReoptimiseReason if not r.kept] == [ReoptimiseReason.IMPROVED]


def test_nothing_to_plan_keeps_the_plan() -> None:
    live = _started()
    # The only other vehicle takes no new work and v0 keeps its sequence.
    off = LivePlan(dataclasses.replace(live.view, unavailable=frozenset({"v1"})))
    outcome = off.reoptimise(time_limit=5.0, keep_started=True)
    assert outcome.reason is ReoptimiseReason.NOTHING_TO_PLAN
    _kept_as_it_was(outcome, off)


def test_no_time_left_keeps_the_plan() -> None:
    live = _started()
    outcome = live.reoptimise(time_limit=0.0)
    assert outcome.reason is ReoptimiseReason.OUT_OF_TIME
    _kept_as_it_was(outcome, live)


def test_a_worse_plan_is_not_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = day()
    live = LivePlan.build(problem, one_route(problem), now_s=0)

    def nothing_planned(problem: PlanningProblem, **_: object) -> Plan:
        return Plan((), tuple(Unassigned(o.id, "left out", "no_room") for o in problem.orders))

    monkeypatch.setattr(reoptimise_module, "solve", nothing_planned)
    outcome = reoptimise(live.problem, live, time_limit=5.0)
    assert outcome.reason is ReoptimiseReason.NOT_BETTER
    _kept_as_it_was(outcome, live)


def test_goods_left_out_twice_keep_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = day()
    v0, v1 = problem.vehicles
    plan = Plan(
        (
            build_route(problem, v0, [Step(J, order_id="a"), Step(J, order_id="b")]),
            build_route(problem, v1, [Step(J, order_id="c")]),
        )
    )
    a = plan.routes[0].visits[1]
    leaves = plan.routes[1].visits[0].departure
    states = [
        VehicleState("v0", a.location, a.departure, completed=frozenset({("a", J)})),
        VehicleState("v1", 0, leaves),  # just left the depot with c on board
    ]
    live = LivePlan.build(problem, plan, now_s=max(a.departure, leaves), states=states)
    assert set(live.pinned("v0")) == {"b"} and set(live.pinned("v1")) == {"c"}
    asked: list[set[str]] = []

    def leaves_out_goods(problem: PlanningProblem, **_: object) -> Plan:
        # First v0's goods are left out (v1 keeps its route), then v1's.
        asked.append({v.id for v in problem.vehicles})
        kept = live.residual_route("v1")
        assert kept is not None
        return Plan((kept,) if len(asked) == 1 else (), ())

    monkeypatch.setattr(reoptimise_module, "solve", leaves_out_goods)
    outcome = live.reoptimise(time_limit=5.0)
    assert asked == [{"v0", "v1"}, {"v1"}]
    assert outcome.reason is ReoptimiseReason.CARRIED_GOODS_LEFT_OUT
    _kept_as_it_was(outcome, live)
