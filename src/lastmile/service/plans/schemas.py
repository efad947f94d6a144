"""Plan, planning job, route, visit and loading list schemas."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from lastmile.service.orders.schemas import TimeWindowOut
from lastmile.service.schemas import FINITE, ApiModel, Day, Instant

#: Largest plan seed: every engine takes it (PyVRP a 32-bit seed, plus one per worker).
MAX_SEED = 2**31 - 1


class RobustOptions(ApiModel):
    """Plan with slack for travel-time noise (docs/robust.md): each stop reached
    within its window with probability at least ``on_time``."""

    model_config = FINITE

    on_time: float = Field(
        ge=0.5, le=0.999, description="Target probability of reaching each stop in time, e.g. 0.9."
    )
    noise: str = Field(
        default="lognormal",
        max_length=200,
        description="The travel-time noise the buffers are sized for: lognormal, gamma or "
        "none, with options, e.g. 'lognormal:sigma=0.25' (keys sigma, reference_s, "
        "max_sigma, median).",
    )


class PlanCreate(ApiModel):
    """Start an optimisation for one day.

    By default every pending order and every active vehicle take part. Times of
    the day (depot hours, shifts, windows) are read in the organisation's time
    zone; the plan's epoch is local midnight of ``date``.
    """

    model_config = FINITE

    name: str = Field(default="", max_length=200, description="Display name.")
    date: Day = Field(description="The day to plan.")
    order_ids: list[uuid.UUID] | None = Field(
        default=None,
        max_length=20_000,
        description="Orders to plan (pending or planned); default: every pending order.",
    )
    vehicle_ids: list[uuid.UUID] | None = Field(
        default=None,
        min_length=1,
        max_length=2_000,
        description="Vehicles to use (at least one); default: every active one.",
    )
    engine: str = Field(
        default="auto", description="auto, or an engine name (pyvrp, vroom, ortools)."
    )
    time_limit_s: float | None = Field(
        default=None, gt=0, description="Search time; default from the service settings."
    )
    seed: int = Field(
        default=0, ge=0, le=MAX_SEED, description="Random seed (same seed, same plan)."
    )
    robust: RobustOptions | None = Field(
        default=None,
        description="Plan robustly against travel-time noise (none: plan on the predicted "
        "travel times).",
    )


class JobOut(ApiModel):
    """Progress of a planning job."""

    id: uuid.UUID = Field(description="Job id.")
    plan_id: uuid.UUID = Field(description="The plan it fills.")
    status: str = Field(description="queued, running, succeeded, failed or cancelled.")
    progress: float = Field(description="0 to 1.")
    message: str = Field(description="What the job is doing.")
    error: str = Field(description="Why it failed, if it did.")
    queue_position: int | None = Field(
        default=None,
        description="While queued: its place among the organisation's queued jobs (1: the "
        "organisation's next to start; organisations take turns for the planning slots, and "
        "each runs at most LASTMILE_PLANNING_ORG_LIMIT jobs at once). None once it runs.",
    )
    attempts: int = Field(
        default=0,
        description="How many times a planning slot has started it (a job whose worker "
        "stopped under it is started again, up to LASTMILE_PLANNING_ATTEMPTS).",
    )
    time_limit_s: float | None = Field(
        default=None,
        description="The search time the job was given, seconds (the service's default "
        "when the request named none): compare with the time since started_at.",
    )
    robust: RobustOptions | None = Field(
        default=None,
        description="The robustness the plan was asked for (none: planned on the "
        "predicted travel times); the noise as the service read it.",
    )
    created_at: Instant = Field(description="When it was queued.")
    started_at: Instant | None = Field(description="When it started.")
    finished_at: Instant | None = Field(description="When it ended.")


class ParcelOut(ApiModel):
    """One parcel of an order, as the driver handles it."""

    barcode: str | None = Field(description="Barcode to scan (none: the order as a whole).")
    description: str = Field(description="What it is.")
    quantity: int = Field(description="How many pieces.")


class NavigationOut(ApiModel):
    """Links that open the stop in a navigation app (the app when installed, else its web map)."""

    geo: str = Field(description="geo: URI (RFC 5870) with the stop's label: any map app.")
    osmand: str = Field(description="OsmAnd (https://osmand.net/map?pin=lat,lon).")
    google_maps: str = Field(description="Google Maps directions to the stop.")
    apple_maps: str = Field(description="Apple Maps directions to the stop.")


class RouteStopOut(ApiModel):
    """What a driver needs at an order's stop."""

    order_id: uuid.UUID = Field(description="The order.")
    external_id: str | None = Field(description="The order's own reference.")
    kind: str = Field(description="delivery (goods handed over) or pickup (goods collected).")
    address: str = Field(description="Where: the address as given (or as geocoded).")
    customer_name: str = Field(description="Who to see.")
    customer_phone: str = Field(description="Their phone number.")
    instructions: str = Field(description="The customer's instructions for the driver.")
    parcels: list[ParcelOut] = Field(description="The parcels, with their barcodes.")
    time_windows: list[TimeWindowOut] = Field(
        default_factory=list, description="When service may start at this stop (none: any time)."
    )
    navigation: NavigationOut | None = Field(
        default=None,
        description="Links opening the stop in navigation apps (None: the stop has no "
        "coordinates).",
    )


