"""Order schemas: stops with time windows, items, customer contact, import results."""

from __future__ import annotations

import itertools
import uuid
from enum import StrEnum

from pydantic import Field, model_validator

from lastmile.domain import OrderKind
from lastmile.operations import OrderStatus
from lastmile.service.schemas import (
    ApiModel,
    AwareDatetime,
    ErrorItem,
    Instant,
    Int,
    LanguageCode,
    Names,
    PerDimension,
)

#: The longest an order's instructions may be, however they are written (staff,
#: CSV import, the customer's replies through their tracking link).
INSTRUCTIONS_MAX_LENGTH = 2000


class TimeWindowIn(ApiModel):
    """A time window: service must start between ``start`` and ``end``."""

    start: AwareDatetime = Field(description="Earliest service start (with time zone).")
    end: AwareDatetime = Field(description="Latest service start (with time zone).")

    @model_validator(mode="after")
    def _order(self) -> TimeWindowIn:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class TimeWindowOut(ApiModel):
    """A time window (UTC)."""

    start: Instant = Field(description="Earliest service start.")
    end: Instant = Field(description="Latest service start.")


class StopIn(ApiModel):
    """Where and when a vehicle serves the order. Give lon and lat, or an address
    to geocode."""

    address: str = Field(default="", max_length=500, description="Postal address.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Longitude, degrees.")
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude, degrees.")
    time_windows: list[TimeWindowIn] = Field(
        default_factory=list, max_length=8, description="When service may start (none: any time)."
    )
    service_s: int = Field(default=0, ge=0, le=86_400, description="Time spent at the stop.")

    @model_validator(mode="after")
    def _where(self) -> StopIn:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        if self.lon is None and not self.address.strip():
            raise ValueError("give lon and lat, or an address")
        ordered = sorted(self.time_windows, key=lambda w: w.start)
        for a, b in itertools.pairwise(ordered):
            if b.start <= a.end:
                raise ValueError("time windows overlap")
        self.time_windows = ordered
        return self


class GeocodeOut(ApiModel):
    """How the geocoder placed a stop."""

    confidence: float | None = Field(
        description="The geocoder's confidence in [0, 1] (1: the exact house); null when "
        "the geocoder gave none."
    )
    matched_address: str = Field(description="The address the geocoder matched.")


class StopOut(ApiModel):
    """A stop of an order."""

    address: str = Field(description="Postal address.")
    lon: float = Field(description="Longitude, degrees.")
    lat: float = Field(description="Latitude, degrees.")
    time_windows: list[TimeWindowOut] = Field(description="When service may start.")
    service_s: int = Field(description="Time spent at the stop.")
    geocode: GeocodeOut | None = Field(
        default=None,
        description="How the geocoder placed the stop; null when its position was given.",
    )
    needs_review: bool = Field(
        default=False,
        description="The geocoder was unsure (confidence below the service's threshold): "
        "a dispatcher should confirm or correct the position (PATCH the stop with lon/lat).",
    )


class ContactIn(ApiModel):
    """The customer to notify and to call."""

    name: str = Field(default="", max_length=200, description="Customer name.")
    phone: str = Field(default="", max_length=64, description="Phone number.")
    email: str = Field(default="", max_length=320, description="E-mail address.")


class ItemIn(ApiModel):
    """A line of the order: a parcel or a number of identical pieces."""

    barcode: str | None = Field(default=None, max_length=128, description="Barcode to scan.")
    description: str = Field(default="", max_length=500, description="What it is.")
    quantity: Int = Field(default=1, ge=1, description="How many pieces.")
    compartment: str | None = Field(
        default=None, max_length=64, description="Compartment it travels in (e.g. chilled)."
    )


class ItemOut(ItemIn):
    """A stored order line."""

    id: uuid.UUID = Field(description="Item id.")


class OrderIn(ApiModel):
    """A new order. A delivery has a delivery stop, a pickup a pickup stop, a
    shipment both (picked up first, on the same vehicle)."""

    external_id: str | None = Field(
        default=None, max_length=128, description="Your reference; unique in the organisation."
    )
    kind: OrderKind = Field(default=OrderKind.DELIVERY, description="delivery, pickup or shipment.")
    pickup: StopIn | None = Field(default=None, description="Pickup stop (pickup, shipment).")
    delivery: StopIn | None = Field(default=None, description="Delivery stop (delivery, shipment).")
    amount: PerDimension = Field(
        default_factory=list, description="Size per organisation dimension (empty: nothing)."
    )
    skills: Names = Field(default_factory=list, description="Skills the vehicle must have.")
    priority: int = Field(default=0, ge=0, le=100, description="Kept first when not all fit.")
    depot_id: uuid.UUID | None = Field(default=None, description="Depot it ships from, if fixed.")
    customer: ContactIn = Field(default_factory=ContactIn, description="Customer contact.")
    language: LanguageCode | None = Field(
        default=None,
        description="The customer's language for messages and the tracking page (en, fi, ...); "
        "null: the organisation's customer_language. Messages in a language without "
        "templates are sent in English.",
    )
    instructions: str = Field(
        default="", max_length=INSTRUCTIONS_MAX_LENGTH, description="Notes for the driver."
    )
    compartment: str | None = Field(
        default=None, max_length=64, description="Compartment of items that name none."
    )
    items: list[ItemIn] = Field(default_factory=list, max_length=500, description="Order lines.")

    @model_validator(mode="after")
    def _stops(self) -> OrderIn:
        need_pickup = self.kind in (OrderKind.PICKUP, OrderKind.SHIPMENT)
        need_delivery = self.kind in (OrderKind.DELIVERY, OrderKind.SHIPMENT)
        if need_pickup != (self.pickup is not None):
            raise ValueError(
                f"a {self.kind.value} order {'needs' if need_pickup else 'has no'} pickup stop"
            )
        if need_delivery != (self.delivery is not None):
            raise ValueError(
                f"a {self.kind.value} order {'needs' if need_delivery else 'has no'} delivery stop"
            )
        if any(a < 0 for a in self.amount):
            raise ValueError("amount values must be >= 0")
        self.skills = sorted({s.strip() for s in self.skills if s.strip()})
        return self


