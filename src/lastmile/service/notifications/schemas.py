"""Requests and answers of the notification routes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, Field, UrlConstraints

from lastmile.service.notifications.guard import MAX_URL_LENGTH
from lastmile.service.schemas import ApiModel, AwareDatetime, Instant


class WebhookIn(ApiModel):
    """Where to send the organisation's events."""

    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=MAX_URL_LENGTH)] = Field(
        description="The receiver (https in production), at most 2,048 characters; it must "
        "reach a public address."
    )
    events: list[str] = Field(
        default_factory=list, description="Event types to receive; empty: all of them."
    )
    description: str = Field(default="", max_length=200, description="A note for people.")


class WebhookOut(ApiModel):
    """A webhook endpoint (its secret is shown only when it is created)."""

    id: uuid.UUID = Field(description="Endpoint id.")
    url: str = Field(description="The receiver.")
    events: list[str] = Field(description="Event types it receives; empty: all.")
    description: str = Field(description="A note for people.")
    active: bool = Field(description="Whether events are sent to it.")
    created_at: Instant = Field(description="When it was added.")


class WebhookCreated(WebhookOut):
    """A new endpoint, with the secret that signs its events (shown once)."""

    secret: str = Field(
        description="Verify X-Lastmile-Signature (t=<unix>,v1=<hex HMAC-SHA256 of '<t>.<body>'>)."
    )


class WebhookDeliveryOut(ApiModel):
    """One event for one endpoint, and how its attempts went."""

    id: uuid.UUID = Field(description="Delivery id (X-Lastmile-Delivery).")
    endpoint_id: uuid.UUID = Field(description="The endpoint.")
    event_id: uuid.UUID = Field(description="The event (the same for every endpoint).")
    event_type: str = Field(description="e.g. order.status_changed.")
    payload: dict[str, Any] = Field(description="The JSON body sent.")
    status: str = Field(description="pending, delivered or failed.")
    attempts: int = Field(description="Attempts so far.")
    next_attempt_at: Instant = Field(description="When the next attempt is due (pending).")
    last_status_code: int | None = Field(description="The receiver's last answer.")
    last_error: str = Field(description="What went wrong last time.")
    created_at: Instant = Field(description="When the event happened.")
    delivered_at: Instant | None = Field(description="When it was delivered.")


class NotificationOut(ApiModel):
    """A message to an order's customer."""

    id: uuid.UUID = Field(description="Notification id.")
    order_id: uuid.UUID = Field(description="The order.")
    event: str = Field(description="dispatched, on_the_way, delay, delivered or failed.")
    status: str = Field(description="pending, sent, failed or skipped.")
    channels: list[dict[str, Any]] = Field(description="What each channel did.")
    subject: str = Field(description="The subject sent.")
    body: str = Field(description="The e-mail text sent.")
    attempts: int = Field(description="Attempts so far.")
    created_at: Instant = Field(description="When the event happened.")
    sent_at: Instant | None = Field(description="When it was sent.")


class ReplyIn(ApiModel):
    """What a customer tells us through their tracking link."""

    kind: Literal["instructions", "new_window", "leave_with_neighbour"] = Field(
        description="instructions, new_window or leave_with_neighbour."
    )
    text: str = Field(default="", max_length=500, description="Instructions or a note.")
    window_start: AwareDatetime | None = Field(default=None, description="new_window: from.")
    window_end: AwareDatetime | None = Field(default=None, description="new_window: until.")
    neighbour_name: str = Field(default="", max_length=200, description="Who may take it.")
    neighbour_address: str = Field(default="", max_length=500, description="Where they live.")


class ReplyOut(ApiModel):
    """A customer's reply and whether it changed the order."""

    id: uuid.UUID = Field(description="Reply id.")
    order_id: uuid.UUID = Field(description="The order.")
    kind: str = Field(description="instructions, new_window or leave_with_neighbour.")
    text: str = Field(description="What they wrote.")
    window_start: Instant | None = Field(description="The window asked for.")
    window_end: Instant | None = Field(description="The window asked for.")
    neighbour_name: str = Field(description="Who may take it.")
    neighbour_address: str = Field(description="Where they live.")
    applied: bool = Field(description="Whether the order was changed.")
    note: str = Field(description="Why not, when it was not.")
    created_at: Instant = Field(description="When.")
