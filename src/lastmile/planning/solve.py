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
   guided local search for the rest of the time. The best plan wins;
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

import dataclasses
import multiprocessing as mp
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from lastmile.domain import Plan, Route, Unassigned, VisitKind
from lastmile.exceptions import SolveError, UnsupportedConstraint
from lastmile.planning.engines import REGISTRY, get_engine
from lastmile.planning.fill import fill_left_out
from lastmile.planning.problem import Feature, PlanningProblem
from lastmile.planning.schedule import Step, build_route

Progress = Callable[[float, str], None]

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
) -> Plan:
    """Plan ``problem`` within ``time_limit`` seconds of wall time.

    ``workers`` defaults to the number of cores. The returned plan has passed
    :func:`~lastmile.planning.validate.validate`, and every order is either on
    a route or in ``plan.unassigned`` with a reason.
    """
    from lastmile.planning.unassigned import explain_unassigned

    if time_limit <= 0:
        raise ValueError(f"time_limit must be > 0, got {time_limit}")
    began = time.perf_counter()
    deadline = began + time_limit
    workers = max(1, workers or os.cpu_count() or 1)

    hopeless = _hopeless_orders(problem, explain_unassigned)
    solvable = (
        dataclasses.replace(
            problem, orders=tuple(o for o in problem.orders if o.id not in hopeless)
        )
        if hopeless
        else problem
    )
    names = _choose_engines(solvable, engine)

    if solvable.orders:
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
        if solvable.num_stops >= _ISOLATE_STOPS:
            fallback = greedy_plan(solvable, deadline=greedy_by)
        budget = search_end - time.perf_counter()
        if fallback is not None and budget < _MIN_SEARCH_S:
            found, label = None, "no time left to search"
        else:
            found, label = _portfolio(solvable, names, budget, seed, workers, on_progress)
        if found is not None and found.engine != "greedy":
            # A search may leave out an order a cheap insertion serves: put it in
            # before plans are compared (out of the time kept for checking).
            found = fill_left_out(solvable, found, deadline=search_end + reserve / 3)
        if found is None or (fallback is not None and _rank(fallback) < _rank(found)):
            if fallback is None:
                # It may use half the allowance past the limit, the repair step the rest.
                fallback = greedy_plan(solvable, deadline=max(greedy_by, time.perf_counter() + 0.1))
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
            if starter.first_plan_seconds(problem) <= share:
                initial = starter.solve(problem, time_limit=share, seed=job.seed)
            else:
                from lastmile.planning.construct import greedy_plan

                initial = greedy_plan(problem, deadline=began + job.budget / 2)
    engine = get_engine(job.engine, **job.options)
    left = max(0.05, job.budget - (time.perf_counter() - began))
    return engine.solve(problem, time_limit=left, seed=job.seed, initial=initial)


def _portfolio(
    problem: PlanningProblem,
    names: list[str],
    budget: float,
    seed: int,
    workers: int,
    on_progress: Progress | None,
) -> tuple[Plan | None, str]:
    """Run the search on every core and keep the best plan (None when every
    search was stopped at the deadline before it had one)."""
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
            parallel = get_engine("pyvrp", prize_collecting=False).solve_parallel(
                problem, time_limit=budget, seed=seed, workers=workers, on_progress=on_progress
            )
            if parallel is not None:
                return parallel, f"pyvrp x{workers} (decomposition)"
            budget = max(0.1, budget - (time.perf_counter() - began))
        # One worker starts from VROOM's plan, the others from PyVRP's own
        # constructions: different regions of the search space.
        jobs = [
            _Job("pyvrp", budget, seed + k, {"prize_collecting": collect}) for k in range(workers)
        ]
        if workers > 1:
            # VROOM on one thread: the sibling workers have the other cores.
            jobs[1] = dataclasses.replace(
                jobs[1], warm_start="vroom", warm_options={"nb_threads": 1}
            )
        label = f"pyvrp x{workers}" if workers > 1 else "pyvrp"
        plans = _run_jobs(problem, jobs, budget, on_progress)
    elif "ortools" in names and (first == "vroom" or _vroom_orders(problem)):
        # VROOM on every core first, then OR-Tools improves its plan with one
        # metaheuristic per core in the time VROOM leaves. VROOM's own plan stays
        # in the running (re-timed and re-costed when it ordered stops for
        # driving time only, on a problem that charges waiting).
        vroom_job = _Job("vroom", budget, seed, {"nb_threads": workers, "aim_share": _VROOM_SHARE})
        if first == "vroom":
            start = _run_jobs(problem, [vroom_job], budget, on_progress)[0]
        else:
            ordered = _run_jobs(_driving_only(problem), [vroom_job], budget, on_progress)[0]
            start = _recosted(problem, ordered) if ordered is not None else None
        if on_progress:
            on_progress(_VROOM_SHARE, "improving")
        left = budget - (time.perf_counter() - began)
        plans = [start]
        label = "vroom"
        if left >= 0.5:
            improvers = [
                _Job("ortools", left, seed, {"metaheuristic": m}, start)
                for m in _IMPROVERS[: max(1, workers)]
            ]
            plans += _run_jobs(problem, improvers, left, on_progress)
            label = "vroom+ortools"
    else:
        jobs = [_Job(first, budget, seed)]
        label = first
        plans = _run_jobs(problem, jobs, budget, on_progress)
    found = [p for p in plans if p is not None]
    if not found:
        return None, label  # every search was cut short: the caller falls back
    best = min(found, key=_rank)
    if best.engine == "greedy":
        return best, f"greedy ({label} had no time to search)"
    return best, label if len(found) == len(plans) else f"{label} (partial)"


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
) -> list[Plan | None]:
    """Run ``jobs`` in parallel worker processes (a lone job of a small problem, or
    one in a process with several threads, runs in this one).

    Waits until every worker answered, or until the budget plus a small grace
    has passed and at least one did: laggards are then stopped, so the time
    limit holds even when a machine is busier than the engines assume. A
    little later still (:func:`_late_s`), every worker is stopped whether or
    not one answered; a stopped worker's entry is None. Raises
    :class:`SolveError` only when every worker failed.
    """
    fork_safe = threading.active_count() == 1 and os.name == "posix"
    if len(jobs) == 1 and not (fork_safe and problem.num_stops >= _ISOLATE_STOPS):
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
