"""Requests and answers of the proof-of-delivery routes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import Field

from lastmile.operations.pod import FailureReason
from lastmile.service.schemas import FINITE, ApiModel, AwareDatetime, Barcode, Instant


class PodFileOut(ApiModel):
    """A stored signature or photo."""

    id: uuid.UUID = Field(description="File id (give it when completing the stop).")
    order_id: uuid.UUID = Field(description="The order it proves.")
    kind: str = Field(description="signature or photo.")
    content_type: str = Field(description="The image type its content shows.")
    size_bytes: int = Field(description="Size.")
    sha256: str = Field(description="SHA-256 of the content, hex.")
    created_at: Instant = Field(description="When it was uploaded.")


class ScanIn(ApiModel):
    """One parcel scanned at a stop."""

    order_id: uuid.UUID = Field(description="The order being served.")
    barcode: str = Field(max_length=128, description="What the scanner read.")
    scanned: list[Barcode] = Field(
        default_factory=list, max_length=500, description="Barcodes already scanned at this stop."
    )


class ScanOut(ApiModel):
    """A parcel accepted (a wrong one is refused with 422 and the reason)."""

    barcode: str = Field(description="The barcode, trimmed.")
    duplicate: bool = Field(description="It had been scanned already.")
    remaining: list[str] = Field(description="Parcels of the order not scanned yet.")


class ProofIn(ApiModel):
    """Finishing a stop: delivered, picked up or failed, with its proof.

    ``event_id`` makes the call idempotent (the same id again answers the
    proof already stored). ``lon``/``lat`` is where the driver is; farther
    than the configured radius from the stop, the proof is flagged.
    """

    model_config = FINITE

    event_id: str = Field(min_length=1, max_length=64, description="The sender's own id.")
    order_id: uuid.UUID = Field(description="The order served.")
    outcome: Literal["delivered", "picked_up", "failed"] = Field(
        description="delivered, picked_up (a pickup, or a shipment's pickup stop) or failed."
    )
    at: AwareDatetime = Field(description="When it happened (device time, with zone).")
    lon: float | None = Field(
        default=None, ge=-180, le=180, description="Where the driver is: longitude."
    )
    lat: float | None = Field(
        default=None, ge=-90, le=90, description="Where the driver is: latitude."
    )
    barcodes: list[Barcode] = Field(
        default_factory=list, max_length=500, description="Parcels scanned at the stop."
    )
    recipient_name: str = Field(default="", max_length=200, description="Who received it.")
    signature_file_id: uuid.UUID | None = Field(default=None, description="An uploaded signature.")
    photo_file_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=10, description="Uploaded photos."
    )
    failure_reason: FailureReason | None = Field(
        default=None, description="Why it failed (required for failed)."
    )
    note: str = Field(default="", max_length=2000, description="Free text from the driver.")


class ProofOut(ApiModel):
    """A recorded proof, what was flagged, and what happens next after a failure."""

    id: uuid.UUID = Field(description="Proof id.")
    route_id: uuid.UUID = Field(description="The route.")
    order_id: uuid.UUID = Field(description="The order.")
    event_id: str = Field(description="The sender's id.")
    stop: str = Field(description="job, pickup or delivery.")
    outcome: str = Field(description="delivered, picked_up or failed.")
    recipient_name: str = Field(description="Who received it.")
    barcodes: list[str] = Field(description="Parcels scanned.")
    lon: float | None = Field(description="Where it was completed.")
    lat: float | None = Field(description="Where it was completed.")
    distance_m: float | None = Field(description="Distance from the stop.")
    radius_m: float = Field(description="The radius it was checked against.")
    flagged: bool = Field(description="Something for a dispatcher to look at.")
    flags: list[str] = Field(description="outside_geofence, no_position, parcels_missing.")
    failure_reason: str = Field(description="Why it failed.")
    note: str = Field(description="The driver's note.")
    signature_file_id: uuid.UUID | None = Field(description="The signature.")
    photo_file_ids: list[str] = Field(description="The photos.")
    attempt: int = Field(description="Which attempt at this order this was.")
    reattempt_on: dt.date | None = Field(description="When a failed order is tried again.")
    reattempt_note: str = Field(description="The re-attempt decision, in words.")
    recorded_at: Instant = Field(description="When it happened.")
    order_status: str = Field(default="", description="The order's status afterwards.")
