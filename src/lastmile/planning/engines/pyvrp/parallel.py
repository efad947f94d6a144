"""PyVRP on several cores for large problems: independent seeds, then decomposition.

Two searches on a 1,000-stop day each improve at the speed of one core, and
keeping the better of the two gains little while both are still far from
converged. Decomposition makes both cores work on the *same* plan:

1. every worker searches the whole problem with its own seed for the first
   part of the time limit; the best plan is kept;
2. then, in rounds, that plan's routes are split into one group of
   neighbouring routes per worker; each worker improves its group as a
   problem of its own (its clients, its routes as the start, its share of the
   idle vehicles), and the improved groups are put back together. Each round
   splits the plan around a different route, so what one round cannot move
   across a border, the next can.

A group's result replaces its routes only when it is feasible and cheaper, so
every round keeps a complete, feasible plan and the cost never rises. Route
neighbourhood is measured on the problem's own distance matrix (mean distance
between the routes' clients), so it works the same on planar, lon/lat and
road-network problems.

Only problems whose clients can be split freely are decomposed: every client
required, no client groups (several time windows), no shipments (a pickup and
its delivery must stay together), no reloads. Others use independent seeds
for the whole time.

The workers are child processes serving requests over pipes (the problem is
sent once), or, given an executor (:mod:`lastmile.planning.executors`), every
search of every round is one task (:func:`search_task`) carrying the problem:
a task lost with its worker leaves that group's routes as they were.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing as mp
import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import pyvrp
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import MaxRuntime

from lastmile.planning.engines.base import NoFeasiblePlan
from lastmile.planning.engines.pyvrp import model
from lastmile.planning.executors import dispatch_s

log = logging.getLogger(__name__)

#: A route as (vehicle type, client indices in visiting order).
RouteSpec = tuple[int, list[int]]
#: Fraction of the time every worker searches the whole problem first.
WHOLE_SHARE = 0.35
#: Shortest decomposition round worth its set-up, seconds.
MIN_ROUND = 1.5
#: Fewest clients for which decomposition pays off. Below it, two independent
#: searches (one from VROOM's plan) did better at 10 and 30 s: on three generated
#: 800-order days (``realistic_wide.py`` shape ``clustered``, seeds 209, 309, 409) by
#: 2-12 %, while on 1,500 and 2,000 orders (seeds 214, 217) decomposition won by 2 %.
#: At 1,000 orders it still lost: on four 1,000-order city days with tight windows
#: (shape ``compact``, seeds 210, 310, 410, 510; 10 s, load 2.6-3) the independent
#: searches were 0.3 % dearer on one and 6-18 % cheaper on three, and on seed 210 at
#: 30 s 7 % cheaper; on four 1,500-order days (seeds 214, 215, 314, 315) decomposition
#: was 0.8 % dearer on one and 0.4-3.5 % cheaper on three: hence 1,200, between them.
MIN_CLIENTS = 1200
#: The largest share of the whole-problem phase PyVRP's untimed set-up (its
#: neighbourhoods, its own first solution) may take; beyond it the problem is
#: left to independent searches, which start from the greedy plan.
MAX_SETUP_SHARE = 0.5


def decomposable(data: pyvrp.ProblemData) -> bool:
    """Whether ``data``'s clients can be split between workers freely."""
    return (
        data.num_clients >= MIN_CLIENTS
        and data.num_groups == 0
        and data.num_shipments == 0
        and all(c.required for c in data.clients())
        and all(not vt.reload_depots for vt in data.vehicle_types())
    )


def routes_of(solution: pyvrp.Solution, clients: Sequence[int] | None = None) -> list[RouteSpec]:
    """The routes of ``solution``; client indices mapped through ``clients``."""
    out = []
    for route in solution.routes():
        visits = [a.idx for a in route if a.is_client()]
        if clients is not None:
            visits = [clients[v] for v in visits]
        out.append((route.vehicle_type(), visits))
    return out


