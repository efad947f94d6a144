"""Value objects validate on construction and name the field at fault."""

from __future__ import annotations

import pytest

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
    haversine_m,
)
from lastmile.domain.time import earliest_start, format_clock
from lastmile.exceptions import InputError


def test_location_rejects_out_of_range_latitude() -> None:
    with pytest.raises(InputError, match=r"lat: latitude must be in \[-90, 90\], got 91"):
        Location(10.0, 91.0)


def test_planar_location_accepts_any_coordinates() -> None:
    assert Location(500.0, 400.0, planar=True).is_geographic is False


def test_location_needs_both_coordinates() -> None:
    with pytest.raises(InputError, match="both lon and lat"):
        Location(1.0, None)


def test_haversine_paris_london() -> None:
    paris, london = Location(2.3522, 48.8566), Location(-0.1276, 51.5072)
    assert haversine_m(paris, london) == pytest.approx(343_500, rel=0.01)


def test_time_window_rejects_reversed_bounds() -> None:
    with pytest.raises(InputError, match="time_window: start 10 is after end 5"):
        TimeWindow(10, 5)


def test_stop_sorts_windows_and_rejects_overlaps() -> None:
    stop = Stop(1, time_windows=(TimeWindow(50, 60), TimeWindow(0, 10)))
    assert stop.time_windows == (TimeWindow(0, 10), TimeWindow(50, 60))
    with pytest.raises(InputError, match="overlap"):
        Stop(1, time_windows=(TimeWindow(0, 10), TimeWindow(5, 20)))


def test_earliest_start_jumps_to_next_window() -> None:
    windows = (TimeWindow(0, 10), TimeWindow(50, 60))
    assert earliest_start(windows, 5) == 5
    assert earliest_start(windows, 11) == 50
    assert earliest_start(windows, 61) is None
    assert earliest_start((), 42) == 42


def test_order_kinds_need_their_stops() -> None:
    with pytest.raises(InputError, match="a shipment order needs pickup stop"):
        Order("s1", OrderKind.SHIPMENT, delivery=Stop(1))
    with pytest.raises(InputError, match="a delivery order has no pickup stop"):
        Order("d1", OrderKind.DELIVERY, pickup=Stop(1), delivery=Stop(2))
    ship = Order("s2", OrderKind.SHIPMENT, pickup=Stop(1), delivery=Stop(2))
    assert [s.location for s in ship.stops] == [1, 2]


def test_order_rejects_negative_amount_and_bad_priority() -> None:
    with pytest.raises(InputError, match=r"order 'x'.amount\[1\]: must be >= 0"):
        Order("x", OrderKind.DELIVERY, delivery=Stop(1), amount=(1, -2))
    with pytest.raises(InputError, match="priority: must be in"):
        Order("x", OrderKind.DELIVERY, delivery=Stop(1), priority=101)


def test_vehicle_needs_a_depot_and_unique_breaks() -> None:
    vt = VehicleType("van", (10,))
    with pytest.raises(InputError, match="needs a start depot, an end depot, or both"):
        Vehicle("v", vt, start_depot=None, end_depot=None)
    lunch = Break("lunch", (TimeWindow(0, 10),), 5)
    with pytest.raises(InputError, match="break ids must be unique"):
        Vehicle("v", vt, breaks=(lunch, lunch))


def test_break_needs_a_window() -> None:
    with pytest.raises(InputError, match="at least one time window"):
        Break("b", (), 10)


def test_vehicle_type_rejects_negative_costs() -> None:
    with pytest.raises(InputError, match="cost_per_km: must be >= 0"):
        VehicleType("t", cost_per_km=-1)


def test_depot_rejects_float_location() -> None:
    with pytest.raises(InputError, match="must be an integer"):
        Depot("d", 1.5)  # type: ignore[arg-type]


def test_format_clock() -> None:
    assert format_clock(9 * 3600 + 41 * 60) == "09:41"
    assert format_clock(86_400 + 3600) == "01:00+1d"
    assert format_clock(1234, scale=10) == "123.4"
