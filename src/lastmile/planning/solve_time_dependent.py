"""Planning with travel times that depend on the time of day.

Engines take static matrices; traffic makes a leg's duration depend on when it
starts. :func:`solve_time_dependent` bridges the two with *departure-stamped
matrices*, exact re-timing and repair (docs/traffic.md has the measurements):

1. **Stamp.** Every matrix row ``i`` is computed with the exact time-dependent
   model for a departure from location ``i`` at ``stamp[i]``, the time a
   vehicle is expected to leave it. The row of each vehicle's start depot is
   stamped with that vehicle's departure, so vehicles leaving at different
   times get their own routing profile (one profile per shift start at
   first). First stamps: the middle of each stop's first window (the middle of
   the fleet's working span for stops without one) plus its service time.
2. **Solve** the stamped problem: round 0 with :func:`lastmile.planning.solve`
   (the portfolio, 60 % of the time limit).
3. **Re-time** every route with the exact model: each leg takes the duration
   of the time-dependent fastest path leaving when the vehicle really leaves,
   iterated to a fixed point under the scheduler's own rules
   (:func:`~lastmile.planning.build_route`). The gap between the engine's
   promised arrivals and these is the method's error (:class:`ArrivalError`).
4. **Re-stamp** each row with the departure just computed and solve again,
   starting from the previous plan (an engine that takes a starting plan,
   PyVRP first) with halving time budgets, for ``rounds`` rounds in all: the
   plan changes less and less, so the stamps it was planned with converge on
   its own schedule. The round kept is the one serving the most orders, then
   the cheapest re-timed among those meeting the accuracy target (95 % of
   promises within 60 s); when no round meets it, the one serving the most
   orders, then the cheapest re-timed, the first round included.
5. **Repair** the kept round's re-timed routes with the independent validator:
   a route that breaks a rule under true travel times loses its first
   offending order until it holds; lost orders are re-inserted (below) or
   reported unassigned with code ``traffic``.

``legs`` is one leg model for every vehicle, or one per routing profile (a
mapping from ``vehicle.type.profile``): a van and a cargo bike then each drive
their own network's times, in the stamps, the re-timing and the repair alike.

``start="typical"`` (the default) replaces the guessed stamps of steps 1-4 by a
search on **typical travel**: each leg's duration averaged over departures
through the vehicles' shifts, a stop's row over the departures its windows allow
(window plus service: the legs out of an evening stop are evening legs); depot
rows over the whole day. That plan is re-timed and repaired as in steps 3 and 5,
then searched again from itself with every window closing earlier by as much as
the true legs made it late there (:func:`_tightened`; robust: and the rows where
it waits buffered as depots), re-timed and repaired alike. Kept: the second round
when it carries more buffers (and lost no more orders), else the one losing fewer
orders, then the cheaper. On the straight-line days of
``benchmarks/robust_days.py`` (seeds 101-108) the warm rounds on stamped matrices
cost more than this, often a vehicle more (docs/robust.md).
``start="stamped"`` runs the rounds above.
Either way the repair re-inserts a lost order where a re-timed route stays
valid, then in place of a stop of a used route that moves to another one, then
into an idle vehicle (shipments: pickup and delivery together); and after the
round is kept, routes are emptied into the others, the lightest first, while
that makes the plan cheaper (a vehicle's fixed cost against longer days). The
time then left goes to the engine's search with one vehicle fewer: the lightest
route's vehicle (and the idle ones) taken out of the kept round's problem,
started from the plan without that route; its plan is re-timed and repaired
alike and kept when it loses no more orders and costs less (:func:`_fewer_vehicles`).

With ``robust`` (:class:`~lastmile.planning.robust.Robustness`) every step above
drives legs lengthened by buffers sized from the noise model at the time each
leg is driven (:class:`~lastmile.planning.robust.BufferedLegs`); the kept plan is
then re-timed on the true legs, each route leaving when the buffered plan has it
leave, so the buffers become waiting, and repaired like any round.

``method="shift"`` is the simple baseline: one cold round with every row
stamped at the vehicles' shift start (one routing profile per shift start).

The returned plan's times are the re-timed (true) ones. Each route is
consistent with its own problem (:meth:`TimeDependentResult.route_problem`),
whose matrix carries the leg durations the route actually drives.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Mapping, Sequence, Set
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from lastmile.domain import (
    Order,
    OrderKind,
    Plan,
    Route,
    Stop,
    TimeWindow,
    Unassigned,
    Vehicle,
    VehicleType,
    VisitKind,
)
from lastmile.domain.time import HORIZON, format_clock
from lastmile.exceptions import InputError
from lastmile.planning.engines import REGISTRY, get_engine
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.robust import BufferedLegs, Robustness, buffered_legs, waiting_rows
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.solve import solve
from lastmile.planning.validate import Violation, validate
from lastmile.travel.matrix import IntMatrix, TravelMatrix

#: Re-timing iterations before giving up on an exact fixed point (never reached in practice).
_MAX_RETIME_ITERATIONS = 60
#: Depot departures are grouped to this granularity (s) into routing profiles.
_DEPOT_GRANULARITY_S = 60
#: Share of the time limit the first (cold) round gets when warm rounds follow.
_FIRST_ROUND_SHARE = 0.6
#: Share of the time limit the search gets when it plans on typical travel (the only
#: round; the rest goes to repair and to emptying routes).
_TYPICAL_ROUND_SHARE = 0.8
#: ... of which the first search gets this share (the second one re-plans from it).
_TYPICAL_FIRST_SHARE = 0.5
#: Least time (s) worth a search with one vehicle fewer (:func:`_fewer_vehicles`).
_FEWER_SEARCH_MIN_S = 0.5
#: Searches (at most) with one given vehicle fewer, each on windows tightened by the last.
_FEWER_SEARCH_ATTEMPTS = 4
#: Share of stops whose promise must be within 60 s for a round to count as accurate.
_ACCURACY_TARGET = 0.95
#: Departures (at most) over the working span averaged into the typical first round's matrices.
_TYPICAL_SAMPLES = 24
#: ... at least this far apart (s).
_TYPICAL_MIN_STEP_S = 1800
#: Candidate insertions tried with the exact model per dropped order.
_INSERTION_CANDIDATES = 12
#: Positions tried for an order that must take another's place, and the stops either
#: side of each tried as the one to move out for it.
_EJECTION_POSITIONS = 8
_EJECTION_SPAN = 2
#: Violations that re-timing can cause (anything else was already wrong).
_TIMING_CODES = frozenset(
    {
        "time_window",
        "shift_end",
        "shift_start",
        "depot_window",
        "max_duration",
        "max_travel_time",
        "max_distance",
        "break",
    }
)


class LegModel(Protocol):
    """Exact time-dependent travel between the rows of a problem's matrices.

    :class:`lastmile.travel.time_dependent.BoundModel` implements it.
    """

    @property
    def size(self) -> int:
        """Number of locations (matrix rows)."""
        ...

    def matrix_rows(
        self, rows: Sequence[int], departures: Sequence[int]
    ) -> tuple[IntMatrix, IntMatrix]:
        """Durations (s) and distances (m) from ``rows[k]`` leaving at ``departures[k]``."""
        ...


@dataclass(frozen=True)
class ArrivalError:
    """Promised minus re-timed arrival at every served stop, in seconds (signed).

    ``p50_s``, ``p95_s`` and ``max_s`` are of the absolute error; ``within_60s``
    is the share of stops whose promise is within 60 s.
    """

    n: int
    p50_s: float
    p95_s: float
    max_s: float
    mean_s: float
    within_60s: float

    @classmethod
    def of(cls, diffs: Sequence[float]) -> ArrivalError:
        if not diffs:
            return cls(0, 0.0, 0.0, 0.0, 0.0, 1.0)
        d = np.asarray(diffs, dtype=np.float64)
        a = np.abs(d)
        return cls(
            n=len(d),
            p50_s=float(np.percentile(a, 50)),
            p95_s=float(np.percentile(a, 95)),
            max_s=float(a.max()),
            mean_s=float(d.mean()),
            within_60s=float((a <= 60).mean()),
        )

    def __str__(self) -> str:
        return (
            f"{self.n} stops: |error| p50 {self.p50_s:.0f} s, p95 {self.p95_s:.0f} s, "
            f"max {self.max_s:.0f} s, mean {self.mean_s:+.0f} s, "
            f"{100 * self.within_60s:.1f}% within 60 s"
        )


@dataclass(frozen=True)
class RoundReport:
    """What one round of stamping, solving and re-timing gave.

    ``served`` counts the stops the engine planned, ``breaking_routes`` the routes
    that break a rule once re-timed; ``unassigned`` and ``final_cost`` are those of
    the round's plan after repair.
    """

    round: int
    error: ArrivalError
    promised_cost: int
    retimed_cost: int
    served: int
    breaking_routes: int
    unassigned: int
    final_cost: int
    seconds: float


@dataclass(frozen=True)
class _Timed:
    """A route re-timed with the exact model, and the matrix that reproduces it."""

    route: Route
    durations: IntMatrix
    distances: IntMatrix
    residual_s: int


@dataclass(frozen=True)
class _Repaired:
    """A round's plan after repair, with each route's own matrix."""

    plan: Plan
    matrices: dict[str, tuple[IntMatrix, IntMatrix]]
    dropped: list[str]
    reinserted: list[str]


@dataclass(frozen=True)
class TimeDependentResult:
    """The re-timed, repaired plan and how far the engine's promises were from it."""

    plan: Plan
    promised: Plan
    stamped: PlanningProblem
    error: ArrivalError
    rounds: tuple[RoundReport, ...]
    dropped: tuple[str, ...]
    reinserted: tuple[str, ...]
    _route_matrices: dict[str, tuple[IntMatrix, IntMatrix]] = field(repr=False)

    def route_problem(self, vehicle_id: str) -> PlanningProblem:
        """The problem whose matrix holds exactly the legs ``vehicle_id`` drives."""
        dur, dist = self._route_matrices[vehicle_id]
        vehicle = self.stamped.vehicle(vehicle_id)
        matrices = dict(self.stamped.matrices)
        matrices[vehicle.type.profile] = TravelMatrix(durations=dur, distances=dist)
        return dataclasses.replace(self.stamped, matrices=matrices)

    def violations(self) -> tuple[Violation, ...]:
        """Every rule the plan breaks, each route checked against its own problem."""
        found: list[Violation] = []
        served = {v.order_id for r in self.plan.routes for v in r.visits if v.order_id}
        for route in self.plan.routes:
            report = validate(self.route_problem(route.vehicle_id), Plan((route,)))
            found += [v for v in report.violations if v.vehicle_id == route.vehicle_id]
        listed = {u.order_id for u in self.plan.unassigned}
        for order in self.stamped.orders:
            if order.id not in served and order.id not in listed:
                found.append(Violation("unserved", f"order {order.id!r} is lost", None, order.id))
        return tuple(found)


