"""Robust plans against plans on static and on time-dependent travel times, driven with noise.

Twenty simulated days (``lastmile.simulate.scenario.city_day``, seeds printed,
four sizes and fleet shapes in turn). The true travel of a day is
time-dependent: the scenario's straight-line times are its free-flow times and
vans are slowed through the day by the default weekday traffic profile on
``secondary`` roads (exactly integrated, FIFO); cargo bikes ride free of
traffic. Each day is planned four ways or more, in the same run with the same
time limit:

* ``static free-flow``: ``solve`` on the scenario's free-flow matrices, what
  VROOM or PyVRP alone give with a static matrix of uncongested speeds;
* ``static typical``: ``solve`` on one static matrix per profile at the day's
  typical speeds, what VROOM or PyVRP give on a routing engine whose speeds are
  calibrated on typical traffic (OSRM or Valhalla speed profiles, "typical"
  durations of a traffic API). Each van leg takes its true duration averaged
  over departures every 5 minutes through the vans' shifts (07:00-16:00 and
  08:00-19:00, each shift weighing as one van: :func:`typical_problem`). The
  mean of the durations rather than that of the speeds, because a plan adds up
  durations: it is the expected time of the leg left at a random moment of a
  van's working day (1.30 times free flow on these days, where the inverse of
  the mean speed factor over the same shifts gives 1.29 and understates the
  slow hours). Nothing in it is
  chosen on the evaluation days; bikes keep their free-flow times, as they are
  driven;
* ``time-dep``: ``solve_time_dependent`` on the true time-dependent travel;
* ``robust``: the same with ``robust=Robustness(on_time, noise)`` (one method per
  ``--on-time`` target given).

Each plan is then driven ``--draws`` times through the day with the noise
model (``lastmile.simulate.twin.simulate_day`` when it is installed, otherwise
the Monte Carlo of ``lastmile.planning.robust.simulate_on_time``: every leg's
time of day, traffic and noise drawn when it is driven; vehicles leave at their
planned departures and wait for windows). Printed per method: on-time rate
(mean and worst day), stops late per day, orders left unassigned, stops not
reached per day (a plan whose vans run out of shift drives less: it is cheaper
as driven, and those stops count as late), cost as driven (fixed + hourly + per
km on the times really driven; waiting is not charged on these days, so a
robust plan's buffers cost nothing by themselves), km, vehicles, and the cost
ratios against the two static plans (``cost/free``, ``cost/typ``) and the
time-dependent one (``cost/td``): against the free-flow plan the premium of
meeting the day's traffic and noise, against the typical-speed plan that of
planning on the traffic's hours rather than its average, against the
time-dependent plan that of the buffers alone.

The evaluation days are seeds 1-20 (``--seed 1``, the default). Calibrate
anything on other days, e.g. ``--seed 101 --days 8``: the per-stop target of
0.5, the default, was chosen on seeds 101-108 as the smallest that keeps 97 %
of the stops on time (docs/robust.md).

    python benchmarks/robust_days.py [--days 20] [--draws 30] [--time-limit 10]
        [--on-time 0.5] [--noise lognormal] [--seed 1] [--workers 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lastmile.domain import Plan
from lastmile.domain.day import StopStatus
from lastmile.planning import PlanningProblem, solve
from lastmile.planning.robust import Robustness, simulate_on_time
from lastmile.planning.solve_time_dependent import solve_time_dependent
from lastmile.planning.validate import validate
from lastmile.simulate.scenario import city_day
from lastmile.travel.matrix import TravelMatrix
from lastmile.travel.traffic import DAY_S, WEEKDAY, TrafficProfile

IntMatrix = npt.NDArray[np.int64]

#: (orders, vans, cargo bikes) of the days, taken in turn.
SHAPES: tuple[tuple[int, int, int], ...] = ((60, 4, 1), (100, 6, 2), (150, 8, 2), (200, 10, 3))
#: The road class whose traffic slows the vans.
VAN_ROADS = "secondary"
#: Departures every this many seconds through the shifts for the typical matrix.
TYPICAL_STEP_S = 300
#: The two plans on static travel times: free-flow, and typical speeds of the day.
FREE = "static free-flow"
TYPICAL = "static typical"


class TrafficLegs:
    """Free-flow durations ``free`` slowed by a speed factor per time slice.

    A leg of free-flow time ``d`` entered at ``t`` ends where the integral of the
    speed factor from ``t`` reaches ``d`` (as :mod:`lastmile.travel.time_dependent`
    does per edge): exact for piecewise-constant speeds, and FIFO.
    """

    def __init__(
        self, free: IntMatrix, distances: IntMatrix, factors: Sequence[float], slice_s: int
    ):
        self.free = np.asarray(free, dtype=np.float64)
        self.distances = np.asarray(distances, dtype=np.int64)
        days = 3  # the day and the next two: any delivery day ends well before
        speed = np.tile(np.asarray(factors, dtype=np.float64), days)
        self.bounds = np.arange(len(speed) + 1, dtype=np.float64) * slice_s
        self.cum = np.concatenate([[0.0], np.cumsum(speed * slice_s)])

    @property
    def size(self) -> int:
        return int(self.free.shape[0])

    def _arrive(
        self, t: npt.NDArray[np.float64], d: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        covered = np.interp(t, self.bounds, self.cum) + d
        return np.interp(covered, self.cum, self.bounds)

    def matrix_rows(
        self, rows: Sequence[int], departures: Sequence[int]
    ) -> tuple[IntMatrix, IntMatrix]:
        free = self.free[list(rows)]
        t = np.asarray(departures, dtype=np.float64)[:, None]
        dur = np.rint(self._arrive(np.broadcast_to(t, free.shape), free) - t).astype(np.int64)
        dur[free == 0] = 0
        return dur, self.distances[list(rows)].copy()

    def leg(self, a: int, b: int, t: int) -> int:
        d = self.free[a, b]
        if d == 0:
            return 0
        return int(np.rint(self._arrive(np.array([float(t)]), np.array([d]))[0] - t))

    def mean_durations(
        self, shifts: Sequence[tuple[int, int]], step_s: int = TYPICAL_STEP_S
    ) -> IntMatrix:
        """Every leg's duration averaged over departures through ``shifts``.

        Each shift ``(start, end)`` contributes departures every ``step_s``
        seconds (at the middle of each step), so a time of day weighs as much as
        there are shifts under way then. It is the mean of durations, not of
        speeds: the expected time of a leg left at a random moment of a shift.
        Every entry lies between the free-flow duration and the duration at the
        slowest factor of the shifts.
        """
        total = np.zeros_like(self.free)
        weight = 0
        for (start, end), n in Counter(shifts).items():
            for t in np.arange(start + step_s / 2, end, step_s):
                total += n * (self._arrive(np.full_like(self.free, t), self.free) - t)
                weight += n
        if weight == 0:
            return np.rint(self.free).astype(np.int64)
        mean = np.rint(total / weight).astype(np.int64)
        mean[self.free == 0] = 0
        return mean


def day_legs(problem: PlanningProblem) -> dict[str, TrafficLegs]:
    """The true travel of a day, per routing profile: vans in traffic, bikes free."""
    profile = TrafficProfile.default()
    van = profile.factors[profile.day_index(WEEKDAY), profile.class_index(VAN_ROADS)]
    legs = {}
    for name, matrix in problem.matrices.items():
        factors = van if name == "van" else np.ones_like(van)
        legs[name] = TrafficLegs(matrix.durations, matrix.distances, factors, profile.slice_s)
    return legs


def typical_problem(problem: PlanningProblem, legs: dict[str, TrafficLegs]) -> PlanningProblem:
    """``problem`` on one static matrix per routing profile at the day's typical speeds.

    Each leg takes its true duration averaged over the shifts of the vehicles
    of that profile (:meth:`TrafficLegs.mean_durations`): vans their traffic
    through 07:00-16:00 and 08:00-19:00, bikes their free-flow times.
    Distances are unchanged.
    """
    matrices = {}
    for name, matrix in problem.matrices.items():
        shifts = [
            (v.shift.start, min(v.shift.end, v.shift.start + DAY_S))
            for v in problem.vehicles
            if v.type.profile == name
        ]
        matrices[name] = TravelMatrix(legs[name].mean_durations(shifts), matrix.distances)
    return dataclasses.replace(
        problem,
        matrices=matrices,
        travel_note=f"{problem.travel_note}; typical weekday traffic on {VAN_ROADS} roads "
        "over the vans' shifts",
    )


@dataclass
class Outcome:
    method: str
    seconds: float
    plan: Plan
    driven: Driven
    valid: bool


@dataclass
class Driven:
    """A plan's stops and cost over its noisy drives."""

    stops: int
    on_time: float
    late_stops: float
    cost: float
    #: Stops per drive not reached at all (a shorter drive: cheaper, and late).
    missed: float = 0.0


