"""The planning worker: a separate Python process that runs ``solve`` and nothing else.

Started as ``python -m lastmile.service.plans.worker FD PARENT_PID`` in a new session
(its own process group, so cancelling kills it and any solver processes it
starts; it ends them and itself when the API process that started it is
gone, see :func:`stop_with_parent`). It reads one pickled request from standard input
``(problem, engine, time_limit_s, seed, workers, road, answer_by, robust, scheduler)``
and writes messages to file descriptor ``FD`` (a
:class:`multiprocessing.connection.Connection`):
``("progress", fraction, message)``, then ``("ok", plan)`` or
``("error", text)``. Standard output stays free for whatever the solvers print.

``scheduler`` is empty, or a Dask scheduler's address (``LASTMILE_SCHEDULER``):
the worker then connects to it and the searches run on its cluster
(:func:`~lastmile.planning.executors.open_executor`); connecting comes out of
the job's time limit, and a scheduler that does not answer is the job's error.

``answer_by`` is the wall-clock time (``time.time()``) by which the plan is due:
the search gets what is left of it once the worker has started and built its
travel model, so the worker's own start-up (interpreter, imports, reading the
problem, loading a road network) comes out of the job's time limit rather than
on top of it.

``road`` is None, or ``(spec, profile, epoch, traffic)``: the job plans with travel
that depends on the time of day, on the road network ``spec`` names
(:class:`~lastmile.travel.network_options.NetworkSpec`) for ``profile``, from
``epoch``, with ``traffic`` (an organisation's learned profile) or the one ``spec``
names when None; the worker builds that model again (the parsed network comes from
its disk cache) and plans with :func:`lastmile.planning.solve_time_dependent`.

This module imports only the library (no web framework, no database), so a
worker starts quickly, and it never re-imports the API process's main module.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from multiprocessing.connection import Connection

from lastmile.domain import Plan
from lastmile.exceptions import SolveError
from lastmile.planning import PlanningProblem, solve
from lastmile.planning.executors import CONNECT_TIMEOUT_S, open_executor
from lastmile.planning.robust import Robustness
from lastmile.planning.solve_time_dependent import LegModel, solve_time_dependent
from lastmile.travel.network_options import NetworkSpec
from lastmile.travel.time_dependent import BoundModel
from lastmile.travel.traffic import TrafficProfile

#: Share of the search time given to solve_time_dependent's searches: it re-times and
#: repairs each round's routes after the search, outside its limit.
TIME_DEPENDENT_SHARE = 0.92
#: The shortest search the worker runs when start-up took nearly all its time.
MIN_SEARCH_S = 0.05
#: A road network, a profile, an epoch and a learned traffic profile (None: the
#: network's own): how a worker builds a job's road model.
Road = tuple[NetworkSpec, str, dt.datetime, TrafficProfile | None]


def search_time(time_limit_s: float, answer_by: float | None) -> float:
    """Seconds the search may take: what is left before ``answer_by`` (time.time()),
    no more than the limit and no less than :data:`MIN_SEARCH_S`."""
    if answer_by is None:
        return time_limit_s
    return max(MIN_SEARCH_S, min(time_limit_s, answer_by - time.time()))


def road_legs(problem: PlanningProblem, road: Road | None) -> BoundModel | None:
    """The time-dependent legs between ``problem``'s locations ``road`` describes."""
    if road is None:
        return None
    spec, profile, epoch, traffic = road
    model = spec.model(spec.load(profile), epoch=epoch, traffic=traffic, weather_fallback=True)
    return warmed(model.bind(problem.locations))


def warmed(legs: BoundModel) -> BoundModel:
    """``legs`` after one search: the compiled search is loaded (half a second in a
    fresh process) before the search's clock starts."""
    if legs.size:
        legs.matrix_rows([0], [0])
    return legs


