"""Learning settings, read from ``LASTMILE_*`` environment variables like the service's own.

Set ``app.state.learning_settings`` before the app starts to override them (tests do).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LearningSettings(BaseSettings):
    """Each field maps to ``LASTMILE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="LASTMILE_", env_file=".env", extra="ignore")

    learn_interval_s: float = Field(
        default=0.0,
        ge=0,
        description="Refit every organisation's traffic profile from its trips this often "
        "(seconds; 0: never on a schedule, only when an admin asks with POST /traffic/learn). "
        "Needs a road network (LASTMILE_NETWORK).",
    )
    learn_days: int = Field(
        default=28, gt=0, description="A fit looks at the trips of this many past days."
    )
    learn_holdout_share: float = Field(
        default=0.2,
        ge=0,
        lt=1,
        description="Share of legs held out of a fit to check it against the configured profile.",
    )
    learn_min_legs: int = Field(
        default=20,
        ge=1,
        description="Fewest matched legs for a learned profile to be used by plans and ETAs.",
    )
