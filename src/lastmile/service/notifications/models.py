"""Webhook endpoints and their delivery log, customer notifications, customer replies."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from lastmile.service.db import TenantBase, UTCDateTime, utcnow


class WebhookEndpoint(TenantBase):
    """A URL that receives the organisation's events, signed with its ``secret``."""

    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(128))
    #: Event types it receives (e.g. ``order.status_changed``); empty: all.
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(TenantBase):
    """One event for one endpoint: every attempt updates it (the delivery log)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),)

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: pending, delivered, failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: A sender holds the row until then (several processes may send).
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class CustomerNotification(TenantBase):
    """A message to an order's customer: queued when the event happens, rendered
    and sent by the notifier, with what each channel did."""

    __tablename__ = "customer_notifications"
    __table_args__ = (Index("ix_customer_notifications_status_next", "status", "next_attempt_at"),)

    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    #: dispatched, on_the_way, delay, delivered, failed
    event: Mapped[str] = mapped_column(String(16))
    #: pending, sent, failed, skipped
    status: Mapped[str] = mapped_column(String(16), default="pending")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: [{"channel", "to", "status", "error"}]
    channels: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class CustomerReply(TenantBase):
    """What a customer said through their tracking link, and whether it changed the order."""

    __tablename__ = "customer_replies"

    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    #: instructions, new_window, leave_with_neighbour
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    window_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    window_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    neighbour_name: Mapped[str] = mapped_column(String(200), default="")
    neighbour_address: Mapped[str] = mapped_column(String(500), default="")
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
