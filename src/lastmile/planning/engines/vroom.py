"""The VROOM engine (through pyvroom): fast, rich constraints, deterministic.

VROOM models everything lastmile's problems use except multi-trip routes
(reloads) and a cap on a route's duration (it bounds the working hours
through the shift window, not end minus start); asking it for those raises
:class:`UnsupportedConstraint`.

VROOM gets the problem's own matrices (durations and distances per profile),
so its times are ours, breaks included: both take a break on the way to the
next stop. Routes are re-timed with :func:`build_route` (starting when VROOM
starts them) and checked; should a route still come out late, the break is
moved to another position of the route, and failing that, the late tasks
are left unassigned. Plans returned are feasible under lastmile's semantics.

Time limit: VROOM runs one search (a construction heuristic, then a local
search) after another on each thread, more of them at higher exploration
levels, and shares its timeout among the local searches. Cut short, many
searches do worse than a few run to their end (on 400-500-task days in 7 s:
level 5 cut short 5-13 % dearer than level 1 finished), so
:func:`plan_search` takes the highest level whose searches are estimated to
finish within the time aimed at, level 1 when none is, and gives VROOM as its
timeout what its constructions leave of the budget.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import numpy as np
import vroom

from lastmile.domain import HORIZON, Plan, Route, TimeWindow, Unassigned, Vehicle, VisitKind
from lastmile.domain.orders import OrderKind
from lastmile.exceptions import SolveError
from lastmile.planning.construct import greedy_plan
from lastmile.planning.engines.base import BaseEngine
from lastmile.planning.problem import Feature, PlanningProblem
from lastmile.planning.schedule import Step, build_route

#: VROOM's largest time (``UserDuration`` is uint32); as a window end it means "no end".
VROOM_MAX_TIME = 2**32 - 1

#: Seconds kept back from the time limit for reading VROOM's answer and re-timing routes.
RESULT_MARGIN_S = 0.05

#: Seconds one VROOM construction heuristic takes per (number of tasks)^2, measured with
#: pyvroom 1.15 on a busy 2-core machine (400 tasks: ~0.09 s). VROOM's timeout bounds
#: only the local search that follows each construction, so the constructions must be
#: budgeted apart (see :func:`plan_search`).
HEURISTIC_S_PER_TASK2 = 5.5e-7

#: How VROOM's constructions grow beyond 400 tasks: on large generated city days (a
#: fleet growing with the day, lunch breaks) like tasks^2.3 (382, 775, 1521 tasks:
#: 1 : 4.4 : 23, and 1.4 s : 6 s : 33 s each on a 2-core machine loaded five times
#: over). VROOM's timeout does not interrupt them: a 3,000-task day
#: spends minutes in its constructions whatever the timeout, so
#: :meth:`VroomEngine.first_plan_seconds` estimates them and the engine declines a
#: search that cannot finish them in time.
CONSTRUCTION_EXPONENT = 2.3
#: Allowance for a busy machine beyond 400 tasks, where a construction that does
#: not finish in time costs the whole search.
BUSY_FACTOR = 3.0

#: VROOM's four constructions of a whole large day take about this many seconds per
#: tasks^2 x tasks per vehicle on two threads: a 2,000-task compact city day with
#: mixed windows and breaks (45 tasks per vehicle, ``realistic_wide.py`` seed 118)
#: took 13.3 s on a 2-core machine loaded three to five times over (22.1 s on one
#: thread); 2,000-task suburban days (20 tasks per vehicle, seeds 120, 220) finish
#: theirs in well under 10 s.
WHOLE_S_PER_TASK2_ROUTE = 7.3e-8

#: A whole VROOM search (construction and local search to its end) takes about
#: ``SEARCH_S_PER_TASK * tasks ** SEARCH_EXPONENT`` seconds: measured with pyvroom 1.15 at
#: level 1 on 2 threads on generated city days (315, 432, 539 tasks: 0.78, 1.55, 2.35 s
#: per search on an idle 2-core VM), with half as much again for a busier machine.
SEARCH_S_PER_TASK = 6.6e-6
SEARCH_EXPONENT = 2.1

_KIND = {b"job": VisitKind.JOB, b"pickup": VisitKind.PICKUP, b"delivery": VisitKind.DELIVERY}


@dataclass(frozen=True)
class VroomRoute:
    """One route as VROOM returned it: its steps and VROOM's own arrival times.

    ``arrivals`` has one entry per step plus VROOM's start and end steps
    (``arrivals[0]`` is the departure, ``arrivals[-1]`` the end).
    """

    vehicle: Vehicle
    steps: tuple[Step, ...]
    arrivals: tuple[int, ...]


@dataclass(frozen=True)
class VroomResult:
    """VROOM's answer in lastmile terms, before re-timing; ``solution`` is
    pyvroom's own object (``solution.to_dict()`` is VROOM's JSON)."""

    routes: tuple[VroomRoute, ...]
    unassigned: tuple[str, ...]
    solution: Any


def _window(w: TimeWindow, where: str) -> Any:
    if w.start > VROOM_MAX_TIME:
        raise SolveError(f"{where}: time {w.start} is beyond VROOM's range (2**32 - 1 s)")
    return vroom.TimeWindow(w.start, min(w.end, VROOM_MAX_TIME))


def _windows(ws: Sequence[TimeWindow], where: str) -> list[Any]:
    if not ws or (len(ws) == 1 and not ws[0].is_bounded):
        return []  # VROOM's default: any time
    return [_window(w, where) for w in ws]


def _uint32(m: np.ndarray[Any, Any], where: str) -> np.ndarray[Any, Any]:
    if m.size and int(m.max()) > VROOM_MAX_TIME:
        raise SolveError(f"{where}: values above 2**32 - 1 do not fit VROOM")
    return m.astype(np.uint32)


def build_input(problem: PlanningProblem) -> Any:
    """The problem as a ``vroom.Input``.

    Ids given to VROOM are positions: job/shipment ids are order indices,
    vehicle ids vehicle indices, break ids indices in ``vehicle.breaks``.
    """
    inp = vroom.Input()
    used = sorted({v.type.profile for v in problem.vehicles})
    for profile in used:
        m = problem.matrices[profile]
        inp.set_durations_matrix(profile, _uint32(m.durations, f"matrices[{profile!r}]"))
        inp.set_distances_matrix(profile, _uint32(m.distances, f"matrices[{profile!r}]"))

    names = sorted(
        {s for o in problem.orders for s in o.skills}
        | {s for v in problem.vehicles for s in v.skills}
    )
    skill = {name: i for i, name in enumerate(names)}
    dims = len(problem.dimensions)
    zero = [0] * dims

    for vi, v in enumerate(problem.vehicles):
        where = f"vehicle {v.id!r}"
        tw = problem.working_hours(v)
        if tw is None:
            continue  # its depot hours leave it no working time
        t = v.type
        kwargs: dict[str, Any] = {
            "start": None if v.start_depot is None else problem.depots[v.start_depot].location,
            "end": None if v.end_depot is None else problem.depots[v.end_depot].location,
            "profile": t.profile,
            "capacity": list(t.capacity),
            "skills": {skill[s] for s in t.skills},
            "breaks": [
                vroom.Break(
                    bi,
                    time_windows=_windows(b.time_windows, f"{where} break {b.id!r}")
                    or [vroom.TimeWindow(0, VROOM_MAX_TIME)],
                    service=b.duration,
                )
                for bi, b in enumerate(v.breaks)
            ],
            "costs": vroom.VehicleCosts(
                fixed=t.fixed_cost, per_hour=t.cost_per_hour, per_km=t.cost_per_km
            ),
        }
        if tw.is_bounded:
            kwargs["time_window"] = _window(tw, where)
        if v.max_tasks is not None:
            kwargs["max_tasks"] = v.max_tasks
        if v.max_travel_time is not None:
            kwargs["max_travel_time"] = min(v.max_travel_time, VROOM_MAX_TIME)
        if v.max_distance is not None:
            kwargs["max_distance"] = min(v.max_distance, VROOM_MAX_TIME)
        inp.add_vehicle(vroom.Vehicle(vi, **kwargs))

    for oi, o in enumerate(problem.orders):
        where = f"order {o.id!r}"
        amount = list(problem.amount(o))
        common: dict[str, Any] = {
            "skills": {skill[s] for s in o.skills},
            "priority": o.priority,
        }
        if o.kind is OrderKind.SHIPMENT:
            assert o.pickup is not None and o.delivery is not None
            steps = [
                vroom.ShipmentStep(
                    oi,
                    location=s.location,
                    default_setup=s.setup,
                    default_service=s.service,
                    time_windows=_windows(s.time_windows, where),
                )
                for s in (o.pickup, o.delivery)
            ]
            inp.add_job(vroom.Shipment(steps[0], steps[1], amount=amount, **common))
        else:
            s = o.single_stop
            delivering = o.kind is OrderKind.DELIVERY
            inp.add_job(
                vroom.Job(
                    oi,
                    location=s.location,
                    default_setup=s.setup,
                    default_service=s.service,
                    delivery=amount if delivering else zero,
                    pickup=zero if delivering else amount,
                    time_windows=_windows(s.time_windows, where),
                    **common,
                )
            )
    return inp


def _searches_per_thread(exploration_level: int, nb_threads: int) -> int:
    """How many searches (construction + local search) each VROOM thread runs."""
    searches = 4 * (exploration_level + 1) + 4 * (exploration_level >= 4)
    searches += 4 * (exploration_level >= 5)
    return -(-searches // nb_threads)


def construction_seconds(num_tasks: int, exploration_level: int, nb_threads: int) -> float:
    """Estimated seconds of VROOM's constructions at ``exploration_level`` on
    ``nb_threads`` threads: :data:`HEURISTIC_S_PER_TASK2` x tasks^2 each up to 400
    tasks, then growing like tasks^2.3 (:data:`CONSTRUCTION_EXPONENT`) with an
    allowance for a busier machine (:data:`BUSY_FACTOR`, reached from 800 tasks)."""
    scale = num_tasks / 400
    beyond = max(1.0, scale)
    busy = 1 + (BUSY_FACTOR - 1) * min(1.0, beyond - 1)
    one = HEURISTIC_S_PER_TASK2 * num_tasks**2 * beyond ** (CONSTRUCTION_EXPONENT - 2) * busy
    return float(_searches_per_thread(exploration_level, nb_threads) * one)


def whole_construction_seconds(num_tasks: int, num_vehicles: int, nb_threads: int) -> float:
    """Estimated seconds of VROOM's four constructions (level 0) of a whole day of
    ``num_tasks`` tasks on ``num_vehicles`` vehicles: :data:`WHOLE_S_PER_TASK2_ROUTE`
    x tasks^2 x tasks per vehicle for two threads. Unlike :func:`construction_seconds`
    it tells days of long routes, whose constructions take longest, from days of
    short ones of the same size."""
    per_vehicle = num_tasks / max(1, num_vehicles)
    two_threads = WHOLE_S_PER_TASK2_ROUTE * num_tasks**2 * per_vehicle
    return float(two_threads * _searches_per_thread(0, nb_threads) / 2)


def search_seconds(num_tasks: int) -> float:
    """Estimated seconds of one whole VROOM search on ``num_tasks`` tasks."""
    return float(SEARCH_S_PER_TASK * num_tasks**SEARCH_EXPONENT)


def plan_search(
    num_tasks: int,
    budget_s: float,
    *,
    nb_threads: int,
    max_level: int,
    aim_s: float | None = None,
) -> tuple[int, float]:
    """``(exploration_level, timeout_s)`` for VROOM within ``budget_s``.

    The level is the highest (up to ``max_level``) whose searches, run to their
    end one after another on each thread, are estimated to take at most
    ``aim_s`` (default: the budget); level 1 when none is (level 0, VROOM's four
    searches, when even level 1's constructions would not fit the budget). The timeout is what
    the constructions are estimated to leave of the budget (VROOM's timeout
    bounds only its local searches), at least 10 ms.
    """
    aim = budget_s if aim_s is None else min(aim_s, budget_s)
    level = 1
    for candidate in range(max_level, 0, -1):
        if _searches_per_thread(candidate, nb_threads) * search_seconds(num_tasks) <= aim:
            level = candidate
            break
    if level == 1 and construction_seconds(num_tasks, 1, nb_threads) > budget_s:
        level = 0  # half the searches: the only chance for the constructions to finish
    return level, max(0.01, budget_s - construction_seconds(num_tasks, level, nb_threads))


def cut_short(
    num_tasks: int, budget_s: float, *, nb_threads: int, aim_s: float | None = None
) -> bool:
    """Whether VROOM's searches at the level :func:`plan_search` picks for
    ``budget_s`` are estimated to be cut short by its timeout (the day is too large
    for even its lowest level to finish)."""
    level, timeout = plan_search(
        num_tasks, budget_s, nb_threads=nb_threads, max_level=5, aim_s=aim_s
    )
    return _searches_per_thread(level, nb_threads) * search_seconds(num_tasks) > timeout


def run_vroom(
    problem: PlanningProblem,
    *,
    deadline: float | None = None,
    nb_threads: int = 2,
    exploration_level: int = 5,
    aim_share: float = 1.0,
    construct_only: bool = False,
) -> VroomResult:
    """Solve with VROOM and return its routes (steps and VROOM's arrival times).

    ``deadline`` is a ``time.perf_counter()`` value; what remains of it once
    the input is built is shared between VROOM's constructions and its local
    search by :func:`plan_search` (``exploration_level`` is then a maximum),
    which picks a level whose searches should finish within ``aim_share`` of it
    (VROOM stops when they do). Without a deadline VROOM runs at
    ``exploration_level`` to completion. ``construct_only``: VROOM's four
    constructions of level 0 and next to no local search (a start for a search
    that follows).
    """
    inp = build_input(problem)
    timeout = None
    if deadline is not None:
        tasks = sum(len(o.stops) for o in problem.orders)
        budget = deadline - time.perf_counter()
        exploration_level, seconds = plan_search(
            tasks,
            budget,
            nb_threads=nb_threads,
            max_level=exploration_level,
            aim_s=budget * aim_share,
        )
        timeout = timedelta(seconds=seconds)
    if construct_only:
        exploration_level, timeout = 0, timedelta(seconds=0.01)
    try:
        solution = inp.solve(
            exploration_level=exploration_level, nb_threads=nb_threads, timeout=timeout
        )
    except (
        vroom._vroom.VroomInputException,
        vroom._vroom.VroomInternalException,
        vroom._vroom.VroomRoutingException,
    ) as exc:
        raise SolveError(f"VROOM failed: {exc}") from exc

    rows = np.asarray(solution._routes_numpy())
    by_vehicle: dict[int, tuple[list[Step], list[int]]] = {}
    for row in rows:
        vi = int(row["vehicle_id"])
        steps, arrivals = by_vehicle.setdefault(vi, ([], []))
        kind = bytes(row["type"])
        arrivals.append(int(row["arrival"]))
        if kind in _KIND:
            steps.append(Step(_KIND[kind], order_id=problem.orders[int(row["id"])].id))
        elif kind == b"break":
            brk = problem.vehicles[vi].breaks[int(row["id"])]
            steps.append(Step(VisitKind.BREAK, break_id=brk.id))
    routes = tuple(
        VroomRoute(problem.vehicles[vi], tuple(steps), tuple(arrivals))
        for vi, (steps, arrivals) in sorted(by_vehicle.items())
    )
    unassigned: dict[str, None] = {}
    for job in solution.unassigned:
        unassigned[problem.orders[int(job._id)].id] = None
    return VroomResult(routes, tuple(unassigned), solution)


def vroom_arrivals_match(route: Route, vroom_route: VroomRoute) -> bool:
    """Whether our timing of ``route`` gives VROOM's arrival at every task and end."""
    ours = [v.arrival for v in route.visits if v.kind is not VisitKind.START]
    theirs = list(vroom_route.arrivals[1:])
    if route.visits[-1].kind is not VisitKind.END:
        theirs = theirs[:-1]
    return ours == theirs


def _late_visit(problem: PlanningProblem, vehicle: Vehicle, route: Route) -> int | None:
    """Index of the first visit that breaks a time rule under our semantics, else None."""
    hours = problem.working_hours(vehicle)
    end_limit = hours.end if hours is not None else vehicle.shift.start
    for i, v in enumerate(route.visits):
        if v.is_task:
            order = problem.order(v.order_id or "")
            if v.kind is VisitKind.PICKUP:
                stop = order.pickup
            elif v.kind is VisitKind.DELIVERY:
                stop = order.delivery
            else:
                stop = order.single_stop
            assert stop is not None
            windows = stop.time_windows
        elif v.kind is VisitKind.BREAK:
            windows = next(b.time_windows for b in vehicle.breaks if b.id == v.break_id)
        else:
            windows = ()
        if windows and not any(w.contains(v.start) for w in windows):
            return i
    last = route.visits[-1]
    finish = last.arrival if last.kind is VisitKind.END else last.departure
    if finish > end_limit and end_limit < HORIZON:
        return len(route.visits) - 1
    return None


def _moves(steps: Sequence[Step]) -> list[list[Step]]:
    """Variants of ``steps`` with one break moved elsewhere, nearest positions first."""
    out = []
    for i, step in enumerate(steps):
        if step.kind is not VisitKind.BREAK:
            continue
        rest = [s for j, s in enumerate(steps) if j != i]
        for pos in sorted(range(len(rest) + 1), key=lambda p: (abs(p - i), p)):
            if pos != i:
                out.append([*rest[:pos], step, *rest[pos:]])
    return out


def retime(problem: PlanningProblem, vroom_route: VroomRoute) -> tuple[Route | None, list[str]]:
    """Our timing of a VROOM route, repaired where our break semantics make it late.

    Returns the route (None if no task is left) and the ids of orders dropped.
    """
    vehicle = vroom_route.vehicle
    steps = list(vroom_route.steps)
    start = vroom_route.arrivals[0]
    dropped: list[str] = []
    while any(s.order_id is not None for s in steps):
        route = build_route(problem, vehicle, steps, start_time=start)
        late = _late_visit(problem, vehicle, route)
        if late is None:
            return route, dropped
        for variant in _moves(steps):
            for begin in (start, None):
                candidate = build_route(problem, vehicle, variant, start_time=begin)
                if _late_visit(problem, vehicle, candidate) is None:
                    return candidate, dropped
        visit = route.visits[late]
        victim = visit.order_id
        if victim is None:  # a late break or a late end: drop the last task before it
            victim = next(
                (v.order_id for v in reversed(route.visits[: late + 1]) if v.order_id), None
            )
        if victim is None:
            victim = next(s.order_id for s in reversed(steps) if s.order_id is not None)
        dropped.append(victim)
        steps = [s for s in steps if s.order_id != victim]
    return None, dropped


class VroomEngine(BaseEngine):
    """VROOM through pyvroom. Deterministic: ``seed`` is accepted and ignored.

    ``nb_threads`` and ``exploration_level`` (1-5, a maximum under a time limit)
    are VROOM's own settings; ``aim_share`` is the share of the time limit within
    which the level chosen should finish its searches (the rest is left to
    whoever improves VROOM's plan when it does). ``initial`` plans are not used
    (VROOM would then follow a single search path from them, and it rejects
    its own routes with breaks as a start).
    """

    name: ClassVar[str] = "vroom"
    capabilities: ClassVar[frozenset[Feature]] = frozenset(Feature) - {
        Feature.RELOADS,
        Feature.MAX_DURATION,
        # VROOM charges driving time only: waiting would not cost what the plan says.
        Feature.WAITING_COSTS,
    }

    def __init__(
        self,
        *,
        nb_threads: int = 2,
        exploration_level: int = 5,
        aim_share: float = 1.0,
        stoppable: bool = False,
        construct_only: bool = False,
    ) -> None:
        if nb_threads < 1:
            raise ValueError(f"nb_threads must be >= 1, got {nb_threads}")
        if not 1 <= exploration_level <= 5:
            raise ValueError(f"exploration_level must be in 1..5, got {exploration_level}")
        if not 0 < aim_share <= 1:
            raise ValueError(f"aim_share must be in (0, 1], got {aim_share}")
        self.nb_threads = nb_threads
        self.exploration_level = exploration_level
        self.aim_share = aim_share
        #: The caller stops this search at its deadline (it runs in a child process)
        #: and holds a plan of its own: VROOM's constructions are then tried even
        #: when :meth:`first_plan_seconds` says they may not fit, since that estimate
        #: must allow for a busy machine and is several times too long on a quiet
        #: one (a 2,000-order day with tight windows: 21 s estimated, 2 s taken).
        self.stoppable = stoppable
        #: Only VROOM's constructions (level 0, next to no local search): the start
        #: of a day too large for VROOM's local search to get anywhere in the time,
        #: which the caller then improves (see ``planning.solve``).
        self.construct_only = construct_only

    def solve(
        self,
        problem: PlanningProblem,
        *,
        time_limit: float,
        seed: int = 0,
        initial: Plan | None = None,
    ) -> Plan:
        del seed, initial  # VROOM is deterministic; see the class docstring for initial
        began = time.perf_counter()
        self.check_supported(problem)
        if not problem.orders:
            return Plan(routes=(), engine=self.name, runtime_s=time.perf_counter() - began)
        if not self.stoppable and self.first_plan_seconds(problem) > time_limit:
            # VROOM's constructions alone would overrun: the greedy plan instead.
            plan = greedy_plan(problem, deadline=began + time_limit)
            return Plan(plan.routes, plan.unassigned, "greedy", time.perf_counter() - began)
        result = run_vroom(
            problem,
            deadline=began + time_limit - RESULT_MARGIN_S,
            nb_threads=self.nb_threads,
            exploration_level=self.exploration_level,
            aim_share=self.aim_share,
            construct_only=self.construct_only,
        )
        routes: list[Route] = []
        unassigned = [
            Unassigned(oid, "VROOM left it unassigned", code="engine") for oid in result.unassigned
        ]
        for vroom_route in result.routes:
            route, dropped = retime(problem, vroom_route)
            if route is not None:
                routes.append(route)
            unassigned.extend(
                Unassigned(
                    oid,
                    "re-timing the route around its break made this stop late",
                    code="engine",
                )
                for oid in dropped
            )
        return Plan(
            routes=tuple(routes),
            unassigned=tuple(unassigned),
            engine=self.name,
            runtime_s=time.perf_counter() - began,
        )

    def first_plan_seconds(self, problem: PlanningProblem) -> float:
        """Estimated seconds of VROOM's constructions at its lowest level (0) on
        this engine's threads (:func:`construction_seconds`), building the input
        aside; the engine returns the greedy plan when given less."""
        return construction_seconds(problem.num_stops, 0, self.nb_threads)
