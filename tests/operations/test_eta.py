"""ETAs from where the vehicle is, and late flags.

The central property: recomputing a planned route from its start, at its
planned start, gives back the planner's own times (build_route), breaks,
reloads, setup and waiting included. The other tests move the vehicle off
the plan and check each rule on a small line of places (see conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lastmile.domain import (
    Break,
    Depot,
    Location,
    Order,
    OrderKind,
    Stop,
    TimeWindow,
    Vehicle,
    VehicleType,
    VisitKind,
)
from lastmile.exceptions import InputError
from lastmile.operations.eta import recompute_etas, remaining, track_route
from lastmile.operations.position import Fix, Origin, vehicle_position
from lastmile.operations.progress import (
    StopEventKind,
    StopEventRecord,
    StopState,
    TrackedStop,
    route_progress,
    tracked_stops,
)
from lastmile.planning.problem import PlanningProblem, TravelMatrix
from lastmile.planning.schedule import Step, build_route

from .conftest import DUR, W, ev, line_route  # type: ignore[import-not-found]

VT = VehicleType("t", (1000,))

# -- the planner's times come back -----------------------------------------------------------


@st.composite
def planned_routes(draw: st.DrawFn) -> tuple[PlanningProblem, list[Step]]:
    n_places = draw(st.integers(2, 7))
    coords = draw(st.lists(st.integers(0, 50), min_size=n_places, max_size=n_places))
    pos = np.array(coords)
    dur = np.abs(pos[:, None] - pos[None, :]).astype(np.int64) * 60
    place = st.integers(0, n_places - 1)

    def windows() -> st.SearchStrategy[tuple[TimeWindow, ...]]:
        def build(starts: list[int]) -> tuple[TimeWindow, ...]:
            out, t = [], 0
            for gap, length in zip(starts[::2], starts[1::2], strict=False):
                out.append(TimeWindow(t + gap, t + gap + length))
                t += gap + length + 1
            return tuple(out)

        return st.lists(st.integers(0, 4000), max_size=4).map(build)

    def stop() -> st.SearchStrategy[Stop]:
        return st.builds(
            Stop,
            location=place,
            service=st.integers(0, 600),
            setup=st.integers(0, 120),
            time_windows=windows(),
        )

    orders: list[Order] = []
    steps: list[Step] = []
    for k in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(list(OrderKind)))
        oid = f"o{k}"
        if kind is OrderKind.SHIPMENT:
            orders.append(Order(oid, kind, pickup=draw(stop()), delivery=draw(stop())))
            at = draw(st.integers(0, len(steps)))
            steps.insert(at, Step(VisitKind.PICKUP, order_id=oid))
            steps.insert(draw(st.integers(at + 1, len(steps))), Step(VisitKind.DELIVERY, oid))
        elif kind is OrderKind.DELIVERY:
            orders.append(Order(oid, kind, delivery=draw(stop())))
            steps.insert(draw(st.integers(0, len(steps))), Step(VisitKind.JOB, order_id=oid))
        else:
            orders.append(Order(oid, kind, pickup=draw(stop())))
            steps.insert(draw(st.integers(0, len(steps))), Step(VisitKind.JOB, order_id=oid))
    breaks = []
    for b in range(draw(st.integers(0, 2))):
        breaks.append(Break(f"b{b}", draw(windows().filter(bool)), draw(st.integers(0, 1800))))
        steps.insert(draw(st.integers(0, len(steps))), Step(VisitKind.BREAK, break_id=f"b{b}"))
    depot = Depot("d", draw(place), TimeWindow(0, 100_000), reload_time=draw(st.integers(0, 300)))
    for _ in range(draw(st.integers(0, 2))):
        steps.insert(draw(st.integers(0, len(steps))), Step(VisitKind.RELOAD, depot=0))
    vehicle = Vehicle(
        "v",
        VT,
        end_depot=draw(st.sampled_from([0, None])),
        shift=TimeWindow(draw(st.integers(0, 2000)), 100_000),
        breaks=tuple(breaks),
    )
    problem = PlanningProblem(
        locations=tuple(Location(float(c), 0.0, planar=True) for c in coords),
        matrices={"car": TravelMatrix(dur, dur * 10)},
        depots=(depot,),
        vehicles=(vehicle,),
        orders=tuple(orders),
        dimensions=("units",),
    )
    return problem, steps


@settings(max_examples=150, deadline=None)
@given(planned_routes())
def test_recomputing_at_the_planned_start_gives_the_planned_times(
    case: tuple[PlanningProblem, list[Step]],
) -> None:
    problem, steps = case
    route = build_route(problem, problem.vehicles[0], steps)
    stops = tracked_stops(problem, route)
    durations = problem.matrices["car"].durations.tolist()
    start = route.visits[0]
    progress, eta = track_route(
        stops,
        [],
        durations=durations,
        now_s=start.departure,
        start=Origin(start.location, start.departure),
    )
    planned = [(v.arrival, v.start, v.departure) for v in route.visits[1:]]
    assert [(s.arrival_s, s.start_s, s.departure_s) for s in eta.stops] == planned
    assert [s.sequence for s in eta.stops] == list(range(1, len(route.visits)))
    assert progress.done == progress.failed == 0


@settings(max_examples=100, deadline=None)
@given(planned_routes(), st.integers(0, 5000))
def test_a_late_start_never_makes_a_stop_earlier(
    case: tuple[PlanningProblem, list[Step]], delay_s: int
) -> None:
    problem, steps = case
    route = build_route(problem, problem.vehicles[0], steps)
    stops = tracked_stops(problem, route)
    start = route.visits[0]
    now = start.departure + delay_s
    _, eta = track_route(
        stops,
        [],
        durations=problem.matrices["car"].durations.tolist(),
        now_s=now,
        start=Origin(start.location, start.departure),
    )
    single_windows = all(len(s.windows) <= 1 for s in stops)
    for planned, predicted in zip(route.visits[1:], eta.stops, strict=True):
        assert predicted.arrival_s >= planned.arrival
        assert predicted.departure_s >= planned.departure
        if single_windows:
            # Passed on at most in full (waiting absorbs some of it); with gaps
            # between windows a missed window may cost more than the delay.
            assert predicted.departure_s <= planned.departure + delay_s


# -- on the line of places of conftest.py ----------------------------------------------------


def etas(stops: list[TrackedStop], events: list[StopEventRecord], **kw: object) -> dict[int, int]:
    _, eta = track_route(stops, events, durations=DUR, **kw)  # type: ignore[arg-type]
    return {s.sequence: s.arrival_s for s in eta.stops}


def test_untouched_route_follows_the_plan_from_its_start() -> None:
    stops = line_route()
    got = etas(stops, [], now_s=0, start=Origin(0, 1000))
    assert got == {1: 1100, 2: 1260, 3: 1420, 4: 1580, 5: 2040}


def test_a_route_that_should_have_left_leaves_now() -> None:
    got = etas(line_route(), [], now_s=1500, start=Origin(0, 1000))
    assert got[1] == 1600


def test_finished_stops_drop_out_and_the_vehicle_leaves_from_the_last_one() -> None:
    stops = line_route()
    events = [
        ev("a", StopEventKind.ARRIVED, 1100),
        ev("a", StopEventKind.DELIVERED, 1200),
        ev("b", StopEventKind.DELIVERED, 1400),
    ]
    got = etas(stops, events, now_s=1410, start=Origin(0, 1000))
    assert got == {3: 1500, 4: 1660, 5: 2120}


def test_the_stop_the_driver_is_at_comes_first_and_ends_after_its_service() -> None:
    stops = line_route()
    events = [ev("a", StopEventKind.DELIVERED, 1200), ev("b", StopEventKind.ARRIVED, 1300)]
    progress, eta = track_route(stops, events, durations=DUR, now_s=1310, start=Origin(0, 1000))
    assert progress.current == 2 and progress.stops[2].state is StopState.ARRIVED
    first = eta.stops[0]
    assert (first.sequence, first.arrival_s, first.departure_s) == (2, 1300, 1360)
    assert eta.origin.why == "at_stop"
    assert eta.stops[1].arrival_s == 1460  # stop c: one leg after leaving b
    # Still there long after the service should have ended: leaving any moment now.
    _, later = track_route(stops, events, durations=DUR, now_s=2000, start=Origin(0, 1000))
    assert later.stops[0].departure_s == 2000 and later.stops[1].arrival_s == 2100


def test_a_position_newer_than_the_last_stop_is_the_origin() -> None:
    stops = [*line_route()[:-1], TrackedStop(5, VisitKind.END, 0)]
    fix_row = len(DUR)  # the fix is one more row: 50 s from place 2, 150 s from place 3
    durations = [[*row, 0] for row in DUR] + [[250, 150, 50, 50, 150, 250, 0]]
    events = [ev("a", StopEventKind.DELIVERED, 1200), ev("b", StopEventKind.DELIVERED, 1400)]
    progress, eta = track_route(
        stops,
        events,
        durations=durations,
        now_s=1500,
        start=Origin(0, 1000),
        fix=Fix(fix_row, 1480),
    )
    assert eta.origin == Origin(fix_row, 1480, "position")
    assert eta.stops[0].arrival_s == 1530
    # An older fix than the last report is not used.
    stale = vehicle_position(
        stops, progress, now_s=1500, fix=Fix(fix_row, 1300), start=Origin(0, 0)
    )
    assert stale == Origin(2, 1400, "last_stop")


def test_the_first_place_ahead_is_not_reached_before_now() -> None:
    events = [ev("a", StopEventKind.DELIVERED, 1200)]
    got = etas(line_route(), events, now_s=5000, start=Origin(0, 1000))
    assert got[2] == 5000 and got[3] == 5160


def test_waiting_for_a_window_absorbs_delay() -> None:
    stops = line_route({2: (W(2000, 2600),)})
    on_time = etas(stops, [], now_s=0, start=Origin(0, 1000))
    delayed = etas(stops, [ev("a", StopEventKind.DELIVERED, 1500)], now_s=1500, start=Origin(0, 0))
    assert on_time[2] == 1260 and delayed[2] == 1600
    # Service at b starts at 2000 in both cases, so c and d do not move.
    assert on_time[3] == delayed[3] == 2160


def test_a_stop_is_predicted_late_before_its_window_ends() -> None:
    stops = line_route({3: (W(0, 1500),), 4: (W(0, 1700),)})
    events = [ev("a", StopEventKind.DELIVERED, 1200)]
    _, eta = track_route(stops, events, durations=DUR, now_s=1210, start=Origin(0, 0), margin_s=200)
    by_seq = {s.sequence: s for s in eta.stops}
    # b at 1300, c at 1460 (window ends 1500: 40 s slack < 200 s margin), d at 1620.
    assert by_seq[3].arrival_s == 1460 and by_seq[3].slack_s == 40 and by_seq[3].late
    assert by_seq[4].slack_s == 80 and by_seq[4].late
    assert not by_seq[2].late and by_seq[2].window_end_s is None
    assert [s.sequence for s in eta.late] == [3, 4]
    _, no_margin = track_route(stops, events, durations=DUR, now_s=1210, start=Origin(0, 0))
    assert no_margin.late == ()


def test_a_stop_after_its_last_window_is_served_late_at_arrival() -> None:
    stops = line_route({1: (W(0, 500), W(700, 900))})
    _, eta = track_route(stops, [], durations=DUR, now_s=1000, start=Origin(0, 1000))
    first = eta.stops[0]
    assert (first.arrival_s, first.start_s, first.slack_s, first.late) == (1100, 1100, -200, True)


def test_second_window_is_waited_for() -> None:
    stops = line_route({1: (W(0, 500), W(2000, 2100))})
    _, eta = track_route(stops, [], durations=DUR, now_s=1000, start=Origin(0, 1000))
    assert (eta.stops[0].arrival_s, eta.stops[0].start_s) == (1100, 2000)
    assert not eta.stops[0].late


def test_setup_is_spent_only_when_the_place_changes() -> None:
    stops = [
        TrackedStop(0, VisitKind.START, 0),
        TrackedStop(1, VisitKind.JOB, 1, (), 60, 30, "a"),
        TrackedStop(2, VisitKind.JOB, 1, (), 60, 30, "b"),
        TrackedStop(3, VisitKind.END, 0),
    ]
    got = etas(stops, [], now_s=0, start=Origin(0, 0))
    assert got == {1: 100, 2: 190, 3: 350}


def test_a_break_is_taken_on_the_way_when_its_window_opens() -> None:
    stops = line_route()
    stops.insert(3, TrackedStop(99, VisitKind.BREAK, 2, (W(1300, 5000),), 600))
    # Leaves b at 1320, break window already open: rest 600 s, then drive to c.
    _, eta = track_route(stops, [], durations=DUR, now_s=0, start=Origin(0, 1000))
    brk = next(s for s in eta.stops if s.kind is VisitKind.BREAK)
    assert (brk.arrival_s, brk.start_s, brk.departure_s) == (1320, 1320, 1920)
    assert {s.sequence: s.arrival_s for s in eta.stops}[3] == 2020
    # Once a later stop has been reported, the break counts as taken.
    progress = route_progress(stops, [ev("c", StopEventKind.ARRIVED, 1500)])
    assert 3 not in remaining(stops, progress)


def test_margin_must_not_be_negative() -> None:
    stops = line_route()
    progress = route_progress(stops, [])
    with pytest.raises(InputError, match="margin_s"):
        recompute_etas(stops, progress, durations=DUR, now_s=0, origin=Origin(0, 0), margin_s=-1)


def test_late_is_judged_on_the_start_of_service_not_the_arrival() -> None:
    # Arriving at 1100 for a 2000-2100 window: service starts at 2000, 100 s before the
    # window ends, inside a 200 s margin; by the arrival alone it would look 1000 s early.
    stops = line_route({1: (W(2000, 2100),)})
    _, eta = track_route(stops, [], durations=DUR, now_s=1000, start=Origin(0, 1000), margin_s=200)
    first = eta.stops[0]
    assert (first.arrival_s, first.start_s, first.slack_s, first.late) == (1100, 2000, 100, True)
    _, roomy = track_route(stops, [], durations=DUR, now_s=1000, start=Origin(0, 1000), margin_s=50)
    assert not roomy.stops[0].late and roomy.stops[0].slack_s == 100
