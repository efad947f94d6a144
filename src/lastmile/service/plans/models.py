"""Plans, the jobs that compute them, their routes, visits and unassigned orders."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import Uuid

from lastmile.service.db import TenantBase, UTCDateTime, utcnow


class Plan(TenantBase):
    """A plan for one day. ``epoch`` is the instant planning time 0 stands for."""

    __tablename__ = "plans"

    name: Mapped[str] = mapped_column(String(200), default="")
    #: planning, ready, failed, cancelled, dispatched
    status: Mapped[str] = mapped_column(String(16), default="planning", index=True)
    epoch: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    engine: Mapped[str] = mapped_column(String(64), default="")
    travel_note: Mapped[str] = mapped_column(String(300), default="")
    cost: Mapped[int] = mapped_column(Integer, default=0)
    distance_m: Mapped[int] = mapped_column(Integer, default=0)
    travel_s: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)

    routes: Mapped[list[Route]] = relationship(
        cascade="all, delete-orphan", order_by="Route.position", lazy="selectin"
    )
    unassigned: Mapped[list[UnassignedOrder]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class PlanningJob(TenantBase):
    """The background optimisation that fills a plan, and its place in the queue.

    A job is queued, then leased by one planning slot (of an API process or of
    ``lastmile worker``: ``leased_by`` names it) until ``lease_expires_at``; the
    slot renews the lease while it runs the job. A lease that runs out means the
    slot's process died: the job is queued again, up to the ``planning_attempts``
    setting (``attempts`` counts the starts), or fails (see
    :mod:`lastmile.service.plans.queue`)."""

    __tablename__ = "planning_jobs"
    __table_args__ = (Index("ix_planning_jobs_queue_status", "queue", "status"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("plans.id", ondelete="CASCADE"), unique=True
    )
    #: queued, running, succeeded, failed, cancelled
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(String(300), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    #: The queue it waits in (the ``planning_queue`` setting of the process that took it).
    queue: Mapped[str] = mapped_column(String(64), default="default", server_default="default")
    #: How many times a slot has started it.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The slot running it (host, process and slot), empty while queued.
    leased_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    #: When its slot's lease runs out unless renewed (None: not leased).
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def time_limit_s(self) -> float | None:
        """The search time the job was given, seconds (None for jobs that kept none)."""
        value = (self.params or {}).get("time_limit_s")
        return float(value) if isinstance(value, int | float) else None

    @property
    def robust(self) -> dict[str, Any] | None:
        """The robustness asked for (``on_time``, ``noise``), or None."""
        value = (self.params or {}).get("robust")
        return value if isinstance(value, dict) else None


class Route(TenantBase):
    __tablename__ = "routes"

    plan_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("plans.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    vehicle_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("vehicles.id", ondelete="RESTRICT"), index=True
    )
    driver_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("drivers.id", ondelete="SET NULL"), index=True, default=None
    )
    #: planned, dispatched, started, completed (broken_down: taken off the road)
    status: Mapped[str] = mapped_column(String(16), default="planned")
    cost: Mapped[int] = mapped_column(Integer, default=0)
    distance_m: Mapped[int] = mapped_column(Integer, default=0)
    travel_s: Mapped[int] = mapped_column(Integer, default=0)
    start_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    #: When every order stop had a final outcome, or a dispatcher closed the route.
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    closed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    close_note: Mapped[str] = mapped_column(Text, default="")
    #: When a dispatcher closed the route (``POST /routes/{id}/close``): its van is
    #: done for the day. None for a route completed by its stops' outcomes, whose
    #: van may be given more work while its shift lasts.
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    #: When the route, completed by its stops' outcomes, last took more stops: its van
    #: had gone back to its depot and set off again (ETAs start from there).
    reopened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)

    visits: Mapped[list[Visit]] = relationship(
        cascade="all, delete-orphan", order_by="Visit.sequence", lazy="selectin"
    )


class Visit(TenantBase):
    """One timed step of a route. ``eta_at`` starts as the planned arrival;
    live tracking revises it."""

    __tablename__ = "visits"

    route_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("routes.id", ondelete="CASCADE"), index=True
    )
    sequence: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="SET NULL"), index=True, default=None
    )
    depot_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("depots.id", ondelete="SET NULL"), default=None
    )
    break_id: Mapped[str | None] = mapped_column(String(64), default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    arrival_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    start_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    departure_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    eta_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    load: Mapped[list[int]] = mapped_column(JSON, default=list)
    distance_m: Mapped[int] = mapped_column(Integer, default=0)
    travel_s: Mapped[int] = mapped_column(Integer, default=0)


class UnassignedOrder(TenantBase):
    __tablename__ = "unassigned_orders"

    plan_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("plans.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)


class PlanVersion(TenantBase):
    """The routes of a dispatched plan as they stood at one moment: version 1 is
    the plan as it was sent out (never changed afterwards); each later change on
    the road (an insertion, a breakdown, a re-optimisation, a new dispatch) adds
    the next version. ``routes`` is a JSON snapshot of every route and its timed
    visits."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("plans.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    #: dispatch, insert_order, breakdown, reoptimise
    kind: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text, default="")
    #: The logged change (``plan_changes``) that made it, if any.
    change_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    cost: Mapped[int] = mapped_column(Integer, default=0)
    routes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
