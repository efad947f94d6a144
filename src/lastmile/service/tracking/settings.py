"""Tracking settings, read from ``LASTMILE_*`` environment variables like the service's own.

Set ``app.state.tracking_settings`` before the app starts to override them
(tests do).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrackingSettings(BaseSettings):
    """Each field maps to ``LASTMILE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="LASTMILE_", env_file=".env", extra="ignore")

    redis_url: str = Field(
        default="",
        description="Redis for live event fan-out between API processes "
        "(redis://host:6379/0); empty: events reach only dashboards on the same process.",
    )
    redis_channel_prefix: str = Field(
        default="lastmile:live:", description="Prefix of the Redis pub/sub channels."
    )
    late_margin_s: int = Field(
        default=600,
        ge=0,
        description="A stop is predicted late when its ETA is after its window end minus this.",
    )
    eta_refresh_s: float = Field(
        default=30.0,
        ge=0,
        description="Position pings recompute a route's ETAs at most this often.",
    )
    eta_answer_fresh_s: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="GET /routes/{id}/eta answers again the ETAs it computed for the route at "
        "most this many seconds before, when nothing they were computed from changed since "
        "(stop events, last fix, plan, stops, route); 0: computed for every request.",
    )
    live_heartbeat_s: float = Field(
        default=15.0, gt=0, description="Idle live streams get a comment this often."
    )