class VisitOut(ApiModel):
    """One timed step of a route."""

    id: uuid.UUID = Field(description="Visit id.")
    sequence: int = Field(description="Position in the route (0 = start).")
    kind: str = Field(description="start, job, pickup, delivery, break, reload or end.")
    order_id: uuid.UUID | None = Field(description="The order served, for order steps.")
    depot_id: uuid.UUID | None = Field(description="The depot, for start/end/reload.")
    break_id: str | None = Field(
        default=None, description="The shift's break taken here, for break steps."
    )
    lon: float | None = Field(description="Longitude, degrees.")
    lat: float | None = Field(description="Latitude, degrees.")
    arrival_at: Instant = Field(description="Planned arrival.")
    start_at: Instant = Field(description="Planned service start (after any wait).")
    departure_at: Instant = Field(description="Planned departure.")
    eta_at: Instant = Field(description="Current estimate of the arrival.")
    load: list[int] = Field(description="Load after the step, per dimension.")
    distance_m: int = Field(description="Metres driven since the route start.")
    travel_s: int = Field(description="Seconds driven since the route start.")
    stop: RouteStopOut | None = Field(
        default=None,
        description="For order steps, in GET /routes/{route_id} and GET /me/routes: the "
        "address, customer, instructions and parcels.",
    )


class RouteOut(ApiModel):
    """The route of one vehicle in a plan."""

    id: uuid.UUID = Field(description="Route id.")
    plan_id: uuid.UUID = Field(description="Its plan.")
    vehicle_id: uuid.UUID = Field(description="The vehicle.")
    vehicle_name: str = Field(
        default="", description="The vehicle's name (GET /routes/{route_id}, GET /me/routes)."
    )
    vehicle_registration: str = Field(default="", description="Its registration plate.")
    driver_id: uuid.UUID | None = Field(description="The driver, once dispatched.")
    driver_name: str = Field(default="", description="The driver's name, once dispatched.")
    status: str = Field(
        description="planned, dispatched, started, completed (every order stop has an "
        "outcome, or a dispatcher closed it) or broken_down (the vehicle broke down: the "
        "route keeps the stops it did, the others moved)."
    )
    cost: int = Field(description="Objective value of the route.")
    distance_m: int = Field(description="Metres driven.")
    travel_s: int = Field(description="Seconds driven.")
    start_at: Instant = Field(description="Planned departure from the depot.")
    end_at: Instant = Field(description="Planned end.")
    dispatched_at: Instant | None = Field(description="When it was dispatched.")
    started_at: Instant | None = Field(description="When the driver started it.")
    completed_at: Instant | None = Field(
        default=None, description="When it completed (or was closed)."
    )
    closed_by_id: uuid.UUID | None = Field(
        default=None, description="The dispatcher who closed it (None: it completed by itself)."
    )
    close_note: str = Field(default="", description="Why it was closed.")
    closed_at: Instant | None = Field(
        default=None,
        description="When a dispatcher closed it (None: it completed by itself, and its "
        "van may be given more work while its shift lasts).",
    )
    reopened_at: Instant | None = Field(
        default=None,
        description="When it last took more stops after it had completed (its van back "
        "at its depot and sent out again; None: never).",
    )
    visits: list[VisitOut] = Field(description="Timed steps, in order.")


