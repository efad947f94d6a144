"""``solve``: one call from a problem to a checked plan, using the whole machine.

What happens, in order:

1. orders that no vehicle could serve even alone (a skill nobody has, too
   heavy for every vehicle, a window that closes before anyone can arrive)
   are set aside with their reason, so engines never waste time on them;
2. the engine is chosen: ``"auto"`` takes the first engine of
   :data:`~lastmile.planning.engines.REGISTRY` that honours every feature the
   problem uses; a named engine that cannot is an error naming the features;
3. the search runs in worker processes, one per core, as a portfolio:
   PyVRP with different seeds when PyVRP can take the problem; otherwise VROOM
   (deterministic, on every core) whose plan is then improved by OR-Tools'
   guided local search for the rest of the time. The best plan wins. Given an
   ``executor`` (:mod:`lastmile.planning.executors`: a local process pool or
   a Dask cluster), the searches run as its tasks instead, one per slot;
4. the plan goes through the independent validator; any route it rejects is
   repaired by taking out the offending orders (they become unassigned), so
   nothing infeasible ever leaves the planner;
5. every unassigned order gets a reason a dispatcher understands.

The time limit is kept as a whole: one deadline runs through every phase.
The search gets what screening left, minus a reserve for steps 4 and 5 that
grows with the problem (:func:`post_reserve_s`); each engine keeps to the
budget it is given, and a worker still running once the budget (plus a small
allowance) is over is stopped and the best plan found so far is used. When
the search was cut short without any plan, a greedy construction
(:func:`~lastmile.planning.construct.greedy_plan`) is the plan, so a solve
returns within max(2 s, 5 %) of its limit with the best it has.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import logging
import math
import multiprocessing as mp
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lastmile.domain import Plan, Route, Unassigned, Vehicle, VisitKind
from lastmile.exceptions import SolveError, UnsupportedConstraint
from lastmile.planning.decompose import (
    DECOMPOSE_ABOVE,
    FIRST_SHARE,
    MIN_PART_S,
    PART_STOPS,
    Part,
    PartSpec,
    border_groups,
    part_spec,
    partition,
    to_global,
)
from lastmile.planning.engines import REGISTRY, get_engine
from lastmile.planning.engines.base import NoFeasiblePlan
from lastmile.planning.executors import dispatch_s, executor_slots
from lastmile.planning.fill import fill_left_out
from lastmile.planning.problem import Feature, PlanningProblem
from lastmile.planning.schedule import Step, build_route

if TYPE_CHECKING:
    from lastmile.planning.robust import Robustness

Progress = Callable[[float, str], None]
log = logging.getLogger(__name__)

#: Fraction of the time limit reserved for work outside the search (at least).
_RESERVE = 0.03
#: Seconds reserved after the search for validating, repairing and explaining the
#: plan: a fixed part and a part per stop (measured: 3,000 stops take about 0.2 s).
_POST_FIXED_S = 0.05
_POST_PER_STOP_S = 8e-5
#: Reasons that make an order impossible whatever the other orders do.
_HOPELESS = frozenset({"skills", "capacity", "time_window", "shift"})


def solve(
    problem: PlanningProblem,
    *,
    engine: str = "auto",
    time_limit: float = 10.0,
    seed: int = 0,
    workers: int | None = None,
    on_progress: Progress | None = None,
    robust: Robustness | None = None,
    decompose: str = "auto",
    executor: cf.Executor | None = None,
) -> Plan:
    """Plan ``problem`` within ``time_limit`` seconds of wall time.

    ``workers`` defaults to the number of cores, or with an ``executor`` to the
    tasks it runs at once (:func:`~lastmile.planning.executors.executor_slots`).
    Without an ``executor`` the searches run in child processes of this one;
    with one (:func:`~lastmile.planning.executors.open_executor`) they are its
    tasks, so they may run on other machines; a task lost there costs that
    search only. The returned plan has passed
    :func:`~lastmile.planning.validate.validate`, and every order is either on
    a route or in ``plan.unassigned`` with a reason.

    With ``robust`` (:mod:`lastmile.planning.robust`) the search runs on travel
    times lengthened by buffers sized from the noise model; the plan keeps the
    departures it chose and is timed and checked on ``problem``'s own travel times.

    ``decompose``: ``"auto"`` plans days of
    :data:`~lastmile.planning.decompose.DECOMPOSE_ABOVE` stops or more in parts
    (:func:`solve_decomposed`, run on ``executor``
    when given), and smaller ones whose whole-day VROOM constructions would
    overrun the limit (:func:`_planned_in_parts`), ``"on"`` always, ``"off"``
    never. Robust plans are never decomposed.
    """
    from lastmile.planning.unassigned import explain_unassigned

    if time_limit <= 0:
        raise ValueError(f"time_limit must be > 0, got {time_limit}")
    if decompose not in ("auto", "on", "off"):
        raise ValueError(f"decompose must be auto, on or off, got {decompose!r}")
    robust_plan = robust is not None and robust.active
    if not robust_plan and (
        decompose == "on" or (decompose == "auto" and problem.num_stops >= DECOMPOSE_ABOVE)
    ):
        return solve_decomposed(
            problem,
            time_limit=time_limit,
            engine=engine,
            seed=seed,
            workers=workers,
            executor=executor,
            on_progress=on_progress,
        )
    if robust is not None and robust.active:
        return _solve_robust(
            problem, robust, engine, time_limit, seed, workers, on_progress, executor
        )
    began = time.perf_counter()
    deadline = began + time_limit
    if executor is not None:
        workers = max(1, workers or executor_slots(executor))
    else:
        workers = max(1, workers or os.cpu_count() or 1)

    hopeless = _hopeless_orders(problem, explain_unassigned)
    # Vehicles that cannot drive today get no route; engines never see them.
    working = tuple(v for v in problem.vehicles if problem.idle_reason(v) is None)
    solvable = (
        dataclasses.replace(
            problem,
            orders=tuple(o for o in problem.orders if o.id not in hopeless),
            vehicles=working or problem.vehicles,
        )
        if hopeless or len(working) < len(problem.vehicles)
        else problem
    )
    names = _choose_engines(solvable, engine)

    if solvable.orders and working:
        from lastmile.planning.construct import greedy_plan

        reserve = post_reserve_s(problem, time_limit)
        search_end = deadline - reserve
        # Large problems: a plan in hand before searching, should the search be cut
        # short without one (small ones make theirs in a blink if needed).
        # It is the guarantee: it may take the whole search time if it must (and
        # half the allowance past the limit), never leaving orders out for want of time
        # on a machine that is merely busy.
        greedy_by = max(
            search_end + _grace_s(time_limit) / 2,
            time.perf_counter() + _GREEDY_FIXED_S + _GREEDY_PER_ORDER_S * len(solvable.orders),
        )
        fallback = None
        if solvable.num_stops >= _ISOLATE_STOPS or time_limit >= _GREEDY_FIRST_LIMIT_S:
            fallback = greedy_plan(solvable, deadline=greedy_by)
        budget = search_end - time.perf_counter()
        if fallback is not None and budget < _MIN_SEARCH_S:
            found, label = None, "no time left to search"
        else:
            found, label = _portfolio(
                solvable,
                names,
                budget,
                seed,
                workers,
                on_progress,
                executor,
                fallback,
                in_parts=decompose != "off",
            )
        if found is not None and found.engine != "greedy":
            # A search may leave out an order a cheap insertion serves: put it in
            # before plans are compared (out of the time kept for checking).
            found = fill_left_out(solvable, found, deadline=search_end + reserve / 3)
        if found is None or (fallback is not None and _rank(fallback) < _rank(found)):
            if fallback is None:
                # It may use half the allowance past the limit, the repair step the rest,
                # and always its own time from now: a search that failed late must not
                # leave it a fraction of a second for hundreds of orders.
                allowance = _GREEDY_FIXED_S + _GREEDY_PER_ORDER_S * len(solvable.orders)
                fallback = greedy_plan(
                    solvable, deadline=max(greedy_by, time.perf_counter() + allowance)
                )
            plan = fallback
            if not label.startswith("greedy"):
                label = (
                    f"greedy ({label})"
                    if found is None and fallback is not None and budget < _MIN_SEARCH_S
                    else f"greedy ({label} gave no better plan in time)"
                )
        else:
            plan = found
    else:
        plan, label = Plan(()), names[0]

    plan = _repair(problem, plan)
    served = {v.order_id for r in plan.routes for v in r.visits if v.order_id}
    missing = [o for o in problem.orders if o.id not in served]
    pending = Plan(plan.routes, tuple(Unassigned(o.id, "", "") for o in missing))
    reasons = {u.order_id: u for u in explain_unassigned(problem, pending)}
    for oid, why in hopeless.items():
        reasons[oid] = why
    unassigned = tuple(reasons[o.id] for o in missing)
    if on_progress:
        on_progress(1.0, "done")
    return Plan(plan.routes, unassigned, label, time.perf_counter() - began)


#: Share of the time limit of a robust solve's first search (the second one buffers
#: the stops where the first plan waits).
_ROBUST_FIRST_SHARE = 0.4


def _solve_robust(
    problem: PlanningProblem,
    robust: Robustness,
    engine: str,
    time_limit: float,
    seed: int,
    workers: int | None,
    on_progress: Progress | None,
    executor: cf.Executor | None = None,
) -> Plan:
    """Solve on buffered travel times (twice: the second time the stops where the
    first plan waits also get the depot's buffer), then time the plan on the true
    ones (the buffers become waiting) and repair what the validator rejects (none
    expected)."""
    from lastmile.planning.robust import buffered_problem, retime_at_departures, waiting_rows
    from lastmile.planning.unassigned import explain_unassigned

    began = time.perf_counter()
    inflated = buffered_problem(problem, robust)
    buffered = solve(
        inflated,
        engine=engine,
        time_limit=time_limit * _ROBUST_FIRST_SHARE,
        seed=seed,
        workers=workers,
        decompose="off",
        executor=executor,
    )
    left = time_limit - (time.perf_counter() - began)
    restarts = waiting_rows(inflated, buffered.routes)
    if restarts and left > 0.1:
        again = solve(
            buffered_problem(problem, robust, restarts=restarts),
            engine=engine,
            time_limit=left,
            seed=seed,
            workers=workers,
            on_progress=on_progress,
            decompose="off",
            executor=executor,
        )
        if len(again.unassigned) <= len(buffered.unassigned):
            buffered = again
    plan = _repair(problem, Plan(retime_at_departures(problem, buffered.routes)))
    served = {v.order_id for r in plan.routes for v in r.visits if v.order_id}
    reasons = {u.order_id: u for u in buffered.unassigned}
    lost = [o for o in problem.orders if o.id not in served and o.id not in reasons]
    if lost:
        pending = Plan(plan.routes, tuple(Unassigned(o.id, "", "") for o in lost))
        reasons.update({u.order_id: u for u in explain_unassigned(problem, pending)})
    unassigned = tuple(reasons[o.id] for o in problem.orders if o.id not in served)
    return Plan(plan.routes, unassigned, buffered.engine, time.perf_counter() - began)


def _rank(plan: Plan) -> tuple[int, int]:
    """Plans compare by orders left out, then cost."""
    return len(plan.unassigned), plan.cost


def post_reserve_s(problem: PlanningProblem, time_limit: float) -> float:
    """Seconds of ``time_limit`` kept for validating, repairing and explaining the
    plan of ``problem`` after the search (at most a third of the limit)."""
    estimate = _POST_FIXED_S + _POST_PER_STOP_S * problem.num_stops
    return min(max(_RESERVE * time_limit, estimate), time_limit / 3)


def _grace_s(time_limit: float) -> float:
    """How far past its time limit a solve may end: max(2 s, 5 %)."""
    return max(2.0, 0.05 * time_limit)


def _hopeless_orders(
    problem: PlanningProblem, explain: Callable[[PlanningProblem, Plan], tuple[Unassigned, ...]]
) -> dict[str, Unassigned]:
    everyone = Plan((), tuple(Unassigned(o.id, "", "") for o in problem.orders))
    return {u.order_id: u for u in explain(problem, everyone) if u.code in _HOPELESS}


def _choose_engines(problem: PlanningProblem, engine: str) -> list[str]:
    if engine != "auto":
        chosen = get_engine(engine)
        missing = problem.features - chosen.capabilities
        if missing:
            raise UnsupportedConstraint(engine, {str(f) for f in missing})
        reason = chosen.supports(problem)
        if reason:
            raise UnsupportedConstraint(engine, {reason})
        return [engine]
    capable = [name for name in REGISTRY if get_engine(name).supports(problem) is None]
    if not capable:
        raise UnsupportedConstraint("auto", {str(f) for f in problem.features})
    return capable


# -- the portfolio ----------------------------------------------------------------------

#: Share of the budget within which VROOM's searches should finish before OR-Tools
#: improves its plan; VROOM may use the whole budget when even its lowest exploration
#: level needs it (a search cut short costs more than OR-Tools' last seconds win).
_VROOM_SHARE = 0.7
#: Share of a warm-started job's budget its starting engine gets.
_WARM_SHARE = 0.1
#: In a worker stopped at the deadline, a warm start is tried while its estimated
#: time (which allows for a machine loaded three times over) is at most this many
#: times the worker's budget: on a quiet machine it then takes a fraction of it.
_WARM_TRY = 2.0
#: Stops from which even a lone search runs in a child process (when forking is
#: safe), so that it can be stopped at the deadline like the searches of several.
_ISOLATE_STOPS = 500
#: The shortest search worth starting when a plan is already in hand, seconds.
_MIN_SEARCH_S = 0.5
#: The time the greedy construction is always allowed, however little the limit
#: leaves (a fixed part and a part per order; 3,000 orders take 0.5-1.4 s): an
#: empty plan is no answer. A caller with a hard deadline (a service job) stops
#: the solve and says so.
_GREEDY_FIXED_S = 0.2
_GREEDY_PER_ORDER_S = 4e-4
#: From this time limit the greedy plan is made before searching at every size: it
#: costs a few per cent of the limit at most, and a search cut short on a busy
#: machine then still leaves every order that fits served.
_GREEDY_FIRST_LIMIT_S = 5.0
#: Share of its time a PyVRP worker requiring every order searches for a plan
#: serving them all before it takes the day for over-full and lets orders out
#: (``PyVRPEngine(feasible_within=...)``). On four generated 400-order days with
#: tight windows (``realistic_wide.py`` seeds 205, 305, 505, 605; solve seeds 1 and 2,
#: 10 s) lastmile left out 44 orders in all with this, 49 without. Such a search that
#: finds none keeps its first solution as its best, so waiting longer gains nothing
#: (with 0.15 the same plans were repaired).
_FEASIBLE_WITHIN = 0.3
#: OR-Tools metaheuristics run side by side when improving a plan.
_IMPROVERS = ("GUIDED_LOCAL_SEARCH", "TABU_SEARCH", "SIMULATED_ANNEALING")


@dataclass(frozen=True)
class _Job:
    """One search: an engine with its options, a budget, a seed, a start plan.

    ``warm_start`` names an engine (built with ``warm_options``) whose quick plan
    is the start when no ``initial`` plan is given.
    """

    engine: str
    budget: float
    seed: int
    options: dict[str, Any] = field(default_factory=dict)
    initial: Plan | None = None
    warm_start: str | None = None
    warm_options: dict[str, Any] = field(default_factory=dict)
    #: The engine requires every order (PyVRP with ``feasible_within``): when its plan
    #: serves them all only by breaking a rule, the rest of the budget goes to a
    #: search with prizes from that plan repaired.
    then_collect: bool = False


def _run_job(problem: PlanningProblem, job: _Job) -> Plan:
    began = time.perf_counter()
    initial = job.initial
    if job.warm_start is not None and initial is None:
        # A different engine's plan as the start: the search then explores
        # another region than its siblings starting from their own constructions.
        # When that engine could not make a plan in its share, the greedy one is
        # the start instead: another region all the same.
        starter = get_engine(job.warm_start, **job.warm_options)
        if starter.supports(problem) is None:
            share = job.budget * _WARM_SHARE
            estimate = starter.first_plan_seconds(problem)
            # In a worker stopped at the deadline the estimate (made for a busy
            # machine) may be overshot: a start that proves slow costs this
            # worker's search only, its siblings' plans stand.
            if estimate <= share or (
                job.warm_options.get("stoppable") and estimate <= _WARM_TRY * job.budget
            ):
                initial = starter.solve(problem, time_limit=share, seed=job.seed)
            else:
                from lastmile.planning.construct import greedy_plan

                initial = greedy_plan(problem, deadline=began + job.budget / 2)
    engine = get_engine(job.engine, **job.options)
    left = max(0.05, job.budget - (time.perf_counter() - began))
    plan = engine.solve(problem, time_limit=left, seed=job.seed, initial=initial)
    left = job.budget - (time.perf_counter() - began)
    if job.then_collect and left >= _MIN_SEARCH_S:
        repaired = _as_repaired(problem, plan)
        if repaired.unassigned:
            # No plan serving every order: the rest of the time searches with
            # prizes from this plan repaired, so it never ends worse than that.
            log.debug(
                "no plan serves every order after %.1f s; searching with prizes for %.1f s",
                job.budget - left,
                left,
            )
            collector = get_engine(job.engine, prize_collecting=True)
            plan = collector.solve(problem, time_limit=left, seed=job.seed, initial=repaired)
    return plan


def _portfolio(
    problem: PlanningProblem,
    names: list[str],
    budget: float,
    seed: int,
    workers: int,
    on_progress: Progress | None,
    executor: cf.Executor | None = None,
    fallback: Plan | None = None,
    *,
    in_parts: bool = True,
) -> tuple[Plan | None, str]:
    """Run the search on every core and keep the best plan (None when every
    search was stopped at the deadline before it had one).

    ``in_parts``: a day whose whole-day VROOM constructions would overrun ``budget``
    may be planned in parts (:func:`_planned_in_parts`); ``fallback`` is the greedy
    plan in hand, if any."""
    began = time.perf_counter()
    budget = max(0.1, budget)
    first = names[0]
    if first == "pyvrp":
        # Requiring every order searches best when all fit; making orders
        # optional with large prizes leaves out the fewest when some cannot.
        # Over-full fleets and lone workers collect prizes; otherwise every
        # worker requires all orders (with its own seed), and the repair step
        # catches a day that proves over-full only through its time windows.
        collect = workers == 1 or _over_capacity(problem)
        if not collect:
            # Large days that split freely: the workers cooperate on one plan
            # (decomposition) instead of racing each other; others decline at once.
            try:
                parallel = get_engine("pyvrp", prize_collecting=False).solve_parallel(
                    problem,
                    time_limit=budget,
                    seed=seed,
                    workers=workers,
                    on_progress=on_progress,
                    executor=executor,
                )
            except NoFeasiblePlan as exc:
                # Over-full through its time windows: the rest of the time goes to
                # searches that leave out as few orders as they must.
                log.debug("pyvrp decomposition: %s; searching with prizes", exc)
                parallel, collect = None, True
            if parallel is not None:
                return parallel, f"pyvrp x{workers} (decomposition)"
            budget = max(0.1, budget - (time.perf_counter() - began))
        # One worker starts from VROOM's plan, the others from PyVRP's own
        # constructions: different regions of the search space.
        jobs = [
            _Job("pyvrp", budget, seed + k, {"prize_collecting": collect}) for k in range(workers)
        ]
        if not collect and Feature.RELOADS not in problem.features:
            # A worker requiring every order that finds no plan serving them all
            # early in its time has met a day over-full through its windows: it
            # spends the rest letting out as few orders as it must, from its own
            # plan repaired (see _run_job), instead of handing in a plan the
            # repair step must empty of many orders.
            jobs = [
                dataclasses.replace(
                    job,
                    options={"prize_collecting": False, "feasible_within": _FEASIBLE_WITHIN},
                    then_collect=True,
                )
                for job in jobs
            ]
        if workers > 1:
            # VROOM on one thread: the sibling workers have the other cores. This
            # worker always collects prizes: should the day prove over-full through
            # its time windows, its plan leaves out only what must be, where the
            # others' (repaired) plans may lose many more.
            jobs[1] = dataclasses.replace(
                jobs[1],
                options={"prize_collecting": True},
                then_collect=False,
                warm_start="vroom",
                warm_options={
                    "nb_threads": 1,
                    "stoppable": _stoppable(problem, len(jobs), executor),
                },
            )
        label = f"pyvrp x{workers}" if workers > 1 else "pyvrp"
        plans = _run_jobs(problem, jobs, budget, on_progress, executor)
    elif "ortools" in names and (first == "vroom" or _vroom_orders(problem)):
        # VROOM on every core first, then OR-Tools improves its plan with one
        # metaheuristic per core in the time VROOM leaves. VROOM's own plan stays
        # in the running (re-timed and re-costed when it ordered stops for
        # driving time only, on a problem that charges waiting).
        # A day whose whole-day search VROOM would cut short long before it
        # converges gets VROOM's constructions only, then VROOM on groups of routes.
        grouped = first == "vroom" and _groups_pay(problem, budget, workers)
        if in_parts and grouped and _construction_misses(problem, budget, workers):
            # Its whole-day constructions alone would overrun the budget.
            return _planned_in_parts(
                problem, budget, seed, workers, executor, on_progress, fallback
            )
        vroom_job = _Job(
            "vroom",
            budget,
            seed,
            {
                "nb_threads": workers,
                "aim_share": _VROOM_SHARE,
                "stoppable": _stoppable(problem, 1, executor),
                "construct_only": grouped,
            },
        )
        if first == "vroom":
            start = _run_jobs(problem, [vroom_job], budget, on_progress, executor)[0]
        else:
            ordered = _run_jobs(_driving_only(problem), [vroom_job], budget, on_progress, executor)[
                0
            ]
            start = _recosted(problem, ordered) if ordered is not None else None
        if on_progress:
            on_progress(_VROOM_SHARE, "improving")
        left = budget - (time.perf_counter() - began)
        plans = [start]
        label = "vroom"
        if grouped and start is not None and start.engine == "vroom" and left >= _GROUP_MIN_S:
            # VROOM's search of the whole day is cut short long before it converges:
            # the rest of the time goes to VROOM on groups of neighbouring routes, each
            # searched to its end and kept only when it is better.
            improved, rounds = _improve_in_groups(
                problem, start, began + budget, workers, seed, executor, on_progress
            )
            plans = [improved]
            label = f"vroom+groups ({rounds} round(s))" if rounds else "vroom"
        elif left >= 0.5:
            improvers = [
                _Job("ortools", left, seed, {"metaheuristic": m}, start)
                for m in _IMPROVERS[: max(1, workers)]
            ]
            plans += _run_jobs(problem, improvers, left, on_progress, executor)
            label = "vroom+ortools"
    else:
        jobs = [_Job(first, budget, seed)]
        label = first
        plans = _run_jobs(problem, jobs, budget, on_progress, executor)
    found = [p for p in plans if p is not None]
    if not found:
        return None, label  # every search was cut short: the caller falls back
    if len(found) > 1:
        # Compared as they will leave the planner: a search that required every
        # order may return routes the repair step must take orders out of.
        found = [_as_repaired(problem, p) for p in found]
    best = min(found, key=_rank)
    if best.engine == "greedy":
        return best, f"greedy ({label} had no time to search)"
    return best, label if len(found) == len(plans) else f"{label} (partial)"


def _as_repaired(problem: PlanningProblem, plan: Plan) -> Plan:
    """``plan`` through the repair step, every order it does not serve unassigned
    (the reasons are given later)."""
    repaired = _repair(problem, plan)
    served = {v.order_id for r in repaired.routes for v in r.visits if v.order_id}
    missing = tuple(Unassigned(o.id, "", "") for o in problem.orders if o.id not in served)
    return Plan(repaired.routes, missing, plan.engine, plan.runtime_s)


def _driving_only(problem: PlanningProblem) -> PlanningProblem:
    return dataclasses.replace(problem, cost_waiting=False)


def _vroom_orders(problem: PlanningProblem) -> bool:
    """Whether VROOM declines ``problem`` only because it charges waiting: VROOM's
    order of stops is then a good start for OR-Tools (every constraint holds)."""
    return (
        Feature.WAITING_COSTS in problem.features
        and get_engine("vroom").supports(_driving_only(problem)) is None
    )


def _recosted(problem: PlanningProblem, plan: Plan) -> Plan:
    """``plan``'s routes scheduled and costed for ``problem``."""
    routes = tuple(
        build_route(
            problem,
            problem.vehicle(r.vehicle_id),
            [
                Step(v.kind, order_id=v.order_id, break_id=v.break_id, depot=v.depot)
                for v in r.visits
                if v.kind not in (VisitKind.START, VisitKind.END)
            ],
        )
        for r in plan.routes
    )
    return Plan(routes, plan.unassigned, plan.engine, plan.runtime_s)


def _worker(problem: PlanningProblem, job: _Job, conn: Connection) -> None:
    try:
        conn.send(("ok", _run_job(problem, job)))
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _run_jobs(
    problem: PlanningProblem,
    jobs: list[_Job],
    budget: float,
    on_progress: Progress | None,
    executor: cf.Executor | None = None,
) -> list[Plan | None]:
    """Run ``jobs`` in parallel worker processes (a lone job of a small problem, or
    one in a process with several threads, runs in this one), or as tasks of
    ``executor`` (:func:`_run_jobs_on`).

    Waits until every worker answered, or until the budget plus a small grace
    has passed and at least one did: laggards are then stopped, so the time
    limit holds even when a machine is busier than the engines assume. A
    little later still (:func:`_late_s`), every worker is stopped whether or
    not one answered; a stopped worker's entry is None. Raises
    :class:`SolveError` only when every worker failed.
    """
    if executor is not None:
        return _run_jobs_on(executor, problem, jobs, budget, on_progress)
    fork_safe = _fork_safe()
    if not _stoppable(problem, len(jobs), executor):
        return [_run_job(problem, jobs[0])]
    # fork is cheapest (nothing to re-import) and safe while this process runs
    # one thread; otherwise fall back to spawn.
    ctx: Any = mp.get_context("fork" if fork_safe else "spawn")
    began = time.perf_counter()
    procs = []
    results: list[Plan | None] = [None] * len(jobs)
    errors: list[str] = []
    try:
        for job in jobs:
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, args=(problem, job, child), daemon=True)
            proc.start()
            child.close()
            procs.append((proc, parent))
        soft_stop = began + budget + max(0.2, 0.02 * budget)
        hard_stop = began + budget + _late_s(budget)
        pending = set(range(len(procs)))
        while pending:
            now = time.perf_counter()
            if now >= hard_stop or (now >= soft_stop and any(r is not None for r in results)):
                break
            for i in list(pending):
                proc, conn = procs[i]
                if conn.poll(0.05):
                    try:
                        status, payload = conn.recv()
                    except EOFError:
                        status, payload = "error", "worker exited without an answer"
                    if status == "ok":
                        results[i] = payload
                    else:
                        errors.append(payload)
                    pending.discard(i)
                elif not proc.is_alive() and not conn.poll():
                    errors.append(f"worker exited with code {proc.exitcode}")
                    pending.discard(i)
            if on_progress:
                on_progress(min(0.99, (time.perf_counter() - began) / budget), "searching")
    finally:
        # Laggards are stopped; so is every worker when the caller gives up (an
        # exception from on_progress, such as a cancellation).
        for proc, conn in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join(timeout=1)
            conn.close()
    if len(errors) == len(procs):
        raise SolveError("; ".join(errors))
    return results


