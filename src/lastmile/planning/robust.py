"""Robust plans: slack sized so that a stop's window is missed rarely under travel noise.

A plan made on predicted travel times is late at a stop as soon as the legs
before it take longer than predicted by more than the stop's slack. With
:class:`Robustness` (``on_time`` and a :class:`~lastmile.travel.noise.TravelNoise`),
the planner searches on *buffered* travel times: every leg is lengthened by a
buffer sized from the noise model, by its length and by the time of day it is
driven, so that the buffered arrival at a stop is at least the ``on_time``
quantile of its noisy arrival. The plan that comes back is then re-timed on
the original travel times with the departures the buffered plan chose: the
buffers become waiting (slack), not travel, and the plan is checked by the
validator against the original problem (docs/robust.md).

How big the buffers are. A leg predicted at ``d`` seconds really takes
``d * X`` with ``X`` from the noise model; its mean is ``d * E[X]`` and its
variance ``v = d^2 Var[X]``. The noise model narrows the spread of longer legs
as a sum of independent pieces would (``sigma * sqrt(reference_s / d)``), so
``v`` grows linearly with ``d``: the variances of the legs before a stop add up
like one leg as long as all of them together. The arrival after legs ``1..k``
is a sum of independent log-normal factors; its ``q`` quantile is about
``M_k + z * sqrt(V_k)`` (``M_k``, ``V_k`` the sums of the legs' means and
variances) with ``z`` set where that is exact by Fenton-Wilkinson (a single
log-normal drive of ``horizon_s`` seconds, whose variance ``V0`` is what the
legs of ``horizon_s`` seconds of driving add up to). Buffers must be per leg
(the planner does not know the route yet), and ``sqrt`` is concave, so its
tangent at ``V0`` bounds it from above for every ``V``::

    sqrt(V) <= sqrt(V0) / 2 + V / (2 sqrt(V0))

Each leg therefore gets ``d * (E[X] - 1) + z * v / (2 sqrt(V0))`` and every
departure from a depot ``z * sqrt(V0) / 2`` more: the buffers of the legs up to
any stop add up to at least ``M_k - D_k + z sqrt(V_k)`` (``D_k`` the predicted
drive), exactly so at ``horizon_s`` of driving and more generously before and
after it. Waiting in the plan resets the sum in reality, so the rule is
conservative where the plan waits. :func:`simulate_on_time` checks any plan by
drawing leg factors from the noise model.

Time of day. On a time-dependent problem every leg is buffered at the time it
is driven (:class:`BufferedLegs` wraps the leg model). On a static problem, whose
legs have no time yet, a matrix row is buffered at the busiest hour of those in
which a vehicle may leave it (:func:`row_clocks`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from lastmile.domain import Plan, Route, TimeWindow, Visit, VisitKind
from lastmile.domain.time import HORIZON, earliest_start
from lastmile.exceptions import InputError
from lastmile.planning.problem import PlanningProblem, charged_duration, route_cost
from lastmile.planning.schedule import Step, build_route
from lastmile.travel.matrix import IntMatrix, TravelMatrix
from lastmile.travel.noise import TravelNoise

FloatArray = npt.NDArray[np.float64]

#: Default driving time (s) at which the buffer rule is exact (see the module docstring).
DEFAULT_HORIZON_S = 3600.0
#: The on-time targets accepted: below one half a buffer would be negative.
MIN_ON_TIME, MAX_ON_TIME = 0.5, 0.999
#: Spreads at which the gamma factor's moments are tabulated.
_GAMMA_GRID = 241


@dataclass(frozen=True)
class Robustness:
    """Plan so that each stop is reached within its window with probability at
    least ``on_time`` when legs vary as ``noise`` says.

    ``horizon_s`` is the driving time (seconds) at which the buffer rule is
    exact; shorter and longer drives get more slack than they need.
    """

    on_time: float = 0.9
    noise: TravelNoise = field(default_factory=TravelNoise)
    horizon_s: float = DEFAULT_HORIZON_S

    def __post_init__(self) -> None:
        if not (
            isinstance(self.on_time, int | float)
            and math.isfinite(self.on_time)
            and MIN_ON_TIME <= self.on_time <= MAX_ON_TIME
        ):
            raise InputError(
                f"{self.on_time} is not an on-time target between {MIN_ON_TIME} and {MAX_ON_TIME}",
                where="robust.on_time",
            )
        if not (math.isfinite(self.horizon_s) and 60 <= self.horizon_s <= 86_400):
            raise InputError(
                f"{self.horizon_s} is not between 60 and 86400 seconds", where="robust.horizon_s"
            )

    @classmethod
    def parse(cls, on_time: float, noise: str = "lognormal") -> Robustness:
        """From the options users type: ``0.9`` and ``lognormal:sigma=0.25``."""
        try:
            parsed = TravelNoise.parse(noise)
        except InputError as exc:
            where = exc.where if exc.where.startswith("noise") else "noise"
            raise InputError(bare_message(exc), where=f"robust.{where}") from exc
        return cls(on_time=float(on_time), noise=parsed)

    @property
    def active(self) -> bool:
        """Whether any buffer is added (no noise: the plain plan)."""
        return not self.noise.is_none

    def to_dict(self) -> dict[str, object]:
        return {"on_time": self.on_time, "noise": noise_text(self.noise)}

    def describe(self) -> str:
        return f"robust: {100 * self.on_time:g}% on time per stop under {self.noise.describe()}"


def bare_message(exc: InputError) -> str:
    """The message of ``exc`` without the ``where: `` it starts with."""
    text = str(exc)
    prefix = f"{exc.where}: "
    return text[len(prefix) :] if exc.where and text.startswith(prefix) else text


def noise_text(noise: TravelNoise) -> str:
    """``noise`` as :meth:`TravelNoise.parse` reads it (busy periods are the defaults)."""
    if noise.is_none:
        return "none"
    return (
        f"{noise.distribution}:sigma={noise.sigma:g},reference_s={noise.reference_s:g},"
        f"max_sigma={noise.max_sigma:g},median={noise.median:g}"
    )


# -- the buffer rule --------------------------------------------------------------------------


def leg_sigmas(noise: TravelNoise, legs_s: FloatArray, clock_s: FloatArray) -> FloatArray:
    """:meth:`TravelNoise.sigma_of` for arrays of legs (seconds) and start times."""
    legs = np.asarray(legs_s, dtype=np.float64)
    if noise.is_none:
        return np.zeros_like(legs)
    spread = noise.sigma * np.sqrt(noise.reference_s / np.maximum(legs, 1.0))
    clock = np.broadcast_to(np.asarray(clock_s, dtype=np.float64) % 86_400, legs.shape)
    factor = np.ones_like(legs)
    todo = np.ones(legs.shape, dtype=bool)
    for start, end, busy in noise.busy:
        hit = todo & (clock >= start) & (clock < end)
        factor[hit] = busy
        todo &= ~hit
    out = np.minimum(spread * factor, noise.max_sigma)
    out[legs <= 0] = 0.0
    return out


def factor_moments(noise: TravelNoise, sigmas: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Mean and variance of the factor ``X`` of legs whose log-spread is ``sigmas``."""
    s = np.asarray(sigmas, dtype=np.float64)
    m = noise.median
    if noise.distribution == "gamma":
        # Tabulated over the spreads the model allows (a matrix holds millions of legs).
        grid = np.linspace(0.0, max(noise.max_sigma, float(s.max(initial=0.0))), _GAMMA_GRID)
        means, variances = [m], [0.0]
        for value in grid[1:]:
            shape, scale = noise._gamma(float(value))
            means.append(shape * scale)
            variances.append(shape * scale * scale)
        return np.interp(s, grid, means), np.interp(s, grid, variances)
    s2 = s * s
    return m * np.exp(s2 / 2), m * m * np.exp(s2) * np.expm1(s2)


