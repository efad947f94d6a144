"""Background planning jobs: a supervisor thread per job, the search in a worker process.

The API process never solves: :meth:`JobRunner.submit` hands a job id to a
small thread pool (``planning_concurrency`` threads). Each supervisor thread
builds the problem from the database, starts a worker process
(``python -m lastmile.service.plans.worker``, in its own session), relays its
progress to the job row, writes a heartbeat, and stores the plan when it
arrives. Cancelling (from any API process: the flag is in the database) kills
the worker's process group.

With ``planning_executor="thread"`` the search runs in the supervisor thread
instead (no process start-up; cancellation then takes effect when the search
ends, and the result is discarded).

A process that dies (SIGKILL, crash, lost machine) leaves its running jobs
behind. Each runner keeps a *keeper* thread that renews the heartbeat of the
jobs it runs a few times per ``planning_stale_after_s`` (whatever the
supervisor is doing: building the problem, searching, storing), and marks
failed any running job whose heartbeat is older than that: the ones left by a
dead process, whichever API process notices first. A job interrupted that way
ends ``failed`` with the error "interrupted: the service stopped"; it is not
resumed (its orders are still pending and can be planned again).

The job's time limit is kept as a whole: it counts from the moment the job
starts running, so building the problem, starting the worker process and the
search all come out of it, and a share is kept back for storing the plan (see
:func:`store_reserve_s`). The worker is told the moment its answer is due (wall
clock); a worker that has not answered within :func:`grace_s` of the limit (and
:data:`WORKER_START_S` for its own start-up) is killed and the job fails, saying so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lastmile.domain import Plan
from lastmile.service.plans import service
from lastmile.service.plans.snapshot import Snapshot
from lastmile.service.plans.worker import Road, search_time, solve_job, warmed
from lastmile.service.settings import Settings
from lastmile.service.travel import JobLegs, ServiceTravel

log = logging.getLogger(__name__)

#: How often the supervisor writes progress and looks for a cancel request.
TICK_S = 0.5
#: A running job whose heartbeat is older than this was abandoned by a dead process
#: (the default of the ``planning_stale_after_s`` setting).
STALE_AFTER = dt.timedelta(seconds=60)
#: How many times per stale span the keeper renews heartbeats and looks for abandoned jobs.
KEEPER_PASSES = 4
#: The error of a job whose process died under it.
INTERRUPTED = "interrupted: the service stopped"
#: Seconds kept back for storing a plan: a fixed part and a part per order.
STORE_FIXED_S = 0.1
STORE_PER_ORDER_S = 8e-4
#: The least search time a solver is started with, seconds.
MIN_SEARCH_S = 0.1
#: Allowance for the worker process's own start-up (interpreter, imports) on a busy
#: machine, on top of the limit's allowance, before a silent worker is stopped.
WORKER_START_S = 1.0


def grace_s(time_limit: float) -> float:
    """How far past its time limit a solve may end: max(2 s, 5 %)."""
    return max(2.0, 0.05 * time_limit)


def store_reserve_s(num_orders: int, time_limit: float) -> float:
    """Seconds of the time limit kept back for storing a plan of ``num_orders`` orders
    (at most a quarter of the limit)."""
    return min(STORE_FIXED_S + STORE_PER_ORDER_S * num_orders, time_limit / 4)


class Cancelled(Exception):
    """The job was cancelled while it ran."""


class JobRunner:
    """Runs planning jobs in the background of one API process."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        settings: Settings,
        travel_model: ServiceTravel,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._travel_model = travel_model
        self._pool = ThreadPoolExecutor(
            max_workers=settings.planning_concurrency, thread_name_prefix="planning"
        )
        self._events: dict[uuid.UUID, threading.Event] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._stale_after = dt.timedelta(seconds=settings.planning_stale_after_s)
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    # -- public ------------------------------------------------------------------------

    def submit(self, job_id: uuid.UUID) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the job runner is shut down")
            self._events[job_id] = threading.Event()
        self._pool.submit(self._run_safely, job_id)

    def cancel(self, job_id: uuid.UUID) -> None:
        """Ask a job running here to stop (other processes see the database flag)."""
        with self._lock:
            event = self._events.get(job_id)
        if event is not None:
            event.set()

    def recover(self) -> None:
        """At start-up: requeue queued jobs, fail running ones whose process died,
        and start the keeper (see the module docs) that goes on doing the latter."""
        with self._sessions() as session:
            queued, abandoned = service.orphaned_jobs(session, stale_after=self._stale_after)
            for job_id in abandoned:
                service.finish_job(session, job_id=job_id, status="failed", error=INTERRUPTED)
        for job_id in queued:
            self.submit(job_id)
        with self._lock:
            if self._keeper is None and not self._closed:
                self._keeper = threading.Thread(
                    target=self._keep, name="planning-keeper", daemon=True
                )
                self._keeper.start()

    def keep_once(self) -> list[uuid.UUID]:
        """Renew the heartbeat of this runner's running jobs, then fail the running
        jobs whose heartbeat is stale (their process died). Returns the failed ones."""
        with self._lock:
            mine = list(self._events)
        with self._sessions() as session:
            service.renew_heartbeats(session, job_ids=mine)
            _, abandoned = service.orphaned_jobs(session, stale_after=self._stale_after)
            for job_id in abandoned:
                log.warning("planning job %s: its process stopped; marked failed", job_id)
                service.finish_job(session, job_id=job_id, status="failed", error=INTERRUPTED)
        return abandoned

    def _keep(self) -> None:
        interval = self._stale_after.total_seconds() / KEEPER_PASSES
        while not self._stop.wait(interval):
            try:
                self.keep_once()
            except Exception:  # the database may be away for a while; try again
                log.exception("planning keeper pass failed")

    def shutdown(self, *, wait: bool = True) -> None:
        """Cancel every job of this process and stop the threads."""
        with self._lock:
            self._closed = True
            events = list(self._events.values())
            keeper = self._keeper
        for event in events:
            event.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)
        self._stop.set()
        if keeper is not None and wait:
            keeper.join()

    # -- one job -----------------------------------------------------------------------

    def _run_safely(self, job_id: uuid.UUID) -> None:
        try:
            self._run(job_id)
        except Exception:  # the thread must survive and the job must end
            log.exception("planning job %s crashed", job_id)
            with self._sessions() as session:
                service.finish_job(
                    session, job_id=job_id, status="failed", error="internal error; see the logs"
                )
        finally:
            with self._lock:
                self._events.pop(job_id, None)

    def _cancelled(self, session: Session, job_id: uuid.UUID) -> bool:
        with self._lock:
            event = self._events.get(job_id)
        return (event is not None and event.is_set()) or service.cancel_requested(
            session, job_id=job_id
        )

    def _run(self, job_id: uuid.UUID) -> None:
        began = time.monotonic()
        with self._sessions() as session:
            params = service.start_job(session, job_id=job_id)
            if params is None:
                return  # cancelled while queued, or already taken
            if self._cancelled(session, job_id):
                service.finish_job(session, job_id=job_id, status="cancelled")
                return
            time_limit = float(params["time_limit_s"])
            try:
                snapshot = service.snapshot_for_job(
                    session, job_id=job_id, travel_model=self._travel_model
                )
            except Exception as exc:
                service.finish_job(
                    session, job_id=job_id, status="failed", error=f"{type(exc).__name__}: {exc}"
                )
                return
            travel = self._travel_model.describe()
            if not snapshot.problem.orders:
                service.store_result(
                    session, job_id=job_id, snapshot=snapshot, plan=Plan(()), travel=travel
                )
                return
            # What the limit leaves for the search once the problem is built and
            # the time to store the plan is set aside.
            built = time.monotonic() - began
            reserve = store_reserve_s(len(snapshot.problem.orders), time_limit)
            search = max(MIN_SEARCH_S, time_limit - built - reserve)
            if built > time_limit + grace_s(time_limit) / 2:
                service.finish_job(
                    session,
                    job_id=job_id,
                    status="failed",
                    error=(
                        f"building the problem took {built:.1f} s of the {time_limit:g} s time "
                        "limit, leaving no time to search: ask for a longer time limit"
                    ),
                )
                return
            try:
                road = self._travel_model.job_legs(
                    snapshot.problem, snapshot.epoch, snapshot.timezone
                )
                if self._settings.planning_executor == "process":
                    plan = self._solve_in_process(
                        session, job_id, snapshot, params, road, search, time_limit - built
                    )
                else:
                    plan = self._solve_in_thread(session, job_id, snapshot, params, road, search)
            except Cancelled:
                service.finish_job(session, job_id=job_id, status="cancelled")
                return
            except _Failed as exc:
                service.finish_job(session, job_id=job_id, status="failed", error=str(exc))
                return
            if self._cancelled(session, job_id):
                service.finish_job(session, job_id=job_id, status="cancelled")
                return
            service.store_result(
                session, job_id=job_id, snapshot=snapshot, plan=plan, travel=travel
            )
            log.info(
                "planning job %s: %d orders in %.1f s (time limit %g s)",
                job_id,
                len(snapshot.problem.orders),
                time.monotonic() - began,
                time_limit,
            )

    def _solve_in_thread(
        self,
        session: Session,
        job_id: uuid.UUID,
        snapshot: Snapshot,
        params: dict[str, Any],
        road: JobLegs | None,
        search_s: float,
    ) -> Plan:
        def progress(fraction: float, message: str) -> None:
            with self._lock:
                event = self._events.get(job_id)
            if event is not None and event.is_set():
                raise Cancelled()
            del fraction, message

        answer_by = time.time() + search_s
        service.record_progress(session, job_id=job_id, progress=0.05, message="searching")
        try:
            legs = None
            if road is not None:
                model = self._travel_model.day_model(road.profile, road.epoch)
                legs = warmed(model.bind(snapshot.problem.locations))
            return solve_job(
                snapshot.problem,
                engine=params["engine"],
                time_limit_s=search_time(search_s, answer_by),
                seed=params["seed"],
                workers=self._settings.solver_workers,
                legs=legs,
                on_progress=progress,
            )
        except Cancelled:
            raise
        except Exception as exc:
            raise _Failed(f"{type(exc).__name__}: {exc}") from exc

    def _solve_in_process(
        self,
        session: Session,
        job_id: uuid.UUID,
        snapshot: Snapshot,
        params: dict[str, Any],
        road: JobLegs | None,
        search_s: float,
        left_s: float,
    ) -> Plan:
        """Solve in a worker process that must answer within ``search_s`` seconds
        from now (its start-up included); ``left_s`` is what remains of the job's
        time limit. A worker still silent ``grace_s`` after that is stopped."""
        time_limit = float(params["time_limit_s"])
        # The worker builds the road model again from these few values (not a pickled network).
        worker_road: Road | None = (
            (road.spec, road.profile, road.epoch) if road is not None else None
        )
        began = time.monotonic()
        request = (
            snapshot.problem,
            params["engine"],
            search_s,
            params["seed"],
            self._settings.solver_workers,
            worker_road,
            time.time() + search_s,
        )
        proc, conn = _start_worker(request)
        deadline = began + left_s + grace_s(time_limit) + WORKER_START_S
        reported = 0.0
        message = "starting the solver"
        service.record_progress(session, job_id=job_id, progress=0.02, message=message)
        try:
            while True:
                if conn.poll(TICK_S):
                    try:
                        kind, *payload = conn.recv()
                    except EOFError:
                        raise _Failed(
                            f"the solver process ended without an answer (exit code {proc.poll()})"
                        ) from None
                    if kind == "ok":
                        plan: Plan = payload[0]
                        return plan
                    if kind == "error":
                        raise _Failed(str(payload[0]))
                    reported, message = float(payload[0]), str(payload[1])
                elif proc.poll() is not None:
                    raise _Failed(f"the solver process died (exit code {proc.returncode})")
                if self._cancelled(session, job_id):
                    raise Cancelled()
                if time.monotonic() > deadline:
                    raise _Failed(
                        f"the solver gave no plan within the time limit of {time_limit:g} s "
                        f"(waited {grace_s(time_limit) + WORKER_START_S:g} s more); it was stopped"
                    )
                elapsed = time.monotonic() - began
                estimate = max(reported, min(0.95, elapsed / max(search_s, 1e-3)))
                service.record_progress(
                    session, job_id=job_id, progress=estimate, message=message or "searching"
                )
        finally:
            _stop(proc)
            conn.close()


class _Failed(Exception):
    """The search failed; the message is stored on the job."""


def _start_worker(request: tuple[Any, ...]) -> tuple[subprocess.Popen[bytes], Connection]:
    """Start ``python -m lastmile.service.plans.worker`` in its own session."""
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lastmile.service.plans.worker",
                str(write_fd),
                str(os.getpid()),
            ],
            stdin=subprocess.PIPE,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    conn = Connection(read_fd, writable=False)
    assert proc.stdin is not None
    try:
        pickle.dump(request, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # the worker died at once; the supervisor reports its exit code
    return proc, conn


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End the worker and every process it started (its process group)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    else:
        # The worker is gone; solver processes it left behind share its group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