def _base(profile: str) -> str:
    """The routing profile of a time-dependent plan's per-departure profile (``van@08:00``)."""
    return profile.split("@", 1)[0]


class TrafficTruth:
    """The day's true travel for the digital twin (its ``TrueTravel``): the
    :class:`TrafficLegs` of each vehicle's routing profile; no road to close."""

    def __init__(self, legs: dict[str, TrafficLegs]) -> None:
        self.legs = legs

    @property
    def description(self) -> str:
        return f"straight-line free-flow times, vans in weekday traffic on {VAN_ROADS} roads"

    def leg(self, vehicle: Any, a: int, b: int, depart_s: float, closures: Any) -> Any:
        from lastmile.simulate.truth import TrueLeg

        legs = self.legs[_base(vehicle.type.profile)]
        seconds = legs.leg(a, b, int(depart_s)) * closures.slowdown(a, b, depart_s)
        return TrueLeg(float(seconds), float(legs.distances[a, b]))

    def close(self, *args: Any) -> str | None:
        return None


def twin_available() -> bool:
    try:
        import lastmile.simulate.twin  # noqa: F401
    except ImportError:
        return False
    return True


def drive(
    problem: PlanningProblem,
    plan: Plan,
    legs: dict[str, TrafficLegs],
    robust: Robustness,
    draws: int,
    seed: int,
) -> Driven:
    """``plan`` driven ``draws`` times through the day's traffic with noise: by the
    digital twin when it is installed, else by :func:`simulate_on_time`."""
    if twin_available():
        return drive_twin(problem, plan, legs, robust, draws, seed)

    def travel(vehicle_id: str, a: int, b: int, t: int) -> int:
        return legs[_base(problem.vehicle(vehicle_id).type.profile)].leg(a, b, t)

    mc = simulate_on_time(problem, plan, robust.noise, draws=draws, seed=seed, travel=travel)
    return Driven(mc.stops, mc.on_time, mc.late_stops, mc.cost)