def _run_jobs_on(
    executor: cf.Executor,
    problem: PlanningProblem,
    jobs: list[_Job],
    budget: float,
    on_progress: Progress | None,
) -> list[Plan | None]:
    """:func:`_run_jobs` with every job a task of ``executor``.

    The same waiting rules hold; a task still running at the stop is given up
    (its future cancelled: the executor cannot stop it, but it keeps to its
    budget). Each job gets its budget less the time to ship the problem to a
    worker and the plan back (:func:`~lastmile.planning.executors.dispatch_s`).
    A task that failed or whose worker was lost (after the executor's own retry)
    is one search less: the others' plans stand. Raises :class:`SolveError` only
    when every task failed.
    """
    began = time.perf_counter()
    shipped = max(0.05, budget - dispatch_s(executor, budget))
    futures = [
        executor.submit(_run_job, problem, dataclasses.replace(job, budget=shipped)) for job in jobs
    ]
    results: list[Plan | None] = [None] * len(jobs)
    errors: list[str] = []
    soft_stop = began + budget + max(0.2, 0.02 * budget)
    hard_stop = began + budget + _late_s(budget)
    index = {f: i for i, f in enumerate(futures)}
    pending = set(futures)
    try:
        while pending:
            now = time.perf_counter()
            if now >= hard_stop or (now >= soft_stop and any(r is not None for r in results)):
                break
            done, pending = cf.wait(pending, timeout=0.05, return_when=cf.FIRST_COMPLETED)
            for future in done:
                try:
                    results[index[future]] = future.result()
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
            if on_progress:
                on_progress(min(0.99, (time.perf_counter() - began) / budget), "searching")
    finally:
        for future in futures:
            future.cancel()
    if len(errors) == len(futures):
        raise SolveError("; ".join(errors))
    return results