def solve_time_dependent(
    problem: PlanningProblem,
    legs: LegModel | Mapping[str, LegModel],
    *,
    method: str = "stamped",
    rounds: int = 4,
    start: str = "typical",
    fewer_routes: bool = True,
    engine: str = "auto",
    time_limit: float = 10.0,
    seed: int = 0,
    workers: int | None = None,
    robust: Robustness | None = None,
    executor: Executor | None = None,
) -> TimeDependentResult:
    """Plan ``problem`` with the time-dependent travel of ``legs`` (see the module docstring).

    ``problem.matrices`` are replaced: every vehicle drives the travel times of
    ``legs`` (one model for all, or ``legs[vehicle.type.profile]``). ``time_limit``
    (seconds) is shared by the rounds' searches, the repair and the emptying of
    routes. ``start``: ``"typical"`` (one search on typical travel) or
    ``"stamped"`` (``rounds`` rounds on stamped matrices); ``fewer_routes``
    empties routes into the others where that is cheaper. ``robust`` plans with
    buffers. ``executor`` runs the first round's searches (see :func:`solve`).
    """
    true_legs = legs_of = _legs_by_vehicle(problem, legs)
    if robust is not None and robust.active:
        legs_of = dict(buffered_legs(problem, true_legs, robust))
    if method not in ("stamped", "shift"):
        raise InputError(f"unknown method {method!r} (use stamped or shift)", where="method")
    if start not in ("typical", "stamped"):
        raise InputError(f"unknown start {start!r} (use typical or stamped)", where="start")
    if rounds < 1:
        raise InputError(f"must be >= 1, got {rounds}", where="rounds")
    if method == "shift":
        rounds = 1
    typical = start == "typical" and method == "stamped"
    lateness: dict[tuple[str, VisitKind], int] | None = None
    began = time.perf_counter()
    stamps, depot_stamps = _initial_stamps(problem, shift_only=method == "shift")
    reports: list[RoundReport] = []
    candidates: list[tuple[PlanningProblem, Plan, ArrivalError, _Repaired]] = []
    searched: list[PlanningProblem] = []  # the problem each round's search was on
    repair_s = 0.0  # the longest re-timing and repair of a round's plan
    promised: Plan | None = None
    for k in range(rounds):
        round_began = time.perf_counter()
        stamped = _stamped_problem(problem, legs_of, stamps, depot_stamps)
        left = time_limit - (time.perf_counter() - began)
        if typical and k > 0:
            # Search again from the first plan, on typical travel with every window
            # closing earlier by as much as the true legs made the first plan late
            # there (robust: and the buffers restarted where the first plan waits).
            assert promised is not None and lateness is not None
            first = _typical_problem(_tightened(stamped, lateness), legs_of)
            budget = max(0.1, began + _TYPICAL_ROUND_SHARE * time_limit - time.perf_counter())
            promised = _warm_solve(first, promised, engine, budget, seed)
        elif k == 0:
            # Stamping the first matrices may have used up a short limit: search a little.
            share = _FIRST_ROUND_SHARE if rounds > 1 else 0.9
            first = stamped
            if typical:
                first = _typical_problem(stamped, legs_of)
                share = _TYPICAL_ROUND_SHARE * (_TYPICAL_FIRST_SHARE if rounds > 1 else 1.0)
            budget = max(0.1, left * share)
            promised = solve(
                first,
                engine=engine,
                time_limit=budget,
                seed=seed,
                workers=workers,
                executor=executor,
            )
        else:
            # Halving budgets: the last rounds change the plan little, so its promise
            # converges on its own re-timed schedule.
            assert promised is not None
            weights = [0.5**j for j in range(rounds - k)]
            budget = max(0.1, 0.9 * left * weights[0] / sum(weights))
            promised = _warm_solve(stamped, promised, engine, budget, seed)
        searched.append(first if k == 0 or typical else stamped)
        repair_began = time.perf_counter()
        timed = [_retime(stamped, legs_of, r) for r in promised.routes]
        error = ArrivalError.of(_arrival_diffs(promised.routes, [t.route for t in timed]))
        repaired = _repair(stamped, legs_of, promised, timed)
        repair_s = max(repair_s, time.perf_counter() - repair_began)
        if k == 0:
            lateness = _lateness(promised.routes, [t.route for t in timed])
        reports.append(
            RoundReport(
                round=k,
                error=error,
                promised_cost=promised.cost,
                retimed_cost=sum(t.route.cost for t in timed),
                served=sum(len(r.tasks) for r in promised.routes),
                breaking_routes=sum(1 for t in timed if _breaks(stamped, t)),
                unassigned=len(repaired.plan.unassigned),
                final_cost=repaired.plan.cost,
                seconds=time.perf_counter() - round_began,
            )
        )
        candidates.append((stamped, promised, error, repaired))
        stamps, depot_stamps = _restamp(timed, stamps, depot_stamps)
        if legs_of is not true_legs:
            # Where the buffered plan waits, the sum of the legs after starts afresh.
            restart = waiting_rows(stamped, [t.route for t in timed])
            for model in {id(m): m for m in legs_of.values()}.values():
                assert isinstance(model, BufferedLegs)
                model.restart_at(restart)
        if typical and k == 1:
            # Planned on typical travel, re-timed and repaired on the true legs: warm
            # rounds on stamped guesses cost more than the repair (docs/robust.md).
            break
    restarts = any(isinstance(m, BufferedLegs) and m.rule.depot_s > 0 for m in legs_of.values())
    if typical and restarts:
        # The second round is the first with its waits buffered: kept unless it lost orders.
        last = reports[-1]
        picked = last.round if last.unassigned <= reports[0].unassigned else 0
    elif typical:
        # Both rounds carry the same buffers (none where the plan waits at a target
        # whose depot buffer is nil): the fewest orders lost, then the cheaper.
        picked = min(reports, key=lambda r: (r.unassigned, r.final_cost, r.round)).round
    else:
        picked = _pick(reports)
    stamped, promised, error, repaired = candidates[picked]
    if fewer_routes:
        repaired = _fewer_routes(stamped, legs_of, repaired, began + time_limit)
        # What time is left: a search with the lightest route's vehicle taken out,
        # ending early enough for its own repair and (robust) the final one.
        passes = 2 if legs_of is not true_legs else 1
        repaired = _fewer_vehicles(
            searched[picked],
            stamped,
            legs_of,
            repaired,
            engine=engine,
            seed=seed,
            deadline=began + time_limit - passes * repair_s,
        )
    if legs_of is not true_legs:
        # The buffers become waiting: each route leaves when it did, on the true legs.
        kept = repaired.plan
        timed = [_retime(stamped, true_legs, r, start_time=_departure(r)) for r in kept.routes]
        again = _repair(stamped, true_legs, kept, timed)
        repaired = _Repaired(
            again.plan,
            again.matrices,
            [*repaired.dropped, *again.dropped],
            [*repaired.reinserted, *again.reinserted],
        )
    return TimeDependentResult(
        plan=repaired.plan,
        promised=promised,
        stamped=stamped,
        error=error,
        rounds=tuple(reports),
        dropped=tuple(repaired.dropped),
        reinserted=tuple(repaired.reinserted),
        _route_matrices=repaired.matrices,
    )


