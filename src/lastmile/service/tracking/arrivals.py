"""Arrivals and departures detected from a route's GPS fixes, recorded as stop events.

After a batch of fixes is stored (``POST /routes/{id}/pings`` or a tracker's
``/osmand``), the route's detector
(:class:`lastmile.operations.arrival.ArrivalDetector`, thresholds from the
organisation's settings) reads the new fixes from where it stopped last time
(its state is kept in ``route_progress.arrival_state``), after what drivers
reported on the route so far (a stop the driver reached, finished or left is
not detected again). What it finds is recorded through
:func:`~lastmile.service.tracking.stop_events.record_stop_events` like a
driver's report, under the source ``detected`` (event ids
``<route>:<sequence>:arrived|departed``, so a detection is stored once), and so
drives the same ETA refresh, live events and customer messages.

Runs after the answer to the fixes (never in their request's time), in the
process that stored them. On PostgreSQL the route's progress row is locked
while the detector runs, so two batches of the same route are read one after
the other.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.exceptions import InputError
from lastmile.operations.arrival import (
    ArrivalDetector,
    ArrivalSettings,
    DetectorState,
    Fix,
    GeoStop,
    Report,
)
from lastmile.operations.pod import ReattemptPolicy
from lastmile.operations.progress import StopEventKind
from lastmile.service.db import utcnow
from lastmile.service.errors import Conflict, Unprocessable
from lastmile.service.orgs.models import Organisation
from lastmile.service.orgs.schemas import OrgSettings
from lastmile.service.plans.models import Route, Visit
from lastmile.service.tracking import models
from lastmile.service.tracking.access import RouteRef
from lastmile.service.tracking.durability import write_turn
from lastmile.service.tracking.pings import CLOCK_SKEW
from lastmile.service.tracking.schemas import PingIn, StopEventIn
from lastmile.service.tracking.stop_events import DETECTED, StopEventsResult, record_stop_events

logger = logging.getLogger(__name__)

_TASKS = ("job", "pickup", "delivery")
#: Routes whose fixes are read for arrivals.
_DETECTING = ("dispatched", "started")


def detector_settings(settings: OrgSettings) -> ArrivalSettings | None:
    """The detector's thresholds from the organisation's settings (None: detection off)."""
    if not settings.arrival_detection:
        return None
    return ArrivalSettings(
        radius_m=settings.arrival_radius_m,
        exit_radius_m=max(settings.departure_radius_m, settings.arrival_radius_m),
        dwell_s=settings.arrival_dwell_s,
        max_accuracy_m=settings.arrival_max_accuracy_m,
    )


def _report(kind: StopEventKind) -> Report:
    if kind is StopEventKind.ARRIVED:
        return Report.ARRIVED
    if kind is StopEventKind.DEPARTED:
        return Report.DEPARTED
    return Report.FINISHED


def _at(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


@dataclass(frozen=True, slots=True)
class Detected:
    """What a batch of fixes made of the route: the stop events recorded (None: none)."""

    recorded: StopEventsResult | None
    found: int = 0


def detect_arrivals(
    session: Session,
    *,
    route_id: uuid.UUID,
    fixes: Sequence[PingIn],
    now: dt.datetime | None = None,
    policy: ReattemptPolicy | None = None,
) -> Detected:
    """Feed ``fixes`` (just stored for the route) to the route's detector and
    record what it finds as stop events. Committed before returning."""
    now = now or utcnow()
    route = session.get(Route, route_id)
    if route is None or route.status not in _DETECTING:
        return Detected(None)
    org = session.get(Organisation, route.org_id)
    assert org is not None
    settings = detector_settings(OrgSettings.model_validate(org.settings or {}))
    if settings is None:
        return Detected(None)
    visits: list[Visit] = [
        v
        for v in route.visits
        if v.kind in _TASKS and v.order_id is not None and v.lon is not None and v.lat is not None
    ]
    if not visits:
        return Detected(None)
    stmt = select(models.RouteProgress).where(models.RouteProgress.route_id == route.id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    progress = session.scalars(stmt).first()
    if progress is None:
        return Detected(None)  # no trusted fix stored yet
    stops = [GeoStop(v.sequence, float(v.lon or 0.0), float(v.lat or 0.0)) for v in visits]
    detector = ArrivalDetector(stops, settings, DetectorState.from_json(progress.arrival_state))
    found = []
    for row in session.scalars(
        select(models.StopEvent)
        .where(models.StopEvent.route_id == route.id)
        .order_by(models.StopEvent.recorded_at)
    ):
        found += detector.report(
            row.sequence, _report(StopEventKind(row.kind)), row.recorded_at.timestamp()
        )
    horizon = now + CLOCK_SKEW
    for ping in sorted(fixes, key=lambda p: p.at):
        if ping.at <= horizon:
            found += detector.feed(Fix(ping.at.timestamp(), ping.lon, ping.lat, ping.accuracy_m))
    state = detector.state
    stored = progress.arrival_state or {}
    if not (found or state.stays or state.present or stored.get("stays") or stored.get("present")):
        # Driving between stops: nothing to remember that the stop events do not
        # tell again, so no write (a durable commit per batch would double the
        # cost of storing the fixes).
        session.rollback()
        return Detected(None)
    progress.arrival_state = state.to_json()
    if not found:
        with write_turn(session):
            session.commit()
        return Detected(None)
    events = [
        StopEventIn(
            event_id=f"{route.id}:{d.sequence}:{d.kind.value}",
            kind=StopEventKind(d.kind.value),
            sequence=d.sequence,
            at=_at(d.at),
        )
        for d in found
    ]
    ref = RouteRef(route.id, route.org_id, route.vehicle_id, route.driver_id, route.status)
    saved = progress.arrival_state
    try:
        recorded = record_stop_events(
            session, route_ref=ref, source=DETECTED, events=events, now=now, policy=policy
        )
    except (Unprocessable, Conflict, InputError) as exc:
        # The detector's state moves on all the same: the same fixes would find the same.
        logger.warning("detected stop events on route %s not recorded: %s", route.id, exc)
        progress = session.scalars(
            select(models.RouteProgress).where(models.RouteProgress.route_id == route.id)
        ).one()
        progress.arrival_state = saved
        with write_turn(session):
            session.commit()
        return Detected(None, len(found))
    return Detected(recorded if recorded.changed else None, len(found))
