"""Arrival and departure detection from GPS fixes, measured against the twin's truth.

Generated days (``city_day``) are planned, then driven by the digital twin, which
records the GPS fixes along the driven paths (with noise) and the true arrival and
departure at every stop. Each vehicle's fixes are fed in time order to
:class:`lastmile.operations.arrival.ArrivalDetector` built on its route's order
stops, with the drivers' outcome reports (delivered, picked up, failed: the twin
reports them when the service ends) fed in between, as the service does; nobody
presses "arrived". ``--gps-only`` feeds no reports at all.

A detected arrival is right when it names a stop the vehicle truly stood at and
dates it inside that stay (from 60 s before the true arrival to the true
departure); a detected departure when it is dated from the true departure to
10 minutes after. Precision = right / detected; recall = stops with a right
detection / stops truly served. Delays: ``decided`` is when the detector settled
it (the fix that confirmed it) minus the true arrival; ``dated`` is the time it
gives minus the true arrival.

    python benchmarks/arrival_detection.py [--seeds 3,4,5] [--orders 120]
        [--ping-every 30] [--gps-sigma 5] [--accuracy 0] [--radius 60] [--dwell 25]
        [--days DIR] [--show-late N]

The planner's time budget makes the plans (hence the traces) differ slightly from
run to run on a loaded machine; ``--days DIR`` keeps each driven day (plan, fixes,
truth) in DIR the first time and reads it back afterwards, so that two versions of
the detector are compared on the very same traces.
"""

from __future__ import annotations

import argparse
import os
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from lastmile.domain import VisitKind
from lastmile.domain.day import StopStatus
from lastmile.operations.arrival import (
    ArrivalDetector,
    ArrivalSettings,
    Detection,
    Fix,
    GeoStop,
    Movement,
    Report,
)
from lastmile.planning import solve
from lastmile.planning.problem import PlanningProblem
from lastmile.simulate import city_day
from lastmile.simulate.events import EventKind, TwinResult
from lastmile.simulate.twin import Twin, TwinConfig

_TASKS = (VisitKind.JOB, VisitKind.PICKUP, VisitKind.DELIVERY)
EARLY_S = 60
DEPARTURE_LATE_S = 600
_DEFAULTS = ArrivalSettings()


@dataclass
class Tally:
    stops: int = 0
    detected: int = 0
    right: int = 0
    found: int = 0
    decided: list[float] = field(default_factory=list)
    dated: list[float] = field(default_factory=list)
    dep_detected: int = 0
    dep_right: int = 0
    dep_found: int = 0
    dep_decided: list[float] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)


