"""Requests and answers of the re-planning routes."""

from __future__ import annotations

import uuid

from pydantic import Field

from lastmile.service.plans.schemas import RouteOut, UnassignedOut
from lastmile.service.schemas import ApiModel, Instant


class InsertOrderIn(ApiModel):
    """An urgent order to put into the plan while it is being driven."""

    order_id: uuid.UUID = Field(description="A pending order of the organisation (POST /orders).")


class BreakdownIn(ApiModel):
    """A vehicle of the plan that cannot go on."""

    vehicle_id: uuid.UUID = Field(description="The vehicle that broke down.")


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
    kind: str = Field(description="insert_order, breakdown or reoptimise.")
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