@dataclass(frozen=True)
class BufferRule:
    """Per-leg buffers and the buffer at each depot departure, in seconds."""

    robust: Robustness
    z: float
    sqrt_v0: float

    @classmethod
    def of(cls, robust: Robustness) -> BufferRule:
        noise, t0 = robust.noise, robust.horizon_s
        if not robust.active:
            return cls(robust, 0.0, 1.0)
        calm = replace(noise, busy=())  # the reference drive outside the busy hours
        s0 = calm.sigma_of(t0)
        mean, var = factor_moments(calm, np.array([s0]))
        sqrt_v0 = t0 * math.sqrt(float(var[0]))
        if sqrt_v0 <= 0:
            return cls(robust, 0.0, 1.0)
        # Fenton-Wilkinson for a sum worth t0 of driving is the quantile of one such leg.
        quantile = t0 * calm.quantile(t0, 0.0, robust.on_time)
        z = max(0.0, (quantile - t0 * float(mean[0])) / sqrt_v0)
        return cls(robust, z, sqrt_v0)

    @property
    def depot_s(self) -> float:
        """Buffer added to every departure from a depot."""
        return self.z * self.sqrt_v0 / 2

    def legs(self, legs_s: FloatArray, clock_s: FloatArray) -> FloatArray:
        """Buffers (s, >= 0) of legs of ``legs_s`` seconds started at ``clock_s``."""
        legs = np.asarray(legs_s, dtype=np.float64)
        if not self.robust.active:
            return np.zeros_like(legs)
        sig = leg_sigmas(self.robust.noise, legs, clock_s)
        mean, var = factor_moments(self.robust.noise, sig)
        buffer = legs * (mean - 1) + self.z * legs * legs * var / (2 * self.sqrt_v0)
        return np.maximum(buffer, 0.0)


