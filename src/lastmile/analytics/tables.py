"""Planned against actual, one row per stop or per leg, ready for a CSV file.

Times of day are written ``HH:MM:SS`` since the day's local midnight (past
midnight: ``24:10:00``), differences in seconds (``_s``), distances in metres
(``_m``). An empty cell means "did not happen" or "not known".
"""

from __future__ import annotations

from collections.abc import Iterable

from lastmile.domain.day import DayRecord, RouteOutcome, StopOutcome

Row = dict[str, float | int | str | None]


def clock(seconds: float | None, *, with_seconds: bool = True) -> str | None:
    """``HH:MM:SS`` (or ``HH:MM``) of seconds since midnight; ``None`` stays ``None``."""
    if seconds is None:
        return None
    sign = "-" if seconds < 0 else ""
    total = round(abs(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{h:02d}:{m:02d}:{s:02d}" if with_seconds else f"{sign}{h:02d}:{m:02d}"


def _diff(actual: int | None, planned: int | None) -> int | None:
    return None if actual is None or planned is None else actual - planned


def _records(records: DayRecord | Iterable[DayRecord]) -> list[DayRecord]:
    return [records] if isinstance(records, DayRecord) else list(records)


def promise_kept(stop: StopOutcome) -> bool | None:
    """Whether service started inside the range told to its customer (``None``:
    nothing was told, or it was never reached).

    What customers are told is when service starts, never the vehicle's arrival
    (:func:`lastmile.operations.notify.promise`: a driver early for a slot waits
    for it), so the start counts; the arrival when no start is recorded."""
    if stop.promised_start is None and stop.promised_end is None:
        return None
    if stop.arrival is None or not stop.reached:
        return None
    began = stop.start if stop.start is not None else stop.arrival
    return (stop.promised_start is None or began >= stop.promised_start) and (
        stop.promised_end is None or began <= stop.promised_end
    )


def stop_table(records: DayRecord | Iterable[DayRecord]) -> list[Row]:
    """One row per stop: where it was planned and when it really happened.

    ``arrival_delay_s`` is actual minus planned arrival; ``lateness_s`` is how
    long after its window closed the service started (0: on time);
    ``on_time`` and ``promise_kept`` are ``"yes"``/``"no"`` (empty: no window,
    nothing promised, or never reached).
    """
    rows: list[Row] = []
    for record in _records(records):
        routes = {r.vehicle_id: r for r in record.routes}
        for stop in record.stops:
            route = routes[stop.vehicle_id]
            on_time = stop.on_time
            kept = promise_kept(stop)
            rows.append(
                {
                    "day": record.day.isoformat(),
                    "vehicle_id": stop.vehicle_id,
                    "driver_id": stop.driver_id or route.driver_id,
                    "depot_id": stop.depot_id or route.depot_id,
                    "order_id": stop.order_id,
                    "kind": stop.kind.value,
                    "status": stop.status.value,
                    "attempt": stop.attempt,
                    "inserted": "yes" if stop.inserted else "no",
                    "failure_reason": stop.failure_reason,
                    "window_start": clock(stop.window_start),
                    "window_end": clock(stop.window_end),
                    "promised_start": clock(stop.promised_start),
                    "promised_end": clock(stop.promised_end),
                    "planned_arrival": clock(stop.planned_arrival),
                    "arrival": clock(stop.arrival),
                    "arrival_delay_s": _diff(stop.arrival, stop.planned_arrival),
                    "planned_start": clock(stop.planned_start),
                    "start": clock(stop.start),
                    "start_delay_s": _diff(stop.start, stop.planned_start),
                    "planned_departure": clock(stop.planned_departure),
                    "departure": clock(stop.departure),
                    "lateness_s": stop.lateness_s,
                    "on_time": None if on_time is None else ("yes" if on_time else "no"),
                    "promise_kept": None if kept is None else ("yes" if kept else "no"),
                    "lon": stop.lon,
                    "lat": stop.lat,
                }
            )
    return rows


def _leg_start(route: RouteOutcome, previous: StopOutcome | None) -> tuple[int, int | None]:
    """Planned and actual departure of the leg that follows ``previous`` (``None``: the depot)."""
    if previous is None:
        return route.planned_start, route.actual_start
    return previous.planned_departure, previous.departure


def leg_table(records: DayRecord | Iterable[DayRecord]) -> list[Row]:
    """One row per leg, the leg that ends at each stop, in the record's order of
    the route's stops (from the depot for the first): planned and driven
    distance and time, and their differences. ``travel_ratio`` is driven over
    planned time (1.2: 20 % longer than planned)."""
    rows: list[Row] = []
    for record in _records(records):
        for route in record.routes:
            previous: StopOutcome | None = None
            for stop in record.stops_of(route.vehicle_id):
                planned_leave, left = _leg_start(route, previous)
                rows.append(
                    {
                        "day": record.day.isoformat(),
                        "vehicle_id": route.vehicle_id,
                        "driver_id": stop.driver_id or route.driver_id,
                        "from": "depot" if previous is None else previous.order_id,
                        "to": stop.order_id,
                        "status": stop.status.value,
                        "planned_departure": clock(planned_leave),
                        "departure": clock(left),
                        "planned_distance_m": stop.leg_planned_distance_m,
                        "distance_m": stop.leg_distance_m,
                        "distance_diff_m": _diff(stop.leg_distance_m, stop.leg_planned_distance_m),
                        "planned_travel_s": stop.leg_planned_travel_s,
                        "travel_s": stop.leg_travel_s,
                        "travel_diff_s": _diff(stop.leg_travel_s, stop.leg_planned_travel_s),
                        "travel_ratio": (
                            None
                            if stop.leg_travel_s is None or not stop.leg_planned_travel_s
                            else round(stop.leg_travel_s / stop.leg_planned_travel_s, 4)
                        ),
                    }
                )
                previous = stop
    return rows
