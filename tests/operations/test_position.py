"""Where the vehicle is now: each rule of vehicle_position, in its order of
preference, on the line of places of conftest.py (stops a..d at rows 1..4,
60 s service; a GPS fix is row 9)."""

from __future__ import annotations

from lastmile.operations.position import Fix, Origin, service_start, trusted, vehicle_position
from lastmile.operations.progress import StopEventKind, StopEventRecord, route_progress

from .conftest import W, ev, line_route  # type: ignore[import-not-found]

FIX_ROW = 9
START = Origin(0, 1000)


def position(events: list[StopEventRecord], **kw: object) -> Origin:
    stops = line_route({2: (W(1500, 1800),)})
    progress = route_progress(stops, events)
    args: dict[str, object] = {"now_s": 1000, "fix": None, "start": START} | kw
    return vehicle_position(stops, progress, **args)  # type: ignore[arg-type]


# -- 1. at a stop --------------------------------------------------------------------------------


def test_at_a_stop_the_vehicle_is_free_when_its_service_ends() -> None:
    got = position([ev("a", StopEventKind.ARRIVED, 1100)], now_s=1120)
    assert got == Origin(1, 1160, "at_stop")


def test_at_a_stop_service_waits_for_the_window() -> None:
    # b opens at 1500: arrived at 1300, served 1500..1560.
    got = position([ev("b", StopEventKind.ARRIVED, 1300)], now_s=1310)
    assert got == Origin(2, 1560, "at_stop")


def test_at_a_stop_after_its_service_should_have_ended_leaves_now() -> None:
    got = position([ev("a", StopEventKind.ARRIVED, 1100)], now_s=3000)
    assert got == Origin(1, 3000, "at_stop")


def test_being_at_a_stop_beats_a_newer_fix() -> None:
    events = [ev("a", StopEventKind.ARRIVED, 1100)]
    got = position(events, now_s=1130, fix=Fix(FIX_ROW, 1125))
    assert got.why == "at_stop"


def test_the_stop_arrived_at_last_is_where_the_driver_is() -> None:
    events = [ev("a", StopEventKind.ARRIVED, 1100), ev("c", StopEventKind.ARRIVED, 1400)]
    assert position(events, now_s=1400).location == 3


# -- 2. a GPS fix --------------------------------------------------------------------------------


def test_a_fix_is_the_position_from_its_own_time() -> None:
    got = position([], now_s=1500, fix=Fix(FIX_ROW, 1480))
    assert got == Origin(FIX_ROW, 1480, "position")


def test_a_fix_newer_than_the_last_finished_stop_wins() -> None:
    events = [ev("a", StopEventKind.DELIVERED, 1200)]
    assert position(events, now_s=1300, fix=Fix(FIX_ROW, 1250)).why == "position"
    # Taken at the very time of the report: still the fix.
    assert position(events, now_s=1300, fix=Fix(FIX_ROW, 1200)).why == "position"


def test_a_fix_older_than_the_last_finished_stop_is_not_used() -> None:
    events = [ev("a", StopEventKind.DELIVERED, 1200)]
    got = position(events, now_s=1300, fix=Fix(FIX_ROW, 1199))
    assert got == Origin(1, 1200, "last_stop")


def test_a_fix_outside_the_trusted_span_is_not_used() -> None:
    fix = Fix(FIX_ROW, 1480)
    assert position([], now_s=1500, fix=fix, fix_since_s=1480).why == "position"
    assert position([], now_s=1500, fix=fix, fix_until_s=1480).why == "position"
    assert position([], now_s=1500, fix=fix, fix_since_s=1481) == Origin(0, 1500, "start")
    assert position([], now_s=1500, fix=fix, fix_until_s=1479) == Origin(0, 1500, "start")
    events = [ev("a", StopEventKind.DELIVERED, 1200)]
    stale = position(events, now_s=1500, fix=fix, fix_since_s=1490)
    assert stale == Origin(1, 1200, "last_stop")


def test_trusted_keeps_a_fix_inside_its_bounds() -> None:
    fix = Fix(FIX_ROW, 100)
    assert trusted(fix, since_s=None, until_s=None) is fix
    assert trusted(fix, since_s=100, until_s=100) is fix
    assert trusted(fix, since_s=101, until_s=None) is None
    assert trusted(fix, since_s=None, until_s=99) is None
    assert trusted(None, since_s=None, until_s=None) is None


# -- 3. the stop finished last -------------------------------------------------------------------


def test_the_stop_finished_last_by_report_time() -> None:
    events = [ev("b", StopEventKind.DELIVERED, 1400), ev("a", StopEventKind.FAILED, 1450)]
    got = position(events, now_s=2000)
    assert got == Origin(1, 1450, "last_stop")  # from the report, not from now


def test_an_arrival_at_a_finished_stop_does_not_put_the_driver_there() -> None:
    events = [ev("a", StopEventKind.DELIVERED, 1200), ev("a", StopEventKind.ARRIVED, 1300)]
    assert position(events, now_s=1310) == Origin(1, 1200, "last_stop")


# -- 4. the route's start ------------------------------------------------------------------------


def test_nothing_reported_is_the_start_not_before_now() -> None:
    assert position([], now_s=500) == Origin(0, 1000, "start")
    assert position([], now_s=1500) == Origin(0, 1500, "start")


def test_the_start_keeps_its_reason() -> None:
    got = position([], now_s=0, start=Origin(0, 1000, "started"))
    assert got == Origin(0, 1000, "started")


def test_reports_of_other_routes_change_nothing() -> None:
    assert position([ev("zz", StopEventKind.DELIVERED, 1200)], now_s=0).why == "start"


# -- service start ---------------------------------------------------------------------------------


def test_service_start_is_the_first_window_time_not_before_arrival() -> None:
    windows = (W(100, 200), W(400, 500))
    assert service_start((), 50) == 50
    assert service_start(windows, 50) == 100
    assert service_start(windows, 150) == 150
    assert service_start(windows, 300) == 400
    assert service_start(windows, 600) == 600  # after every window: at arrival