def _fork_safe() -> bool:
    """Whether worker processes can be forked (this process runs one thread)."""
    return threading.active_count() == 1 and os.name == "posix"


def _stoppable(problem: PlanningProblem, jobs: int, executor: cf.Executor | None) -> bool:
    """Whether :func:`_run_jobs` runs ``jobs`` searches of ``problem`` in child
    processes it stops at the deadline (not in this one, nor on an executor, whose
    tasks cannot be stopped). A solve of such a problem holds its greedy plan
    before searching (:data:`_ISOLATE_STOPS`)."""
    if executor is not None:
        return False
    return jobs > 1 or (_fork_safe() and problem.num_stops >= _ISOLATE_STOPS)


def _late_s(budget: float) -> float:
    """How long past its budget a search worker is waited for before it is stopped."""
    return max(0.5, 0.03 * budget)


# -- repair -------------------------------------------------------------------------------


def _repair(problem: PlanningProblem, plan: Plan) -> Plan:
    """Take offending orders out of routes the validator rejects.

    The whole plan is validated once; each rejected route is then repaired on
    its own (re-validating only that route) until it passes; a last pass over
    the whole plan catches what only the plan as a whole shows (an order on
    two routes, a shipment split between vehicles). Linear in the visits for a
    plan that needs nothing, and in the visits of the routes repaired otherwise.
    """
    from lastmile.planning.validate import validate, validate_route

    routes = {r.vehicle_id: r for r in plan.routes}
    for _ in range(len(problem.orders) + 1):
        report = validate(problem, Plan(tuple(routes.values()), ()), check_cost=True)
        bad: dict[str, set[str]] = {}
        for v in report.violations:
            if v.vehicle_id and v.vehicle_id in routes:
                bad.setdefault(v.vehicle_id, set())
                if v.order_id:
                    bad[v.vehicle_id].add(v.order_id)
        if not bad:
            break
        for vehicle_id, culprits in bad.items():
            route = _without(problem, routes[vehicle_id], culprits)
            while route.tasks:
                violations = validate_route(problem, route)
                if not violations:
                    break
                route = _without(problem, route, {v.order_id for v in violations if v.order_id})
            if route.tasks:
                routes[vehicle_id] = route
            else:
                del routes[vehicle_id]
    kept = tuple(r for r in routes.values() if r.tasks)
    return Plan(kept, (), plan.engine, plan.runtime_s)


