"""Small delivery days built by hand, whose key figures the tests work out by hand.

``day``: one van (08:00 to 10:30 driven, 8 h shift) and six stops:

=====  ===========  ===========  ==============  ===================  ============
order  status       window       service start   promised             note
=====  ===========  ===========  ==============  ===================  ============
o1     done         08:00-09:00  08:20           08:10-08:40 (kept)
o2     done         08:00-09:00  09:10 (600 s    08:30-09:00 (broken,
                                 late)           arrives 09:08:20)
o3     done         08:20-10:00  09:26:40
o4     failed       none         arrives 09:40                        absent
o5     not reached  09:00-10:00  -               09:30-10:00 (broken)
o6     done         none         10:00                                2nd attempt
=====  ===========  ===========  ==============  ===================  ============
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

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

H = 3600
DONE, FAILED, NOT_REACHED = StopStatus.DONE, StopStatus.FAILED, StopStatus.NOT_REACHED


def stop(
    order_id: str,
    status: StopStatus,
    planned: int,
    *,
    vehicle: str = "van-1",
    arrival: int | None = None,
    start: int | None = None,
    window: tuple[int, int] | None = None,
    promised: tuple[int, int] | None = None,
    **kw: Any,
) -> StopOutcome:
    if arrival is not None and start is None:
        start = arrival
    return StopOutcome(
        order_id,
        vehicle,
        VisitKind.JOB,
        status,
        planned,
        planned,
        planned + 300,
        window_start=window[0] if window else None,
        window_end=window[1] if window else None,
        arrival=arrival,
        start=start,
        departure=None if start is None else start + 300,
        promised_start=promised[0] if promised else None,
        promised_end=promised[1] if promised else None,
        **kw,
    )


def van(vehicle_id: str = "van-1", **kw: Any) -> RouteOutcome:
    fields: dict[str, Any] = dict(
        planned_start=8 * H,
        planned_end=10 * H,
        planned_distance_m=30_000,
        planned_travel_s=3_600,
        planned_wait_s=300,
        actual_start=8 * H,
        actual_end=10 * H + 1800,
        distance_m=33_000,
        travel_s=4_500,
        wait_s=600,
        driver_id="d1",
        depot_id="north",
        capacity=(10, 100),
        peak_load=(8, 50),
        fixed_cost=100,
        cost_per_hour=3600,
        cost_per_km=500,
        depot_lon=24.94,
        depot_lat=60.17,
        shift_start=8 * H,
        shift_end=16 * H,
    )
    fields.update(kw)
    return RouteOutcome(vehicle_id, **fields)


def _day(**route_kw: Any) -> DayRecord:
    stops = (
        stop("o1", DONE, 8 * H + 1200, arrival=8 * H + 1190, start=8 * H + 1200,
             window=(8 * H, 9 * H), promised=(8 * H + 600, 8 * H + 2400), lon=24.95, lat=60.18),
        stop("o2", DONE, 8 * H + 2400, arrival=9 * H + 500, start=9 * H + 600,
             window=(8 * H, 9 * H), promised=(8 * H + 1800, 9 * H), lon=24.96, lat=60.18),
        stop("o3", DONE, 9 * H, arrival=9 * H + 1600, window=(8 * H + 1200, 10 * H),
             lon=24.97, lat=60.17),
        stop("o4", FAILED, 9 * H + 1200, arrival=9 * H + 2400,
             failure_reason="customer absent", lon=24.97, lat=60.16),
        stop("o5", NOT_REACHED, 9 * H + 1800, window=(9 * H, 10 * H),
             promised=(9 * H + 1800, 10 * H), lon=24.98, lat=60.16),
        stop("o6", DONE, 9 * H + 2400, arrival=10 * H, attempt=2, lon=24.95, lat=60.16),
    )  # fmt: skip
    return DayRecord(
        day=dt.date(2026, 12, 8),
        timezone="Europe/Helsinki",
        routes=(van(**route_kw),),
        stops=stops,
        unassigned=(Unassigned("o9", "no vehicle can carry 400 kg", "capacity"),),
        eta_samples=(
            EtaSample("o1", "van-1", 8 * H, 30_000, 30_120),
            EtaSample("o2", "van-1", 8 * H + 600, 33_000, 32_700),
            EtaSample("o3", "van-1", 8 * H + 900, 31_000, 31_060),
        ),
        positions=tuple(
            Position("van-1", 8 * H + 600 * i, 24.94 + 0.005 * i, 60.17 + 0.002 * (i % 3))
            for i in range(8)
        ),
        incidents=(Incident(9 * H, "road_closed", "Mannerheimintie closed", "van-1"),),
        dimensions=("parcels", "kg"),
        source="hand-made",
        travel="straight line",
    )


@pytest.fixture
def day() -> DayRecord:
    return _day()


@pytest.fixture
def make_day() -> Callable[..., DayRecord]:
    """The ``day`` record with route fields changed."""
    return _day


@pytest.fixture
def fleet() -> list[DayRecord]:
    """Two days; on each, van-1 (driver d1, depot north) and bike-1 (driver d2,
    depot south) serve one stop each. On the second day bike-1's stop is late."""
    records = []
    for i, date in enumerate((dt.date(2026, 12, 8), dt.date(2026, 12, 9))):
        routes = (
            van("van-1", capacity=(10,), peak_load=(5,)),
            van("bike-1", driver_id="d2", depot_id="south", capacity=(4,), peak_load=(4,),
                fixed_cost=0, cost_per_km=0),
        )  # fmt: skip
        stops = (
            stop("a", DONE, 9 * H, arrival=9 * H, window=(8 * H, 10 * H)),
            stop("b", DONE, 9 * H, vehicle="bike-1", arrival=10 * H + 300 * i,
                 window=(8 * H, 10 * H)),
        )  # fmt: skip
        records.append(
            DayRecord(
                day=date,
                timezone="Europe/Helsinki",
                routes=routes,
                stops=stops,
                eta_samples=(EtaSample("b", "bike-1", 8 * H, 10 * H, 10 * H + 60),),
                dimensions=("parcels",),
            )
        )
    return records
