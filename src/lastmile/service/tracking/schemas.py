"""Request and response bodies of the tracking routes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Self

from pydantic import Field, model_validator

from lastmile.domain import VisitKind
from lastmile.operations.pod import DRIVER_REASONS, FailureReason
from lastmile.operations.progress import StopEventKind, StopState
from lastmile.service.schemas import FINITE, ApiModel, AwareDatetime, Instant, Int, Lat, Lon

#: Most pings in one batch.
MAX_PINGS = 1000
#: Most stop events in one batch.
MAX_EVENTS = 200

EventId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="The sender's own id for this event (e.g. a UUID): sending it again "
        "stores nothing twice.",
    ),
]


class PingIn(ApiModel):
    """One GPS fix (NaN and infinities are refused in every number)."""

    model_config = FINITE

    event_id: EventId
    at: AwareDatetime = Field(description="When the fix was taken (device time, with zone).")
    lon: Lon
    lat: Lat
    speed_kph: float | None = Field(default=None, ge=0, le=500, description="Ground speed.")
    heading_deg: float | None = Field(
        default=None, ge=0, le=360, description="Direction of travel, degrees from north."
    )
    accuracy_m: float | None = Field(default=None, ge=0, description="Horizontal accuracy.")
    altitude_m: float | None = Field(default=None, description="Altitude.")
    battery_pct: float | None = Field(default=None, ge=0, le=100, description="Battery level.")


class PingBatchIn(ApiModel):
    """Positions recorded since the last upload, oldest first or in any order."""

    pings: list[PingIn] = Field(min_length=1, max_length=MAX_PINGS, description="The fixes.")


class PingBatchOut(ApiModel):
    """What a batch stored. Once this answer is sent, the batch is on disk."""

    accepted: int = Field(description="Pings stored by this request.")
    duplicates: int = Field(description="Pings already stored (same event_id), not stored again.")


class PositionOut(ApiModel):
    """A stored GPS fix."""

    event_id: str = Field(description="The sender's event id.")
    at: Instant = Field(description="When the fix was taken.")
    lon: float = Field(description="Longitude.")
    lat: float = Field(description="Latitude.")
    speed_kph: float | None = Field(description="Ground speed.")
    heading_deg: float | None = Field(description="Direction of travel.")
    accuracy_m: float | None = Field(description="Horizontal accuracy.")


class StopEventIn(ApiModel):
    """Something that happened at a stop of the route.

    Name the stop by its ``sequence`` on the route, or by ``order_id`` (for a
    shipment, ``picked_up`` means its pickup stop and ``delivered`` its
    delivery stop; ``arrived``/``failed`` the stop it is due at next).
    """

    model_config = FINITE

    event_id: EventId
    kind: StopEventKind = Field(
        description="arrived, departed, delivered, picked_up or failed (arrived and departed "
        "are also detected from the route's GPS fixes, see docs/tracking.md)."
    )
    at: AwareDatetime = Field(description="When it happened (device time, with zone).")
    sequence: Int | None = Field(default=None, ge=0, description="The visit's sequence.")
    order_id: uuid.UUID | None = Field(default=None, description="The order served there.")
    reason: str = Field(
        default="",
        max_length=64,
        description="Why it failed (required for failed): one of "
        + ", ".join(r.value for r in DRIVER_REASONS)
        + " (the codes of proof of delivery's failure_reason).",
    )
    note: str = Field(default="", max_length=2000, description="Free text from the driver.")
    lon: float | None = Field(
        default=None, ge=-180, le=180, description="Where it was reported: longitude."
    )
    lat: float | None = Field(
        default=None, ge=-90, le=90, description="Where it was reported: latitude."
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.sequence is None and self.order_id is None:
            raise ValueError("name the stop: give sequence or order_id")
        if self.kind is StopEventKind.NOT_ATTEMPTED:
            raise ValueError(
                "not_attempted is recorded when a dispatcher closes the route "
                "(POST /routes/{route_id}/close); report failed with a reason"
            )
        if self.kind is StopEventKind.FAILED:
            if not self.reason.strip():
                raise ValueError("a failed stop needs a reason")
            try:
                reason = FailureReason(self.reason)
            except ValueError:
                reason = FailureReason.NOT_ATTEMPTED
            if reason is FailureReason.NOT_ATTEMPTED:
                known = ", ".join(r.value for r in DRIVER_REASONS)
                raise ValueError(f"unknown failure reason {self.reason.strip()!r}; one of: {known}")
            self.reason = reason.value
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        return self


class StopEventBatchIn(ApiModel):
    """Stop events, applied in the order given (all or nothing)."""

    events: list[StopEventIn] = Field(
        min_length=1, max_length=MAX_EVENTS, description="The events."
    )


class StopEventOut(ApiModel):
    """A stored stop event."""

    event_id: str = Field(description="The sender's event id.")
    kind: StopEventKind = Field(description="What happened.")
    sequence: int = Field(description="The visit's sequence when it happened.")
    order_id: uuid.UUID | None = Field(description="The order served there.")
    stop: VisitKind = Field(description="job, pickup or delivery.")
    reason: str = Field(description="Why it failed (a failure reason code).")
    note: str = Field(description="Free text from the driver.")
    order_status: str = Field(description="The order's status after the event.")
    reattempt_on: dt.date | None = Field(
        default=None,
        description="For a failure: the day the order is tried again (None: not automatically).",
    )
    reattempt_note: str = Field(
        default="", description="For a failure: whether and when it is tried again, and why."
    )
    at: Instant = Field(description="When it happened.")
    received_at: Instant = Field(description="When the service stored it.")
    duplicate: bool = Field(
        default=False, description="True: sent before (same event_id); nothing changed now."
    )
    detected: bool = Field(
        default=False,
        description="True: an arrival or departure detected from the route's GPS fixes, "
        "not reported by the driver.",
    )


class StopEventBatchOut(ApiModel):
    """The stored events, in the order sent."""

    events: list[StopEventOut] = Field(description="One per event sent.")


class StopEtaOut(ApiModel):
    """Predicted timing of a visit still ahead."""

    sequence: int = Field(description="The visit's sequence on the route.")
    kind: VisitKind = Field(description="job, pickup, delivery, break, reload or end.")
    order_id: uuid.UUID | None = Field(description="The order served there.")
    state: StopState = Field(description="pending, or arrived (the driver is there).")
    eta_at: Instant = Field(description="Predicted arrival.")
    start_at: Instant = Field(description="Predicted start of service (after any wait).")
    departure_at: Instant = Field(description="Predicted departure.")
    planned_at: Instant = Field(description="Planned arrival.")
    window_end_at: Instant | None = Field(description="End of the stop's last window.")
    slack_s: int | None = Field(
        description="Seconds between predicted arrival and window end (negative: missed)."
    )
    late: bool = Field(description="Predicted late: ETA after window end minus the margin.")


class PositionFix(ApiModel):
    """The last known position of the vehicle."""

    at: Instant = Field(description="When the fix was taken.")
    lon: float = Field(description="Longitude.")
    lat: float = Field(description="Latitude.")
    speed_kph: float | None = Field(description="Ground speed.")


class RouteEtaOut(ApiModel):
    """Progress of a route and ETAs of the visits still ahead."""

    route_id: uuid.UUID = Field(description="The route.")
    status: str = Field(description="dispatched, started or completed.")
    computed_at: Instant = Field(description="When this was computed.")
    origin: str = Field(
        description="What the ETAs start from: at_stop, position, last_stop, depot (a van back "
        "from its round and sent out again) or start."
    )
    margin_s: int = Field(description="Late margin used.")
    done: int = Field(description="Stops done.")
    failed: int = Field(description="Stops failed.")
    remaining: int = Field(description="Order stops still ahead.")
    position: PositionFix | None = Field(description="Last known position.")
    end_at: Instant | None = Field(description="Predicted end of the route.")
    stops: list[StopEtaOut] = Field(description="Visits still ahead, in route order.")


class TrackerIn(ApiModel):
    """A tracker app or device, attached to a vehicle or to a driver (one of them)."""

    identifier: str = Field(
        min_length=1,
        max_length=128,
        description="What the tracker sends as id (Traccar Client: device identifier).",
    )
    name: str = Field(default="", max_length=200, description="A label for people.")
    vehicle_id: uuid.UUID | None = Field(default=None, description="The vehicle it rides in.")
    driver_id: uuid.UUID | None = Field(default=None, description="The driver who carries it.")

    @model_validator(mode="after")
    def _one_owner(self) -> Self:
        if (self.vehicle_id is None) == (self.driver_id is None):
            raise ValueError("give exactly one of vehicle_id and driver_id")
        return self


class TrackerOut(ApiModel):
    """A registered tracker (its token is never shown again)."""

    id: uuid.UUID = Field(description="Tracker id.")
    identifier: str = Field(description="What the tracker sends as id.")
    name: str = Field(description="Label.")
    vehicle_id: uuid.UUID | None = Field(description="Vehicle it rides in.")
    driver_id: uuid.UUID | None = Field(description="Driver who carries it.")
    created_at: Instant = Field(description="When it was registered.")
    last_seen_at: Instant | None = Field(description="Its last position (to the minute).")


class TrackerCreated(TrackerOut):
    """A new tracker with its secret token (shown only in this answer)."""

    token: str = Field(description="The secret the tracker sends as token.")
    server_url: str = Field(
        description="The URL to configure in Traccar Client / OsmAnd (token included)."
    )


class RouteCloseIn(ApiModel):
    """Close a route: the day is over for it."""

    note: str = Field(
        default="",
        max_length=2000,
        description="Why it is closed; kept with the route and on every stop left not attempted.",
    )


class StopOutcomeOut(ApiModel):
    """The outcome of one order stop on a route."""

    sequence: int = Field(description="The visit's sequence.")
    order_id: uuid.UUID = Field(description="The order.")
    stop: VisitKind = Field(description="job, pickup or delivery.")
    outcome: StopEventKind | None = Field(
        description="delivered, picked_up, failed or not_attempted; None while it has none."
    )
    reason: str = Field(default="", description="For a failure: the reason code.")
    order_status: str = Field(description="The order's status now.")


class RouteCloseOut(ApiModel):
    """A closed route and the outcome of every order stop on it."""

    route_id: uuid.UUID = Field(description="The route.")
    status: str = Field(description="completed.")
    completed_at: Instant | None = Field(description="When it completed.")
    close_note: str = Field(description="The dispatcher's note.")
    not_attempted: int = Field(description="How many stops were closed without an attempt.")
    stops: list[StopOutcomeOut] = Field(description="Every order stop, in route order.")