def _legs_by_vehicle(
    problem: PlanningProblem, legs: LegModel | Mapping[str, LegModel]
) -> dict[str, LegModel]:
    """Vehicle id -> its leg model (``legs`` itself, or ``legs[its profile]``), checked."""
    out: dict[str, LegModel] = {}
    for v in problem.vehicles:
        if isinstance(legs, Mapping):
            if v.type.profile not in legs:
                have = ", ".join(sorted(legs))
                raise InputError(
                    f"no leg model for profile {v.type.profile!r} of vehicle {v.id!r} "
                    f"(have: {have})",
                    where="legs",
                )
            out[v.id] = legs[v.type.profile]
        else:
            out[v.id] = legs
    for model in {id(m): m for m in out.values()}.values():
        if model.size != len(problem.locations):
            raise InputError(
                f"leg model has {model.size} locations, problem has {len(problem.locations)}",
                where="legs",
            )
    return out


def _pick(reports: Sequence[RoundReport]) -> int:
    """The round to keep: fewest orders unassigned after repair; then, among rounds
    whose promises meet the accuracy target (95 % within 60 s), the cheapest after
    repair. The first round's stamps are guesses: it competes for accuracy only
    when it is the only round.

    When no round meets the target, accuracy no longer tells the rounds apart
    (every round's plan is re-timed on the true legs and repaired alike): the
    round kept is then the one with the fewest orders unassigned, then the
    cheapest after repair, the first round included.
    """
    pool = [r for r in reports if r.round > 0] or list(reports)
    fewest = min(r.unassigned for r in pool)
    pool = [r for r in pool if r.unassigned == fewest]
    accurate = [r for r in pool if r.error.within_60s >= _ACCURACY_TARGET]
    if accurate:
        return min(accurate, key=lambda r: (r.final_cost, -r.round)).round
    fewest = min(r.unassigned for r in reports)
    pool = [r for r in reports if r.unassigned == fewest]
    return min(pool, key=lambda r: (r.final_cost, -r.error.within_60s, -r.round)).round


