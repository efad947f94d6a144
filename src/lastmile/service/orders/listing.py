"""Finding orders for people: filters, a text search, the day an order's time
windows fall on, and the route each order is on (named by vehicle and driver)."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
import zoneinfo
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from lastmile.operations import OrderStatus
from lastmile.service.fleet.models import Driver, Vehicle
from lastmile.service.orders.models import Order
from lastmile.service.orders.schemas import OrderRouteOut
from lastmile.service.plans.models import Plan, Route, Visit

#: Plans whose routes say where an order is.
_LIVE_PLANS = ("ready", "dispatched")
#: Orders that are on no route whatever plan once had them.
_OFF_ROUTE = (OrderStatus.PENDING.value, OrderStatus.CANCELLED.value)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def matching(search: str) -> ColumnElement[bool]:
    """Orders whose external id, customer name or an address holds ``search``
    (case-insensitive)."""
    pattern = _like(search.strip())
    columns = (
        Order.external_id,
        Order.customer_name,
        Order.delivery_address,
        Order.pickup_address,
        Order.delivery_geocoded_address,
        Order.pickup_geocoded_address,
    )
    return or_(*(func.lower(c).like(pattern, escape="\\") for c in columns))


def day_bounds(day: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """Local midnight of ``day`` and of the next day in ``timezone``, in UTC."""
    zone = zoneinfo.ZoneInfo(timezone)
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _on_day(windows: list[dict[str, Any]], start: dt.datetime, end: dt.datetime) -> bool:
    for window in windows:
        opens = dt.datetime.fromisoformat(window["start"])
        closes = dt.datetime.fromisoformat(window["end"])
        if opens < end and closes >= start:
            return True
    return False


def list_orders(
    session: Session,
    *,
    org_id: uuid.UUID,
    limit: int,
    offset: int,
    status: OrderStatus | None = None,
    external_id: str | None = None,
    review: bool | None = None,
    search: str | None = None,
    day: dt.date | None = None,
    timezone: str = "UTC",
) -> list[Order]:
    """The organisation's orders, oldest first.

    ``review`` True: only those with a stop waiting for a dispatcher, False: only
    those without; ``search``: text in the external id, customer name or an
    address; ``day``: only orders with a time window (of either stop) on that day
    in ``timezone`` (orders without windows are on no day)."""
    stmt = select(Order.id).where(Order.org_id == org_id)
    if status is not None:
        stmt = stmt.where(Order.status == status.value)
    flagged = or_(Order.pickup_needs_review.is_(True), Order.delivery_needs_review.is_(True))
    if review is True:
        stmt = stmt.where(flagged)
    elif review is False:
        stmt = stmt.where(~flagged)
    if external_id is not None:
        stmt = stmt.where(Order.external_id == external_id)
    if search is not None and search.strip():
        stmt = stmt.where(matching(search))
    stmt = stmt.order_by(Order.created_at, Order.id)
    if day is None:
        ids = list(session.scalars(stmt.limit(limit).offset(offset)))
    else:
        start, end = day_bounds(day, timezone)
        rows = session.execute(stmt.add_columns(Order.pickup_windows, Order.delivery_windows))
        on_day = (i for i, pickup, delivery in rows if _on_day([*pickup, *delivery], start, end))
        ids = list(itertools.islice(on_day, offset, offset + limit))
    if not ids:
        return []
    found = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def routes_of(session: Session, orders: list[Order]) -> dict[uuid.UUID, OrderRouteOut]:
    """The route each of ``orders`` is on, in its newest ready or dispatched plan
    (orders pending or cancelled are on none)."""
    wanted = {o.id for o in orders if o.status not in _OFF_ROUTE}
    if not wanted:
        return {}
    rows = session.execute(
        select(Visit.order_id, Route.id, Route.plan_id, Route.vehicle_id, Route.driver_id)
        .join(Route, Route.id == Visit.route_id)
        .join(Plan, Plan.id == Route.plan_id)
        .where(Visit.order_id.in_(wanted), Plan.status.in_(_LIVE_PLANS))
        .order_by(Plan.created_at, Plan.id)
    ).all()
    vehicle_ids = {r[3] for r in rows}
    vehicles = {
        i: name
        for i, name in session.execute(
            select(Vehicle.id, Vehicle.name).where(Vehicle.id.in_(vehicle_ids))
        )
    }
    driver_ids = {r[4] for r in rows if r[4] is not None}
    drivers = {
        i: name
        for i, name in session.execute(
            select(Driver.id, Driver.name).where(Driver.id.in_(driver_ids))
        )
    }
    found: dict[uuid.UUID, OrderRouteOut] = {}
    for order_id, route_id, plan_id, vehicle_id, driver_id in rows:
        assert order_id is not None
        found[order_id] = OrderRouteOut(  # newer plans come later and win
            plan_id=plan_id,
            route_id=route_id,
            vehicle_id=vehicle_id,
            vehicle_name=vehicles.get(vehicle_id, ""),
            driver_name=drivers.get(driver_id, "") if driver_id is not None else "",
        )
    return found