# -- static problems -----------------------------------------------------------------------------


def row_clocks(problem: PlanningProblem, noise: TravelNoise) -> FloatArray:
    """When each matrix row is taken to be left, in the matrix's time units: within
    the hours a vehicle may leave it (a stop's windows plus its service, clipped to
    the fleet's working span; a depot at its vehicles' departures), the one in the
    noise's busiest period, so a leg is buffered for the widest spread it may meet."""
    scale = problem.time_scale
    starts = [v.shift.start for v in problem.vehicles]
    ends = [v.shift.end for v in problem.vehicles if v.shift.end < HORIZON]
    span_start = min(starts)
    span_end = max(ends) if ends else span_start + 10 * 3600 * scale
    span_end = max(span_end, span_start)
    spans: dict[int, list[tuple[float, float]]] = {}
    for order in problem.orders:
        for stop in order.stops:
            windows = [w for w in stop.time_windows if w.end >= span_start] or [
                TimeWindow(span_start, span_end)
            ]
            for w in windows:
                lo = max(w.start, span_start)
                hi = max(lo, min(w.end, span_end))
                spans.setdefault(stop.location, []).append((lo + stop.service, hi + stop.service))
    for v in problem.vehicles:
        if v.start_depot is not None:
            t = float(problem.earliest_departure(v))
            spans.setdefault(problem.depots[v.start_depot].location, []).append((t, t))
    middle = (span_start + span_end) / 2
    clocks = np.full(len(problem.locations), middle, dtype=np.float64)
    for row, intervals in spans.items():
        clocks[row] = _busiest(noise, intervals, scale)
    return clocks


def _busiest(noise: TravelNoise, intervals: Sequence[tuple[float, float]], scale: int) -> float:
    """The time within ``intervals`` (matrix units) whose busy factor is the largest:
    the middle of the first interval when none is busy."""
    lo, hi = intervals[0]
    best, best_factor = (lo + hi) / 2, 1.0
    for start, end, factor in noise.busy:
        if factor <= best_factor:
            continue
        for lo, hi in intervals:
            clock = max(lo / scale, float(start))
            if clock <= hi / scale and clock < end:
                best, best_factor = clock * scale, factor
                break
    return best


def depot_rows(problem: PlanningProblem) -> list[int]:
    return sorted({d.location for d in problem.depots})