def _warm_solve(
    stamped: PlanningProblem, previous: Plan, engine: str, budget: float, seed: int
) -> Plan:
    """Improve ``previous`` on the re-stamped matrices, starting from it.

    Only the orders ``previous`` serves are planned; the others stay unassigned
    with their reasons. Falls back to a cold :func:`solve` when no engine that
    takes a starting plan can model the problem, or its answer is not valid.
    """
    served = {v.order_id for r in previous.routes for v in r.visits if v.order_id}
    sub = dataclasses.replace(stamped, orders=tuple(o for o in stamped.orders if o.id in served))
    names = [engine] if engine != "auto" else list(REGISTRY)
    for name in names:
        candidate = get_engine(name)
        if candidate.supports(sub) is not None:
            continue
        plan = candidate.solve(sub, time_limit=budget, seed=seed, initial=previous)
        if plan.unassigned or not validate(sub, plan).ok:
            break
        return Plan(plan.routes, previous.unassigned, f"{name} (warm start)", plan.runtime_s)
    return solve(stamped, engine=engine, time_limit=budget, seed=seed, workers=1)


# -- stamps --------------------------------------------------------------------------------


def _typical_problem(
    stamped: PlanningProblem,
    legs_of: Mapping[str, LegModel],
    *,
    samples: int = _TYPICAL_SAMPLES,
    by_window: bool = True,
) -> PlanningProblem:
    """``stamped`` with every profile's matrix at the typical travel of its vehicles' day.

    Each leg takes its duration averaged over departures through the shifts of
    the vehicles driving that leg model: at most ``samples`` departures, evenly
    spread over the fleet's working span, each weighing as many vehicles as are
    on shift then. It is the expected duration of a leg left at a random moment
    of a working day, not the one departure a row would be stamped with.
    With ``by_window`` a stop's row is averaged over the departures from it its
    time windows allow (window plus service, within the shifts) only: the legs
    out of a stop served in the evening rush are rush-hour legs. Rows without a
    window (depots, open stops) keep the whole day's average. Distances are
    averaged likewise (a fastest path may change with the hour).
    """
    span_start, span_end = _working_span(stamped)
    step = max(_TYPICAL_MIN_STEP_S, (span_end - span_start) / max(1, samples))
    times = [int(t) for t in np.arange(span_start + step / 2, span_end, step)] or [span_start]
    n = len(stamped.locations)
    leaving: dict[int, list[tuple[int, int]]] = {}
    if by_window:
        for order in stamped.orders:
            for stop in order.stops:
                for window in stop.time_windows:
                    if window.is_bounded:
                        out = leaving.setdefault(stop.location, [])
                        out.append((window.start + stop.service, window.end + stop.service))
    means: dict[int, TravelMatrix] = {}
    matrices = dict(stamped.matrices)
    for v in stamped.vehicles:
        model = legs_of[v.id]
        if id(model) not in means:
            riders = [u for u in stamped.vehicles if legs_of[u.id] is model]
            on_shift = np.array(
                [sum(1 for u in riders if u.shift.start <= t < u.shift.end) for t in times],
                dtype=np.float64,
            )
            if not on_shift.any():
                on_shift[:] = 1.0
            weights = np.tile(on_shift, (n, 1))
            for loc, spans in leaving.items():
                inside = np.array([any(a <= t <= b for a, b in spans) for t in times])
                row = on_shift * inside
                if row.any():
                    weights[loc] = row
            dur = np.zeros((n, n))
            dist = np.zeros((n, n))
            for j, t in enumerate(times):
                col = weights[:, j]
                rows = [i for i in range(n) if col[i] > 0]
                if not rows:
                    continue
                d, s = model.matrix_rows(rows, [t] * len(rows))
                dur[rows] += col[rows, None] * d
                dist[rows] += col[rows, None] * s
            total = weights.sum(axis=1)[:, None]
            means[id(model)] = TravelMatrix(
                durations=np.rint(dur / total).astype(np.int64),
                distances=np.rint(dist / total).astype(np.int64),
            )
        matrices[v.type.profile] = means[id(model)]
    return dataclasses.replace(
        stamped, matrices=matrices, travel_note=f"typical travel of the day ({stamped.travel_note})"
    )


def _lateness(
    promised: Sequence[Route], retimed: Sequence[Route]
) -> dict[tuple[str, VisitKind], int]:
    """How much later than promised each stop's service starts once re-timed (> 0 only),
    by (order id, visit kind)."""
    late: dict[tuple[str, VisitKind], int] = {}
    for p, r in zip(promised, retimed, strict=True):
        for a, b in zip(p.visits, r.visits, strict=True):
            if a.is_task and a.order_id is not None and b.start > a.start:
                late[(a.order_id, a.kind)] = b.start - a.start
    return late


def _tightened(
    problem: PlanningProblem, lateness: Mapping[tuple[str, VisitKind], int]
) -> PlanningProblem:
    """``problem`` with each late stop's windows closing earlier by its lateness (never
    before they open): a time-of-day margin learnt from the first plan's re-timing."""

    def stop(s: Stop | None, late: int) -> Stop | None:
        if s is None or late <= 0:
            return s
        windows = tuple(
            TimeWindow(w.start, max(w.start, w.end - late)) if w.is_bounded else w
            for w in s.time_windows
        )
        return dataclasses.replace(s, time_windows=windows)

    orders = []
    for order in problem.orders:
        if order.kind is OrderKind.SHIPMENT:
            pickup = stop(order.pickup, lateness.get((order.id, VisitKind.PICKUP), 0))
            delivery = stop(order.delivery, lateness.get((order.id, VisitKind.DELIVERY), 0))
        else:
            late = lateness.get((order.id, VisitKind.JOB), 0)
            pickup, delivery = stop(order.pickup, late), stop(order.delivery, late)
        orders.append(dataclasses.replace(order, pickup=pickup, delivery=delivery))
    return dataclasses.replace(problem, orders=tuple(orders))


