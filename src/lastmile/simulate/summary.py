"""A few figures of a simulated day, read straight from its record (the CLI's table)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lastmile.domain.day import DayRecord, StopOutcome, StopStatus


@dataclass(frozen=True, slots=True)
class DaySummary:
    """``stops`` counts the stops with an outcome on the route that ended up with
    them (a stop moved after a breakdown counts once); ``on_time_rate`` is among
    those served with a window; ETA errors are absolute, in seconds."""

    seed: int
    stops: int
    done: int
    failed: int
    not_reached: int
    inserted: int
    on_time_rate: float | None
    km: float
    hours: float
    eta_error_p50_s: float | None
    eta_error_p90_s: float | None
    seconds: float = 0.0


def summarise_day(record: DayRecord, *, seconds: float = 0.0, seed: int = 0) -> DaySummary:
    final: dict[tuple[str, str], StopOutcome] = {}
    for s in record.stops:
        key = (s.order_id, s.kind)
        # A stop moved to another vehicle is MOVED on the first: keep its last word.
        if key not in final or final[key].status in (StopStatus.NOT_REACHED, StopStatus.MOVED):
            final[key] = s
    stops = list(final.values())
    timed = [s.on_time for s in stops if s.on_time is not None]
    errors = [abs(e.predicted_arrival - e.actual_arrival) for e in record.eta_samples]
    km = sum((r.distance_m or 0) for r in record.routes) / 1000
    hours = (
        sum(
            (r.actual_end - r.actual_start)
            for r in record.routes
            if r.actual_end is not None and r.actual_start is not None
        )
        / 3600
    )
    return DaySummary(
        seed=seed,
        stops=len(stops),
        done=sum(s.status is StopStatus.DONE for s in stops),
        failed=sum(s.status is StopStatus.FAILED for s in stops),
        not_reached=sum(s.status is StopStatus.NOT_REACHED for s in stops),
        inserted=len({s.order_id for s in stops if s.inserted}),
        on_time_rate=sum(timed) / len(timed) if timed else None,
        km=km,
        hours=hours,
        eta_error_p50_s=float(np.percentile(errors, 50)) if errors else None,
        eta_error_p90_s=float(np.percentile(errors, 90)) if errors else None,
        seconds=seconds,
    )
