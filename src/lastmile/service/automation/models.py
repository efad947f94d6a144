"""What the automations did (the organisation's automation log) and the claims that
make a scheduled run happen once however many API processes look at the clock."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from sqlalchemy import Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.types import Uuid

from lastmile.service.db import TenantBase, UTCDateTime, utcnow

log = logging.getLogger("lastmile.service.automation")

#: Kinds of entries: an order carried into a new plan, a plan created at the set
#: time (or not, and why), a plan dispatched once ready (or not, and why).
CARRY_OVER = "carry_over"
AUTO_PLAN = "auto_plan"
AUTO_DISPATCH = "auto_dispatch"


class AutomationEntry(TenantBase):
    """One thing an automation did (or tried and could not), in words."""

    __tablename__ = "automation_log"

    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    plan_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("plans.id", ondelete="SET NULL"), default=None
    )
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="SET NULL"), default=None
    )
    message: Mapped[str] = mapped_column(Text, default="")


class AutomationRun(TenantBase):
    """A claimed scheduled run: one row per organisation, kind and local day. The
    unique constraint is the lock: the process whose insert commits runs it, the
    others see the conflict and leave it."""

    __tablename__ = "automation_runs"
    __table_args__ = (UniqueConstraint("org_id", "kind", "day"),)

    kind: Mapped[str] = mapped_column(String(32))
    day: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def note(
    session: Session,
    *,
    org_id: uuid.UUID,
    kind: str,
    message: str,
    plan_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
) -> AutomationEntry:
    """Add an entry to the organisation's automation log (committed with the
    caller's transaction) and write it to the server log."""
    entry = AutomationEntry(
        org_id=org_id, kind=kind, message=message, plan_id=plan_id, order_id=order_id, at=utcnow()
    )
    session.add(entry)
    log.info("automation %s (org %s): %s", kind, org_id, message)
    return entry
