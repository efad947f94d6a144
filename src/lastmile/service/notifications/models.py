"""Webhook endpoints and their delivery log, customer notifications, customer replies,
the organisation's message templates."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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


class OutboundMessage(TenantBase):
    """One text (or a reply e-mail) on its way to a customer: queued in the transaction
    that decided it, handed to the gateway by the sending loop (retried with back-off),
    then updated by the gateway's delivery statuses."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        Index("ix_outbound_messages_status_next", "status", "next_attempt_at"),
        Index("ix_outbound_messages_provider_id", "provider_id"),
        Index("ix_outbound_messages_org_phone", "org_id", "phone_key"),
    )

    order_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="CASCADE"), index=True, default=None
    )
    #: The customer message it sends (``None``: an answer to a customer's reply).
    notification_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("customer_notifications.id", ondelete="SET NULL"), default=None
    )
    #: sms, email
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    to: Mapped[str] = mapped_column(String(320))
    #: The last nine digits of an SMS number: what a reply's sender is matched on.
    phone_key: Mapped[str] = mapped_column(String(16), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    #: The gateway that took it (log, http, smpp; smtp for e-mail).
    gateway: Mapped[str] = mapped_column(String(16), default="")
    #: pending, sent, delivered, failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    provider_id: Mapped[str] = mapped_column(String(128), default="")
    #: Ids of the other parts of a long text (gateways that answer one per part).
    part_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    segments: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    status_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class InboundMessage(TenantBase):
    """A text or e-mail a customer sent back, and what it did to their order."""

    __tablename__ = "inbound_messages"

    #: ``None``: the sender matched no order (kept so the organisation can see it).
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="CASCADE"), index=True, default=None
    )
    #: sms, email
    channel: Mapped[str] = mapped_column(String(8))
    sender: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    #: keep, new_window, window_chosen, instructions, refused, unmatched
    outcome: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    reply_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("customer_replies.id", ondelete="SET NULL"), default=None
    )
    #: The windows the answer to this message offered, numbered from
    #: ``inbound.FIRST_CHOICE`` (``[{"start", "end"}]``, ISO, UTC); None: none.
    offered_windows: Mapped[list[dict[str, str]] | None] = mapped_column(
        JSON(none_as_null=True), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboundSecret(TenantBase):
    """The organisation's secret for inbound messages (its SMS and e-mail inbound URLs
    carry it); only its digest is kept."""

    __tablename__ = "inbound_secrets"
    __table_args__ = (UniqueConstraint("org_id"),)

    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessageTemplate(TenantBase):
    """The organisation's wording of one customer message in one channel and language
    (it overrides the shipped default; see ``notifications.wording``)."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("org_id", "kind", "channel", "language"),)

    #: dispatched, on_the_way, delay, delivered, failed, window_changed
    kind: Mapped[str] = mapped_column(String(32))
    #: email, sms
    channel: Mapped[str] = mapped_column(String(16))
    #: ISO 639-1 (or -2) code, lower case
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="")