def solve_job(
    problem: PlanningProblem,
    *,
    engine: str,
    time_limit_s: float,
    seed: int,
    workers: int,
    legs: LegModel | None,
    on_progress: Callable[[float, str], None],
    robust: Robustness | None = None,
    executor: Executor | None = None,
) -> Plan:
    """A planning job's search: :func:`solve` on the problem's matrices, or with
    ``legs`` :func:`solve_time_dependent` (every leg timed when it is driven; the
    plan's routes are checked by the validator against those times); ``robust``
    plans with slack for travel-time noise (:mod:`lastmile.planning.robust`);
    ``executor`` runs the searches (:func:`job_executor`)."""
    if legs is None:
        return solve(
            problem,
            engine=engine,
            time_limit=time_limit_s,
            seed=seed,
            workers=workers,
            on_progress=on_progress,
            robust=robust,
            executor=executor,
        )
    on_progress(0.05, "searching with traffic through the day")
    result = solve_time_dependent(
        problem,
        legs,
        engine=engine,
        time_limit=TIME_DEPENDENT_SHARE * time_limit_s,
        seed=seed,
        workers=workers,
        robust=robust,
        executor=executor,
    )
    broken = result.violations()
    if broken:
        shown = "; ".join(f"{v.code}: {v.message}" for v in broken[:3])
        raise SolveError(f"the plan breaks {len(broken)} rule(s) once re-timed: {shown}")
    return result.plan


@contextlib.contextmanager
def job_executor(
    scheduler: str, workers: int, time_limit_s: float | None = None
) -> Iterator[Executor | None]:
    """The executor of a job's searches: None (the solver's own child processes)
    without a scheduler, else the Dask cluster behind it, ``workers`` searches
    side by side. A scheduler is waited for at most half of ``time_limit_s``
    (at least 1 s, at most :data:`~lastmile.planning.executors.CONNECT_TIMEOUT_S`),
    so that a job fails with the scheduler's name rather than for want of time."""
    if not scheduler:
        yield None
        return
    timeout = CONNECT_TIMEOUT_S
    if time_limit_s is not None:
        timeout = min(timeout, max(1.0, time_limit_s / 2))
    with open_executor(scheduler, workers=workers, connect_timeout=timeout) as executor:
        yield executor


def run(
    problem: PlanningProblem,
    engine: str,
    time_limit_s: float,
    seed: int,
    workers: int,
    conn: Connection,
    road: Road | None = None,
    answer_by: float | None = None,
    robust: Robustness | None = None,
    scheduler: str = "",
) -> None:
    """Solve ``problem`` and send the plan (or the error) over ``conn``."""

    def progress(fraction: float, message: str) -> None:
        conn.send(("progress", fraction, message))

    try:
        with job_executor(scheduler, workers, search_time(time_limit_s, answer_by)) as executor:
            legs = road_legs(problem, road)
            plan = solve_job(
                problem,
                engine=engine,
                time_limit_s=search_time(time_limit_s, answer_by),
                seed=seed,
                workers=workers,
                legs=legs,
                on_progress=progress,
                robust=robust,
                executor=executor,
            )
        conn.send(("ok", plan))
    except BaseException as exc:  # report everything: the supervisor has no other channel
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


#: How often a worker checks that the API process that started it is still there, seconds.
PARENT_CHECK_S = 0.5


def stop_with_parent(parent: int, check_s: float = PARENT_CHECK_S) -> threading.Thread:
    """Watch the parent, the API process ``parent``: when it is gone (killed,
    crashed; also before this worker got here), end this worker and the solver
    processes it started (its process group; the worker leads its own session).
    Nobody would read the answer, and an orphaned search would hold a CPU until
    its time limit."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(check_s)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


def main(argv: list[str]) -> int:
    stop_with_parent(int(argv[2]) if len(argv) > 2 else os.getppid())
    conn = Connection(int(argv[1]), readable=False)
    problem, engine, time_limit_s, seed, workers, road, answer_by, *rest = pickle.load(
        sys.stdin.buffer
    )
    robust = rest[0] if rest else None
    scheduler = rest[1] if len(rest) > 1 else ""
    # Imports done and the request read: from here the search keeps to its time.
    conn.send(("started",))
    run(problem, engine, time_limit_s, seed, workers, conn, road, answer_by, robust, scheduler)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
