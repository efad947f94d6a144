"""DayRecord: holds a day as it went, checks what it can, and round-trips through JSON."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from lastmile.domain import (
    DayRecord,
    EtaSample,
    Incident,
    Position,
    RouteOutcome,
    StopOutcome,
    StopStatus,
    Unassigned,
    VisitKind,
)
from lastmile.exceptions import InputError


def _record() -> DayRecord:
    route = RouteOutcome(
        "van-1",
        28_800,
        43_200,
        41_000,
        5_400,
        actual_start=28_900,
        actual_end=44_000,
        distance_m=43_500,
        travel_s=6_100,
        capacity=(500, 3),
        peak_load=(320, 3),
    )
    stops = (
        StopOutcome(
            "o1",
            "van-1",
            VisitKind.JOB,
            StopStatus.DONE,
            30_000,
            30_600,
            30_900,
            window_start=30_600,
            window_end=34_200,
            arrival=30_100,
            start=30_600,
            departure=30_900,
            promised_start=30_600,
            promised_end=32_400,
        ),
        StopOutcome(
            "o2",
            "van-1",
            VisitKind.JOB,
            StopStatus.FAILED,
            33_000,
            33_000,
            33_300,
            window_start=28_800,
            window_end=32_400,
            arrival=34_000,
            start=34_000,
            departure=34_200,
            failure_reason="customer absent",
        ),
        StopOutcome("o3", "van-1", VisitKind.JOB, StopStatus.NOT_REACHED, 40_000, 40_000, 40_300),
    )
    return DayRecord(
        day=dt.date(2026, 12, 8),
        timezone="Europe/Paris",
        routes=(route,),
        stops=stops,
        unassigned=(Unassigned("o4", "no vehicle has the skill", "skills"),),
        eta_samples=(EtaSample("o1", "van-1", 29_000, 30_050, 30_100),),
        positions=(Position("van-1", 29_000, 4.83, 45.76),),
        incidents=(Incident(31_000, "road_closed", "Rue X closed"),),
        dimensions=("weight_kg", "parcels"),
        source="test",
    )


def test_lateness_counts_from_the_window_end_and_only_for_started_stops() -> None:
    on_time, late, unreached = _record().stops
    assert (on_time.lateness_s, on_time.on_time) == (0, True)
    assert (late.lateness_s, late.on_time) == (1_600, False)
    assert (unreached.lateness_s, unreached.on_time) == (None, None)


def test_a_record_round_trips_through_json() -> None:
    record = _record()
    text = json.dumps(record.to_dict())
    assert DayRecord.from_dict(json.loads(text)) == record


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.update(version=99), "version"),
        (lambda d: d.update(day="08/12/2026"), "day"),
        (lambda d: d["stops"][1].update(status="lost"), "stops[1].status"),
        (lambda d: d["stops"][0].update(colour="red"), "stops[0]"),
        (lambda d: d["routes"][0].pop("planned_end"), "routes[0]"),
        (lambda d: d["stops"][0].update(vehicle_id="van-9"), "stops"),
    ],
)
def test_a_bad_record_names_the_field(change: object, where: str) -> None:
    data = _record().to_dict()
    change(data)  # type: ignore[operator]
    with pytest.raises(InputError) as caught:
        DayRecord.from_dict(data)
    assert caught.value.where == where


def test_a_served_stop_needs_its_arrival() -> None:
    with pytest.raises(InputError, match="needs its arrival"):
        StopOutcome("o1", "van-1", VisitKind.JOB, StopStatus.DONE, 1, 1, 2)