def _without(problem: PlanningProblem, route: Route, culprits: set[str]) -> Route:
    """The route minus ``culprits`` (or minus its last order if it has none of them)."""
    tasks = [v for v in route.visits if v.is_task]
    culprits = culprits & {v.order_id for v in tasks if v.order_id is not None}
    if not culprits and tasks and tasks[-1].order_id is not None:
        culprits = {tasks[-1].order_id}
    steps = [
        Step(v.kind, order_id=v.order_id, break_id=v.break_id, depot=v.depot)
        for v in route.visits
        if v.kind not in (VisitKind.START, VisitKind.END) and v.order_id not in culprits
    ]
    return build_route(problem, problem.vehicle(route.vehicle_id), steps)


def _over_capacity(problem: PlanningProblem) -> bool:
    """Whether the orders outweigh the whole fleet in some dimension (no reloads)."""
    if any(v.reload_depots for v in problem.vehicles):
        return False
    for dim in range(len(problem.dimensions)):
        demand = sum(problem.amount(o)[dim] for o in problem.orders)
        if demand > sum(v.capacity[dim] for v in problem.vehicles):
            return True
    return False


@dataclass(frozen=True)
class PartResult:
    """A part's plan in the part's own location indices."""

    index: int
    plan: Plan
    improved: bool = True