def _working_span(problem: PlanningProblem) -> tuple[int, int]:
    start = min(v.shift.start for v in problem.vehicles)
    ends = [v.shift.end for v in problem.vehicles if v.shift.end < HORIZON]
    end = max(ends) if ends else start + 10 * 3600
    return start, max(start, end)


def _initial_stamps(
    problem: PlanningProblem, *, shift_only: bool
) -> tuple[dict[int, int], dict[str, int]]:
    """First guess of when each location is left, and when each vehicle leaves its depot."""
    span_start, span_end = _working_span(problem)
    depot_stamps = {v.id: v.shift.start for v in problem.vehicles}
    stamps: dict[int, int] = {}
    if shift_only:
        return stamps, depot_stamps
    guesses: dict[int, list[int]] = {}
    for order in problem.orders:
        for stop in order.stops:
            window = next((w for w in stop.time_windows if w.end >= span_start), None)
            if window is None:
                mid = (span_start + span_end) // 2
            else:
                lo = max(window.start, span_start)
                hi = min(window.end, span_end) if window.end < HORIZON else span_end
                mid = (lo + max(lo, hi)) // 2
            guesses.setdefault(stop.location, []).append(mid + stop.service)
    for loc, values in guesses.items():
        stamps[loc] = round(sum(values) / len(values))
    return stamps, depot_stamps


def _stamped_problem(
    problem: PlanningProblem,
    legs_of: Mapping[str, LegModel],
    stamps: dict[int, int],
    depot_stamps: dict[str, int],
) -> PlanningProblem:
    """``problem`` with stamped matrices, one profile per vehicle depot departure."""
    n = len(problem.locations)
    fallback = min(depot_stamps.values())
    base_times = [stamps.get(i, fallback) for i in range(n)]
    base: dict[int, tuple[IntMatrix, IntMatrix]] = {}
    for model in legs_of.values():
        if id(model) not in base:
            base[id(model)] = model.matrix_rows(list(range(n)), base_times)
    matrices: dict[str, TravelMatrix] = {}
    types: dict[tuple[VehicleType, int], VehicleType] = {}
    vehicles: list[Vehicle] = []
    for v in problem.vehicles:
        depart = depot_stamps.get(v.id, v.shift.start)
        depart = depart - depart % _DEPOT_GRANULARITY_S
        key = (v.type, depart)
        if key not in types:
            name = f"{v.type.profile}@{format_clock(depart)}"
            if name not in matrices:
                legs = legs_of[v.id]
                dur, dist = base[id(legs)]
                d, s = dur.copy(), dist.copy()
                if v.start_depot is not None:
                    row = problem.depots[v.start_depot].location
                    rd, rs = legs.matrix_rows([row], [depart])
                    d[row], s[row] = rd[0], rs[0]
                    d[row, row] = s[row, row] = 0
                matrices[name] = TravelMatrix(durations=d, distances=s)
            types[key] = dataclasses.replace(v.type, profile=name)
        vehicles.append(dataclasses.replace(v, type=types[key]))
    # Vehicles starting at different depots share a profile name only if they share the
    # depot row; make names unique per start depot where they differ.
    return dataclasses.replace(
        problem,
        matrices=matrices,
        vehicles=tuple(vehicles),
        travel_note=f"time-dependent travel, departure-stamped ({problem.travel_note})".rstrip(
            " ()"
        ),
    )


def _restamp(
    timed: Sequence[_Timed],
    stamps: dict[int, int],
    depot_stamps: dict[str, int],
) -> tuple[dict[int, int], dict[str, int]]:
    """New stamps: the re-timed departure from every visited location."""
    seen: dict[int, list[int]] = {}
    new_depots = dict(depot_stamps)
    for t in timed:
        visits = t.route.visits
        if visits and visits[0].kind is VisitKind.START:
            new_depots[t.route.vehicle_id] = visits[0].departure
        for v in visits:
            if v.is_task or v.kind is VisitKind.RELOAD:
                seen.setdefault(v.location, []).append(v.departure)
    new = dict(stamps)
    for loc, values in seen.items():
        new[loc] = round(sum(values) / len(values))
    return new, new_depots


# -- re-timing ------------------------------------------------------------------------------


def _steps(route: Route) -> list[Step]:
    return [
        Step(v.kind, order_id=v.order_id, break_id=v.break_id, depot=v.depot)
        for v in route.visits
        if v.kind not in (VisitKind.START, VisitKind.END)
    ]


def _route_legs(route: Route) -> list[tuple[int, int, int]]:
    """(from, to, departure) of every leg the route drives."""
    out = []
    visits = route.visits
    for prev, cur in itertools.pairwise(visits):
        if cur.kind is VisitKind.BREAK or prev.location == cur.location:
            continue
        out.append((prev.location, cur.location, prev.departure))
    return out


def _departure(route: Route) -> int | None:
    first = route.visits[0] if route.visits else None
    return first.departure if first is not None and first.kind is VisitKind.START else None


def _retime(
    stamped: PlanningProblem,
    legs_of: Mapping[str, LegModel],
    route: Route,
    steps: Sequence[Step] | None = None,
    *,
    start_time: int | None = None,
) -> _Timed:
    """Schedule the route's steps with exact leg durations (fixed point of build_route),
    leaving at ``start_time`` when given."""
    vehicle = stamped.vehicle(route.vehicle_id)
    legs = legs_of[vehicle.id]
    steps = _steps(route) if steps is None else steps
    base = stamped.matrix_for(vehicle)
    dur = np.array(base.durations)
    dist = np.array(base.distances)
    current = build_route(stamped, vehicle, steps, start_time=start_time)
    residual = 0
    for iteration in range(_MAX_RETIME_ITERATIONS):
        wanted = _route_legs(current)
        if not wanted:
            break
        rows = [a for a, _, _ in wanted]
        departs = [t for _, _, t in wanted]
        d_rows, s_rows = legs.matrix_rows(rows, departs)
        changed = False
        residual = 0
        seen: set[tuple[int, int]] = set()
        for k, (a, b, _) in enumerate(wanted):
            true_d, true_s = int(d_rows[k, b]), int(s_rows[k, b])
            residual = max(residual, abs(int(dur[a, b]) - true_d))
            if (a, b) in seen:
                # Driven twice at different times: one matrix entry cannot hold both.
                continue
            seen.add((a, b))
            if (
                k == 0
                and iteration >= 2
                and start_time is None
                and current.visits[0].kind is VisitKind.START
            ):
                # The start is delayed by the first leg's own duration (no wait at the
                # first stop): d = TD(window start - d) can cycle; halve the step.
                true_d = (int(dur[a, b]) + true_d + 1) // 2
            if dur[a, b] != true_d or dist[a, b] != true_s:
                dur[a, b], dist[a, b] = true_d, true_s
                changed = True
        if not changed:
            break
        current = build_route(
            _with_matrix(stamped, vehicle, dur, dist), vehicle, steps, start_time=start_time
        )
    return _Timed(current, dur, dist, residual)