def drive_twin(
    problem: PlanningProblem,
    plan: Plan,
    legs: dict[str, TrafficLegs],
    robust: Robustness,
    draws: int,
    seed: int,
) -> Driven:
    """The twin with travel noise only (no absent customers, failed scans,
    incidents, weather or GPS): a stop is late when reached after its window,
    or not reached at all."""
    from lastmile.simulate.twin import TwinConfig, simulate_day

    config = TwinConfig(
        noise=robust.noise,
        absent_rate=0.0,
        scan_failure_rate=0.0,
        ping_every_s=0,
        eta_every_s=0,
    )
    truth = TrafficTruth(legs)
    stops = late = missed_stops = 0
    cost = 0.0
    for k in range(draws):
        record = simulate_day(
            problem, plan, config=config, seed=seed * 1000 + k, truth=truth
        ).record
        for stop in record.stops:
            stops += 1
            missed = stop.status is StopStatus.NOT_REACHED or stop.arrival is None
            missed_stops += missed
            if missed or (stop.window_end is not None and stop.arrival > stop.window_end):
                late += 1
        for route in record.routes:
            hours = (route.travel_s or 0) / 3600
            if route.paid_waiting and route.actual_start is not None and route.actual_end:
                hours = (route.actual_end - route.actual_start) / 3600
            km = (route.distance_m or 0) / 1000
            cost += route.fixed_cost + route.cost_per_hour * hours + route.cost_per_km * km
    n = stops / draws if draws else 0
    return Driven(
        round(n),
        1 - late / stops if stops else 1.0,
        late / draws,
        cost / draws,
        missed_stops / draws if draws else 0.0,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--draws", type=int, default=30)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument(
        "--on-time",
        default="0.5",
        help="per-stop on-time target of the robust plans; several (0.5,0.9): one method each",
    )
    parser.add_argument("--noise", default="lognormal")
    parser.add_argument("--seed", type=int, default=1, help="the first day's seed")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument(
        "--shapes", default=None, help="only these shape numbers (0-3), comma-separated"
    )
    args = parser.parse_args(argv)
    targets = [Robustness.parse(float(q), args.noise) for q in args.on_time.split(",")]
    robust = targets[0]
    shapes = [SHAPES[int(k)] for k in args.shapes.split(",")] if args.shapes else list(SHAPES)
    driver = "the digital twin" if twin_available() else "lastmile.planning.robust.simulate_on_time"
    print(f"plans driven by {driver}")
    print(
        f"{args.days} days, {args.draws} noisy drives each, {args.time_limit:g} s per plan, "
        f"noise {robust.noise.describe()}; traffic: default weekday profile on {VAN_ROADS} "
        "roads (vans)"
    )
    robust_of = {(f"robust {r.on_time:g}" if len(targets) > 1 else "robust"): r for r in targets}
    methods = (FREE, TYPICAL, "time-dep", *robust_of)
    results: dict[str, list[Outcome]] = {m: [] for m in methods}
    header = (
        f"{'day':>3} {'seed':>4} {'orders':>6} {'method':<16} {'on time':>7} {'late':>5} "
        f"{'unassigned':>10} {'cost':>8} {'km':>6} {'veh':>3} {'plan s':>6} {'valid':>5}"
    )
    print(header)
    began = time.perf_counter()
    for k in range(args.days):
        seed = args.seed + k
        n_orders, vans, bikes = shapes[k % len(shapes)]
        problem = city_day(n_orders=n_orders, n_vans=vans, n_bikes=bikes, seed=seed)
        legs = day_legs(problem)
        for method in methods:
            t0 = time.perf_counter()
            if method in (FREE, TYPICAL):
                static = problem if method == FREE else typical_problem(problem, legs)
                plan = solve(static, time_limit=args.time_limit, seed=seed, workers=args.workers)
                valid = validate(static, plan).ok
            else:
                result = solve_time_dependent(
                    problem,
                    legs,
                    time_limit=args.time_limit,
                    seed=seed,
                    workers=args.workers,
                    robust=robust_of.get(method),
                )
                plan = result.plan
                valid = not result.violations()
            seconds = time.perf_counter() - t0
            driven = drive(problem, plan, legs, robust, args.draws, seed)
            results[method].append(Outcome(method, seconds, plan, driven, valid))
            print(
                f"{k + 1:>3} {seed:>4} {n_orders:>6} {method:<16} {driven.on_time:>7.1%} "
                f"{driven.late_stops:>5.1f} {len(plan.unassigned):>10} {driven.cost:>8.0f} "
                f"{plan.distance / 1000:>6.0f} {len(plan.routes):>3} {seconds:>6.1f} "
                f"{'yes' if valid else 'NO':>5}",
                flush=True,
            )
    print(f"\nsummary over {args.days} days ({time.perf_counter() - began:.0f} s in all)")
    print(
        f"{'method':<16} {'on time':>7} {'worst day':>9} {'late/day':>8} {'unassigned':>10} "
        f"{'missed':>6} {'cost':>9} {'km':>7} {'veh':>5} {'cost/free':>9} {'cost/typ':>8} "
        f"{'cost/td':>7} {'km/free':>7} {'plan s':>6}"
    )

    def total_cost(method: str) -> float:
        return sum(o.driven.cost for o in results[method])

    free_km = sum(o.plan.distance for o in results[FREE])
    for method in methods:
        out = results[method]
        rates = [o.driven.on_time for o in out]
        cost = total_cost(method)
        km = sum(o.plan.distance for o in out)
        print(
            f"{method:<16} {np.mean(rates):>7.1%} {min(rates):>9.1%} "
            f"{np.mean([o.driven.late_stops for o in out]):>8.1f} "
            f"{sum(len(o.plan.unassigned) for o in out):>10} "
            f"{np.mean([o.driven.missed for o in out]):>6.1f} {cost / len(out):>9.0f} "
            f"{km / 1000 / len(out):>7.0f} {np.mean([len(o.plan.routes) for o in out]):>5.1f} "
            f"{cost / total_cost(FREE):>9.3f} {cost / total_cost(TYPICAL):>8.3f} "
            f"{cost / total_cost('time-dep'):>7.3f} {km / free_km:>7.3f} "
            f"{np.mean([o.seconds for o in out]):>6.1f}"
        )
    return 0 if all(o.valid for out in results.values() for o in out) else 1


if __name__ == "__main__":
    raise SystemExit(main())
