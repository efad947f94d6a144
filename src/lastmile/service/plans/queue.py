"""The planning queue, kept in the database: every process sharing it shares the work.

A job row is the queue entry. ``POST /plans`` writes it ``queued``; a planning
slot (a thread of ``lastmile serve`` or of ``lastmile worker``,
:class:`~lastmile.service.plans.jobs.JobRunner`) *claims* it: ``running``,
``leased_by`` the slot, ``lease_expires_at`` a lease span from now, one more
``attempts``. The slot renews the lease while it runs the job and writes
progress, the plan and the end only while the lease is still its own (each
write is a compare-and-set on ``leased_by``), so a slot that lost its lease
can never overwrite the job's next attempt.

**Fair claims.** :func:`claim_next` takes, among the queued jobs of the
slot's queue whose organisation runs fewer than ``org_limit`` jobs (across
every queue), the job of the organisation that runs the fewest, then of the
one whose last job started longest ago (one that never started first), then
the oldest: organisations take turns, and one organisation's hundred queued
jobs delay another's one by at most the jobs already running.

**Atomic claims.** On PostgreSQL a transaction-scoped advisory lock makes
claims take turns (two claims never both see an organisation under its limit
and both start one of its jobs; a claim is a few milliseconds), and the job
row is taken ``FOR UPDATE SKIP LOCKED`` (a row a cancel is writing is passed
over, not waited for). On SQLite the choice and the claim are one ``UPDATE
... WHERE id = (SELECT ...)``: SQLite runs a writing statement under the
database's write lock, so no other process claims between them.

**Dead slots.** A lease that runs out means the slot's process died (killed,
crashed, machine lost). Any process's keeper (:func:`take_back_expired`)
then queues the job again while it has attempts left (``planning_attempts``),
or ends it ``failed`` with the reason. Rows written before leases existed
have none; their heartbeat and the process's lease span stand in for it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.orm import Session

from lastmile.service.db import utcnow
from lastmile.service.plans.models import Plan, PlanningJob

#: The error of a job whose only attempt was lost with its process.
INTERRUPTED = "interrupted: the service stopped"
#: PostgreSQL advisory lock key that makes claims take turns ("lmjq").
CLAIM_LOCK_KEY = 0x6C6D6A71

_JOBS = PlanningJob.__table__


def times(n: int) -> str:
    """once, twice, 3 times..."""
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


@dataclass(frozen=True, slots=True)
class Claimed:
    """A job a slot has just leased."""

    job_id: uuid.UUID
    org_id: uuid.UUID
    attempt: int


def claim_next(
    session: Session,
    *,
    queue: str,
    holder: str,
    org_limit: int,
    lease: dt.timedelta,
) -> Claimed | None:
    """Lease the next job of ``queue`` to ``holder`` (see the module docs), or None."""
    session.rollback()  # a fresh transaction: see every claim committed so far
    j = _JOBS.alias("j")
    r = _JOBS.alias("r")
    running = (
        select(func.count())
        .select_from(r)
        .where(r.c.org_id == j.c.org_id, r.c.status == "running")
        .scalar_subquery()
    )
    last_start = select(func.max(r.c.started_at)).where(r.c.org_id == j.c.org_id).scalar_subquery()
    pick = (
        select(j.c.id)
        .where(
            j.c.queue == queue,
            j.c.status == "queued",
            j.c.cancel_requested.is_(False),
            running < org_limit,
        )
        .order_by(running, last_start.asc().nulls_first(), j.c.created_at, j.c.id)
        .limit(1)
    )
    now = utcnow()
    values = {
        "status": "running",
        "attempts": PlanningJob.attempts + 1,
        "leased_by": holder,
        "lease_expires_at": now + lease,
        "started_at": now,
        "heartbeat_at": now,
        "progress": 0.0,
        "message": "building the problem",
    }
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK_KEY})
        job_id = session.scalar(pick.with_for_update(skip_locked=True, of=j))
        if job_id is None:
            session.commit()
            return None
        claim = update(PlanningJob).where(PlanningJob.id == job_id)
    else:
        claim = update(PlanningJob).where(
            PlanningJob.id == pick.scalar_subquery(), PlanningJob.status == "queued"
        )
    row = session.execute(
        claim.values(**values).returning(PlanningJob.id, PlanningJob.org_id, PlanningJob.attempts)
    ).first()
    session.commit()
    if row is None:
        return None
    return Claimed(job_id=row[0], org_id=row[1], attempt=int(row[2]))


def renew(
    session: Session, *, holders: dict[uuid.UUID, str], lease: dt.timedelta
) -> set[uuid.UUID]:
    """Extend the lease of each job still held by its holder; returns those renewed
    (a job missing from the answer was taken back or ended: its slot lost it)."""
    now = utcnow()
    kept = set()
    for job_id, holder in holders.items():
        done = session.execute(
            update(PlanningJob)
            .where(
                PlanningJob.id == job_id,
                PlanningJob.status == "running",
                PlanningJob.leased_by == holder,
            )
            .values(heartbeat_at=now, lease_expires_at=now + lease)
        )
        if getattr(done, "rowcount", 0) == 1:
            kept.add(job_id)
    session.commit()
    return kept


def give_back(
    session: Session,
    *,
    job_id: uuid.UUID,
    holder: str,
    attempts: int,
    attempts_allowed: int,
    again: str,
    final: str,
) -> str:
    """End ``holder``'s lease on a job it lost (its process or solver died): queued
    again with the message ``again`` while ``attempts`` (the starts so far) is below
    ``attempts_allowed``, else failed with the error ``final``. Returns "queued",
    "failed", or "" when the job was no longer ``holder``'s (ended, or taken back
    already)."""
    session.rollback()
    still_held = (
        PlanningJob.id == job_id,
        PlanningJob.status == "running",
        PlanningJob.leased_by == holder,
    )
    unleased = {"leased_by": "", "lease_expires_at": None}
    if attempts < attempts_allowed:
        values = {**unleased, "status": "queued", "started_at": None, "progress": 0.0}
        done = session.execute(
            update(PlanningJob).where(*still_held).values(message=again, **values)
        )
        outcome = "queued"
    else:
        done = session.execute(
            update(PlanningJob)
            .where(*still_held)
            .values(
                status="failed", error=final, message="failed", finished_at=utcnow(), **unleased
            )
        )
        outcome = "failed"
    if getattr(done, "rowcount", 0) != 1:
        session.rollback()
        return ""
    if outcome == "failed":
        _plan_ends(session, job_id, "failed")
    session.commit()
    return outcome


def release(session: Session, *, job_id: uuid.UUID, holder: str, message: str) -> bool:
    """Queue again a job ``holder`` stops running of its own accord (its process is
    shutting down): the start does not count as an attempt."""
    session.rollback()
    done = session.execute(
        update(PlanningJob)
        .where(
            PlanningJob.id == job_id,
            PlanningJob.status == "running",
            PlanningJob.leased_by == holder,
        )
        .values(
            status="queued",
            attempts=PlanningJob.attempts - 1,
            leased_by="",
            lease_expires_at=None,
            started_at=None,
            progress=0.0,
            message=message,
        )
    )
    session.commit()
    return getattr(done, "rowcount", 0) == 1


def _plan_ends(session: Session, job_id: uuid.UUID, status: str) -> None:
    """The job's plan, still being computed, ends ``status`` (through the ORM, so the
    notifications outbox sees the change)."""
    plan_id = session.scalar(select(PlanningJob.plan_id).where(PlanningJob.id == job_id))
    plan = session.get(Plan, plan_id) if plan_id is not None else None
    if plan is not None and plan.status == "planning":
        plan.status = status


def lost_lease_error(attempts: int, holder: str, heartbeat: dt.datetime | None) -> str:
    """The error of a job whose last allowed attempt was lost with its slot's process."""
    if attempts <= 1:
        return INTERRUPTED
    seen = f" (no sign of it since {heartbeat:%H:%M:%S} UTC)" if heartbeat is not None else ""
    last = f"; the last time {holder}{seen}" if holder else seen
    return f"the worker stopped {times(attempts)}{last}: the job is not tried again"