def _with_matrix(
    stamped: PlanningProblem, vehicle: Vehicle, dur: IntMatrix, dist: IntMatrix
) -> PlanningProblem:
    matrices = dict(stamped.matrices)
    matrices[vehicle.type.profile] = TravelMatrix(durations=dur.copy(), distances=dist.copy())
    return dataclasses.replace(stamped, matrices=matrices)


def _arrival_diffs(promised: Sequence[Route], retimed: Sequence[Route]) -> list[float]:
    diffs: list[float] = []
    for p, r in zip(promised, retimed, strict=True):
        for a, b in zip(p.visits, r.visits, strict=True):
            if a.is_task:
                diffs.append(float(a.arrival - b.arrival))
    return diffs


def _route_violations(stamped: PlanningProblem, timed: _Timed) -> list[Violation]:
    problem = _with_matrix(
        stamped, stamped.vehicle(timed.route.vehicle_id), timed.durations, timed.distances
    )
    report = validate(problem, Plan((timed.route,)))
    return [
        v
        for v in report.violations
        if v.vehicle_id == timed.route.vehicle_id and v.code in _TIMING_CODES | {"capacity"}
    ]


def _breaks(stamped: PlanningProblem, timed: _Timed) -> bool:
    return bool(_route_violations(stamped, timed))


# -- repair -------------------------------------------------------------------------------


def _first_culprit(route: Route, violations: Sequence[Violation]) -> str | None:
    named = {v.order_id for v in violations if v.order_id}
    for visit in route.visits:
        if visit.order_id in named:
            return visit.order_id
    tasks = [v.order_id for v in route.visits if v.is_task and v.order_id]
    return tasks[-1] if tasks else None


def _describe(order: Order) -> str:
    windows = ", ".join(
        f"{format_clock(w.start)}-{format_clock(w.end)}"
        for stop in order.stops
        for w in stop.time_windows
        if w.is_bounded
    )
    where = f" (window {windows})" if windows else ""
    return (
        f"no route reaches it in time once travel follows the traffic and weather of the day{where}"
    )


def _repair(
    stamped: PlanningProblem,
    legs_of: Mapping[str, LegModel],
    promised: Plan,
    timed: list[_Timed],
    *,
    lost: Sequence[str] = (),
) -> _Repaired:
    """Each re-timed route loses its first offending order until it holds; the orders
    lost so (and ``lost``: orders ``promised`` should have served) are re-inserted,
    else reported unassigned."""
    routes: dict[str, _Timed] = {}
    steps_of: dict[str, list[Step]] = {}
    dropped: list[str] = list(lost)
    for t in timed:
        vid = t.route.vehicle_id
        steps = _steps(t.route)
        current = t
        for _ in range(len(steps) + 1):
            bad = _route_violations(stamped, current)
            if not bad:
                break
            culprit = _first_culprit(current.route, bad)
            if culprit is None:
                break
            dropped.append(culprit)
            steps = [s for s in steps if s.order_id != culprit]
            current = _retime(stamped, legs_of, current.route, steps)
        if any(v.is_task for v in current.route.visits):
            routes[vid] = current
            steps_of[vid] = steps

    reinserted: list[str] = []
    for oid in list(dropped):
        order = stamped.order(oid)
        idle = {v.id for v in stamped.vehicles if v.id not in routes}
        placed = (
            _place(stamped, legs_of, order, routes, steps_of)
            or _insert_ejecting(stamped, legs_of, order, routes, steps_of)
            or (bool(idle) and _place(stamped, legs_of, order, routes, steps_of, only=idle))
        )
        if placed:
            reinserted.append(oid)
    still = [oid for oid in dropped if oid not in reinserted]

    served = {v.order_id for t in routes.values() for v in t.route.visits if v.order_id}
    unassigned = [u for u in promised.unassigned if u.order_id not in served]
    for oid in still:
        order = stamped.order(oid)
        unassigned.append(Unassigned(oid, _describe(order), "traffic"))
    ordered = tuple(routes[v.id].route for v in stamped.vehicles if v.id in routes)
    plan = Plan(ordered, tuple(unassigned), promised.engine, promised.runtime_s)
    matrices = {vid: (t.durations, t.distances) for vid, t in routes.items()}
    return _Repaired(plan, matrices, dropped, reinserted)


def _insert(
    stamped: PlanningProblem,
    legs_of: Mapping[str, LegModel],
    order: Order,
    routes: dict[str, _Timed],
    steps_of: dict[str, list[Step]],
    *,
    only: Set[str] | None = None,
) -> bool:
    """Put a single-stop order where its re-timed route stays valid, cheapest first.

    Positions are ranked by the detour on the stamped matrix (an unused vehicle
    only after every used one); the best few are re-timed exactly and checked.
    ``only``: the vehicles allowed (all by default).
    """
    loc = order.single_stop.location
    candidates: list[tuple[bool, float, str, int]] = []
    for vehicle in stamped.vehicles:
        if not order.skills <= vehicle.skills or (only is not None and vehicle.id not in only):
            continue
        timed = routes.get(vehicle.id)
        locs = _step_locations(stamped, vehicle, timed.route if timed else None)
        dur = stamped.matrix_for(vehicle).durations
        for pos in range(len(locs) - 1):
            a, b = locs[pos], locs[pos + 1]
            extra = float(
                (dur[a, loc] if a >= 0 else 0)
                + (dur[loc, b] if b >= 0 else 0)
                - (dur[a, b] if a >= 0 and b >= 0 else 0)
            )
            candidates.append((timed is None, extra, vehicle.id, pos))
    candidates.sort()
    for _, _, vid, pos in candidates[:_INSERTION_CANDIDATES]:
        steps = steps_of.get(vid) or _idle_steps(stamped.vehicle(vid))
        new_steps = [*steps[:pos], Step(VisitKind.JOB, order_id=order.id), *steps[pos:]]
        timed = _retime(stamped, legs_of, Route(vid, ()), new_steps)
        if not _route_violations(stamped, timed):
            routes[vid] = timed
            steps_of[vid] = new_steps
            return True
    return False