class OrderUpdate(ApiModel):
    """Changes to an order that is pending, planned or failed; omitted fields stay.
    Stops and items are replaced whole."""

    external_id: str | None = Field(default=None, max_length=128, description="Your reference.")
    pickup: StopIn | None = Field(default=None, description="New pickup stop.")
    delivery: StopIn | None = Field(default=None, description="New delivery stop.")
    amount: PerDimension | None = Field(default=None, description="New amount per dimension.")
    skills: Names | None = Field(default=None, description="New skills.")
    priority: int | None = Field(default=None, ge=0, le=100, description="New priority.")
    depot_id: uuid.UUID | None = Field(default=None, description="New depot.")
    customer: ContactIn | None = Field(default=None, description="New customer contact.")
    language: LanguageCode | None = Field(
        default=None, description="The customer's language; null: the organisation's."
    )
    instructions: str | None = Field(
        default=None, max_length=INSTRUCTIONS_MAX_LENGTH, description="New notes."
    )
    compartment: str | None = Field(default=None, max_length=64, description="New compartment.")
    items: list[ItemIn] | None = Field(default=None, max_length=500, description="New lines.")


class OrderRouteOut(ApiModel):
    """The route an order is on, named for people."""

    plan_id: uuid.UUID = Field(description="The plan.")
    route_id: uuid.UUID = Field(description="The route.")
    vehicle_id: uuid.UUID = Field(description="The route's vehicle.")
    vehicle_name: str = Field(description="The vehicle's name.")
    driver_name: str = Field(description="The driver's name, once dispatched.")


class OrderOut(ApiModel):
    """A stored order."""

    id: uuid.UUID = Field(description="Order id.")
    external_id: str | None = Field(description="Your reference.")
    kind: OrderKind = Field(description="delivery, pickup or shipment.")
    status: OrderStatus = Field(description="Where the order is in its lifecycle.")
    pickup: StopOut | None = Field(description="Pickup stop.")
    delivery: StopOut | None = Field(description="Delivery stop.")
    amount: list[int] = Field(description="Size per organisation dimension.")
    skills: list[str] = Field(description="Skills the vehicle must have.")
    priority: int = Field(description="Priority, 0-100.")
    depot_id: uuid.UUID | None = Field(description="Depot it ships from, if fixed.")
    customer: ContactIn = Field(description="Customer contact.")
    language: str | None = Field(
        default=None, description="The customer's language; null: the organisation's."
    )
    instructions: str = Field(description="Notes for the driver.")
    compartment: str | None = Field(description="Compartment of items that name none.")
    items: list[ItemOut] = Field(description="Order lines.")
    needs_review: bool = Field(
        default=False, description="A stop's geocoded position waits for a dispatcher."
    )
    route: OrderRouteOut | None = Field(
        default=None,
        description="In GET /orders: the route serving the order in its newest ready or "
        "dispatched plan (null when it is on none).",
    )
    created_at: Instant = Field(description="When the order was created.")
    updated_at: Instant = Field(description="When the order last changed.")


class ImportMode(StrEnum):
    """What an import does with rows that have errors."""

    ALL_OR_NOTHING = "all_or_nothing"
    PARTIAL = "partial"


class RejectedRow(ApiModel):
    """A data row a partial import left out, with everything wrong with it."""

    row: int = Field(description="Spreadsheet row (the header is row 1).")
    external_id: str = Field(description="The row's external_id, as written.")
    errors: list[ErrorItem] = Field(description="Each problem: row, column and reason.")


class ImportConflict(ApiModel):
    """A field the customer changed through their tracking link that the file
    would have overwritten: the customer's value was kept."""

    row: int = Field(description="Spreadsheet row (the header is row 1).")
    external_id: str = Field(description="The order's external_id.")
    order_id: uuid.UUID = Field(description="The order.")
    field: str = Field(description="instructions, or time_windows of the customer's stop.")
    customer_value: str = Field(
        description="What the order keeps (time windows as start/end, UTC, ';'-separated)."
    )
    file_value: str = Field(description="What the file said.")


