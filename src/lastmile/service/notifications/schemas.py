"""Requests and answers of the notification routes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, Field, UrlConstraints

from lastmile.operations.notify import NotifyEvent
from lastmile.service.notifications.guard import MAX_URL_LENGTH
from lastmile.service.notifications.wording import Channel
from lastmile.service.schemas import ApiModel, AwareDatetime, Instant, LanguageCode, Names


class WebhookIn(ApiModel):
    """Where to send the organisation's events."""

    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=MAX_URL_LENGTH)] = Field(
        description="The receiver (https in production), at most 2,048 characters; it must "
        "reach a public address."
    )
    events: Names = Field(
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
    event: str = Field(
        description="dispatched, on_the_way, delay, delivered, failed or window_changed."
    )
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
    kind: str = Field(
        description="instructions, new_window or leave_with_neighbour (tracking page); "
        "keep or new_window_asked (answers to a text or e-mail: 1 or 2; a window chosen "
        "from those offered by text or e-mail is a new_window, as on the page)."
    )
    text: str = Field(description="What they wrote.")
    window_start: Instant | None = Field(description="The window asked for.")
    window_end: Instant | None = Field(description="The window asked for.")
    neighbour_name: str = Field(description="Who may take it.")
    neighbour_address: str = Field(description="Where they live.")
    applied: bool = Field(description="Whether the order was changed.")
    note: str = Field(description="Why not, when it was not.")
    created_at: Instant = Field(description="When.")


class MessageOut(ApiModel):
    """One entry of an order's message history: a text or e-mail sent, or an answer."""

    at: Instant = Field(description="When it was queued or received.")
    direction: Literal["out", "in"] = Field(description="out: to the customer; in: from them.")
    channel: str = Field(description="sms or email.")
    party: str = Field(description="The number or address it went to or came from.")
    subject: str = Field(description="E-mail subject (empty for texts).")
    text: str = Field(description="What it said.")
    status: str = Field(
        description="out: pending, sent, delivered or failed; in: what it did (keep, "
        "new_window, instructions, refused)."
    )
    provider_id: str = Field(description="out: the gateway's id of the message.")
    note: str = Field(description="out: the last error; in: why refused, or what was answered.")
    attempts: int = Field(description="out: attempts so far.")


class InboundSecretOut(ApiModel):
    """The organisation's inbound secret, answered once, and the URLs that carry it."""

    secret: str = Field(description="Shown only now; a new one replaces the old.")
    sms_inbound_path: str = Field(description="Give the SMS gateway this URL for replies.")
    email_inbound_path: str = Field(description="Give the inbound-mail service this URL.")


class InboundAnswer(ApiModel):
    """What an inbound message did (answered to the gateway)."""

    outcome: str = Field(
        description="keep, new_window (answered with windows to choose from), window_chosen, "
        "instructions, refused or unmatched."
    )


class StatusCallbackAnswer(ApiModel):
    """What a status callback changed."""

    matched: int = Field(description="Statuses applied to a message.")
    unmatched: int = Field(description="Statuses naming no known message.")


# -- message templates ----------------------------------------------------------------------


class TemplateIn(ApiModel):
    """The organisation's wording of one message (sandboxed Jinja2; see
    GET /message-templates/variables)."""

    subject: str = Field(
        default="",
        max_length=20_000,
        description="E-mail: the subject (at most 300 characters); SMS: leave empty.",
    )
    body: str = Field(max_length=20_000, description="The text (at most 5,000 characters).")


class TemplateOut(ApiModel):
    """One message template: the organisation's own, or the default it sends with."""

    kind: NotifyEvent = Field(
        description="dispatched, on_the_way, delay, delivered, failed or window_changed."
    )
    channel: Channel = Field(description="email or sms.")
    language: str = Field(description="Language code (en, fi, ...).")
    subject: str = Field(description="E-mail subject template (empty for SMS).")
    body: str = Field(description="The text template.")
    customised: bool = Field(description="The organisation's own (false: the shipped default).")
    updated_at: Instant | None = Field(default=None, description="When it was last edited.")
    updated_by: str = Field(default="", description="Who edited it last (user or API key).")


class VariableOut(ApiModel):
    """A variable message templates may use."""

    name: str = Field(description="Its name, as written in a template: {{ name }}.")
    description: str = Field(description="What it holds.")


class PreviewIn(ApiModel):
    """A template to render with a sample order (omit ``body``: the one in use)."""

    kind: NotifyEvent = Field(description="The message.")
    channel: Channel = Field(description="email or sms.")
    language: LanguageCode = Field(default="en", description="Language of the template.")
    subject: str | None = Field(default=None, max_length=20_000, description="E-mail subject.")
    body: str | None = Field(
        default=None, max_length=20_000, description="The text; omitted: the template in use."
    )
    pickup: bool = Field(default=False, description="Preview for a collection (a pickup).")
    late: bool = Field(default=False, description="Preview with a driver running late.")


class SmsLengthOut(ApiModel):
    """How a text travels as SMS."""

    encoding: str = Field(description="GSM-7 or UCS-2 (any character outside GSM 03.38).")
    characters: int = Field(description="Characters in the text.")
    units: int = Field(
        description="Septets (GSM-7; extension characters such as € count 2) or UTF-16 units."
    )
    segments: int = Field(description="SMS sent: 1 up to 160 (70), else parts of 153 (67).")
    per_segment: int = Field(description="160, 153, 70 or 67.")
    remaining: int = Field(description="Room left in the last segment.")
    non_gsm: list[str] = Field(description="The characters that made the text UCS-2.")


class PreviewOut(ApiModel):
    """A template rendered with a sample order."""

    language: str = Field(description="The language of the template rendered.")
    customised: bool = Field(description="Whether it is the organisation's own template.")
    subject: str = Field(description="E-mail subject (empty for SMS).")
    text: str = Field(description="The text as sent.")
    sms: SmsLengthOut | None = Field(description="SMS: its encoding, length and segments.")
