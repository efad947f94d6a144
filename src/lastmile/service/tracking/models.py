"""Tracking tables: tracker devices, position pings, stop events and per-route progress.

Pings and stop events are idempotent: each carries the sender's own event id,
unique per organisation and ``source`` (who sent it: ``driver:<id>``,
``key:<id>``, ``user:<id>`` or ``tracker:<id>``), and inserts use
``ON CONFLICT DO NOTHING`` so a retried batch stores nothing twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from lastmile.service.db import Base, TenantBase, UTCDateTime, utcnow


class TrackerDevice(TenantBase):
    """A GPS tracker app or box (OsmAnd, Traccar Client, ...) attached to a vehicle
    or a driver. It authenticates with ``identifier`` plus a secret token, of
    which only the SHA-256 is kept."""

    __tablename__ = "tracker_devices"
    __table_args__ = (UniqueConstraint("org_id", "identifier"),)

    #: What the tracker sends as ``id`` (device identifier, IMEI, ...).
    identifier: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    vehicle_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("vehicles.id", ondelete="CASCADE"), index=True, default=None
    )
    driver_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("drivers.id", ondelete="CASCADE"), index=True, default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class PositionPing(Base):
    """One GPS fix. ``route_id`` is the route the vehicle was on (None between routes).

    Pings are telemetry written thousands of times a second, so every
    reference here (organisation, route, vehicle, driver) is a plain id with no
    foreign key: a key costs the database a lookup per row (a third of its work
    per batch, measured), and the history of positions may outlive what it
    refers to. The unique key (organisation, sender, event id) also serves the
    per-organisation look-ups.
    """

    __tablename__ = "position_pings"
    __table_args__ = (
        UniqueConstraint("org_id", "source", "event_id"),
        Index("ix_position_pings_route_id_recorded_at", "route_id", "recorded_at"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, sort_order=-10)
    source: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(64))
    route_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    vehicle_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    driver_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    speed_kph: Mapped[float | None] = mapped_column(Float, default=None)
    heading_deg: Mapped[float | None] = mapped_column(Float, default=None)
    accuracy_m: Mapped[float | None] = mapped_column(Float, default=None)
    altitude_m: Mapped[float | None] = mapped_column(Float, default=None)
    battery_pct: Mapped[float | None] = mapped_column(Float, default=None)


class StopEvent(TenantBase):
    """Something that happened at a stop: arrived, delivered, picked up, failed,
    or not attempted (recorded when a dispatcher closes the route).

    The stop is named by ``order_id`` and ``stop`` (``pickup`` or ``delivery``),
    which survive re-planning; ``sequence`` is the visit's position when the
    event was recorded. ``order_status`` is what the event moved the order to.
    """

    __tablename__ = "stop_events"
    __table_args__ = (UniqueConstraint("org_id", "source", "event_id"),)

    source: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(64))
    route_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("routes.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="SET NULL"), index=True, default=None
    )
    stop: Mapped[str] = mapped_column(String(16), default="")
    sequence: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    order_status: Mapped[str] = mapped_column(String(16), default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    #: For a failure: the day the order is tried again (None: not automatically).
    reattempt_on: Mapped[dt.date | None] = mapped_column(Date, default=None)
    reattempt_note: Mapped[str] = mapped_column(Text, default="")


class RouteProgress(TenantBase):
    """The latest known state of a route on the road: its last position and the
    stops flagged late at the last ETA computation (to alert only on changes)."""

    __tablename__ = "route_progress"

    route_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("routes.id", ondelete="CASCADE"), unique=True
    )
    last_fix_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    last_lon: Mapped[float | None] = mapped_column(Float, default=None)
    last_lat: Mapped[float | None] = mapped_column(Float, default=None)
    last_speed_kph: Mapped[float | None] = mapped_column(Float, default=None)
    last_heading_deg: Mapped[float | None] = mapped_column(Float, default=None)
    eta_computed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    #: Visit sequences predicted late at the last computation.
    late_sequences: Mapped[list[int]] = mapped_column(JSON, default=list)
    #: What arrival detection remembers between batches of fixes
    #: (:class:`lastmile.operations.arrival.DetectorState` as JSON; None: nothing yet).
    arrival_state: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
