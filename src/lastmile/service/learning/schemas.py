"""Requests and answers of /traffic."""

from __future__ import annotations

from pydantic import BaseModel, Field

from lastmile.service.schemas import ApiModel, Instant


class LearnIn(BaseModel):
    """What to learn from (every field optional)."""

    days: int | None = Field(
        default=None,
        gt=0,
        le=366,
        description="Look at the trips of this many past days (default: the "
        "LASTMILE_LEARN_DAYS setting).",
    )


class LegErrorsOut(BaseModel):
    """Predicted against observed durations of the held-out legs."""

    median_abs_s: float = Field(description="Median absolute error, seconds.")
    mean_abs_s: float = Field(description="Mean absolute error, seconds.")
    median_rel: float = Field(description="Median absolute error as a share of the leg's duration.")


class LearnedOut(ApiModel):
    """The organisation's learned traffic profile and its fit."""

    revision: int = Field(description="Goes up with every fit stored.")
    in_use: bool = Field(description="Whether plans and ETAs use it.")
    note: str = Field(description="Why it is in use or not.")
    fitted_at: Instant = Field(description="When the profile was fitted.")
    trigger: str = Field(description="schedule, or user:<id> for an admin's request.")
    window_start: Instant = Field(description="Trips recorded from here...")
    window_end: Instant = Field(description="...to here were looked at.")
    network: str = Field(description="Road network the traces were matched on.")
    routes: int = Field(description="Routes with stop events in the window.")
    pings: int = Field(description="Position pings of those routes.")
    legs_matched: int = Field(description="Legs between stops matched on the network.")
    legs_used: int = Field(description="Legs the fit used (matched, with a whole edge driven).")
    legs_held_out: int = Field(description="Legs held out of a fit to check it.")
    cells_updated: int = Field(description="(day type, road class, time slice) cells with data.")
    outliers: int = Field(description="Legs weighed down as outliers (a stop on the way).")
    error_before: LegErrorsOut | None = Field(
        description="Held-out legs under the configured profile (None: too few legs)."
    )
    error_after: LegErrorsOut | None = Field(
        description="Held-out legs under a fit without them (None: too few legs)."
    )


class TrafficOut(BaseModel):
    """How the organisation's travel times are learned, and the current fit."""

    road_network: bool = Field(
        description="Whether travel is on a road network (learning needs it)."
    )
    schedule_s: float = Field(description="Refit interval in seconds; 0: only when an admin asks.")
    learned: LearnedOut | None = Field(description="The current fit (None: none yet).")
