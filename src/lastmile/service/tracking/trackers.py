"""Tracker devices (OsmAnd, Traccar Client, GPS boxes): register, list and
remove them, authenticate them by token, find the route their vehicle (or
driver) is on, and store the fixes they send."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lastmile.service.errors import Conflict, FieldError, NotAuthenticated, NotFound, Unprocessable
from lastmile.service.fleet.models import Driver, Vehicle
from lastmile.service.plans.models import Route
from lastmile.service.security import digest, new_token
from lastmile.service.settings import NO_PUBLIC_BASE_URL
from lastmile.service.tracking import models, osmand
from lastmile.service.tracking.access import REF_COLUMNS, RouteRef, ref_of
from lastmile.service.tracking.pings import PingResult, ingest_pings
from lastmile.service.tracking.schemas import TrackerCreated, TrackerIn

TRACKER_TOKEN_PREFIX = "lmd_"
#: Tracker ``last_seen_at`` is written at most this often.
_SEEN_RESOLUTION = dt.timedelta(minutes=1)
#: A tracker's position belongs to a route from this long before its start to after its end.
_ROUTE_SLACK = dt.timedelta(hours=6)


def create_tracker(
    session: Session, *, org_id: uuid.UUID, data: TrackerIn, base_url: str
) -> TrackerCreated:
    """Register a tracker; its token is returned once and only its digest kept.
    ``base_url`` is the configured public address (409 when empty: never the request's
    Host)."""
    if not base_url:
        raise Conflict(NO_PUBLIC_BASE_URL)
    errors = []
    if data.vehicle_id is not None:
        vehicle = session.get(Vehicle, data.vehicle_id)
        if vehicle is None or vehicle.org_id != org_id:
            errors.append(
                FieldError(reason=f"no such vehicle {data.vehicle_id}", column="vehicle_id")
            )
    if data.driver_id is not None:
        driver = session.get(Driver, data.driver_id)
        if driver is None or driver.org_id != org_id:
            errors.append(FieldError(reason=f"no such driver {data.driver_id}", column="driver_id"))
    if errors:
        raise Unprocessable("the tracker is not valid", errors)
    token = new_token(TRACKER_TOKEN_PREFIX)
    device = models.TrackerDevice(
        id=uuid.uuid4(),
        org_id=org_id,
        identifier=data.identifier,
        name=data.name,
        token_hash=digest(token),
        vehicle_id=data.vehicle_id,
        driver_id=data.driver_id,
    )
    session.add(device)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"a tracker with identifier {data.identifier!r} already exists") from None
    return TrackerCreated(
        id=device.id,
        identifier=device.identifier,
        name=device.name,
        vehicle_id=device.vehicle_id,
        driver_id=device.driver_id,
        created_at=device.created_at,
        last_seen_at=None,
        token=token,
        server_url=f"{base_url.rstrip('/')}/osmand?token={token}",
    )


def list_trackers(session: Session, *, org_id: uuid.UUID) -> list[models.TrackerDevice]:
    stmt = (
        select(models.TrackerDevice)
        .where(models.TrackerDevice.org_id == org_id)
        .order_by(models.TrackerDevice.identifier)
    )
    return list(session.scalars(stmt))


def delete_tracker(session: Session, *, org_id: uuid.UUID, identifier: str) -> None:
    """Forget a tracker: its token stops working at once (its positions stay)."""
    device = session.scalar(
        select(models.TrackerDevice).where(
            models.TrackerDevice.org_id == org_id, models.TrackerDevice.identifier == identifier
        )
    )
    if device is None:
        raise NotFound(f"no tracker {identifier!r}")
    session.delete(device)
    session.commit()


def authenticate_tracker(
    session: Session, *, identifier: str, token: str, now: dt.datetime
) -> models.TrackerDevice:
    """The tracker with this token and identifier (401 otherwise)."""
    device = session.scalar(
        select(models.TrackerDevice).where(models.TrackerDevice.token_hash == digest(token))
    )
    if device is None or device.identifier != identifier:
        raise NotAuthenticated("unknown tracker: check its identifier and token")
    if device.last_seen_at is None or now - device.last_seen_at > _SEEN_RESOLUTION:
        device.last_seen_at = now
        session.commit()
    return device


def tracker_route(
    session: Session, *, device: models.TrackerDevice, at: dt.datetime
) -> RouteRef | None:
    """The route the tracker's vehicle (or driver) is on at ``at``: a started one
    first, else the dispatched one starting soonest; None between routes."""
    owner = (
        Route.vehicle_id == device.vehicle_id
        if device.vehicle_id is not None
        else Route.driver_id == device.driver_id
    )
    row = session.execute(
        select(*REF_COLUMNS)
        .where(
            Route.org_id == device.org_id,
            owner,
            Route.status.in_(("dispatched", "started")),
            Route.start_at <= at + _ROUTE_SLACK,
            Route.end_at >= at - _ROUTE_SLACK,
        )
        .order_by((Route.status == "started").desc(), Route.start_at)
        .limit(1)
    ).first()
    return ref_of(row) if row is not None else None


@dataclass(frozen=True, slots=True)
class TrackerPingResult:
    """What a tracker's fix became: the route it went to (None between routes),
    what was stored, and the tracker's organisation."""

    route: RouteRef | None
    result: PingResult
    org_id: uuid.UUID


def ingest_tracker_ping(
    session: Session,
    *,
    identifier: str,
    token: str,
    fields: dict[str, str],
    body: dict[str, Any] | None,
    now: dt.datetime,
) -> TrackerPingResult:
    """Store one fix sent in the OsmAnd protocol (``fields``: the query, ``body``:
    a form or JSON body) by the tracker with this identifier and token (401
    otherwise), on the route its vehicle or driver is on then. Committed
    durably before returning; the same fix sent again is stored once."""
    device = authenticate_tracker(session, identifier=identifier, token=token, now=now)
    # Decoded once the sender is known: strangers learn nothing from a 422.
    ping = osmand.decode_osmand(fields, body, now=now).ping
    route = tracker_route(session, device=device, at=ping.at)
    result = ingest_pings(
        session,
        org_id=device.org_id,
        source=f"tracker:{device.id}",
        route=route,
        pings=[ping],
        vehicle_id=device.vehicle_id,
        driver_id=device.driver_id,
        now=now,
    )
    return TrackerPingResult(route=route, result=result, org_id=device.org_id)
