"""Automation: the log, and the plan created each day at the organisation's set time.

The scheduled plan: an organisation with ``auto_plan_at`` (local HH:MM in its
time zone) gets, once per local day at or after that time, a plan for the next
day with every pending order of that day, optimised for
``auto_plan_time_limit_s``. Every API process looks at the clock
(:func:`run_due`, called by the runtime's scheduler); the one whose claim (a row
of ``automation_runs``, unique per organisation, kind and day) commits first
creates the plan, the others leave it. A service started after the set time
catches up that day; a day the service was down all day is not made up later.
Time is :func:`lastmile.service.db.utcnow`: a simulation instance's clock when
one is installed.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zoneinfo
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lastmile.exceptions import LastmileError
from lastmile.service.automation.models import AUTO_PLAN, AutomationEntry, AutomationRun, note
from lastmile.service.db import utcnow
from lastmile.service.errors import ServiceError, Unprocessable
from lastmile.service.orgs.models import Organisation
from lastmile.service.plans import service as plans
from lastmile.service.plans.schemas import PlanCreate
from lastmile.service.settings import Settings

log = logging.getLogger(__name__)


def list_log(
    session: Session, *, org_id: uuid.UUID, limit: int, offset: int
) -> list[AutomationEntry]:
    """The organisation's automation log, newest first."""
    stmt = (
        select(AutomationEntry)
        .where(AutomationEntry.org_id == org_id)
        .order_by(AutomationEntry.at.desc(), AutomationEntry.id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt))


def due_day(org: Organisation, now: dt.datetime) -> dt.date | None:
    """The local day whose scheduled plan is due at ``now`` (None: off, or not yet)."""
    at = org.options.auto_plan_at
    if not at:
        return None
    local = now.astimezone(zoneinfo.ZoneInfo(org.timezone))
    hour, minute = (int(p) for p in at.split(":"))
    return local.date() if (local.hour, local.minute) >= (hour, minute) else None


def claim(session: Session, *, org_id: uuid.UUID, kind: str, day: dt.date) -> bool:
    """Claim the organisation's ``kind`` run of ``day``: True for the one caller
    whose row commits (the unique constraint refuses the others)."""
    session.add(AutomationRun(org_id=org_id, kind=kind, day=day, created_at=utcnow()))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def run_due(
    sessions: sessionmaker[Session],
    *,
    settings: Settings,
    submit: Callable[[uuid.UUID], None],
    now: dt.datetime | None = None,
) -> list[uuid.UUID]:
    """Create the scheduled plans due at ``now`` (default: the service's clock) that
    no process has claimed yet; ``submit`` queues each plan's job. Returns the
    plans created."""
    now = now or utcnow()
    created: list[uuid.UUID] = []
    with sessions() as session:
        orgs = [
            (org.id, day)
            for org in session.scalars(select(Organisation))
            if (day := due_day(org, now)) is not None
        ]
    for org_id, day in orgs:
        with sessions() as session:
            already = session.scalar(
                select(AutomationRun.id).where(
                    AutomationRun.org_id == org_id,
                    AutomationRun.kind == AUTO_PLAN,
                    AutomationRun.day == day,
                )
            )
            if already is not None or not claim(session, org_id=org_id, kind=AUTO_PLAN, day=day):
                continue
            plan_id = _create_plan(session, org_id=org_id, day=day, settings=settings)
        if plan_id is not None:
            submit(plan_id[1])
            created.append(plan_id[0])
    return created


def _create_plan(
    session: Session, *, org_id: uuid.UUID, day: dt.date, settings: Settings
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The plan for the day after ``day`` and its job (or None, the reason logged)."""
    org = session.get(Organisation, org_id)
    if org is None:
        return None
    options = org.options
    tomorrow = day + dt.timedelta(days=1)
    request = PlanCreate(
        name=f"Plan {tomorrow.isoformat()} (automatic)",
        date=tomorrow,
        time_limit_s=options.auto_plan_time_limit_s,
    )
    try:
        plan, job = plans.create_plan(
            session, org=org, data=request, settings=settings, created_by_id=None
        )
    except (ServiceError, LastmileError) as exc:
        session.rollback()
        reasons = (
            "; ".join(f"{e.column}: {e.reason}" for e in exc.errors)
            if isinstance(exc, Unprocessable)
            else ""
        )
        note(
            session,
            org_id=org_id,
            kind=AUTO_PLAN,
            message=f"no plan for {tomorrow.isoformat()} at {options.auto_plan_at}: {exc}"
            + (f" ({reasons})" if reasons else ""),
        )
        session.commit()
        return None
    count = len(job.params["order_ids"])
    note(
        session,
        org_id=org_id,
        kind=AUTO_PLAN,
        plan_id=plan.id,
        message=f"{plan.name} created at {options.auto_plan_at} with {count} order(s), "
        f"optimising for {job.params['time_limit_s']:g} s",
    )
    session.commit()
    return plan.id, job.id
