"""Requests and answers of the re-planning routes."""

from __future__ import annotations

import uuid

from pydantic import Field, model_validator

from lastmile.service.plans.schemas import RouteOut, UnassignedOut
from lastmile.service.schemas import ApiModel, Instant


class InsertOrderIn(ApiModel):
    """An urgent order to put into the plan while it is being driven."""

    order_id: uuid.UUID = Field(description="A pending order of the organisation (POST /orders).")


class BreakdownIn(ApiModel):
    """A vehicle of the plan that cannot go on."""

    vehicle_id: uuid.UUID = Field(description="The vehicle that broke down.")
    transfer_s: int | None = Field(
        default=600,
        ge=0,
        le=4 * 3600,
        description="Seconds to hand the goods on board over to another vehicle, which "
        "picks them up where the broken one stands (each such order becomes a shipment "
        "picked up there). null: no transfer, the goods on board are left unassigned "
        "(code on_board) for the dispatcher to arrange.",
    )


class ReoptimiseIn(ApiModel):
    """Plan again everything that has not happened yet."""

    time_limit_s: float | None = Field(
        default=None, gt=0, description="Search time (default: the service's default)."
    )
    keep_started: bool = Field(
        default=False,
        description="Keep the order of the stops ahead of vehicles already on the road "
        "(they still keep what they carry either way).",
    )
    engine: str = Field(default="auto", description="auto, pyvrp, vroom or ortools.")


class PlanChangeOut(ApiModel):
    """One change made to a plan while it was being driven."""

    id: uuid.UUID = Field(description="Change id.")
    plan_id: uuid.UUID = Field(description="The plan.")
    kind: str = Field(description="insert_order, breakdown, reoptimise or move_order.")
    summary: str = Field(description="What happened, in words.")
    cost_before: int = Field(description="The plan's cost before.")
    cost_after: int = Field(description="The plan's cost after.")
    created_at: Instant = Field(description="When.")


class ReplanOut(ApiModel):
    """What a re-planning request did. Nothing is stored unless ``applied``."""

    applied: bool = Field(description="Whether the plan changed (every change is validated).")
    summary: str = Field(description="What happened, in words.")
    change: PlanChangeOut | None = Field(description="The logged change, when applied.")
    cost_before: int = Field(description="The plan's cost before.")
    cost_after: int = Field(description="The plan's cost after.")
    needs_dispatch: bool = Field(
        description="A route without a driver was added to a dispatched plan: dispatch again."
    )
    unassigned: list[UnassignedOut] = Field(
        description="Orders this change could not place, with the reason."
    )
    late: list[str] = Field(
        description="Promises the current forecast already breaks (tolerated, never worsened)."
    )
    routes: list[RouteOut] = Field(
        description="The routes the change rewrote, as they are now (GET /plans/{plan_id} "
        "for the whole plan); empty when nothing was applied."
    )


class MoveIn(ApiModel):
    """Move one order of the plan to a position of its route or of another route."""

    order_id: uuid.UUID = Field(
        description="An order of the plan: on a route (not yet served, its stop not in "
        "progress) or unassigned."
    )
    to_route_id: uuid.UUID | None = Field(
        default=None, description="The route to put it on (give this or to_vehicle_id)."
    )
    to_vehicle_id: uuid.UUID | None = Field(
        default=None,
        description="The vehicle to put it on: one of the plan's, with a route or not yet "
        "(give this or to_route_id).",
    )
    position: int | None = Field(
        default=None,
        ge=0,
        description="0-based index among the route's stops once it is there, the stops "
        "already done included (default: the cheapest position the validator accepts). "
        "A shipment's two stops are always placed at their cheapest pair of positions.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> MoveIn:
        if (self.to_route_id is None) == (self.to_vehicle_id is None):
            raise ValueError("give exactly one of to_route_id and to_vehicle_id")
        return self


class ViolationOut(ApiModel):
    """One rule of the plan the move would break, as the validator found it."""

    code: str = Field(description="The validator's code (time_window, capacity, skills, ...).")
    message: str = Field(description="What is broken, naming the vehicle and the order.")
    vehicle_id: uuid.UUID | None = Field(description="The vehicle it is about.")
    order_id: uuid.UUID | None = Field(description="The order it is about.")


class MovedStopOut(ApiModel):
    """A stop of a changed route whose predicted times the move changes."""

    order_id: uuid.UUID = Field(description="The order.")
    order: str = Field(description="How people know the order.")
    kind: str = Field(description="job, pickup or delivery.")
    position: int = Field(description="0-based index among the route's stops, after the move.")
    arrival_at: Instant = Field(description="Predicted arrival after the move.")
    start_at: Instant = Field(description="Predicted start of service after the move.")
    departure_at: Instant = Field(description="Predicted departure after the move.")
    previous_start_at: Instant | None = Field(
        description="Predicted start of service before the move (None: not on this route)."
    )


class MovedRouteOut(ApiModel):
    """A route the move changes."""

    route_id: uuid.UUID | None = Field(description="The route (None: the move creates it).")
    vehicle_id: uuid.UUID = Field(description="Its vehicle.")
    vehicle: str = Field(description="How people know the vehicle.")
    cost_before: int = Field(description="The route's cost before, in cost units.")
    cost_after: int = Field(description="The route's cost after (0: the route goes).")
    removed: bool = Field(description="The route has no stop left and leaves the plan.")
    stops: list[MovedStopOut] = Field(
        description="Its stops ahead whose predicted times change, and the moved order's."
    )


class MoveOut(ApiModel):
    """A move looked at (``/moves/preview``: nothing stored) or made (``/moves``)."""

    feasible: bool = Field(description="Whether the plan's validator accepts the move.")
    applied: bool = Field(description="Whether the plan changed (never for a preview).")
    summary: str = Field(description="What the move does, in words.")
    violations: list[ViolationOut] = Field(
        description="What the validator refuses (empty when feasible)."
    )
    position: int | None = Field(
        description="The order's position among the stops of its new route."
    )
    cost_before: int = Field(description="The plan's cost before.")
    cost_after: int = Field(description="The plan's cost after the move.")
    cost_delta: int = Field(description="cost_after - cost_before.")
    cost_unit: str = Field(description="What costs are counted in.")
    changed_routes: list[MovedRouteOut] = Field(description="The routes the move changes.")
    late: list[str] = Field(
        description="Promises the current forecast already breaks (tolerated, never worsened)."
    )
    change: PlanChangeOut | None = Field(description="The logged change, when applied.")
    needs_dispatch: bool = Field(
        description="A route without a driver was added to a dispatched plan: dispatch again."
    )
    routes: list[RouteOut] = Field(
        description="The routes the change rewrote, as stored (empty unless applied)."
    )
