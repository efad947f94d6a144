"""What a customer's tracking link shows beyond the order itself: how near the
driver is, and a summary of the proof of delivery.

Both read other features' tables (plans, tracking, proof of delivery) as data and
decide here, server-side, what a customer may see: the driver's position only
once their stop is among the driver's next few (``DRIVER_SHOWN_WITHIN``), and of
the proof only its time, the recipient's name and whether a photo and a
signature were taken.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.operations import OrderStatus
from lastmile.service.orders.models import Order
from lastmile.service.plans.models import Plan, Route, Visit
from lastmile.service.pod.models import Proof
from lastmile.service.tracking.models import RouteProgress, StopEvent

#: The driver's position is shown once at most this many stops remain before the
#: customer's: earlier, it would tell the customer where other customers live.
DRIVER_SHOWN_WITHIN = 2

_TASKS = ("job", "pickup", "delivery")
_OUTCOMES = ("delivered", "picked_up", "failed", "not_attempted")
_ON_THE_WAY = (OrderStatus.EN_ROUTE, OrderStatus.PICKED_UP)


@dataclass(frozen=True)
class DriverPosition:
    lon: float
    lat: float
    at: dt.datetime


@dataclass(frozen=True)
class Approach:
    """How far the driver is from the customer's stop."""

    stops_before: int
    driver: DriverPosition | None
    #: The customer's stop (lon, lat), given with the driver only.
    destination: tuple[float, float] | None = None


@dataclass(frozen=True)
class ProofSummary:
    delivered_at: dt.datetime
    recipient_name: str
    photo: bool
    signature: bool


def customer_visit(session: Session, *, order: Order) -> tuple[Visit, Route] | None:
    """(visit, route) of the order's own stop on the newest dispatched route with a
    driver (the delivery stop of a shipment), or None."""
    row = session.execute(
        select(Visit, Route)
        .join(Route, Route.id == Visit.route_id)
        .join(Plan, Plan.id == Route.plan_id)
        .where(
            Visit.order_id == order.id,
            Visit.kind.in_(("job", "delivery")),
            Route.driver_id.is_not(None),
            Plan.dispatched_at.is_not(None),
        )
        .order_by(Plan.dispatched_at.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row is not None else None


def approach(session: Session, *, order: Order) -> Approach | None:
    """How many stops the driver makes before the customer's and, once at most
    ``DRIVER_SHOWN_WITHIN`` remain, where the driver is. None unless the order is
    on its way on a started route."""
    if OrderStatus(order.status) not in _ON_THE_WAY:
        return None
    found = customer_visit(session, order=order)
    if found is None:
        return None
    visit, route = found
    if route.started_at is None or route.completed_at is not None:
        return None
    done = set(
        session.scalars(
            select(StopEvent.sequence).where(
                StopEvent.route_id == route.id, StopEvent.kind.in_(_OUTCOMES)
            )
        )
    )
    earlier = session.scalars(
        select(Visit.sequence).where(
            Visit.route_id == route.id,
            Visit.kind.in_(_TASKS),
            Visit.sequence < visit.sequence,
        )
    )
    before = sum(1 for sequence in earlier if sequence not in done)
    driver = None
    if before <= DRIVER_SHOWN_WITHIN:
        progress = session.scalar(select(RouteProgress).where(RouteProgress.route_id == route.id))
        if (
            progress is not None
            and progress.last_lon is not None
            and progress.last_lat is not None
            and progress.last_fix_at is not None
        ):
            driver = DriverPosition(
                lon=progress.last_lon, lat=progress.last_lat, at=progress.last_fix_at
            )
    destination = None
    if driver is not None and visit.lon is not None and visit.lat is not None:
        destination = (visit.lon, visit.lat)
    return Approach(stops_before=before, driver=driver, destination=destination)


def proof_summary(session: Session, *, order: Order) -> ProofSummary | None:
    """Once the order is completed: when it was handed over, to whom, and whether a
    photo and a signature were taken (from its proof of delivery, else from the
    driver's stop event)."""
    if OrderStatus(order.status) is not OrderStatus.COMPLETED:
        return None
    proof = session.scalar(
        select(Proof)
        .where(Proof.order_id == order.id, Proof.outcome.in_(("delivered", "picked_up")))
        .order_by(Proof.recorded_at.desc())
        .limit(1)
    )
    if proof is not None:
        return ProofSummary(
            delivered_at=proof.recorded_at,
            recipient_name=proof.recipient_name,
            photo=bool(proof.photo_file_ids),
            signature=proof.signature_file_id is not None,
        )
    at = session.scalar(
        select(StopEvent.recorded_at)
        .where(StopEvent.order_id == order.id, StopEvent.kind.in_(("delivered", "picked_up")))
        .order_by(StopEvent.recorded_at.desc())
        .limit(1)
    )
    if at is None:
        return None
    return ProofSummary(delivered_at=at, recipient_name="", photo=False, signature=False)