def solve_part(
    spec: PartSpec,
    time_limit: float,
    seed: int,
    engine: str,
    finish_by: float | None = None,
    options: dict[str, Any] | None = None,
    allowance: float | None = None,
) -> PartResult:
    """Plan one part (in a worker): from scratch, or, given start routes, a
    search from them whose result is kept only when it is better.

    ``finish_by`` (``time.time()``, the round's end) shortens the search of a
    part that starts late, because earlier parts ran over on a busy machine:
    it then gets what is left rather than being abandoned at the round's end.
    ``allowance`` is how far past its limit the part's search may end (default:
    a solve's, :func:`_grace_s`); ``options`` are the engine's (a search from
    start routes only).
    """
    began = time.perf_counter()
    if finish_by is not None:
        late = _grace_s(time_limit) if allowance is None else allowance
        time_limit = max(0.2, min(time_limit, finish_by - time.time() - late))
    problem = spec.build()
    if not spec.start:
        plan = solve(
            problem, engine=engine, time_limit=time_limit, seed=seed, workers=1, decompose="off"
        )
        return PartResult(spec.index, plan)
    start_routes = tuple(
        build_route(problem, problem.vehicle(vid), list(steps), start_time=t0)
        for vid, t0, steps in spec.start
    )
    served = {v.order_id for r in start_routes for v in r.visits if v.order_id}
    start = Plan(
        start_routes,
        tuple(Unassigned(o.id, "", "") for o in problem.orders if o.id not in served),
    )
    left = time_limit - (time.perf_counter() - began)
    try:
        name = _choose_engines(problem, engine)[0]
        found = get_engine(name, **(options or {})).solve(
            problem, time_limit=max(0.1, left), seed=seed, initial=start
        )
        found = _repair(problem, found)
    except Exception:
        found = solve(
            problem, engine=engine, time_limit=max(0.1, left), seed=seed, workers=1, decompose="off"
        )
    found_served = {v.order_id for r in found.routes for v in r.visits if v.order_id}
    found = Plan(
        found.routes,
        tuple(Unassigned(o.id, "", "") for o in problem.orders if o.id not in found_served),
        found.engine,
    )
    if _rank(found) < _rank(start):
        return PartResult(spec.index, found)
    return PartResult(spec.index, start, improved=False)