def subproblem(
    data: pyvrp.ProblemData, clients: Sequence[int], available: Sequence[int]
) -> pyvrp.ProblemData:
    """``data`` restricted to ``clients``, with ``available`` vehicles per type."""
    all_clients = data.clients()
    types = [
        vt.replace(num_available=max(1, n))
        for vt, n in zip(data.vehicle_types(), available, strict=True)
    ]
    return data.replace(clients=[all_clients[c] for c in clients], vehicle_types=types)


def _search(
    data: pyvrp.ProblemData,
    params: pyvrp.SolveParams,
    seconds: float,
    seed: int,
    clients: list[int] | None,
    available: list[int] | None,
    start: list[RouteSpec] | None,
) -> tuple[list[RouteSpec], int, bool]:
    """One search: its best routes (full client indices), their cost, and whether feasible."""
    if clients is None:
        sub = data
        local: dict[int, int] = {}
    else:
        assert available is not None
        sub = subproblem(data, clients, available)
        local = {c: i for i, c in enumerate(clients)}
    init = None
    if start is not None:
        init = pyvrp.Solution(
            sub, [pyvrp.Route(sub, [local.get(c, c) for c in v], t) for t, v in start]
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        result = model.search(
            sub, MaxRuntime(max(0.05, seconds)), seed=seed, params=params, initial_solution=init
        )
    best = result.best
    feasible = best.is_feasible() and best.is_complete()
    return routes_of(best, clients), _solution_cost(best), feasible


def search_task(
    data: pyvrp.ProblemData,
    max_penalty: float,
    seconds: float,
    seed: int,
    clients: list[int] | None,
    available: list[int] | None,
    start: list[RouteSpec] | None,
) -> tuple[list[RouteSpec], int, bool]:
    """One search as an executor's task (see :func:`_search`)."""
    params = pyvrp.SolveParams(penalty=model.penalty_params(max_penalty))
    return _search(data, params, seconds, seed, clients, available, start)


def _serve(data: pyvrp.ProblemData, max_penalty: float, conn: Connection) -> None:
    """Worker loop: answer search requests until told to stop."""
    # built here: PyVRP's parameter objects cannot be pickled for spawned workers
    params = pyvrp.SolveParams(penalty=model.penalty_params(max_penalty))
    try:
        while True:
            request = conn.recv()
            if request is None:
                return
            number, *args = request
            try:
                conn.send((number, "ok", _search(data, params, *args)))
            except Exception as exc:  # reported to the parent, which keeps its plan
                conn.send((number, "error", f"{type(exc).__name__}: {exc}"))
    except (EOFError, KeyboardInterrupt):
        return
    finally:
        conn.close()


def route_distances(data: pyvrp.ProblemData, routes: list[RouteSpec]) -> np.ndarray:
    """Mean distance between the clients of every two routes (routes x routes)."""
    dist = np.asarray(data.distance_matrix(0), dtype=np.float64)
    locs = np.array([c.location for c in data.clients()])
    members = np.zeros((len(routes), len(locs)))
    for r, (_, visits) in enumerate(routes):
        members[r, visits] = 1.0 / max(1, len(visits))
    sub = dist[np.ix_(locs, locs)]
    d: np.ndarray = members @ sub @ members.T
    out: np.ndarray = (d + d.T) / 2
    return out


def split(
    data: pyvrp.ProblemData, routes: list[RouteSpec], parts: int, pivot: int
) -> list[list[int]]:
    """Route indices in ``parts`` groups of neighbouring routes of similar size.

    Groups grow from seed routes far apart: the first is ``pivot``, each next
    one the route farthest from the seeds so far; then routes join, nearest
    first, the seed whose group has the fewest clients.
    """
    d = route_distances(data, routes)
    seeds = [pivot % len(routes)]
    while len(seeds) < min(parts, len(routes)):
        seeds.append(int(np.argmax(d[seeds].min(axis=0))))
    groups: list[list[int]] = [[s] for s in seeds]
    sizes = [len(routes[s][1]) for s in seeds]
    left = set(range(len(routes))) - set(seeds)
    while left:
        g = int(np.argmin(sizes))
        near = min(left, key=lambda r: d[r, groups[g]].mean())
        groups[g].append(near)
        sizes[g] += len(routes[near][1])
        left.discard(near)
    return groups


def solve_parallel(
    data: pyvrp.ProblemData,
    *,
    max_penalty: float,
    time_limit: float,
    seed: int,
    workers: int,
    on_progress: Callable[[float, str], None] | None = None,
    executor: cf.Executor | None = None,
    start: list[RouteSpec] | None = None,
    pair_s: float = 0.0,
    initial_s: float = 0.0,
) -> list[RouteSpec] | None:
    """Search ``data`` on ``workers`` processes (or ``workers`` tasks at a time
    of ``executor``); the best routes found.

    ``start``: the whole-problem searches start from these routes instead of
    PyVRP's own first solution. ``pair_s`` (seconds per pair of clients, for
    PyVRP's neighbourhoods) and ``initial_s`` (its first solution, when no
    ``start``) estimate what PyVRP spends before its timed search: each search
    is given its share of the time less that, so that it answers in time.

    With a decomposable problem the whole-problem phase is followed by
    decomposition rounds (see the module docstring); otherwise every worker
    searches the whole problem for the whole time. The routes are infeasible
    only when no worker found a feasible plan; None when every worker failed.
    Raises :class:`~lastmile.planning.engines.base.NoFeasiblePlan` when the
    whole-problem phase of a decomposable problem found no feasible plan.
    """
    began = time.perf_counter()
    deadline = began + time_limit
    method = "fork" if threading.active_count() == 1 and os.name == "posix" else "spawn"
    ctx: Any = mp.get_context(method)
    pool = []
    for _ in range(workers if executor is None else 0):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(data, max_penalty, child), daemon=True)
        proc.start()
        child.close()
        pool.append((proc, parent))

    asked = 0

    def ask_executor(requests: list[tuple[Any, ...]], seconds: float) -> list[Any]:
        """One task per request; the answers back by the cutoff (None if late or lost)."""
        assert executor is not None
        shipped = max(0.05, seconds - dispatch_s(executor, seconds))
        futures = [
            executor.submit(search_task, data, max_penalty, shipped, *request[1:])
            for request in requests
        ]
        cutoff = time.perf_counter() + seconds + max(0.5, 0.05 * seconds)
        cf.wait(futures, timeout=max(0.0, cutoff - time.perf_counter()))
        answers: list[Any] = []
        for i, future in enumerate(futures):
            if not future.done():
                future.cancel()
                log.debug("task %d is late", i)
                answers.append(None)
            elif future.cancelled() or future.exception() is not None:
                why = "cancelled" if future.cancelled() else future.exception()
                log.debug("task %d failed: %s", i, why)
                answers.append(None)
            else:
                answers.append(future.result())
        return answers

    def ask(requests: list[tuple[Any, ...]], seconds: float) -> list[Any]:
        """Send one request per worker; the answers back by the cutoff (None if late).

        Requests are numbered: a late worker's answer arrives during a later
        round and is recognised as stale. A worker that died is left out.
        """
        if executor is not None:
            return ask_executor(requests, seconds)
        nonlocal asked
        asked += 1
        for (proc, conn), request in zip(pool, requests, strict=False):
            if proc.is_alive():
                with contextlib.suppress(BrokenPipeError, OSError):
                    conn.send((asked, *request))
        answers: list[Any] = [None] * len(requests)
        cutoff = time.perf_counter() + seconds + max(0.5, 0.05 * seconds)
        for i, (proc, conn) in enumerate(pool[: len(requests)]):
            while proc.is_alive() or conn.poll():
                wait = max(0.0, cutoff - time.perf_counter())
                if not conn.poll(wait):
                    log.debug("worker %d is late in round %d", i, asked)
                    break
                try:
                    number, status, payload = conn.recv()
                except (EOFError, OSError):
                    break
                if number != asked:
                    continue  # a late answer to an earlier round
                if status == "ok":
                    answers[i] = payload
                else:
                    log.debug("worker %d failed: %s", i, payload)
                break
        return answers

    try:
        whole = decomposable(data)
        first = (time_limit * WHOLE_SHARE if whole else time_limit) - 0.05
        search = max(0.05, first - pair_s * data.num_clients**2 - initial_s)
        answers = ask([(search, seed + k, None, None, start) for k in range(workers)], first)
        found: list[tuple[list[RouteSpec], int, bool]] = [a for a in answers if a is not None]
        if not found:
            return None
        feasible = [a for a in found if a[2]]
        if not feasible and not whole:  # the planner's repair step takes over
            return found[0][0]
        if not feasible:
            # Nothing to decompose, and nothing the rest of the time would mend by
            # splitting: the caller searches again letting orders out.
            raise NoFeasiblePlan(f"no worker found a plan serving every client in {first:.1f} s")
        best: list[RouteSpec]
        best, cost, _ = min(feasible, key=lambda a: a[1])
        if on_progress:
            on_progress(min(0.99, (time.perf_counter() - began) / time_limit), "searching")
        log.debug("whole problem: cost %d after %.1f s", cost, time.perf_counter() - began)
        round_no = 0
        while whole and (executor is not None or any(proc.is_alive() for proc, _ in pool)):
            left = deadline - time.perf_counter() - 0.1
            if left < MIN_ROUND:
                break
            rounds_left = max(1, int(left // max(MIN_ROUND, time_limit * 0.15)))
            seconds = left / rounds_left
            groups = split(data, best, workers, pivot=seed + round_no * 7919)
            used = np.zeros(data.num_vehicle_types, dtype=int)
            for t, _ in best:
                used[t] += 1
            spare = [vt.num_available - used[t] for t, vt in enumerate(data.vehicle_types())]
            requests = []
            for g, group in enumerate(groups):
                routes = [best[r] for r in group]
                clients = sorted(c for _, v in routes for c in v)
                available = [sum(1 for t2, _ in routes if t2 == t) for t in range(len(spare))]
                available = [
                    a + s // len(groups) + int(g < s % len(groups))
                    for a, s in zip(available, spare, strict=True)
                ]
                seed_g = seed + 1000 * (round_no + 1) + g
                search = max(0.05, seconds - pair_s * len(clients) ** 2)
                requests.append((search, seed_g, clients, available, routes))
            answers = ask(requests, seconds)
            merged: list[RouteSpec] = []
            for group, answer in zip(groups, answers, strict=True):
                old = [best[r] for r in group]
                old_cost = _cost(data, old)
                log.debug(
                    "  group of %d routes: %s -> %s",
                    len(old),
                    old_cost,
                    None if answer is None else answer[1:],
                )
                if answer is not None and answer[2] and answer[1] < old_cost:
                    merged.extend(answer[0])
                else:
                    merged.extend(old)
            new_cost = _cost(data, merged)
            if new_cost <= cost:
                best, cost = merged, new_cost
            log.debug("round %d (%.1f s, %d groups): cost %d", round_no, seconds, len(groups), cost)
            round_no += 1
            if on_progress:
                on_progress(min(0.99, (time.perf_counter() - began) / time_limit), "searching")
        return best
    finally:
        for proc, conn in pool:
            if proc.is_alive():
                with contextlib.suppress(BrokenPipeError, OSError):
                    conn.send(None)
        for proc, conn in pool:
            proc.join(timeout=0.5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=1)
            conn.close()


def _solution_cost(solution: pyvrp.Solution) -> int:
    """Travel, time and vehicle costs of ``solution``, whether or not it visits every client."""
    return int(solution.distance_cost() + solution.duration_cost() + solution.fixed_vehicle_cost())


def _cost(data: pyvrp.ProblemData, routes: list[RouteSpec]) -> int:
    """The cost of ``routes`` on ``data``: a group's share of a plan's cost."""
    return _solution_cost(pyvrp.Solution(data, [pyvrp.Route(data, v, t) for t, v in routes]))
