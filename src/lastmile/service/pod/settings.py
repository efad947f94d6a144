"""Proof-of-delivery settings, read from ``LASTMILE_*`` environment variables.

Set ``app.state.pod_settings`` (or ``app.state.pod_store``) before the first
request to override them; tests do.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from lastmile.operations.pod import ReattemptPolicy


class PodSettings(BaseSettings):
    """Each field maps to ``LASTMILE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="LASTMILE_", env_file=".env", extra="ignore")

    pod_storage: Literal["local", "s3"] = Field(
        default="local", description="Where signatures and photos go: local disk or S3-compatible."
    )
    pod_storage_dir: str = Field(default="pod-files", description="Directory of the local store.")
    pod_s3_endpoint_url: str = Field(
        default="", description="S3-compatible endpoint, e.g. https://s3.eu-west-3.amazonaws.com."
    )
    pod_s3_bucket: str = Field(default="", description="Bucket (path-style addressing).")
    pod_s3_region: str = Field(default="us-east-1", description="Region used for signing.")
    pod_s3_access_key_id: str = Field(default="", description="Access key id.")
    pod_s3_secret_access_key: str = Field(default="", description="Secret access key.")
    pod_max_upload_bytes: int = Field(
        default=5_000_000, gt=0, description="Largest signature or photo accepted."
    )
    pod_geofence_radius_m: float = Field(
        default=150.0, ge=0, description="A stop completed farther than this from it is flagged."
    )
    pod_require_signature: bool = Field(
        default=False, description="Refuse a delivery without a signature."
    )
    pod_require_all_parcels: bool = Field(
        default=True, description="Refuse a delivery unless every parcel of the order is scanned."
    )
    pod_max_attempts: int = Field(default=3, ge=1, description="Attempts before giving up.")
    pod_closed_weekdays: list[int] = Field(
        default=[6], description="Days without re-attempts (0 = Monday ... 6 = Sunday)."
    )

    def reattempt_policy(self) -> ReattemptPolicy:
        """When failed orders are tried again, for stop events, proofs and closed routes."""
        return ReattemptPolicy(
            max_attempts=self.pod_max_attempts,
            closed_weekdays=frozenset(self.pod_closed_weekdays),
        )