def _fewer_routes(
    stamped: PlanningProblem,
    legs_of: Mapping[str, LegModel],
    repaired: _Repaired,
    deadline: float,
) -> _Repaired:
    """Empty routes into the others while that makes the plan cheaper.

    Routes are tried from the fewest stops up: each of a route's orders goes
    where :func:`_insert` (used routes only) or :func:`_insert_ejecting` puts it,
    every route touched re-timed exactly and valid; the route is given up when
    all its orders found a place and the plan costs less (a vehicle's fixed
    cost against the longer days of the others).
    Stops at ``deadline`` (a ``time.perf_counter`` value), keeping what it has.
    """
    routes = {
        r.vehicle_id: _Timed(r, *repaired.matrices[r.vehicle_id], 0) for r in repaired.plan.routes
    }
    steps_of = {vid: _steps(t.route) for vid, t in routes.items()}
    removed = False
    tried: set[str] = set()
    while time.perf_counter() < deadline:
        pending = [v for v in routes if v not in tried]
        if len(routes) < 2 or not pending:
            break
        vid = min(pending, key=lambda v: (len(routes[v].route.tasks), v))
        tried.add(vid)
        steps = steps_of[vid]
        trial = {k: t for k, t in routes.items() if k != vid}
        trial_steps = {k: list(v) for k, v in steps_of.items() if k != vid}
        others = set(trial)
        placed = True
        moving = dict.fromkeys(s.order_id for s in steps if s.order_id is not None)
        for oid in moving:
            assert oid is not None
            order = stamped.order(oid)
            if time.perf_counter() >= deadline or not (
                _place(stamped, legs_of, order, trial, trial_steps, only=others)
                or _insert_ejecting(stamped, legs_of, order, trial, trial_steps)
            ):
                placed = False
                break
        before = sum(t.route.cost for t in routes.values())
        if placed and sum(t.route.cost for t in trial.values()) < before:
            routes, steps_of, removed = trial, trial_steps, True
            tried.clear()
    if not removed:
        return repaired
    old = repaired.plan
    ordered = tuple(routes[v.id].route for v in stamped.vehicles if v.id in routes)
    plan = Plan(ordered, old.unassigned, old.engine, old.runtime_s)
    matrices = {vid: (t.durations, t.distances) for vid, t in routes.items()}
    return _Repaired(plan, matrices, repaired.dropped, repaired.reinserted)


def _fewer_vehicles(
    search: PlanningProblem,
    stamped: PlanningProblem,
    legs_of: Mapping[str, LegModel],
    repaired: _Repaired,
    *,
    engine: str,
    seed: int,
    deadline: float,
) -> _Repaired:
    """Search again with one vehicle fewer, while there is time; kept when cheaper.

    A route's vehicle is taken out of ``search`` (the problem the kept round searched
    on), and so are the idle ones; the engine starts from the plan without that
    route (its orders to be put back by the search) and must serve every order the
    plan serves. Its plan is re-timed on ``legs_of`` and repaired as a round's is (an
    order the engine left out re-inserted by the repair), and kept when it leaves no
    more orders unassigned and costs less. Every route is tried once, the lightest
    (fewest stops) first; then again, up to ``_FEWER_SEARCH_ATTEMPTS`` times each, on
    windows closing earlier by as much as the true legs made the last search late
    there (:func:`_tightened`, as for the second round), starting from its plan.
    After a plan is kept, its own routes are tried likewise. The searches end by
    ``deadline`` (a ``time.perf_counter`` value), each given half the time left, and
    none starts with less than ``_FEWER_SEARCH_MIN_S`` left. The engine's search can
    move every stop, where :func:`_fewer_routes` only re-inserts the emptied route's
    orders.
    """
    current = repaired

    def queue() -> list[tuple[str, PlanningProblem, Plan, int]]:
        routes = current.plan.routes
        if len(routes) < 2:
            return []
        served = {v.order_id for r in routes for v in r.visits if v.order_id}
        out = []
        for route in sorted(routes, key=lambda r: (len(r.tasks), r.vehicle_id)):
            kept = tuple(r for r in routes if r is not route)
            using = {r.vehicle_id for r in kept}
            sub = dataclasses.replace(
                search,
                orders=tuple(o for o in search.orders if o.id in served),
                vehicles=tuple(v for v in search.vehicles if v.id in using),
            )
            out.append((route.vehicle_id, sub, Plan(kept, (), current.plan.engine), 1))
        return out

    pending = queue()
    while pending:
        left = deadline - time.perf_counter()
        if left < _FEWER_SEARCH_MIN_S:
            break
        vid, sub, start, attempt = pending.pop(0)
        plan = _search_from(sub, start, engine, max(_FEWER_SEARCH_MIN_S, left / 2), seed)
        if plan is None:
            continue
        served = {o.id for o in sub.orders}
        found = {v.order_id for r in plan.routes for v in r.visits if v.order_id}
        promised = Plan(plan.routes, current.plan.unassigned, plan.engine, plan.runtime_s)
        timed = [_retime(stamped, legs_of, r) for r in plan.routes]
        trial = _repair(stamped, legs_of, promised, timed, lost=sorted(served - found))
        if (
            len(trial.plan.unassigned) <= len(current.plan.unassigned)
            and trial.plan.cost < current.plan.cost
        ):
            current = _Repaired(
                trial.plan,
                trial.matrices,
                [*current.dropped, *trial.dropped],
                [*current.reinserted, *trial.reinserted],
            )
            pending = queue()
            continue
        late = _lateness(plan.routes, [t.route for t in timed])
        if trial.dropped and late and attempt < _FEWER_SEARCH_ATTEMPTS:
            # Late on the true legs: search again with the windows closing earlier there.
            tight = _tightened(sub, late)
            pending.append((vid, tight, Plan(plan.routes, (), plan.engine), attempt + 1))
    return current


def _search_from(
    sub: PlanningProblem, start: Plan, engine: str, budget: float, seed: int
) -> Plan | None:
    """The first engine able to model ``sub`` (``engine``, or each in turn for
    ``"auto"``) searching from ``start`` for ``budget`` seconds; None when none can,
    or its plan breaks a rule of ``sub``."""
    names = [engine] if engine != "auto" else list(REGISTRY)
    for name in names:
        candidate = get_engine(name)
        if candidate.supports(sub) is not None:
            continue
        plan = candidate.solve(sub, time_limit=budget, seed=seed, initial=start)
        return plan if validate(sub, plan).ok else None
    return None