class UnassignedOut(ApiModel):
    """An order the plan does not serve, and why."""

    order_id: uuid.UUID = Field(description="The order.")
    order: str = Field(
        default="",
        description="The order as people know it: external id, customer and id, e.g. "
        "'order EXT-42 (Alice Martin, id ...)'.",
    )
    code: str = Field(description="skills, capacity, time_window, shift, no_room, ...")
    reason: str = Field(description="The reason in words a dispatcher reads.")


class PlanOut(ApiModel):
    """A plan (without its routes)."""

    id: uuid.UUID = Field(description="Plan id.")
    name: str = Field(description="Display name.")
    status: str = Field(description="planning, ready, failed, cancelled or dispatched.")
    epoch: Instant = Field(description="The instant planning time 0 stands for.")
    engine: str = Field(description="The engine that produced the plan.")
    travel_note: str = Field(description="How travel times were computed.")
    travel_model: dict[str, Any] | None = Field(
        default=None,
        description="The travel model the plan was made with, as GET /health shows it: kind "
        "(road, osrm or straight_line) and its settings, e.g. network, traffic and weather. "
        "None until the planning job has made the plan.",
    )
    cost: int = Field(description="Total objective value.")
    distance_m: int = Field(description="Total metres driven.")
    travel_s: int = Field(description="Total seconds driven.")
    created_at: Instant = Field(description="When the plan was requested.")
    dispatched_at: Instant | None = Field(description="When it was dispatched.")
    job: JobOut | None = Field(default=None, description="The planning job.")


class PlanDetail(PlanOut):
    """A plan with its routes and unassigned orders."""

    routes: list[RouteOut] = Field(description="One route per used vehicle.")
    unassigned: list[UnassignedOut] = Field(description="Orders left out, with reasons.")


class Assignment(ApiModel):
    """Give one route to one driver."""

    route_id: uuid.UUID = Field(description="The route.")
    driver_id: uuid.UUID = Field(description="The driver.")


class DispatchRequest(ApiModel):
    """Drivers for the routes. Routes not listed go to the driver whose shift uses
    the route's vehicle at that time."""

    assignments: list[Assignment] = Field(
        default_factory=list, description="Explicit route -> driver assignments."
    )


class LoadingEntryOut(ApiModel):
    """One line of a loading list."""

    trip: int = Field(description="0 = loaded at the start; n = after the n-th reload.")
    compartment: str = Field(description="Where it goes in the vehicle.")
    position: int = Field(description="Load order within trip and compartment (1 = first in).")
    sequence: int = Field(description="The stop's position in the route.")
    order_id: uuid.UUID = Field(description="The order.")
    label: str = Field(description="The order's reference.")
    barcode: str | None = Field(description="Barcode to scan (none: the order as a whole).")
    description: str = Field(description="What it is.")
    quantity: int = Field(description="How many pieces.")


class LoadingListOut(ApiModel):
    """What to load into the vehicle of a route, last stop first, by compartment."""

    route_id: uuid.UUID = Field(description="The route.")
    vehicle_id: uuid.UUID = Field(description="The vehicle.")
    compartments: list[str] = Field(description="Compartments used, in loading order.")
    entries: list[LoadingEntryOut] = Field(description="Lines in loading order.")


