"""Orders, their items, and customer tracking links."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    inspect,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import Uuid

from lastmile.operations import OrderStatus
from lastmile.service.db import TenantBase, UTCDateTime, utcnow

#: Order columns no planning problem reads (the status only as far as cancelled).
_NOT_PLANNING = frozenset(
    {
        "status",
        "updated_at",
        "customer_name",
        "customer_phone",
        "customer_email",
        "instructions",
        "language",
        "compartment",
        "pickup_address",
        "delivery_address",
        "pickup_geocode_confidence",
        "pickup_geocoded_address",
        "pickup_needs_review",
        "delivery_geocode_confidence",
        "delivery_geocoded_address",
        "delivery_needs_review",
        "staff_values",
    }
)
_CANCELLED = OrderStatus.CANCELLED.value


class Order(TenantBase):
    """One customer order. Stop columns are prefixed ``pickup_``/``delivery_``;
    a delivery has only the delivery stop, a pickup only the pickup stop, a
    shipment both. Time windows are JSON lists of ``{"start": iso, "end": iso}``.

    A stop placed by the geocoder keeps the geocoder's confidence and the
    address it matched; ``*_needs_review`` is set when that confidence is below
    the service's threshold and cleared when a dispatcher confirms or corrects
    the position. ``staff_values`` holds the fields a customer may change
    through their tracking link (instructions, the customer stop's windows) as
    staff last set them, so a re-import can tell a customer's change from its
    own (see ``orders.service.import_orders``)."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("org_id", "external_id"),)

    external_id: Mapped[str | None] = mapped_column(String(128), default=None)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[list[int]] = mapped_column(JSON, default=list)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    depot_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("depots.id", ondelete="SET NULL"), default=None
    )
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    customer_phone: Mapped[str] = mapped_column(String(64), default="")
    customer_email: Mapped[str] = mapped_column(String(320), default="")
    instructions: Mapped[str] = mapped_column(Text, default="")
    #: The customer's language for messages and the tracking page (ISO 639 code);
    #: None: the organisation's ``customer_language``.
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    #: Compartment of the items that name none (loading lists).
    compartment: Mapped[str | None] = mapped_column(String(64), default=None)

    pickup_address: Mapped[str] = mapped_column(String(500), default="")
    pickup_lon: Mapped[float | None] = mapped_column(Float, default=None)
    pickup_lat: Mapped[float | None] = mapped_column(Float, default=None)
    pickup_windows: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    pickup_service_s: Mapped[int] = mapped_column(Integer, default=0)
    pickup_geocode_confidence: Mapped[float | None] = mapped_column(Float, default=None)
    pickup_geocoded_address: Mapped[str] = mapped_column(String(500), default="")
    pickup_needs_review: Mapped[bool] = mapped_column(Boolean, default=False)

    delivery_address: Mapped[str] = mapped_column(String(500), default="")
    delivery_lon: Mapped[float | None] = mapped_column(Float, default=None)
    delivery_lat: Mapped[float | None] = mapped_column(Float, default=None)
    delivery_windows: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    delivery_service_s: Mapped[int] = mapped_column(Integer, default=0)
    delivery_geocode_confidence: Mapped[float | None] = mapped_column(Float, default=None)
    delivery_geocoded_address: Mapped[str] = mapped_column(String(500), default="")
    delivery_needs_review: Mapped[bool] = mapped_column(Boolean, default=False)

    #: ``{"instructions": str, "windows": [...]}`` as staff last set them (create,
    #: import, edit); None for orders older than this column (not known).
    staff_values: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    items: Mapped[list[OrderItem]] = relationship(
        cascade="all, delete-orphan", order_by="OrderItem.position", lazy="selectin"
    )

    def changes_planning(self, *, new: bool, deleted: bool) -> bool:
        """A new order is in no plan yet; a deleted one was perhaps; a changed one
        when its stops, windows, amounts, skills, priority or depot moved, or it
        was cancelled (or taken back from cancelled): not for its progress
        through the day, its contact details or instructions."""
        if new or deleted:
            return deleted
        state = inspect(self)
        for attr in state.mapper.column_attrs:
            if attr.key not in _NOT_PLANNING and state.attrs[attr.key].history.has_changes():
                return True
        status = state.attrs["status"].history
        return _CANCELLED in (*status.added, *status.deleted)


class OrderItem(TenantBase):
    __tablename__ = "order_items"

    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    barcode: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    compartment: Mapped[str | None] = mapped_column(String(64), default=None)


class TrackingLink(TenantBase):
    """A customer's read-only view of one order. Only the token's SHA-256 is kept."""

    __tablename__ = "tracking_links"

    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
