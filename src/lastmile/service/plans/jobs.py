"""Planning slots: threads that take jobs from the shared queue and supervise each search.

Jobs wait in the database (:mod:`lastmile.service.plans.queue`): ``POST /plans``
only queues one. A :class:`JobRunner` runs the process's planning *slots*
(``planning_slots``, one by default; ``lastmile serve`` and ``lastmile worker``
alike): each slot claims the next job its turn-taking rules allow, builds the
problem from the database, starts a worker process (``python -m
lastmile.service.plans.worker``, in its own session), relays its progress to the
job row and stores the plan when it arrives. Cancelling (from any API process:
the flag is in the database) kills the worker's process group. A process with
no slots only queues: other processes' slots run its jobs.

With ``planning_executor="thread"`` the search runs in the slot's thread
instead (no process start-up; cancellation then takes effect when the search
ends, and the result is discarded).

A slot holds a *lease* on its job. Each runner keeps a *keeper* thread that
renews the leases of the jobs it runs a few times per
``planning_stale_after_s`` (whatever the slot is doing: building the problem,
searching, storing), and takes back any running job whose lease ran out: one
left by a process that died (SIGKILL, crash, lost machine), whichever process
notices first. Such a job is queued again for another slot while it has
attempts left (``planning_attempts``, 2 by default), and ends ``failed`` with the
reason after that ("interrupted: the service stopped" when it had one attempt).
A search whose solver process was killed is queued again the same way. A
process that shuts down gives its running jobs back to the queue (that start
does not count).

The job's time limit is kept as a whole: it counts from the moment the job
starts running, so building the problem, starting the worker process and the
search all come out of it, and a share is kept back for storing the plan (see
:func:`store_reserve_s`). The worker is told the moment its answer is due (wall
clock); a worker that has not answered within :func:`grace_s` of the limit (and
:data:`WORKER_START_S` for its own start-up) is killed and the job fails, saying so.
A worker that is slow to start (a machine so busy that the interpreter and its
imports take seconds) is not failed for it: it is waited for up to
:data:`WORKER_START_LIMIT_S`, then searches for what is left of the limit (at least
a moment) and has :func:`grace_s` from its start to answer. The plan comes late,
but it comes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import pickle
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lastmile.domain import Plan
from lastmile.service.plans import queue, service
from lastmile.service.plans.models import PlanningJob
from lastmile.service.plans.queue import INTERRUPTED as INTERRUPTED
from lastmile.service.plans.snapshot import Snapshot
from lastmile.service.plans.solver_options import robustness_of
from lastmile.service.plans.worker import Road, job_executor, search_time, solve_job, warmed
from lastmile.service.settings import Settings
from lastmile.service.travel import JobLegs, ServiceTravel

log = logging.getLogger(__name__)

#: How often the supervisor writes progress and looks for a cancel request.
TICK_S = 0.5
#: A running job whose lease is older than this was abandoned by a dead process
#: (the default of the ``planning_stale_after_s`` setting, the lease span).
STALE_AFTER = dt.timedelta(seconds=60)
#: How many times per lease span the keeper renews leases and looks for abandoned jobs.
KEEPER_PASSES = 4
#: Seconds kept back for storing a plan: a fixed part and a part per order.
STORE_FIXED_S = 0.1
STORE_PER_ORDER_S = 8e-4
#: The least search time a solver is started with, seconds.
MIN_SEARCH_S = 0.1
#: Allowance for the worker process's own start-up (interpreter, imports) on a busy
#: machine, on top of the limit's allowance, before a silent worker is stopped.
WORKER_START_S = 1.0
#: How long a worker process may take to start (it says so once its imports are
#: done) before it is stopped and the job fails, seconds.
WORKER_START_LIMIT_S = 30.0


def grace_s(time_limit: float) -> float:
    """How far past its time limit a solve may end: max(2 s, 5 %)."""
    return max(2.0, 0.05 * time_limit)


def store_reserve_s(num_orders: int, time_limit: float) -> float:
    """Seconds of the time limit kept back for storing a plan of ``num_orders`` orders
    (at most a quarter of the limit)."""
    return min(STORE_FIXED_S + STORE_PER_ORDER_S * num_orders, time_limit / 4)


class Cancelled(Exception):
    """The job was cancelled while it ran (or its slot must let go of it)."""


@dataclass
class _Held:
    """A job a slot of this process runs: its slot and what stops it."""

    holder: str
    stop: threading.Event = field(default_factory=threading.Event)
    #: The lease was lost (taken back or ended elsewhere): nothing more is written.
    lost: bool = False


class JobRunner:
    """The planning slots of one process (an API process or ``lastmile worker``)."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        settings: Settings,
        travel_model: ServiceTravel,
        slots: int | None = None,
        name: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._travel_model = travel_model
        self.slots = settings.slots if slots is None else slots
        #: This runner in leases: host, process and a random tag (process ids are reused).
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"
        self._held: dict[uuid.UUID, _Held] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._lease = dt.timedelta(seconds=settings.planning_stale_after_s)
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._queued = 0  # bumped by submit: a slot that saw no job looks again
        self._threads: list[threading.Thread] = []

    # -- public ------------------------------------------------------------------------

    def submit(self, job_id: uuid.UUID) -> None:
        """A job was queued: wake this process's idle slots (the job may still go to
        another process's slot, whichever claims first)."""
        del job_id
        with self._lock:
            if self._closed:
                raise RuntimeError("the job runner is shut down")
        with self._wake:
            self._queued += 1
            self._wake.notify_all()

    def cancel(self, job_id: uuid.UUID) -> None:
        """Ask a job running here to stop (other processes see the database flag)."""
        with self._lock:
            held = self._held.get(job_id)
        if held is not None:
            held.stop.set()

    def running(self) -> list[uuid.UUID]:
        """The jobs this process's slots run now."""
        with self._lock:
            return list(self._held)

    def recover(self) -> None:
        """At start-up: take back the jobs whose slot's process died (queued again
        or failed, see the module docs), then start the keeper and the slots."""
        self.keep_once()
        with self._lock:
            if self._threads or self._closed:
                return
            self._threads.append(
                threading.Thread(target=self._keep, name="planning-keeper", daemon=True)
            )
            for index in range(self.slots):
                self._threads.append(
                    threading.Thread(
                        target=self._slot, args=(index,), name=f"planning-{index}", daemon=True
                    )
                )
            for thread in self._threads:
                thread.start()

    def keep_once(self, *, now: dt.datetime | None = None) -> list[uuid.UUID]:
        """Renew the leases of this runner's running jobs, then take back the
        running jobs whose lease had run out at ``now`` (default: now; their
        process died). Returns those."""
        with self._lock:
            mine = {job_id: held.holder for job_id, held in self._held.items()}
        with self._sessions() as session:
            kept = queue.renew(session, holders=mine, lease=self._lease)
            for job_id in set(mine) - kept:
                with self._lock:
                    held = self._held.get(job_id)
                if held is not None and held.holder == mine[job_id]:
                    log.warning("planning job %s: the lease was lost; its slot lets go", job_id)
                    held.lost = True
                    held.stop.set()
            taken = queue.take_back_expired(
                session,
                stale_after=self._lease,
                attempts_allowed=self._settings.planning_attempts,
                now=now,
            )
        for job_id, outcome in taken:
            log.warning("planning job %s: its process stopped; %s", job_id, outcome)
        if any(outcome == "queued" for _, outcome in taken):
            with self._wake:
                self._queued += 1
                self._wake.notify_all()
        return [job_id for job_id, _ in taken]

    def claim_once(self, slot: int = 0) -> bool:
        """Claim the next job this runner's turn allows and run it in this thread.
        Returns whether there was one."""
        holder = f"{self.name}/{slot}"
        with self._sessions() as session:
            claimed = queue.claim_next(
                session,
                queue=self._settings.planning_queue,
                holder=holder,
                org_limit=self._settings.planning_org_limit,
                lease=self._lease,
            )
        if claimed is None:
            return False
        with self._lock:
            self._held[claimed.job_id] = held = _Held(holder)
            if self._closed:
                held.stop.set()
        try:
            self._run_safely(claimed, held)
        finally:
            with self._lock:
                self._held.pop(claimed.job_id, None)
        return True

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop the slots and the keeper; the jobs running here go back to the queue."""
        with self._lock:
            self._closed = True
            held = list(self._held.values())
            threads = list(self._threads)
        for h in held:
            h.stop.set()
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if wait:
            for thread in threads:
                thread.join()

    # -- threads -------------------------------------------------------------------------

    def _slot(self, index: int) -> None:
        poll = self._settings.planning_poll_s
        while not self._stop.is_set():
            with self._wake:
                seen = self._queued
            try:
                ran = self.claim_once(index)
            except Exception:  # the database may be away for a while; try again
                log.exception("planning slot %d: claiming a job failed", index)
                ran = False
            if not ran:
                with self._wake:
                    if self._queued == seen and not self._stop.is_set():
                        self._wake.wait(poll)

    def _keep(self) -> None:
        interval = self._lease.total_seconds() / KEEPER_PASSES
        while not self._stop.wait(interval):
            try:
                self.keep_once()
            except Exception:  # the database may be away for a while; try again
                log.exception("planning keeper pass failed")

    # -- one job -----------------------------------------------------------------------

    def _run_safely(self, claimed: queue.Claimed, held: _Held) -> None:
        try:
            self._run(claimed, held)
        except Exception:  # the thread must survive and the job must end
            log.exception("planning job %s crashed", claimed.job_id)
            with self._sessions() as session:
                service.finish_job(
                    session,
                    job_id=claimed.job_id,
                    status="failed",
                    error="internal error; see the logs",
                    holder=held.holder,
                )

    def _cancelled(self, session: Session, job_id: uuid.UUID, held: _Held) -> bool:
        return held.stop.is_set() or service.cancel_requested(session, job_id=job_id)

    def _let_go(self, session: Session, job_id: uuid.UUID, held: _Held) -> None:
        """The job stops here without a plan: cancelled, or given back to the queue
        when this process shuts down, or left alone when its lease was lost."""
        if held.lost:
            return
        if self._closed and not service.cancel_requested(session, job_id=job_id):
            if queue.release(
                session,
                job_id=job_id,
                holder=held.holder,
                message="queued again: the process running it was stopped",
            ):
                log.info("planning job %s: given back to the queue", job_id)
            return
        service.finish_job(session, job_id=job_id, status="cancelled", holder=held.holder)

    def _run(self, claimed: queue.Claimed, held: _Held) -> None:
        began = time.monotonic()
        job_id = claimed.job_id
        with self._sessions() as session:
            job = session.get(PlanningJob, job_id)
            assert job is not None
            params = dict(job.params)
            if self._cancelled(session, job_id, held):
                self._let_go(session, job_id, held)
                return
            time_limit = float(params["time_limit_s"])
            try:
                snapshot = service.snapshot_for_job(
                    session, job_id=job_id, travel_model=self._travel_model
                )
            except Exception as exc:
                service.finish_job(
                    session,
                    job_id=job_id,
                    status="failed",
                    error=f"{type(exc).__name__}: {exc}",
                    holder=held.holder,
                )
                return
            travel = self._travel_model.describe()
            if not snapshot.problem.orders:
                service.store_result(
                    session,
                    job_id=job_id,
                    snapshot=snapshot,
                    plan=Plan(()),
                    travel=travel,
                    holder=held.holder,
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
                    holder=held.holder,
                )
                return
            try:
                road = self._travel_model.job_legs(
                    snapshot.problem, snapshot.epoch, snapshot.timezone, snapshot.traffic
                )
                if self._settings.planning_executor == "process":
                    plan = self._solve_in_process(
                        session, job_id, held, snapshot, params, road, search, time_limit - built
                    )
                else:
                    plan = self._solve_in_thread(
                        session, job_id, held, snapshot, params, road, search
                    )
            except Cancelled:
                self._let_go(session, job_id, held)
                return
            except _Killed as exc:
                self._solver_killed(session, claimed, held, str(exc))
                return
            except _Failed as exc:
                service.finish_job(
                    session, job_id=job_id, status="failed", error=str(exc), holder=held.holder
                )
                return
            if self._cancelled(session, job_id, held):
                self._let_go(session, job_id, held)
                return
            stored = service.store_result(
                session,
                job_id=job_id,
                snapshot=snapshot,
                plan=plan,
                travel=travel,
                holder=held.holder,
            )
            log.info(
                "planning job %s: %d orders in %.1f s (time limit %g s)%s",
                job_id,
                len(snapshot.problem.orders),
                time.monotonic() - began,
                time_limit,
                "" if stored else "; not stored: the lease was lost",
            )

    def _solver_killed(
        self, session: Session, claimed: queue.Claimed, held: _Held, reason: str
    ) -> None:
        """The solver process was killed under the job (out of memory, an operator):
        queued again for another try while attempts are left, else failed."""
        allowed = self._settings.planning_attempts
        final = (
            reason
            if claimed.attempt <= 1
            else f"{reason}; the solver was killed {queue.times(claimed.attempt)}: "
            "the job is not tried again"
        )
        outcome = queue.give_back(
            session,
            job_id=claimed.job_id,
            holder=held.holder,
            attempts=claimed.attempt,
            attempts_allowed=allowed,
            again=f"queued again: {reason} (attempt {claimed.attempt} of {allowed})",
            final=final,
        )
        log.warning("planning job %s: %s; %s", claimed.job_id, reason, outcome or "ended already")
        if outcome == "queued":
            with self._wake:
                self._queued += 1
                self._wake.notify_all()

    def _solve_in_thread(
        self,
        session: Session,
        job_id: uuid.UUID,
        held: _Held,
        snapshot: Snapshot,
        params: dict[str, Any],
        road: JobLegs | None,
        search_s: float,
    ) -> Plan:
        def progress(fraction: float, message: str) -> None:
            if held.stop.is_set():
                raise Cancelled()
            del fraction, message

        answer_by = time.time() + search_s
        self._progress(session, job_id, held, 0.05, "searching")
        try:
            workers = self._settings.solver_workers
            with job_executor(self._settings.scheduler, workers, search_s) as executor:
                legs = None
                if road is not None:
                    model = self._travel_model.day_model(road.profile, road.epoch, road.traffic)
                    legs = warmed(model.bind(snapshot.problem.locations))
                return solve_job(
                    snapshot.problem,
                    engine=params["engine"],
                    time_limit_s=search_time(search_s, answer_by),
                    seed=params["seed"],
                    workers=workers,
                    legs=legs,
                    on_progress=progress,
                    robust=robustness_of(params),
                    executor=executor,
                )
        except Cancelled:
            raise
        except Exception as exc:
            raise _Failed(f"{type(exc).__name__}: {exc}") from exc

    def _solve_in_process(
        self,
        session: Session,
        job_id: uuid.UUID,
        held: _Held,
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
            (
                road.spec,
                road.profile,
                road.epoch,
                road.traffic.profile if road.traffic is not None else None,
            )
            if road is not None
            else None
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
            robustness_of(params),
            self._settings.scheduler,
        )
        proc, conn = _start_worker(request)
        deadline = began + left_s + grace_s(time_limit) + WORKER_START_S
        started: float | None = None
        reported = 0.0
        message = "starting the solver"
        try:
            self._progress(session, job_id, held, 0.02, message)
            while True:
                if conn.poll(TICK_S):
                    try:
                        kind, *payload = conn.recv()
                    except EOFError:
                        raise _ended(proc, "ended without an answer") from None
                    if kind == "ok":
                        plan: Plan = payload[0]
                        return plan
                    if kind == "error":
                        raise _Failed(str(payload[0]))
                    if kind == "started":
                        started = time.monotonic()
                        # Started late, it still searches a moment and answers.
                        deadline = max(deadline, started + MIN_SEARCH_S + grace_s(time_limit))
                        continue
                    reported, message = float(payload[0]), str(payload[1])
                elif proc.poll() is not None:
                    raise _ended(proc, "died")
                if self._cancelled(session, job_id, held):
                    raise Cancelled()
                if started is None and time.monotonic() - began > WORKER_START_LIMIT_S:
                    raise _Failed(
                        f"the solver's process did not start within {WORKER_START_LIMIT_S:g} s; "
                        "it was stopped"
                    )
                if started is not None and time.monotonic() > deadline:
                    raise _Failed(
                        f"the solver gave no plan within the time limit of {time_limit:g} s "
                        f"(waited {grace_s(time_limit) + WORKER_START_S:g} s more); it was stopped"
                    )
                elapsed = time.monotonic() - began
                estimate = max(reported, min(0.95, elapsed / max(search_s, 1e-3)))
                self._progress(session, job_id, held, estimate, message or "searching")
        finally:
            _stop(proc)
            conn.close()

    def _progress(
        self, session: Session, job_id: uuid.UUID, held: _Held, progress: float, message: str
    ) -> None:
        """Write progress while the lease is this slot's; else let go of the job."""
        if not service.record_progress(
            session, job_id=job_id, progress=progress, message=message, holder=held.holder
        ):
            held.lost = True  # taken back, or ended elsewhere (cancelled while queued)
            raise Cancelled()


class _Failed(Exception):
    """The search failed; the message is stored on the job."""


class _Killed(Exception):
    """The solver process was killed by a signal: the job may be tried again."""


def _ended(proc: subprocess.Popen[bytes], how: str) -> Exception:
    """Why the solver process ``proc`` stopped without a plan: killed by a signal
    (:class:`_Killed`), or ended of its own (:class:`_Failed`)."""
    try:
        code = proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        code = None
    if code is not None and code < 0:
        return _Killed(f"the solver process was killed (signal {-code})")
    return _Failed(f"the solver process {how} (exit code {code})")


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