def buffered_matrix(
    durations: IntMatrix,
    rule: BufferRule,
    clocks: FloatArray,
    depots: Sequence[int],
    *,
    time_scale: int = 1,
) -> IntMatrix:
    """``durations`` (one row per clock) lengthened by the rule's buffers, rounded up."""
    scale = float(time_scale)
    legs_s = durations.astype(np.float64) / scale
    clock_s = np.asarray(clocks, dtype=np.float64)[:, None] / scale
    extra = rule.legs(legs_s, clock_s)
    if depots:
        rows = np.asarray(depots)
        extra[rows] += rule.depot_s * (durations[rows] > 0)
    return np.asarray(durations + np.ceil(extra * scale).astype(np.int64), dtype=np.int64)


def buffered_problem(
    problem: PlanningProblem, robust: Robustness, *, restarts: Iterable[int] = ()
) -> PlanningProblem:
    """``problem`` with every travel duration lengthened by its buffer; departures
    from depots and from the rows in ``restarts`` (:func:`waiting_rows`) carry the
    depot's buffer too."""
    rule = BufferRule.of(robust)
    if not robust.active:
        return problem
    clocks = row_clocks(problem, robust.noise)
    depots = sorted(set(depot_rows(problem)) | set(restarts))
    matrices = {
        name: TravelMatrix(
            durations=buffered_matrix(
                m.durations, rule, clocks, depots, time_scale=problem.time_scale
            ),
            distances=m.distances,
        )
        for name, m in problem.matrices.items()
    }
    return replace(
        problem,
        matrices=matrices,
        travel_note=f"{problem.travel_note}; {robust.describe()}".lstrip("; "),
    )


def retime_at_departures(problem: PlanningProblem, routes: Sequence[Route]) -> tuple[Route, ...]:
    """``routes`` scheduled on ``problem``'s travel times, each leaving its depot when
    it did (a buffered plan's departures: the buffers become waiting)."""
    out: list[Route] = []
    for route in routes:
        vehicle = problem.vehicle(route.vehicle_id)
        steps = route_steps(route)
        start = route.visits[0].departure if route.visits[0].kind is VisitKind.START else None
        out.append(build_route(problem, vehicle, steps, start_time=start))
    return tuple(out)


def route_steps(route: Route) -> list[Step]:
    return [
        Step(v.kind, order_id=v.order_id, break_id=v.break_id, depot=v.depot)
        for v in route.visits
        if v.kind not in (VisitKind.START, VisitKind.END)
    ]


# -- time-dependent problems ---------------------------------------------------------------------


class _Legs(Protocol):
    @property
    def size(self) -> int: ...

    def matrix_rows(
        self, rows: Sequence[int], departures: Sequence[int]
    ) -> tuple[IntMatrix, IntMatrix]: ...


class BufferedLegs:
    """A time-dependent leg model whose durations carry the buffers of ``rule``,
    sized at each leg's departure; rows in ``depots`` carry the depot buffer too,
    and so do the rows :meth:`restart_at` names (where a plan waits)."""

    def __init__(self, legs: _Legs, rule: BufferRule, depots: Sequence[int]) -> None:
        self.inner = legs
        self.rule = rule
        self.depots = frozenset(depots)

    def restart_at(self, rows: Iterable[int]) -> None:
        """Give departures from ``rows`` the depot's buffer too, from now on."""
        self.depots = self.depots | frozenset(rows)

    @property
    def size(self) -> int:
        return self.inner.size

    def matrix_rows(
        self, rows: Sequence[int], departures: Sequence[int]
    ) -> tuple[IntMatrix, IntMatrix]:
        dur, dist = self.inner.matrix_rows(rows, departures)
        clocks = np.asarray(departures, dtype=np.float64)[:, None]
        extra = self.rule.legs(dur.astype(np.float64), clocks)
        for k, row in enumerate(rows):
            if row in self.depots:
                extra[k] += self.rule.depot_s * (dur[k] > 0)
        return np.asarray(dur + np.ceil(extra).astype(np.int64), dtype=np.int64), dist


def waiting_rows(problem: PlanningProblem, routes: Sequence[Route]) -> set[int]:
    """Rows of the stops where ``routes`` start service at a window's opening (they
    wait there, or arrive just then). A vehicle driving a buffered plan is early
    there and waits: the noise of the legs before is absorbed, and the sum of the
    legs after starts afresh, as from a depot."""
    rows: set[int] = set()
    for route in routes:
        for visit in route.visits:
            if not visit.is_task:
                continue
            opening = any(w.start == visit.start for w in _windows_of(problem, visit))
            if visit.wait > 0 or opening:
                rows.add(visit.location)
    return rows


