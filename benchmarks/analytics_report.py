"""How long the analytics take on a busy day: summarise, the tables and html_report.

Builds a seeded synthetic DayRecord (default 250 stops on 10 vans around
Helsinki, positions every minute, an ETA sample per stop every 15 minutes
before it) and times each step, best of ``--repeat`` runs:

    python benchmarks/analytics_report.py --stops 250 --vehicles 10 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from lastmile.analytics import leg_table, stop_table, summarise
from lastmile.analytics.report import html_report
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


def synthetic_day(stops: int, vehicles: int, seed: int = 0) -> DayRecord:
    rng = np.random.default_rng(seed)
    routes: list[RouteOutcome] = []
    outcomes: list[StopOutcome] = []
    samples: list[EtaSample] = []
    positions: list[Position] = []
    depot = (24.94, 60.17)
    per_vehicle = np.array_split(np.arange(stops), vehicles)
    for v, chunk in enumerate(per_vehicle):
        vid = f"van-{v + 1}"
        t_plan = t_real = 8 * 3600
        lon, lat = depot
        dist = travel = 0
        for i in chunk:
            leg_s = int(rng.integers(300, 1200))
            real_s = int(leg_s * rng.lognormal(0, 0.25))
            t_plan += leg_s
            t_real += real_s
            dist += leg_s * 8
            travel += real_s
            window_end = t_plan + int(rng.integers(900, 3600))
            status = StopStatus.DONE
            if rng.random() < 0.04:
                status = StopStatus.FAILED
            elif t_real > 17 * 3600:
                status = StopStatus.NOT_REACHED
            reached = status is not StopStatus.NOT_REACHED
            slon, slat = depot[0] + rng.normal(0, 0.04), depot[1] + rng.normal(0, 0.02)
            outcomes.append(
                StopOutcome(
                    f"o{i}", vid, VisitKind.JOB, status, t_plan, t_plan, t_plan + 180,
                    window_start=window_end - 7200, window_end=window_end,
                    arrival=t_real if reached else None, start=t_real if reached else None,
                    departure=t_real + 180 if reached else None,
                    failure_reason="customer absent" if status is StopStatus.FAILED else None,
                    leg_planned_distance_m=leg_s * 8, leg_planned_travel_s=leg_s,
                    leg_distance_m=leg_s * 8 if reached else None,
                    leg_travel_s=real_s if reached else None,
                    promised_start=t_plan - 900, promised_end=t_plan + 900,
                    driver_id=f"driver-{v + 1}", depot_id="pasila", lon=slon, lat=slat,
                )
            )  # fmt: skip
            if reached:
                for asked in range(8 * 3600, t_real, 900):
                    noise = int(rng.normal(0, 120 + (t_real - asked) / 20))
                    samples.append(EtaSample(f"o{i}", vid, asked, t_real + noise, t_real))
            steps = max(real_s // 60, 1)
            for k in range(steps):
                f = (k + 1) / steps
                positions.append(
                    Position(vid, t_real - real_s + 60 * k, lon + (slon - lon) * f,
                             lat + (slat - lat) * f)
                )  # fmt: skip
            lon, lat = slon, slat
            t_plan += 180
            t_real += 180
        routes.append(
            RouteOutcome(
                vid, 8 * 3600, t_plan + 900, dist + 7000, t_plan - 8 * 3600, 0,
                actual_start=8 * 3600, actual_end=t_real + 900, distance_m=dist + 7000,
                travel_s=travel + 900, wait_s=0, driver_id=f"driver-{v + 1}", depot_id="pasila",
                capacity=(100,), peak_load=(len(chunk),), fixed_cost=5000, cost_per_hour=3000,
                cost_per_km=40, depot_lon=depot[0], depot_lat=depot[1],
                shift_start=8 * 3600, shift_end=17 * 3600,
            )
        )  # fmt: skip
    return DayRecord(
        day=dt.date(2026, 12, 8),
        timezone="Europe/Helsinki",
        routes=tuple(routes),
        stops=tuple(outcomes),
        unassigned=(Unassigned("o-x", "no vehicle can carry it", "capacity"),),
        eta_samples=tuple(samples),
        positions=tuple(positions),
        incidents=(Incident(11 * 3600, "road_closed", "Hämeentie closed"),),
        dimensions=("parcels",),
        source="benchmarks/analytics_report.py",
    )


def best(repeat: int, fn: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stops", type=int, default=250)
    parser.add_argument("--vehicles", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    record = synthetic_day(args.stops, args.vehicles)
    print(
        f"{len(record.stops)} stops, {len(record.routes)} routes, "
        f"{len(record.eta_samples)} ETA samples, {len(record.positions)} positions"
    )
    for name, fn in (
        ("summarise, all groupings", lambda: [summarise(record, by=b) for b in (None, "vehicle")]),
        ("stop_table + leg_table", lambda: (stop_table(record), leg_table(record))),
        ("html_report", lambda: html_report(record)),
    ):
        print(f"{name:28s} {best(args.repeat, fn):6.2f} s (best of {args.repeat})")
    print(f"report size {len(html_report(record)) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