def run_day(
    seed: int,
    *,
    orders: int,
    config: TwinConfig,
    settings: ArrivalSettings,
    accuracy: float | None,
    gps_only: bool,
    tally: Tally,
    time_limit: float,
    days: str | None = None,
) -> None:
    cached = None
    if days is not None:
        tag = f"{seed}-{orders}-{config.ping_every_s}-{config.gps_sigma_m:g}-{time_limit:g}"
        name = f"day-{tag}.pickle"
        cached = os.path.join(days, name)
        if os.path.exists(cached):
            with open(cached, "rb") as fh:
                saved = pickle.load(fh)
            _score(seed, saved[0], saved[1], saved[2], settings, accuracy, gps_only, tally)
            return
    problem = city_day(n_orders=orders, n_vans=max(2, orders // 20), n_bikes=2, seed=seed)
    plan = solve(problem, time_limit=time_limit, seed=0)
    twin = Twin(problem, plan, config=config, seed=seed)
    # When each vehicle truly leaves a stop: its next leg's start, or the end of a
    # break it takes there before driving (the twin parks for a break at the start
    # of a leg when the break's window is open).
    left: dict[tuple[str, str | None, VisitKind | None], int] = {}
    leaving: dict[str, tuple[int, tuple[str, str | None, VisitKind | None]]] = {}
    for ev in twin.advance_to(None):
        vid = ev.vehicle_id or ""
        if ev.kind is EventKind.DEPARTED:
            key = (vid, ev.order_id, ev.visit_kind)
            left[key] = ev.t
            leaving[vid] = (ev.t, key)
        elif ev.kind is EventKind.BREAK_STARTED and vid in leaving:
            t0, key = leaving[vid]
            if ev.t == t0:
                left[key] = -1  # parked for the break: left when it ends
        elif ev.kind is EventKind.BREAK_ENDED and vid in leaving:
            t0, key = leaving[vid]
            if left[key] == -1:
                left[key] = ev.t
    result = twin.result()
    if cached is not None:
        os.makedirs(os.path.dirname(cached) or ".", exist_ok=True)
        with open(cached, "wb") as fh:
            pickle.dump((problem, result, left), fh)
    _score(seed, problem, result, left, settings, accuracy, gps_only, tally)


def _score(
    seed: int,
    problem: PlanningProblem,
    result: TwinResult,
    left: dict[tuple[str, str | None, VisitKind | None], int],
    settings: ArrivalSettings,
    accuracy: float | None,
    gps_only: bool,
    tally: Tally,
) -> None:
    record = result.record
    truth = {(s.vehicle_id, s.order_id, s.kind): s for s in record.stops}
    pings: dict[str, list[tuple[int, float, float]]] = {}
    for p in record.positions:
        pings.setdefault(p.vehicle_id, []).append((p.t, p.lon, p.lat))
    for route in result.plan.routes:
        vid = route.vehicle_id
        stops: list[GeoStop] = []
        served: dict[int, tuple[int, int]] = {}
        reports: list[tuple[int, int]] = []
        for seq, visit in enumerate(route.visits):
            if visit.kind not in _TASKS:
                continue
            loc = problem.locations[visit.location]
            assert loc.lon is not None and loc.lat is not None
            stops.append(GeoStop(seq, loc.lon, loc.lat))
            out = truth.get((vid, visit.order_id or "", visit.kind))
            if out is None or out.status is StopStatus.NOT_REACHED or out.arrival is None:
                continue
            assert out.departure is not None
            gone = left.get((vid, visit.order_id, visit.kind), out.departure)
            served[seq] = (out.arrival, max(out.departure, gone))
            reports.append((out.departure, seq))
        if not stops:
            continue
        detector = ArrivalDetector(stops, settings)
        found: list[Detection] = []
        timeline: list[tuple[int, int, Fix | int]] = [
            (t, 0, Fix(t, lon, lat, accuracy)) for t, lon, lat in pings.get(vid, [])
        ]
        if not gps_only:
            timeline += [(t, 1, seq) for t, seq in reports]
        timeline.sort(key=lambda e: (e[0], e[1]))
        for t, _, item in timeline:
            if isinstance(item, Fix):
                found += detector.feed(item)
            else:
                found += detector.report(item, Report.FINISHED, t)
        tally.stops += len(served)
        hit: set[int] = set()
        dep_hit: set[int] = set()
        for d in found:
            stay = served.get(d.sequence)
            if d.kind is Movement.ARRIVED:
                tally.detected += 1
                if stay is not None and stay[0] - EARLY_S <= d.at <= stay[1]:
                    tally.right += 1
                    if d.sequence not in hit:
                        hit.add(d.sequence)
                        tally.decided.append(d.decided_at - stay[0])
                        tally.dated.append(d.at - stay[0])
                        if d.decided_at - stay[0] > EARLY_S:
                            tally.late.append(
                                f"seed {seed} {vid} stop {d.sequence}: {d} truth {stay}"
                            )
                else:
                    tally.wrong.append(f"seed {seed} {vid} stop {d.sequence}: {d} truth {stay}")
            else:
                tally.dep_detected += 1
                if stay is not None and stay[1] <= d.at <= stay[1] + DEPARTURE_LATE_S:
                    tally.dep_right += 1
                    if d.sequence not in dep_hit:
                        dep_hit.add(d.sequence)
                        tally.dep_decided.append(d.decided_at - stay[1])
                else:
                    tally.wrong.append(f"seed {seed} {vid} stop {d.sequence}: {d} truth {stay}")
        tally.found += len(hit)
        tally.dep_found += len(dep_hit)


def _pct(values: Sequence[float]) -> str:
    if not values:
        return "-"
    a = np.asarray(values)
    return (
        f"p50 {np.percentile(a, 50):5.0f} s  p95 {np.percentile(a, 95):5.0f} s  "
        f"max {a.max():5.0f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="3,4,5", help="comma-separated day seeds")
    ap.add_argument("--orders", type=int, default=120)
    ap.add_argument("--time-limit", type=float, default=1.0)
    ap.add_argument("--ping-every", type=int, default=30, help="seconds between fixes")
    ap.add_argument("--gps-sigma", type=float, default=5.0, help="GPS noise, metres")
    ap.add_argument("--accuracy", type=float, default=0.0, help="accuracy fixes report, 0: none")
    ap.add_argument("--radius", type=float, default=_DEFAULTS.radius_m)
    ap.add_argument("--exit-radius", type=float, default=_DEFAULTS.exit_radius_m)
    ap.add_argument("--dwell", type=int, default=_DEFAULTS.dwell_s)
    ap.add_argument("--min-fixes", type=int, default=_DEFAULTS.min_fixes)
    ap.add_argument("--lookahead", type=int, default=_DEFAULTS.lookahead)
    ap.add_argument("--gps-only", action="store_true", help="no driver reports at all")
    ap.add_argument("--show-wrong", type=int, default=0, help="print that many wrong arrivals")
    ap.add_argument(
        "--show-late", type=int, default=0, help="print that many arrivals decided after 60 s"
    )
    ap.add_argument("--days", default=None, help="directory keeping the driven days")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    settings = ArrivalSettings(
        radius_m=args.radius,
        exit_radius_m=args.exit_radius,
        dwell_s=args.dwell,
        min_fixes=args.min_fixes,
        lookahead=args.lookahead,
    )
    config = TwinConfig(ping_every_s=args.ping_every, gps_sigma_m=args.gps_sigma, eta_every_s=0)
    tally = Tally()
    began = time.perf_counter()
    for seed in seeds:
        run_day(
            seed,
            orders=args.orders,
            config=config,
            settings=settings,
            accuracy=args.accuracy or None,
            gps_only=args.gps_only,
            tally=tally,
            time_limit=args.time_limit,
            days=args.days,
        )
    took = time.perf_counter() - began
    print(
        f"seeds {seeds}, {args.orders} orders/day, fixes every {args.ping_every} s, "
        f"GPS noise {args.gps_sigma:g} m, {'GPS only' if args.gps_only else 'outcome reports fed'}"
    )
    print(f"settings: {settings}")
    print(f"load average {os.getloadavg()[0]:.1f}, {took:.1f} s")
    precision = tally.right / tally.detected if tally.detected else float("nan")
    recall = tally.found / tally.stops if tally.stops else float("nan")
    print(
        f"arrivals:   {tally.stops} stops served, {tally.detected} detected, "
        f"precision {precision:.2%}, recall {recall:.2%}"
    )
    print(f"  decided after the true arrival: {_pct(tally.decided)}")
    print(f"  dated minus the true arrival:   {_pct(tally.dated)}")
    within = sum(1 for d in tally.decided if d <= 60) / max(1, tally.stops)
    print(f"  served stops detected within 60 s: {within:.2%}")
    dep_precision = tally.dep_right / tally.dep_detected if tally.dep_detected else float("nan")
    print(
        f"departures: {tally.dep_detected} detected, precision {dep_precision:.2%}, "
        f"recall {tally.dep_found / max(1, tally.stops):.2%}; "
        f"decided after the true departure: {_pct(tally.dep_decided)}"
    )
    for line in tally.wrong[: args.show_wrong]:
        print("  wrong:", line)
    for line in tally.late[: args.show_late]:
        print("  late:", line)


if __name__ == "__main__":
    main()