def buffered_legs(
    problem: PlanningProblem, legs_of: Mapping[str, _Legs], robust: Robustness
) -> dict[str, BufferedLegs]:
    """One :class:`BufferedLegs` per distinct leg model of ``legs_of`` (vehicle id -> legs)."""
    rule = BufferRule.of(robust)
    depots = depot_rows(problem)
    wrapped: dict[int, BufferedLegs] = {}
    out: dict[str, BufferedLegs] = {}
    for vid, legs in legs_of.items():
        if id(legs) not in wrapped:
            wrapped[id(legs)] = BufferedLegs(legs, rule, depots)
        out[vid] = wrapped[id(legs)]
    return out


# -- checking by simulation ----------------------------------------------------------------------


#: Base travel time (s) of a leg a vehicle drives: (vehicle id, from row, to row, departure).
Travel = Callable[[str, int, int, int], int]


@dataclass(frozen=True)
class OnTimeEstimate:
    """How often a plan's stops are reached within their windows when driven with noise.

    ``rates`` holds the on-time share of each draw, ``costs`` the plan's cost as
    driven in each draw (the objective of :func:`~lastmile.planning.problem.route_cost`
    on the seconds really driven, or the routes' real durations when waiting is
    charged); ``late_share`` the share of draws in which each stop (order id,
    visit kind) was late.
    """

    draws: int
    stops: int
    rates: tuple[float, ...]
    late_share: Mapping[tuple[str, str], float]
    costs: tuple[float, ...] = ()

    @property
    def late_stops(self) -> float:
        """Stops late per draw, on average."""
        return self.stops * (1.0 - self.on_time)

    @property
    def cost(self) -> float:
        return float(np.mean(self.costs)) if self.costs else 0.0

    @property
    def on_time(self) -> float:
        return float(np.mean(self.rates)) if self.rates else 1.0

    @property
    def worst_stop(self) -> float:
        """The highest probability of being late at any one stop."""
        return max(self.late_share.values(), default=0.0)


def simulate_on_time(
    problem: PlanningProblem,
    plan: Plan,
    noise: TravelNoise,
    *,
    draws: int = 200,
    seed: int = 0,
    route_problems: Mapping[str, PlanningProblem] | None = None,
    travel: Travel | None = None,
) -> OnTimeEstimate:
    """Drive ``plan`` ``draws`` times with leg factors from ``noise`` (Monte Carlo).

    Each vehicle leaves at its planned departure; each leg takes its matrix
    duration (of ``route_problems[vehicle]`` when given, e.g. a time-dependent
    plan's legs as driven) times a factor drawn for that leg at the time it
    really starts; the vehicle waits for a window to open, serves for as long as
    planned, and takes its breaks on the way as the scheduler does. A stop is
    late when it is reached after the end of the window its plan served it in.
    ``travel`` gives a leg's base duration at its real departure instead of a
    matrix (time-dependent travel: a plan is driven through the traffic of the
    hour it is really on the road).
    """
    rng = np.random.default_rng(seed)
    rates: list[float] = []
    costs: list[float] = []
    late: dict[tuple[str, str], int] = {}
    stops = sum(1 for r in plan.routes for v in r.visits if v.is_task)
    for _ in range(draws):
        late_now = 0
        cost = 0.0
        for route in plan.routes:
            own = route_problems.get(route.vehicle_id, problem) if route_problems else problem
            drive = _drive(own, route, noise, rng, travel)
            for key in drive.late:
                late[key] = late.get(key, 0) + 1
                late_now += 1
            vehicle = own.vehicle(route.vehicle_id)
            if route.tasks:
                duration = charged_duration(own, drive.began, drive.ended)
                distance = route.visits[-1].distance if route.visits else 0
                cost += route_cost(vehicle, drive.driven, distance, duration_s=duration)
        rates.append(1.0 - late_now / stops if stops else 1.0)
        costs.append(cost)
    share = {key: n / draws for key, n in late.items()}
    return OnTimeEstimate(draws, stops, tuple(rates), share, tuple(costs))