class PlanVersionOut(ApiModel):
    """One version of a dispatched plan (without its routes)."""

    number: int = Field(description="1 = the plan as dispatched; then one per change.")
    kind: str = Field(description="dispatch, redispatch, insert_order, breakdown or reoptimise.")
    summary: str = Field(description="What changed, in words.")
    change_id: uuid.UUID | None = Field(
        description="The change logged in GET /plans/{plan_id}/changes that made it."
    )
    cost: int = Field(description="Total objective value of the plan at that version.")
    created_at: Instant = Field(description="When it was recorded.")


class VersionVisitOut(ApiModel):
    """One timed step of a route in a plan version."""

    sequence: int = Field(description="Position in the route.")
    kind: str = Field(description="start, job, pickup, delivery, break, reload or end.")
    order_id: uuid.UUID | None = Field(description="The order served, for order steps.")
    break_id: str | None = Field(default=None, description="The break, for break steps.")
    arrival_at: Instant = Field(description="Planned arrival.")
    start_at: Instant = Field(description="Planned service start.")
    departure_at: Instant = Field(description="Planned departure.")


class VersionRouteOut(ApiModel):
    """A route as it stood in a plan version."""

    route_id: uuid.UUID = Field(description="Route id.")
    position: int = Field(description="Position in the plan.")
    vehicle_id: uuid.UUID = Field(description="The vehicle.")
    driver_id: uuid.UUID | None = Field(description="The driver.")
    cost: int = Field(description="Objective value.")
    distance_m: int = Field(description="Metres driven.")
    travel_s: int = Field(description="Seconds driven.")
    start_at: Instant = Field(description="Planned departure.")
    end_at: Instant = Field(description="Planned end.")
    visits: list[VersionVisitOut] = Field(description="Timed steps, in order.")


class PlanVersionDetail(PlanVersionOut):
    """A version of a dispatched plan with its routes, as they stood."""

    routes: list[VersionRouteOut] = Field(description="Every route of the plan at that version.")


class StopPlannedVsActual(ApiModel):
    """One order stop: as dispatched, as planned now, and as it happened."""

    order_id: uuid.UUID = Field(description="The order.")
    stop: str = Field(description="job, pickup or delivery.")
    dispatched_route_id: uuid.UUID | None = Field(
        description="Its route in the dispatched version (None: added later)."
    )
    dispatched_sequence: int | None = Field(description="Its position there.")
    dispatched_arrival_at: Instant | None = Field(description="Planned arrival as dispatched.")
    dispatched_start_at: Instant | None = Field(description="Planned start as dispatched.")
    latest_route_id: uuid.UUID | None = Field(
        description="Its route in the latest version (None: taken off the plan)."
    )
    latest_sequence: int | None = Field(description="Its position there.")
    latest_arrival_at: Instant | None = Field(description="Latest planned arrival.")
    latest_start_at: Instant | None = Field(description="Latest planned start.")
    actual_arrival_at: Instant | None = Field(
        description="Reported arrival (the first arrived event, else the outcome's time)."
    )
    actual_completed_at: Instant | None = Field(description="When its outcome was reported.")
    outcome: str | None = Field(
        description="delivered, picked_up, failed or not_attempted; None while it has none."
    )
    reason: str = Field(description="For a failure: the reason code.")
    delay_min: float | None = Field(
        description="Actual arrival minus the dispatched planned arrival, in minutes."
    )


class PlannedVsActualOut(ApiModel):
    """Planned versus actual for every order stop of a dispatched plan."""

    plan_id: uuid.UUID = Field(description="The plan.")
    dispatched_version: int = Field(description="The version sent out (1).")
    latest_version: int = Field(description="The latest version.")
    stops: list[StopPlannedVsActual] = Field(
        description="Stops in dispatched route order, then stops added later."
    )
