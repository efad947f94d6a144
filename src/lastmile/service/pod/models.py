"""Uploaded proof files and the proof recorded when a stop is completed or failed."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from lastmile.service.db import TenantBase, UTCDateTime, utcnow


class PodFile(TenantBase):
    """A signature or photo. The bytes live in the file store under ``key``."""

    __tablename__ = "pod_files"

    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    route_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("routes.id", ondelete="SET NULL"), default=None
    )
    #: signature, photo
    kind: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    #: local, s3
    store: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Proof(TenantBase):
    """What the driver showed when finishing a stop (delivered, picked up or failed).

    ``flags`` lists what a dispatcher should look at (``outside_geofence``,
    ``no_position``, ``parcels_missing``); ``reattempt_on`` is the day a
    failed order will be tried again (None: not automatically).
    """

    __tablename__ = "proofs"
    __table_args__ = (UniqueConstraint("org_id", "source", "event_id"),)

    route_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("routes.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(64))
    #: job, pickup, delivery
    stop: Mapped[str] = mapped_column(String(16))
    #: delivered, picked_up, failed
    outcome: Mapped[str] = mapped_column(String(16))
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    barcodes: Mapped[list[str]] = mapped_column(JSON, default=list)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    distance_m: Mapped[float | None] = mapped_column(Float, default=None)
    radius_m: Mapped[float] = mapped_column(Float, default=0.0)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    failure_reason: Mapped[str] = mapped_column(String(32), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    signature_file_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("pod_files.id", ondelete="SET NULL"), default=None
    )
    photo_file_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    reattempt_on: Mapped[dt.date | None] = mapped_column(Date, default=None)
    reattempt_note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
