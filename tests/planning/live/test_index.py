"""The insertion index: the timing rules it is made of, and what it holds for a route."""

from __future__ import annotations

from live_cases import J, day, one_route

from lastmile.domain import TimeWindow
from lastmile.planning.live import LivePlan, VehicleState
from lastmile.planning.live.index import (
    fits,
    latest_arrival,
    latest_departure,
    pointwise_max,
    through,
)
from lastmile.planning.live.state import NEG

LUNCH = ((TimeWindow(100, 200),), 30)  # a 30 s break to start between 100 and 200


def test_a_leg_without_breaks_arrives_after_its_duration() -> None:
    assert through(50, [], 40) == 90


def test_a_break_is_taken_on_the_way_when_its_window_opens() -> None:
    # Leaving at 80 for a 60 s leg: 20 s driven, the break from 100 to 130, 40 s more.
    assert through(80, [LUNCH], 60) == 170
    # Leaving at 150, the window is open at once: break first, then the whole leg.
    assert through(150, [LUNCH], 60) == 240
    # Leaving after every window of the break has passed: no arrival.
    assert through(201, [LUNCH], 60) is None


def test_the_latest_departure_is_the_last_one_arriving_in_time() -> None:
    assert latest_departure([], 40, 100, 0) == 60
    latest = latest_departure([LUNCH], 60, 240, 0)
    assert through(latest, [LUNCH], 60) == 240
    assert through(latest + 1, [LUNCH], 60) is None or through(latest + 1, [LUNCH], 60) > 240
    assert latest_departure([], 40, 100, 70) == NEG  # leaving at 70 is already too late


def test_the_latest_arrival_fits_the_service_into_a_window() -> None:
    assert latest_arrival((), 60, 1000) == 940
    windows = (TimeWindow(0, 100), TimeWindow(500, 600))
    assert latest_arrival(windows, 60, 1000) == 600  # the second window's end
    assert latest_arrival(windows, 60, 400) == 100  # the second window is too late
    assert latest_arrival(windows, 60, 50) == NEG  # no window leaves room for the service


def test_loads_are_compared_and_combined_per_dimension() -> None:
    assert fits((1, 2), (1, 2)) and not fits((1, 3), (5, 2))
    assert pointwise_max((1, 5), (3, 2)) == (3, 5)


def test_the_index_of_a_route_not_started_holds_its_times() -> None:
    problem = day()
    plan = one_route(problem)
    live = LivePlan.build(problem, plan, now_s=0)
    route = live.residual_plan.routes[0]
    ix = live.view.route_index("v0")
    assert ix is not None and live.view.route_index("v0") is ix  # built once
    assert live.view.route_index("v1") is None  # no route
    assert ix.loc == [v.location for v in route.visits]
    assert ix.dep == [*(v.departure for v in route.visits[:-1]), route.visits[-1].arrival]
    assert ix.first == 0 and ix.delivery_from == 0 and not ix.started
    # Back from the end of the shift (12:00, 1,800 s from c to the depot, 60 s at c).
    shift_end = 12 * 3600
    assert ix.la_setup[-1] == shift_end
    assert ix.la_setup[-2] == shift_end - 1800 - 60
    assert all(d <= la for d, la in zip(ix.dep, ix.la_setup, strict=True))
    assert (ix.travel, ix.distance, ix.tasks) == (route.travel, route.distance, 3)


def test_the_index_of_a_started_route_skips_what_is_on_board() -> None:
    problem = day()
    plan = one_route(problem)
    a = plan.routes[0].visits[1]
    state = VehicleState("v0", a.location, a.departure, completed=frozenset({("a", J)}))
    live = LivePlan.build(problem, plan, now_s=a.departure, states=[state])
    ix = live.view.route_index("v0")
    assert ix is not None and ix.started
    # The goods on board (b, c) are picked up first at the private "now" row.
    now_row = live.view.tracks["v0"].now_row
    assert ix.loc[:3] == [now_row, now_row, now_row]
    assert ix.first == 2
    # No reload ahead: a depot delivery has nowhere to go on this route.
    assert ix.delivery_from is None
    assert ix.full_travel == live.plan.routes[0].visits[-1].travel
