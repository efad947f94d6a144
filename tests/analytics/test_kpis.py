"""summarise: each key figure against the answer worked out by hand (see conftest)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable

import pytest

from lastmile.analytics import GROUPINGS, Kpis, summarise
from lastmile.domain import DayRecord, EtaSample, RouteOutcome, StopStatus
from lastmile.exceptions import InputError

from .conftest import H, stop, van  # type: ignore[import-not-found]


def _one(records: DayRecord | list[DayRecord]) -> Kpis:
    (kpis,) = summarise(records)
    assert kpis.group == "all"
    return kpis


def test_counts_and_on_time(day: DayRecord) -> None:
    k = _one(day)
    assert (k.days, k.routes) == (1, 1)
    assert (k.stops_planned, k.stops_done, k.stops_failed, k.stops_not_reached) == (6, 4, 1, 1)
    # Reached stops with a window: o1 (on time), o2 (600 s late), o3 (on time).
    assert k.on_time_rate == pytest.approx(2 / 3)
    # Lateness [0, 0, 600]: the median is 0, the 90th percentile lies 80 % of the way
    # from the second value (0) to the third (600).
    assert k.lateness_p50_s == 0
    assert k.lateness_p90_s == pytest.approx(0 + 0.8 * 600)
    assert k.lateness_max_s == 600
    # First attempts reached: o1, o2, o3 (done), o4 (failed); o6 is a second attempt.
    assert k.first_attempt_success_rate == pytest.approx(3 / 4)


def test_costs_distances_and_times(day: DayRecord) -> None:
    k = _one(day)
    # fixed 100 + 3600/h x 1 h + 500/km x 30 km planned; x 1.25 h and 33 km driven.
    assert k.planned_cost == 100 + 3600 + 500 * 30
    assert k.actual_cost == 100 + 4500 + 500 * 33
    assert (k.planned_distance_km, k.distance_km) == (30, 33)
    assert (k.planned_driving_h, k.driving_h) == (1, 1.25)
    assert (k.planned_route_h, k.route_h) == (2, 2.5)
    assert k.planned_waiting_h == pytest.approx(300 / H)
    assert k.waiting_h == pytest.approx(600 / H)
    # Four stops done.
    assert k.cost_per_stop == pytest.approx((100 + 4500 + 16_500) / 4)
    assert k.km_per_stop == pytest.approx(33 / 4)
    assert k.hours_per_stop == pytest.approx(2.5 / 4)
    assert k.stops_per_hour == pytest.approx(4 / 2.5)


def test_paid_waiting_charges_the_route_duration(make_day: Callable[..., DayRecord]) -> None:
    k = _one(make_day(paid_waiting=True))
    assert k.planned_cost == 100 + 3600 * 2 + 500 * 30
    assert k.actual_cost == 100 + 3600 * 2.5 + 500 * 33


def test_utilisation(day: DayRecord) -> None:
    k = _one(day)
    assert k.load_utilisation == (("parcels", 0.8), ("kg", 0.5))
    # 2.5 h driven out of an 8 h shift.
    assert k.time_utilisation == pytest.approx(2.5 / 8)


def test_eta_accuracy_and_promises(day: DayRecord) -> None:
    k = _one(day)
    # Errors (actual - predicted): +120, -300, +60.
    assert k.eta_samples == 3
    assert k.eta_mae_s == pytest.approx((120 + 300 + 60) / 3)
    assert k.eta_bias_s == pytest.approx((120 - 300 + 60) / 3)
    # |errors| sorted 60, 120, 300: 80 % of the way from 120 to 300.
    assert k.eta_p90_abs_error_s == pytest.approx(120 + 0.8 * 180)
    # o1 kept; o2 came after its range; o5 never came.
    assert k.promises == 3
    assert k.promises_kept_rate == pytest.approx(1 / 3)


def test_a_stop_moved_to_another_route_keeps_no_promise_of_its_own() -> None:
    promised = (9 * H, 10 * H)
    record = DayRecord(
        day=dt.date(2026, 12, 8),
        timezone="UTC",
        routes=(van("van-1"), van("van-2")),
        stops=(
            stop("x", StopStatus.NOT_REACHED, 9 * H, promised=promised),
            stop(
                "x",
                StopStatus.DONE,
                9 * H,
                vehicle="van-2",
                arrival=9 * H + 60,
                promised=promised,
                inserted=True,
            ),
        ),
    )
    k = _one(record)
    assert (k.promises, k.promises_kept_rate) == (1, 1.0)


def test_grouping_splits_and_adds_up(fleet: list[DayRecord]) -> None:
    everything = _one(fleet)
    for by in GROUPINGS:
        groups = summarise(fleet, by=by)
        assert sum(g.stops_planned for g in groups) == everything.stops_planned
        assert sum(g.routes for g in groups) == everything.routes
        assert sum(g.actual_cost or 0 for g in groups) == pytest.approx(everything.actual_cost)
    by_vehicle = {g.group: g for g in summarise(fleet, by="vehicle")}
    assert list(by_vehicle) == ["bike-1", "van-1"]
    assert (by_vehicle["van-1"].days, by_vehicle["van-1"].on_time_rate) == (2, 1.0)
    # bike-1 is 300 s late on the second day only.
    assert by_vehicle["bike-1"].on_time_rate == 0.5
    assert by_vehicle["bike-1"].lateness_max_s == 300
    assert by_vehicle["bike-1"].eta_samples == 2
    assert by_vehicle["van-1"].eta_mae_s is None
    # Capacities of the two days add up: 4 + 4 carried out of 4 + 4.
    assert by_vehicle["bike-1"].load_utilisation == (("parcels", 1.0),)
    assert [g.group for g in summarise(fleet, by="driver")] == ["d1", "d2"]
    assert [g.group for g in summarise(fleet, by="depot")] == ["north", "south"]
    by_day = summarise(fleet, by="day")
    assert [g.group for g in by_day] == ["2026-12-08", "2026-12-09"]
    assert [g.on_time_rate for g in by_day] == [1.0, 0.5]
    # The fleet's capacity: 10 + 4 per day, peaks 5 + 4.
    assert everything.load_utilisation == (("parcels", pytest.approx(18 / 28)),)


def test_a_stop_names_its_own_driver(fleet: list[DayRecord]) -> None:
    record = dataclasses.replace(
        fleet[0], stops=(*fleet[0].stops, stop("c", StopStatus.DONE, 9 * H, arrival=9 * H,
                                               driver_id="d3"))
    )  # fmt: skip
    record = dataclasses.replace(
        record, eta_samples=(*record.eta_samples, EtaSample("c", "van-1", 8 * H, 9 * H, 9 * H))
    )
    by_driver = {g.group: g for g in summarise(record, by="driver")}
    assert by_driver["d3"].stops_planned == 1
    assert by_driver["d3"].eta_samples == 1 and by_driver["d1"].eta_samples == 0
    assert by_driver["d1"].stops_planned == 1


def test_empty_and_degenerate_days_give_none_not_errors() -> None:
    empty = DayRecord(day=dt.date(2026, 12, 8), timezone="UTC", routes=(), stops=())
    k = _one(empty)
    assert (k.stops_planned, k.routes, k.eta_samples, k.promises) == (0, 0, 0, 0)
    for name in (
        "on_time_rate",
        "lateness_p50_s",
        "first_attempt_success_rate",
        "cost_per_stop",
        "stops_per_hour",
        "time_utilisation",
        "eta_mae_s",
        "promises_kept_rate",
    ):
        assert getattr(k, name) is None, name
    assert summarise(empty, by="vehicle") == []
    assert _one([]).stops_planned == 0

    # A van that never left: nothing spent, nothing to divide by.
    idle = DayRecord(
        day=dt.date(2026, 12, 8),
        timezone="UTC",
        routes=(RouteOutcome("van-9", 8 * H, 8 * H, 0, 0, capacity=(0,), peak_load=(0,)),),
        stops=(),
    )
    k = _one(idle)
    assert (k.planned_cost, k.actual_cost, k.distance_km, k.route_h) == (0, 0, 0, 0)
    assert k.cost_per_stop is None and k.stops_per_hour is None
    assert k.load_utilisation == (("dim0", None),)
    assert k.time_utilisation is None
    for value in k.as_row().values():
        assert not (isinstance(value, float) and math.isnan(value))


def test_an_unknown_actual_figure_leaves_the_total_unknown(
    make_day: Callable[..., DayRecord],
) -> None:
    k = _one(make_day(distance_m=None))
    assert k.distance_km is None and k.actual_cost is None and k.km_per_stop is None
    assert k.driving_h == 1.25


def test_eta_samples_of_a_vehicle_without_route_are_counted(day: DayRecord) -> None:
    record = dataclasses.replace(
        day, eta_samples=(*day.eta_samples, EtaSample("zz", "ghost", 0, 100, 160))
    )
    assert _one(record).eta_samples == 4
    assert {g.group: g.eta_samples for g in summarise(record, by="vehicle")}["ghost"] == 1
    assert {g.group: g.eta_samples for g in summarise(record, by="driver")}["(none)"] == 1


def test_as_row_names_units_and_expands_dimensions(day: DayRecord) -> None:
    row = _one(day).as_row()
    assert row["group"] == "all"
    assert row["on_time_rate"] == round(2 / 3, 4)
    assert row["lateness_p90_s"] == 480
    assert row["cost_actual"] == 21_100
    assert row["distance_km"] == 33
    assert row["load_utilisation_parcels"] == 0.8
    assert row["load_utilisation_kg"] == 0.5
    assert row["eta_p90_abs_error_s"] == 264
    assert all(isinstance(v, float | int | str) or v is None for v in row.values())


def test_an_unknown_grouping_is_refused(day: DayRecord) -> None:
    with pytest.raises(InputError, match="by"):
        summarise(day, by="colour")  # type: ignore[arg-type]


def test_groups_sort_numbers_as_numbers(fleet: list[DayRecord]) -> None:
    record = fleet[0]
    renamed = dataclasses.replace(
        record,
        eta_samples=(),
        routes=tuple(
            dataclasses.replace(r, vehicle_id=n)
            for r, n in zip(record.routes, ("van-10", "van-2"), strict=True)
        ),
        stops=tuple(
            dataclasses.replace(s, vehicle_id=n)
            for s, n in zip(record.stops, ("van-10", "van-2"), strict=True)
        ),
    )
    assert [g.group for g in summarise(renamed, by="vehicle")] == ["van-2", "van-10"]


def test_a_moved_stop_counts_as_moved_not_as_not_reached() -> None:
    """A stop given to another vehicle during the day is ``moved`` on the first route
    and counts with its outcome on the second; it is neither late nor a failed attempt."""
    record = DayRecord(
        day=dt.date(2026, 12, 8),
        timezone="UTC",
        routes=(van("van-1"), van("van-2")),
        stops=(
            stop("x", StopStatus.MOVED, 9 * H, window=(9 * H, 10 * H)),
            stop("y", StopStatus.NOT_REACHED, 9 * H, window=(9 * H, 10 * H)),
            stop(
                "x",
                StopStatus.DONE,
                9 * H,
                vehicle="van-2",
                arrival=9 * H + 60,
                window=(9 * H, 10 * H),
            ),
        ),
    )
    k = _one(record)
    assert (k.stops_planned, k.stops_done, k.stops_moved, k.stops_not_reached) == (3, 1, 1, 1)
    assert k.on_time_rate == 1.0 and k.first_attempt_success_rate == 1.0
    by_vehicle = {g.group: g for g in summarise(record, by="vehicle")}
    assert by_vehicle["van-1"].stops_moved == 1 and by_vehicle["van-2"].stops_done == 1