def take_back_expired(
    session: Session,
    *,
    stale_after: dt.timedelta,
    attempts_allowed: int,
    now: dt.datetime | None = None,
) -> list[tuple[uuid.UUID, str]]:
    """Queue again, or fail, every running job whose lease had run out at ``now``
    (default: now; its slot's process died). Returns each job taken back with its
    outcome ("queued" or "failed")."""
    session.rollback()
    now = now or utcnow()
    expired = session.execute(
        select(
            PlanningJob.id, PlanningJob.leased_by, PlanningJob.attempts, PlanningJob.heartbeat_at
        ).where(
            PlanningJob.status == "running",
            or_(
                PlanningJob.lease_expires_at < now,
                and_(
                    PlanningJob.lease_expires_at.is_(None),
                    PlanningJob.heartbeat_at < now - stale_after,
                ),
            ),
        )
    ).all()
    session.commit()
    taken = []
    for job_id, holder, attempts, heartbeat in expired:
        # A running job was started at least once (rows from before attempts were counted: 0).
        starts = max(int(attempts), 1)
        who = f"its worker {holder}" if holder else "its worker"
        outcome = give_back(
            session,
            job_id=job_id,
            holder=holder,
            attempts=starts,
            attempts_allowed=attempts_allowed,
            again=f"queued again: {who} stopped (attempt {starts} of {attempts_allowed})",
            final=lost_lease_error(starts, holder, heartbeat),
        )
        if outcome:
            taken.append((job_id, outcome))
    return taken


def queue_position(session: Session, *, job: PlanningJob) -> int | None:
    """A queued job's place among its organisation's queued jobs (1: the next of
    them to start; other organisations' jobs take turns with it, see the module
    docs); None once it runs or has ended."""
    if job.status != "queued":
        return None
    ahead = session.scalar(
        select(func.count())
        .select_from(PlanningJob)
        .where(
            PlanningJob.org_id == job.org_id,
            PlanningJob.queue == job.queue,
            PlanningJob.status == "queued",
            PlanningJob.cancel_requested.is_(False),
            or_(
                PlanningJob.created_at < job.created_at,
                and_(PlanningJob.created_at == job.created_at, PlanningJob.id < job.id),
            ),
        )
    )
    return int(ahead or 0) + 1