# -- the decomposed solve: planning.decompose cuts, this module solves the parts --


@dataclass
class _State:
    """The plan being built: routes by vehicle, what is left out and why."""

    routes: dict[str, Route] = field(default_factory=dict)
    lost: dict[str, str] = field(default_factory=dict)  # order id -> why its part failed
    engines: dict[str, int] = field(default_factory=dict)  # part plans per engine label


def solve_decomposed(
    problem: PlanningProblem,
    *,
    time_limit: float = 60.0,
    engine: str = "auto",
    seed: int = 0,
    workers: int | None = None,
    executor: cf.Executor | None = None,
    part_stops: int = PART_STOPS,
    on_progress: Progress | None = None,
) -> Plan:
    """Plan ``problem`` in parts within ``time_limit`` seconds (see the module).

    ``executor`` runs the parts (any :class:`concurrent.futures.Executor`, e.g.
    a Dask client's); by default a local process pool of ``workers`` processes
    (default: the number of cores) is made and shut down here. ``workers`` also
    says how many parts run at once when sharing out the time.
    """
    from lastmile.planning.unassigned import explain_unassigned

    if time_limit <= 0:
        raise ValueError(f"time_limit must be > 0, got {time_limit}")
    began = time.perf_counter()
    deadline = began + time_limit
    if executor is not None:
        workers = max(1, workers or executor_slots(executor))
    else:
        workers = max(1, workers or os.cpu_count() or 1)
    working = [v for v in problem.vehicles if problem.idle_reason(v) is None]
    # Checking the whole plan leg by leg costs more than in one search's matrix.
    reserve = max(
        post_reserve_s(problem, time_limit), min(time_limit / 4, 3e-4 * problem.num_stops)
    )
    search_end = deadline - reserve
    parts = partition(problem, part_stops=part_stops, vehicles=working)
    if on_progress:
        on_progress(0.02, f"{len(parts)} parts")

    own = executor is None
    pool = executor if executor is not None else _local_pool(workers)
    state = _State()
    rounds = 0
    try:
        waves = math.ceil(len(parts) / workers)
        search_s = search_end - time.perf_counter()
        first_share = FIRST_SHARE if search_s * (1 - FIRST_SHARE) / waves >= MIN_PART_S else 1.0
        first_end = time.perf_counter() + search_s * first_share
        jobs = []
        for i, part in enumerate(parts):
            if not part.vehicles:
                for oid in part.orders:
                    state.lost[oid] = "no vehicle of the fleet is based near it"
                continue
            spec, index_map = part_spec(problem, part, index=i)
            jobs.append((spec, index_map, part))
        _run_round(
            pool,
            problem,
            jobs,
            state,
            first_end,
            workers,
            seed,
            engine,
            on_progress,
            began,
            time_limit,
        )
        # Rounds across borders while each group can have a useful search.
        offsets = (0.5, 0.25, 0.75)
        while time.perf_counter() < search_end:
            groups = border_groups(problem, state.routes, working, part_stops, offsets[rounds % 3])
            left = search_end - time.perf_counter()
            waves = math.ceil(len(groups) / workers) if groups else 1
            if not groups or left / waves < MIN_PART_S + _grace_s(left / waves) / 2:
                break
            jobs = []
            for g, (part, start) in enumerate(groups):
                spec, index_map = part_spec(problem, part, index=g, start=start)
                jobs.append((spec, index_map, part))
            rounds += 1
            _run_round(
                pool,
                problem,
                jobs,
                state,
                search_end,
                workers,
                seed + 1000 * rounds,
                engine,
                on_progress,
                began,
                time_limit,
            )
    finally:
        if own:
            _stop_pool(pool)

    _construct_lost(problem, state, working)
    plan = _repair(problem, Plan(tuple(state.routes.values())))
    order_of = {v.id: k for k, v in enumerate(problem.vehicles)}
    routes = tuple(sorted(plan.routes, key=lambda r: order_of[r.vehicle_id]))
    served = {v.order_id for r in routes for v in r.visits if v.order_id}
    missing = [o for o in problem.orders if o.id not in served]
    pending = Plan(routes, tuple(Unassigned(o.id, "", "") for o in missing))
    reasons = {u.order_id: u for u in explain_unassigned(problem, pending)}
    for oid, why in state.lost.items():
        if oid in reasons and reasons[oid].code in ("no_room", "engine", ""):
            reasons[oid] = Unassigned(oid, why, "part_failed")
    unassigned = tuple(reasons[o.id] for o in missing)
    if on_progress:
        on_progress(1.0, "done")
    used = sorted(state.engines, key=lambda e: -state.engines[e])
    label = (
        f"decomposed ({', '.join(used[:2]) or 'no part planned'}): {len(parts)} parts x "
        f"{workers} workers, {rounds} border round(s)"
    )
    return Plan(routes, unassigned, label, time.perf_counter() - began)