class ReviewRow(ApiModel):
    """An imported order with a geocoded stop waiting for a dispatcher."""

    row: int = Field(description="Spreadsheet row (the header is row 1).")
    order_id: uuid.UUID = Field(description="The order.")
    column: str = Field(description="The address column of the stop (address, pickup_address).")
    confidence: float | None = Field(description="The geocoder's confidence in [0, 1].")
    matched_address: str = Field(description="The address the geocoder matched.")


class ImportResult(ApiModel):
    """What an import did (or, for a dry run, would do)."""

    mode: ImportMode = Field(
        default=ImportMode.ALL_OR_NOTHING, description="all_or_nothing or partial."
    )
    created: int = Field(description="New orders.")
    updated: int = Field(description="Orders with the same external id whose contents changed.")
    unchanged: int = Field(description="Orders with the same external id and the same contents.")
    order_ids: list[uuid.UUID] = Field(
        description="The order of each imported data row, in file order."
    )
    rejected: list[RejectedRow] = Field(
        default_factory=list,
        description="Partial imports: the rows left out, with their errors (all-or-nothing "
        "imports answer 422 instead); the first 1,000 such rows.",
    )
    rejected_count: int = Field(
        default=0, description="Partial imports: how many rows were left out (all of them)."
    )
    conflicts: list[ImportConflict] = Field(
        default_factory=list,
        description="Fields the customer changed through their tracking link that the file "
        "would have overwritten; the customer's value was kept.",
    )
    needs_review: list[ReviewRow] = Field(
        default_factory=list,
        description="Imported orders whose geocoded position a dispatcher should confirm.",
    )
    dry_run: bool = Field(description="True: nothing was written.")


class TrackingLinkOut(ApiModel):
    """A customer tracking link. The token is shown only in this answer."""

    token: str = Field(description="The secret token (192 random bits).")
    url: str = Field(description="The page to send to the customer.")
    expires_at: Instant = Field(description="When the link stops working.")


class TrackingDriverOut(ApiModel):
    """Where the driver coming to the customer is (only while few stops remain before
    theirs)."""

    lon: float = Field(description="Longitude of the driver's last known position.")
    lat: float = Field(description="Latitude of the driver's last known position.")
    at: Instant = Field(description="When the driver was there.")


class TrackingPlaceOut(ApiModel):
    """A place on the customer's map."""

    lon: float = Field(description="Longitude.")
    lat: float = Field(description="Latitude.")


class TrackingProofOut(ApiModel):
    """The proof of delivery as the customer may see it: when, who took it, and whether
    a photo and a signature were taken (not the photo, the signature or where)."""

    delivered_at: Instant = Field(description="When the order was handed over.")
    recipient_name: str = Field(default="", description="Who took it, as the driver wrote.")
    photo: bool = Field(default=False, description="Whether a photo was taken.")
    signature: bool = Field(default=False, description="Whether the recipient signed.")


class TrackingOut(ApiModel):
    """What a customer sees for their order (no other customer's data; the driver's
    position only once their stop is among the driver's next few)."""

    organisation: str = Field(description="Who delivers.")
    kind: OrderKind = Field(description="delivery, pickup or shipment.")
    status: OrderStatus = Field(description="Where the order is.")
    eta_at: Instant | None = Field(
        description="Predicted start of service at the customer (not the vehicle's arrival: "
        "never before the window opens), once the order is on a route."
    )
    expected_from: Instant | None = Field(
        default=None,
        description="The range told to the customer for the start of service: from (inside "
        "the window; the expected time when running late).",
    )
    expected_to: Instant | None = Field(
        default=None, description="... to (inside the window; see expected_from)."
    )
    running_late: bool = Field(
        default=False, description="True: service is predicted to start after the window."
    )
    message: str = Field(
        default="",
        description='What to show the customer, e.g. "Expected Friday 2 May between 13:30 and '
        '14:30 (UTC+02:00)" or "Running late, expected around 16:20 (UTC+02:00) on ...".',
    )
    timezone: str = Field(
        default="UTC", description="The organisation's time zone; every time is given in it."
    )
    time_windows: list[TimeWindowOut] = Field(description="The agreed time windows.")
    updated_at: Instant = Field(description="When the order last changed.")
    instructions: str = Field(
        default="", description="The delivery instructions on the order (theirs included)."
    )
    stops_before: int | None = Field(
        default=None,
        description="While the driver is on the way: how many stops the driver still "
        "makes before theirs.",
    )
    driver: TrackingDriverOut | None = Field(
        default=None,
        description="The driver's last known position, only while at most "
        "``stops_before`` <= 2 (null before, and once the order is served).",
    )
    destination: TrackingPlaceOut | None = Field(
        default=None,
        description="While ``driver`` is given: where the customer's stop is, for the map.",
    )
    proof: TrackingProofOut | None = Field(
        default=None, description="Once delivered: a summary of the proof of delivery."
    )