def _place(
    stamped: PlanningProblem,
    legs_of: Mapping[str, LegModel],
    order: Order,
    routes: dict[str, _Timed],
    steps_of: dict[str, list[Step]],
    *,
    only: Set[str] | None = None,
) -> bool:
    """:func:`_insert` a single-stop order, :func:`_insert_shipment` a shipment."""
    if order.kind is OrderKind.SHIPMENT:
        return _insert_shipment(stamped, legs_of, order, routes, steps_of, only=only)
    return _insert(stamped, legs_of, order, routes, steps_of, only=only)


def _insert_shipment(
    stamped: PlanningProblem,
    legs_of: Mapping[str, LegModel],
    order: Order,
    routes: dict[str, _Timed],
    steps_of: dict[str, list[Step]],
    *,
    only: Set[str] | None = None,
) -> bool:
    """Put a shipment's pickup and delivery (after it) where the re-timed route stays
    valid, cheapest first, as :func:`_insert` does for one stop."""
    assert order.pickup is not None and order.delivery is not None
    p, d = order.pickup.location, order.delivery.location
    candidates: list[tuple[bool, float, str, int, int]] = []
    for vehicle in stamped.vehicles:
        if not order.skills <= vehicle.skills or (only is not None and vehicle.id not in only):
            continue
        timed = routes.get(vehicle.id)
        locs = _step_locations(stamped, vehicle, timed.route if timed else None)
        dur = stamped.matrix_for(vehicle).durations

        def detour(a: int, b: int, x: int, y: int, dur: IntMatrix = dur) -> float:
            # a -> x -> y -> b in place of a -> b (-1: an open end).
            return float(
                (dur[a, x] if a >= 0 else 0)
                + dur[x, y]
                + (dur[y, b] if b >= 0 else 0)
                - (dur[a, b] if a >= 0 and b >= 0 else 0)
            )

        gaps = range(len(locs) - 1)
        for i in gaps:
            for j in range(i, len(locs) - 1):
                if i == j:
                    extra = detour(locs[i], locs[i + 1], p, d)
                else:
                    extra = detour(locs[i], locs[i + 1], p, p) + detour(locs[j], locs[j + 1], d, d)
                candidates.append((timed is None, extra, vehicle.id, i, j))
    candidates.sort()
    for _, _, vid, i, j in candidates[:_INSERTION_CANDIDATES]:
        steps = steps_of.get(vid) or _idle_steps(stamped.vehicle(vid))
        new_steps = [
            *steps[:i],
            Step(VisitKind.PICKUP, order_id=order.id),
            *steps[i:j],
            Step(VisitKind.DELIVERY, order_id=order.id),
            *steps[j:],
        ]
        timed = _retime(stamped, legs_of, Route(vid, ()), new_steps)
        if not _route_violations(stamped, timed):
            routes[vid] = timed
            steps_of[vid] = new_steps
            return True
    return False


def _movable(stamped: PlanningProblem, step: Step) -> bool:
    """Whether ``step`` is a single-stop order's visit (one :func:`_insert` can move)."""
    if step.kind is not VisitKind.JOB or step.order_id is None:
        return False
    return stamped.order(step.order_id).kind is not OrderKind.SHIPMENT


def _insert_ejecting(
    stamped: PlanningProblem,
    legs_of: Mapping[str, LegModel],
    order: Order,
    routes: dict[str, _Timed],
    steps_of: dict[str, list[Step]],
) -> bool:
    """Put a single-stop order into a used route in place of one of its stops, which
    moves to another used route: where no route has room for it as it is.

    The best few positions by detour on the stamped matrix (``_EJECTION_POSITIONS``),
    each with the stops next to it (``_EJECTION_SPAN`` either side) as the one to
    move out; the first exchange whose two re-timed routes stay valid is kept. Not for shipments.
    """
    if order.kind is OrderKind.SHIPMENT:
        return False
    loc = order.single_stop.location
    candidates: list[tuple[float, str, int]] = []
    for vid, timed in routes.items():
        vehicle = stamped.vehicle(vid)
        if not order.skills <= vehicle.skills:
            continue
        locs = _step_locations(stamped, vehicle, timed.route)
        dur = stamped.matrix_for(vehicle).durations
        for pos in range(len(locs) - 1):
            a, b = locs[pos], locs[pos + 1]
            extra = float(
                (dur[a, loc] if a >= 0 else 0)
                + (dur[loc, b] if b >= 0 else 0)
                - (dur[a, b] if a >= 0 and b >= 0 else 0)
            )
            candidates.append((extra, vid, pos))
    candidates.sort()
    for _, vid, pos in candidates[:_EJECTION_POSITIONS]:
        steps = steps_of[vid]
        with_order = [*steps[:pos], Step(VisitKind.JOB, order_id=order.id), *steps[pos:]]
        lo, hi = max(0, pos - _EJECTION_SPAN), min(len(steps), pos + _EJECTION_SPAN)
        for j in range(lo, hi):
            if not _movable(stamped, steps[j]):
                continue
            out = steps[j].order_id
            new_steps = [s for s in with_order if s.order_id != out]
            timed = _retime(stamped, legs_of, Route(vid, ()), new_steps)
            if _route_violations(stamped, timed):
                continue
            trial = {**routes, vid: timed}
            trial_steps = {**steps_of, vid: new_steps}
            assert out is not None
            others = set(routes) - {vid}
            if _insert(stamped, legs_of, stamped.order(out), trial, trial_steps, only=others):
                routes.update(trial)
                steps_of.update(trial_steps)
                return True
    return False


def _step_locations(stamped: PlanningProblem, vehicle: Vehicle, route: Route | None) -> list[int]:
    """Start, the location of every step, end (-1 for an open end): the insertion gaps."""
    start = stamped.depots[vehicle.start_depot].location if vehicle.start_depot is not None else -1
    end = stamped.depots[vehicle.end_depot].location if vehicle.end_depot is not None else -1
    if route is None:
        # An idle vehicle's steps are its breaks (:func:`_idle_steps`), taken on the way.
        return [start, *[start] * len(vehicle.breaks), end]
    middle = [v.location for v in route.visits if v.kind not in (VisitKind.START, VisitKind.END)]
    return [start, *middle, end]


def _idle_steps(vehicle: Vehicle) -> list[Step]:
    """The steps of a vehicle with no stop yet: its breaks, which every route takes."""
    return [Step(VisitKind.BREAK, break_id=b.id) for b in vehicle.breaks]


__all__ = [
    "ArrivalError",
    "LegModel",
    "RoundReport",
    "TimeDependentResult",
    "solve_time_dependent",
]