def _planned_window(windows: tuple[TimeWindow, ...], start: int) -> TimeWindow | None:
    for w in windows:
        if w.start <= start <= w.end:
            return w
    return None


@dataclass
class _Drive:
    late: list[tuple[str, str]]
    began: int
    ended: int
    driven: int


def _drive(
    problem: PlanningProblem,
    route: Route,
    noise: TravelNoise,
    rng: np.random.Generator,
    travel: Travel | None,
) -> _Drive:
    """One noisy drive of ``route``: the (order id, kind) of every stop reached late,
    when it began and ended, and the seconds driven."""
    vehicle = problem.vehicle(route.vehicle_id)
    matrix = problem.matrix_for(vehicle).durations
    scale = problem.time_scale

    def base(a: int, b: int, at: int) -> int:
        return travel(vehicle.id, a, b, at) if travel is not None else int(matrix[a, b])

    breaks = {b.id: b for b in vehicle.breaks}
    visits = route.visits
    late: list[tuple[str, str]] = []
    first = visits[0]
    starts = first.kind is VisitKind.START
    t = first.departure if starts else first.arrival
    loc: int | None = first.location if starts else None
    began = t
    leg: int | None = None  # the noisy duration of the leg under way, once drawn
    driven = total = 0
    for i in range(1 if starts else 0, len(visits)):
        visit = visits[i]
        if leg is None:
            leg = _noisy_leg(visits, i, loc, base, noise, rng, t, scale)
            total += leg
        if visit.kind is VisitKind.BREAK:
            brk = breaks.get(visit.break_id or "")
            if brk is not None:
                begin = earliest_start(brk.time_windows, t)
                begin = t if begin is None else begin
                driven += max(0, min(leg - driven, begin - t))
                t = begin + brk.duration
            continue
        if loc is not None:
            t += leg - driven
        arrival = t
        leg, driven = None, 0
        if visit.kind is VisitKind.END:
            return _Drive(late, began, t, total)
        windows = _windows_of(problem, visit)
        if visit.is_task:
            promised = _planned_window(windows, visit.start)
            if promised is not None and arrival > promised.end:
                late.append((visit.order_id or "", str(visit.kind)))
        begin = earliest_start(windows, arrival)
        t = (arrival if begin is None else begin) + (visit.departure - visit.start)
        loc = visit.location
    return _Drive(late, began, t, total)


def _noisy_leg(
    visits: Sequence[Visit],
    i: int,
    loc: int | None,
    base: Callable[[int, int, int], int],
    noise: TravelNoise,
    rng: np.random.Generator,
    t: int,
    scale: int,
) -> int:
    """How long the drive from ``loc`` to the next place (the first visit from ``i``
    on that is not a break) takes this time, leaving at ``t``."""
    target = next((v for v in visits[i:] if v.kind is not VisitKind.BREAK), None)
    if loc is None or target is None:
        return 0
    predicted = base(loc, target.location, t)
    if predicted <= 0:
        return 0
    return round(predicted * noise.sample(rng, predicted / scale, t / scale))


def _windows_of(problem: PlanningProblem, visit: Visit) -> tuple[TimeWindow, ...]:
    if visit.kind is VisitKind.RELOAD:
        depot = visit.depot
        return (problem.depots[depot if depot is not None else 0].time_window,)
    if visit.order_id is None:
        return ()
    order = problem.order(visit.order_id)
    if visit.kind is VisitKind.PICKUP:
        stop = order.pickup
    elif visit.kind is VisitKind.DELIVERY:
        stop = order.delivery
    else:
        stop = order.single_stop
    return stop.time_windows if stop is not None else ()


__all__ = [
    "BufferRule",
    "BufferedLegs",
    "OnTimeEstimate",
    "Robustness",
    "buffered_legs",
    "buffered_problem",
    "noise_text",
    "retime_at_departures",
    "simulate_on_time",
]
