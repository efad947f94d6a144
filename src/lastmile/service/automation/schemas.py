"""Automation schemas."""

from __future__ import annotations

import uuid

from pydantic import Field

from lastmile.service.schemas import ApiModel, Instant


class AutomationEntryOut(ApiModel):
    """One thing an automation did, or tried and could not do."""

    id: uuid.UUID = Field(description="Entry id.")
    at: Instant = Field(description="When.")
    kind: str = Field(
        description="carry_over (an order planned into a new plan), auto_plan (the plan "
        "created at auto_plan_at) or auto_dispatch (a plan dispatched once ready)."
    )
    plan_id: uuid.UUID | None = Field(description="The plan concerned, if any.")
    order_id: uuid.UUID | None = Field(description="The order concerned, if any.")
    message: str = Field(description="What was done and why, in words.")
