"""Full plans from residual plans: history first, then the rest in the problem's terms."""

from __future__ import annotations

from live_cases import J, day, one_route

from lastmile.domain import Plan, VisitKind
from lastmile.planning.live import LivePlan, VehicleState
from lastmile.planning.live.assemble import full_plan, full_route


def test_a_plan_nobody_has_started_reads_as_it_was() -> None:
    problem = day()
    plan = one_route(problem)
    live = LivePlan.build(problem, plan, now_s=0)
    assert live.plan == plan
    view = live.view
    assert full_plan(view, view.residual_plan, "again") == Plan(
        plan.routes, plan.unassigned, "again", plan.runtime_s
    )


def test_a_started_route_maps_back_onto_the_problem() -> None:
    problem = day()
    plan = one_route(problem)
    a = plan.routes[0].visits[1]
    state = VehicleState("v0", a.location, a.departure, completed=frozenset({("a", J)}))
    live = LivePlan.build(problem, plan, now_s=a.departure, states=[state])
    view = live.view
    track = view.tracks["v0"]
    residual = view.residual_plan.route_of("v0")
    assert residual is not None
    # The residual route starts at the private "now" row and picks up b and c there.
    assert residual.visits[0].location == track.now_row
    assert [(v.kind, v.order_id) for v in residual.visits[1:3]] == [
        (VisitKind.PICKUP, "b"),
        (VisitKind.PICKUP, "c"),
    ]
    route = full_route(problem.vehicles[0], track, view.depot_map, residual)
    assert route is not None and route == live.plan.route_of("v0")
    # History first, then b and c as the jobs they are, at rows of the problem.
    assert route.visits[:2] == track.done
    assert [(v.kind, v.order_id) for v in route.visits[2:]] == [
        (J, "b"),
        (J, "c"),
        (VisitKind.END, None),
    ]
    assert all(v.location < len(problem.locations) for v in route.visits)
    # Travel goes on from what was driven before.
    assert route.visits[-1].travel == track.travel_s + residual.visits[-1].travel
    assert route.cost == plan.routes[0].cost


def test_a_vehicle_with_nothing_behind_or_ahead_has_no_route() -> None:
    problem = day()
    live = LivePlan.build(problem, one_route(problem), now_s=0)
    assert (
        full_route(problem.vehicles[1], live.view.tracks["v1"], live.view.depot_map, None) is None
    )