def _run_round(
    pool: cf.Executor,
    problem: PlanningProblem,
    jobs: list[tuple[PartSpec, npt.NDArray[np.int64], Part]],
    state: _State,
    end: float,
    workers: int,
    seed: int,
    engine: str,
    on_progress: Progress | None,
    began: float,
    time_limit: float,
    options: dict[str, Any] | None = None,
    allowance: float | None = None,
) -> None:
    """Solve ``jobs`` on ``pool`` by ``end``; put each result into ``state``.

    ``allowance``: how far past its budget a part may end (default: a solve's,
    :func:`_grace_s`); ``options``: the engine's, for searches from start routes.
    """
    if not jobs:
        return
    waves = math.ceil(len(jobs) / workers)
    slot = (end - time.perf_counter()) / waves
    # A solve may run past its limit by its allowance (and a part has its set-up).
    budget = max(0.5, slot - (_grace_s(slot) if allowance is None else allowance))
    finish_by = time.time() + (end - time.perf_counter())
    futures: dict[cf.Future[PartResult], tuple[PartSpec, npt.NDArray[np.int64], Part]] = {}
    for spec, index_map, part in jobs:
        fut = pool.submit(
            solve_part, spec, budget, seed + spec.index, engine, finish_by, options, allowance
        )
        futures[fut] = (spec, index_map, part)
    pending = set(futures)
    stop_at = end + (_grace_s(budget) if allowance is None else allowance) / 2
    while pending:
        left = stop_at - time.perf_counter()
        if left <= 0:
            break
        done, pending = cf.wait(pending, timeout=left, return_when=cf.FIRST_COMPLETED)
        for fut in done:
            spec, index_map, part = futures[fut]
            try:
                result = fut.result()
                log.debug(
                    "part %d: %d routes, %d left out, cost %d, %s after %.1f s",
                    spec.index,
                    len(result.plan.routes),
                    len(result.plan.unassigned),
                    result.plan.cost,
                    "improved" if result.improved else "kept",
                    time.perf_counter() - began,
                )
            except Exception as exc:  # a lost part: its orders go back into the pool
                log.info("part %d failed: %s: %s", spec.index, type(exc).__name__, exc)
                if not spec.start:  # (a failed border group keeps its routes)
                    why = f"its part of the decomposed solve failed ({type(exc).__name__}: {exc})"
                    _forget(state, part, why)
                continue
            if result.improved or not spec.start:
                name = result.plan.engine.split(" (")[0]
                state.engines[name] = state.engines.get(name, 0) + 1
                _forget(state, part, None)
                for route in result.plan.routes:
                    if route.tasks:
                        state.routes[route.vehicle_id] = to_global(route, index_map)
        if on_progress:
            on_progress(min(0.97, (time.perf_counter() - began) / time_limit), "searching parts")
    for fut in pending:
        fut.cancel()
        spec, _, part = futures[fut]
        log.info("part %d did not finish in time", spec.index)
        if not spec.start:  # a part with nothing planned yet: its orders are lost
            _forget(state, part, "its part of the decomposed solve did not finish in time")


def _construct_lost(problem: PlanningProblem, state: _State, working: list[Vehicle]) -> None:
    """Plan the orders of parts that failed or ran out of time (a lost worker, a
    machine too busy to search) greedily, in this process, on the vehicles left
    without a route: a lost part costs its search, not its orders. What the
    construction cannot place stays in ``state.lost`` with its part's reason."""
    if not state.lost:
        return
    free = [v for v in working if v.id not in state.routes]
    lost = [o for o in problem.orders if o.id in state.lost]
    if not free or not lost:
        return
    from lastmile.planning.construct import greedy_plan

    sub = dataclasses.replace(problem, orders=tuple(lost), vehicles=tuple(free))
    allowance = _GREEDY_FIXED_S + _GREEDY_PER_ORDER_S * len(lost)
    plan = greedy_plan(sub, deadline=time.perf_counter() + allowance)
    for route in plan.routes:
        state.routes[route.vehicle_id] = route
        for visit in route.visits:
            if visit.order_id:
                state.lost.pop(visit.order_id, None)
    if plan.routes:
        state.engines["greedy"] = state.engines.get("greedy", 0) + len(plan.routes)
    log.info("%d routes built greedily for %d orders of lost parts", len(plan.routes), len(lost))


def _forget(state: _State, part: Part, why: str | None) -> None:
    """Take ``part``'s routes out of ``state`` (a new result replaces them) and
    note why its orders are left out (None: they are not)."""
    for vid in part.vehicles:
        state.routes.pop(vid, None)
    for oid in part.orders:
        if why is None:
            state.lost.pop(oid, None)
        else:
            state.lost[oid] = why


# -- improving a whole-day VROOM plan group by group --------------------------------------

#: Stops per group when a large day's VROOM plan is improved group by group: small
#: enough for VROOM on one core to finish its searches in a second or two, so that
#: rounds follow each other. At 30 s on 2,000-stop suburban days with breaks
#: (seeds 120, 220) groups of 150 stops gave plans 0.8-2.4 % cheaper than groups of
#: 250 and 1.8-4.5 % cheaper than groups of 400 (docs/benchmarks.md).
GROUP_STOPS = 150
#: Stops from which a day VROOM's whole-day search would cut short is planned from
#: VROOM's constructions improved group by group: on 1,500-2,000-stop days with
#: breaks VROOM's local search improved its constructions by 0-0.2 % in 8-20 s.
GROUP_ABOVE = 1_000
#: The least time left after VROOM's plan for a round of groups to be worth starting.
_GROUP_MIN_S = 2.0
#: Stops per part when a day whose whole-day VROOM constructions would not fit the
#: budget is planned in parts: on 2,000-stop compact city days at 10 s (seed 218, 10 s,
#: machine loaded 4 times over) parts of 800 stops were too large for VROOM's
#: constructions in their share (greedy parts: 23 orders left out), parts of 400 served
#: every order at 0.4 % above pyvroom, parts of 250 every order at 8 % above it; on
#: seeds 218, 318, 418 parts of 500 and 340 cost 0.4 % and 4.1 % more in all than 400.
BIG_PART_STOPS = 400
#: Share of the budget of such a day's parts; groups of routes improve their plan in
#: the rest.
_BIG_PARTS_SHARE = 0.7
#: The least time left for a wave of groups after such a day's parts: at 10 s on
#: 2,000-stop compact days (seeds 218, 318, 418, two runs each, load 3-4) 1 s gave
#: plans 1 % cheaper in all than 2 s (two waves of groups instead of one).
_BIG_GROUP_MIN_S = 1.0
#: How far past its budget a group's search may end (VROOM keeps to its limit; the
#: part also builds its matrices and repairs its routes).
_GROUP_ALLOWANCE_S = 0.3
#: Offsets of successive rounds of groups (shares of a group), so that each round's
#: groups straddle the previous round's borders.
_GROUP_OFFSETS = (0.0, 0.5, 0.25, 0.75)


