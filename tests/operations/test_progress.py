"""Route progress from stop events: the replay of reports into visit states, and
the lifecycle event each report means for its order."""

from __future__ import annotations

import pytest

from lastmile.domain import OrderKind, VisitKind
from lastmile.exceptions import InputError
from lastmile.operations.eta import remaining
from lastmile.operations.lifecycle import OrderEvent
from lastmile.operations.progress import (
    StopEventKind,
    StopState,
    TrackedStop,
    order_event_for,
    route_progress,
)

from .conftest import ev, line_route  # type: ignore[import-not-found]


def test_failing_a_shipment_at_pickup_drops_its_delivery_too() -> None:
    stops = [
        TrackedStop(0, VisitKind.START, 0),
        TrackedStop(1, VisitKind.PICKUP, 1, (), 60, 0, "s"),
        TrackedStop(2, VisitKind.JOB, 2, (), 60, 0, "a"),
        TrackedStop(3, VisitKind.DELIVERY, 3, (), 60, 0, "s"),
        TrackedStop(4, VisitKind.END, 0),
    ]
    progress = route_progress(stops, [ev("s", StopEventKind.FAILED, 1100, VisitKind.PICKUP)])
    assert [s.state for s in progress.stops[1:4]] == [
        StopState.FAILED,
        StopState.PENDING,
        StopState.FAILED,
    ]
    assert progress.failed == 2
    assert remaining(stops, progress) == [2, 4]


def test_events_replay_in_time_order_and_finished_stops_stay_finished() -> None:
    stops = line_route()
    progress = route_progress(
        stops,
        [
            ev("a", StopEventKind.DELIVERED, 1200),
            ev("a", StopEventKind.ARRIVED, 1100),
            ev("a", StopEventKind.FAILED, 1300),
            ev("zz", StopEventKind.ARRIVED, 1000),
        ],
    )
    a = progress.stops[1]
    assert (a.state, a.arrived_s, a.finished_s) == (StopState.DONE, 1100, 1200)
    assert progress.ignored == 1 and progress.current is None and progress.done == 1


def test_a_departure_leaves_the_stop_without_finishing_it() -> None:
    stops = line_route()
    at_a = route_progress(stops, [ev("a", StopEventKind.ARRIVED, 1100)])
    assert at_a.current == 1
    left = route_progress(
        stops, [ev("a", StopEventKind.ARRIVED, 1100), ev("a", StopEventKind.DEPARTED, 1400)]
    )
    a = left.stops[1]
    assert (a.state, a.arrived_s, a.finished_s) == (StopState.ARRIVED, 1100, None)
    assert left.current is None and left.done == 0
    assert not StopEventKind.DEPARTED.is_outcome
    # Arriving at it again makes it the vehicle's place again.
    back = route_progress(
        stops,
        [
            ev("a", StopEventKind.ARRIVED, 1100),
            ev("a", StopEventKind.DEPARTED, 1400),
            ev("a", StopEventKind.ARRIVED, 1500),
        ],
    )
    assert back.current == 1


@pytest.mark.parametrize(
    ("event", "visit", "order", "expected"),
    [
        (StopEventKind.ARRIVED, VisitKind.JOB, OrderKind.DELIVERY, None),
        (StopEventKind.DEPARTED, VisitKind.JOB, OrderKind.DELIVERY, None),
        (StopEventKind.DELIVERED, VisitKind.JOB, OrderKind.DELIVERY, OrderEvent.COMPLETE),
        (StopEventKind.PICKED_UP, VisitKind.JOB, OrderKind.PICKUP, OrderEvent.COMPLETE),
        (StopEventKind.PICKED_UP, VisitKind.PICKUP, OrderKind.SHIPMENT, OrderEvent.PICK_UP),
        (StopEventKind.DELIVERED, VisitKind.DELIVERY, OrderKind.SHIPMENT, OrderEvent.COMPLETE),
        (StopEventKind.FAILED, VisitKind.PICKUP, OrderKind.SHIPMENT, OrderEvent.FAIL),
        (StopEventKind.FAILED, VisitKind.JOB, OrderKind.DELIVERY, OrderEvent.FAIL),
    ],
)
def test_stop_events_map_to_lifecycle_events(
    event: StopEventKind, visit: VisitKind, order: OrderKind, expected: OrderEvent | None
) -> None:
    assert order_event_for(event=event, visit_kind=visit, order_kind=order) is expected


@pytest.mark.parametrize(
    ("event", "visit", "order", "hint"),
    [
        (StopEventKind.PICKED_UP, VisitKind.JOB, OrderKind.DELIVERY, "use delivered"),
        (StopEventKind.DELIVERED, VisitKind.JOB, OrderKind.PICKUP, "use picked_up"),
        (StopEventKind.DELIVERED, VisitKind.PICKUP, OrderKind.SHIPMENT, "use picked_up"),
        (StopEventKind.PICKED_UP, VisitKind.DELIVERY, OrderKind.SHIPMENT, "use delivered"),
    ],
)
def test_mismatched_stop_events_are_refused(
    event: StopEventKind, visit: VisitKind, order: OrderKind, hint: str
) -> None:
    with pytest.raises(InputError, match=hint):
        order_event_for(event=event, visit_kind=visit, order_kind=order)


def test_outcomes_settle_stops_and_a_failure_settles_its_order() -> None:
    from lastmile.operations.progress import (
        StopEventKind,
        StopEventRecord,
        route_is_complete,
        stop_outcomes,
    )

    stops = [("a", VisitKind.JOB), ("s", VisitKind.PICKUP), ("s", VisitKind.DELIVERY)]
    events = [
        StopEventRecord("a", VisitKind.JOB, StopEventKind.ARRIVED, 10),
        StopEventRecord("s", VisitKind.PICKUP, StopEventKind.FAILED, 20),
    ]
    out = stop_outcomes(stops, events)
    # Arriving is no outcome; a failed pickup settles the shipment's delivery too.
    assert [o.outcome for o in out] == [None, StopEventKind.FAILED, StopEventKind.FAILED]
    assert not route_is_complete(out)
    done = stop_outcomes(
        stops, [*events, StopEventRecord("a", VisitKind.JOB, StopEventKind.DELIVERED, 30)]
    )
    assert done[0].outcome is StopEventKind.DELIVERED
    assert route_is_complete(done)
    # Events about stops not on the route change nothing.
    other = stop_outcomes(stops, [StopEventRecord("z", VisitKind.JOB, StopEventKind.FAILED, 5)])
    assert [o.outcome for o in other] == [None, None, None]
