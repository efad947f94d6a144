"""The planning worker: a separate Python process that runs ``solve`` and nothing else.

Started as ``python -m lastmile.service.plans.worker FD`` in a new session
(its own process group, so cancelling kills it and any solver processes it
starts). It reads one pickled request from standard input
``(problem, engine, time_limit_s, seed, workers, answer_by)`` and writes messages to file
descriptor ``FD`` (a :class:`multiprocessing.connection.Connection`):
``("progress", fraction, message)``, then ``("ok", plan)`` or
``("error", text)``. Standard output stays free for whatever the solvers print.

``answer_by`` is the wall-clock time (``time.time()``) by which the plan is due:
the search gets what is left of it once the worker has started, so the
worker's own start-up (interpreter, imports, reading the problem) comes out of
the job's time limit rather than on top of it.

This module imports only the library (no web framework, no database), so a
worker starts quickly, and it never re-imports the API process's main module.
"""

from __future__ import annotations

import pickle
import sys
import time
from multiprocessing.connection import Connection

from lastmile.planning import PlanningProblem, solve


def run(
    problem: PlanningProblem,
    engine: str,
    time_limit_s: float,
    seed: int,
    workers: int,
    conn: Connection,
) -> None:
    """Solve ``problem`` and send the plan (or the error) over ``conn``."""

    def progress(fraction: float, message: str) -> None:
        conn.send(("progress", fraction, message))

    try:
        plan = solve(
            problem,
            engine=engine,
            time_limit=time_limit_s,
            seed=seed,
            workers=workers,
            on_progress=progress,
        )
        conn.send(("ok", plan))
    except BaseException as exc:  # report everything: the supervisor has no other channel
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


#: The shortest search the worker runs when start-up took nearly all its time.
MIN_SEARCH_S = 0.05


def main(argv: list[str]) -> int:
    conn = Connection(int(argv[1]), readable=False)
    problem, engine, time_limit_s, seed, workers, answer_by = pickle.load(sys.stdin.buffer)
    left = max(MIN_SEARCH_S, min(time_limit_s, answer_by - time.time()))
    run(problem, engine, left, seed, workers, conn)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