def _groups_pay(problem: PlanningProblem, budget: float, workers: int) -> bool:
    """Whether VROOM's search of the whole of ``problem`` in ``budget`` seconds is
    estimated to be cut short (:func:`~lastmile.planning.engines.vroom.cut_short`)
    on a day of :data:`GROUP_ABOVE` stops or more: its plan is then improved group
    by group."""
    from lastmile.planning.engines.vroom import cut_short

    return problem.num_stops >= GROUP_ABOVE and cut_short(
        problem.num_stops, budget, nb_threads=workers, aim_s=budget * _VROOM_SHARE
    )


def _construction_misses(problem: PlanningProblem, budget: float, workers: int) -> bool:
    """Whether VROOM's constructions of the whole of ``problem`` are estimated
    (:func:`~lastmile.planning.engines.vroom.whole_construction_seconds`) to take
    longer than ``budget``: the day is then planned in parts (:func:`_planned_in_parts`).
    (At 10 s: 2,000-stop compact days of 45 stops per vehicle, 13 s, are; 2,000-stop
    suburban days of 20, 6 s, and 1,500-stop multi-depot days of 30, 5 s, are not:
    their whole-day constructions often finish, and parts served them worse.)"""
    from lastmile.planning.engines.vroom import whole_construction_seconds

    vehicles = sum(1 for v in problem.vehicles if problem.idle_reason(v) is None)
    estimate = whole_construction_seconds(problem.num_stops, vehicles, workers)
    return estimate > budget


def _planned_in_parts(
    problem: PlanningProblem,
    budget: float,
    seed: int,
    workers: int,
    executor: cf.Executor | None,
    on_progress: Progress | None,
    fallback: Plan | None,
) -> tuple[Plan, str]:
    """A day whose whole-day VROOM constructions would not finish in ``budget``:
    VROOM on parts of :data:`BIG_PART_STOPS` stops (:func:`solve_decomposed`) in
    :data:`_BIG_PARTS_SHARE` of it, then VROOM on groups of neighbouring routes
    (:func:`_improve_in_groups`) for the rest. The groups start from the greedy
    ``fallback`` instead when it leaves out fewer orders, or as many for less."""
    began = time.perf_counter()
    start = solve_decomposed(
        problem,
        time_limit=budget * _BIG_PARTS_SHARE,
        engine="vroom",
        seed=seed,
        workers=workers,
        executor=executor,
        part_stops=BIG_PART_STOPS,
        on_progress=on_progress,
    )
    label = start.engine
    if fallback is not None and _rank(fallback) < _rank(start):
        start, label = fallback, "greedy"
    log.debug(
        "day in parts: %s after %.1f s, %d left out, cost %d",
        label,
        time.perf_counter() - began,
        len(start.unassigned),
        start.cost,
    )
    rounds = 0
    if began + budget - time.perf_counter() >= _BIG_GROUP_MIN_S:
        start, rounds = _improve_in_groups(
            problem,
            start,
            began + budget,
            workers,
            seed,
            executor,
            on_progress,
            min_s=_BIG_GROUP_MIN_S,
        )
    label = f"{label} + groups ({rounds} round(s))"
    return dataclasses.replace(start, engine=label), label


def _improve_in_groups(
    problem: PlanningProblem,
    plan: Plan,
    end: float,
    workers: int,
    seed: int,
    executor: cf.Executor | None,
    on_progress: Progress | None,
    min_s: float = _GROUP_MIN_S,
) -> tuple[Plan, int]:
    """``plan`` improved by VROOM on groups of neighbouring routes until ``end``
    (``time.perf_counter()``), and the number of rounds of groups run.

    Each round cuts the routes into groups of about :data:`GROUP_STOPS` stops
    (:func:`~lastmile.planning.decompose.border_groups`: the left-out orders join
    the group of the nearest route, idle vehicles the groups that need them),
    a wave of groups running while ``min_s`` seconds or more are left,
    offset from the last round's, and searches every group from scratch with
    VROOM on one core per group (when the time left holds fewer waves of groups
    than there are, as many groups as fit, from another place each round, so
    that little of the budget goes unused); a group's routes are replaced only when its
    search leaves out fewer orders, or as many for less cost. The plan never gets
    worse, and a group that fails or does not finish keeps its routes.
    """
    began = time.perf_counter()
    working = [v for v in problem.vehicles if problem.idle_reason(v) is None]
    state = _State(routes={r.vehicle_id: r for r in plan.routes if r.tasks})
    own = executor is None
    pool: cf.Executor | None = None
    rounds = 0
    options = {"nb_threads": 1, "exploration_level": 5}
    try:
        while True:
            left = end - time.perf_counter()
            groups = border_groups(
                problem,
                state.routes,
                working,
                GROUP_STOPS,
                _GROUP_OFFSETS[rounds % len(_GROUP_OFFSETS)],
            )
            fit = int(left // min_s)  # waves of groups the time left holds
            if len(groups) < 2 or fit < 1:
                break
            if math.ceil(len(groups) / workers) > fit:
                # Not time for every group: as many as fit, from another place each round.
                k = workers * fit
                at = (rounds * k) % len(groups)
                groups = (groups[at:] + groups[:at])[:k]
            jobs = []
            for g, (part, start) in enumerate(groups):
                spec, index_map = part_spec(problem, part, index=g, start=start)
                jobs.append((spec, index_map, part))
            if pool is None:
                pool = executor if executor is not None else _local_pool(workers)
            rounds += 1
            _run_round(
                pool,
                problem,
                jobs,
                state,
                end,
                workers,
                seed + 1000 * rounds,
                "vroom",
                on_progress,
                began,
                max(0.1, end - began),
                options=options,
                allowance=_GROUP_ALLOWANCE_S,
            )
    finally:
        if own and pool is not None:
            _stop_pool(pool)
    if not rounds:
        return plan, 0
    order_of = {v.id: k for k, v in enumerate(problem.vehicles)}
    routes = tuple(sorted(state.routes.values(), key=lambda r: order_of[r.vehicle_id]))
    served = {v.order_id for r in routes for v in r.visits if v.order_id}
    missing = tuple(Unassigned(o.id, "", "") for o in problem.orders if o.id not in served)
    return Plan(routes, missing, plan.engine, plan.runtime_s), rounds


# -- the local pool for the parts ---------------------------------------------------------


def _local_pool(workers: int) -> cf.ProcessPoolExecutor:
    # fork is cheapest and safe while this process runs one thread; else spawn.
    fork_safe = threading.active_count() == 1 and os.name == "posix"
    ctx = mp.get_context("fork" if fork_safe else "spawn")
    log.debug("parts on %d %s worker process(es)", workers, ctx.get_start_method())
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx)


def _stop_pool(pool: cf.Executor) -> None:
    """Shut the local pool down without waiting for a part still running past
    its time (its process is stopped)."""
    processes = dict(getattr(pool, "_processes", None) or {})
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes.values():
        if proc.is_alive():
            proc.terminate()
    for proc in processes.values():
        proc.join(timeout=0.5)
