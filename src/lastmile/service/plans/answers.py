"""Answers people read: routes as their drivers need them (every order stop with
its address, customer, phone, instructions and parcels, whether goods are
handed over (delivery) or collected (pickup), and links opening it in
navigation apps; the vehicle and driver by name),
and unassigned orders named by their external id and customer."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lastmile.domain import OrderKind, VisitKind
from lastmile.operations.navigation import navigation_links
from lastmile.service import naming
from lastmile.service.fleet.models import Driver, Vehicle
from lastmile.service.orders.models import Order
from lastmile.service.orders.schemas import TimeWindowOut
from lastmile.service.plans.models import Plan, Route, Visit
from lastmile.service.plans.schemas import (
    NavigationOut,
    ParcelOut,
    RouteOut,
    RouteStopOut,
    UnassignedOut,
    VisitOut,
)


def _stop(visit: Visit, order: Order) -> RouteStopOut:
    if visit.kind in (VisitKind.PICKUP.value, VisitKind.DELIVERY.value):
        kind = visit.kind  # one end of a shipment
    else:
        kind = "pickup" if order.kind == OrderKind.PICKUP.value else "delivery"
    if kind == "pickup":
        address = order.pickup_address or order.pickup_geocoded_address
        windows = order.pickup_windows
    else:
        address = order.delivery_address or order.delivery_geocoded_address
        windows = order.delivery_windows
    return RouteStopOut(
        order_id=order.id,
        external_id=order.external_id,
        kind=kind,
        address=address,
        customer_name=order.customer_name,
        customer_phone=order.customer_phone,
        instructions=order.instructions,
        parcels=[
            ParcelOut(barcode=i.barcode, description=i.description, quantity=i.quantity)
            for i in order.items
        ],
        time_windows=[TimeWindowOut.model_validate(w) for w in windows or []],
        navigation=_navigation(visit, address or order.customer_name),
    )


def _navigation(visit: Visit, label: str) -> NavigationOut | None:
    if visit.lat is None or visit.lon is None:
        return None
    links = navigation_links(visit.lat, visit.lon, label)
    return NavigationOut(
        geo=links.geo,
        osmand=links.osmand,
        google_maps=links.google_maps,
        apple_maps=links.apple_maps,
    )


def route_answers(session: Session, routes: list[Route]) -> list[RouteOut]:
    """``routes`` with their stops spelled out for the driver (a few queries in all)."""
    if not routes:
        return []
    order_ids = {v.order_id for r in routes for v in r.visits if v.order_id is not None}
    orders: dict[uuid.UUID, Order] = {}
    if order_ids:
        orders = {
            o.id: o
            for o in session.scalars(
                select(Order).where(Order.id.in_(order_ids)).options(selectinload(Order.items))
            )
        }
    vehicles = {
        v.id: v
        for v in session.scalars(
            select(Vehicle).where(Vehicle.id.in_({r.vehicle_id for r in routes}))
        )
    }
    driver_ids = {r.driver_id for r in routes if r.driver_id is not None}
    drivers = (
        {d.id: d for d in session.scalars(select(Driver).where(Driver.id.in_(driver_ids)))}
        if driver_ids
        else {}
    )
    out = []
    for route in routes:
        answer = RouteOut.model_validate(route)
        vehicle = vehicles.get(route.vehicle_id)
        if vehicle is not None:
            answer.vehicle_name, answer.vehicle_registration = vehicle.name, vehicle.registration
        driver = drivers.get(route.driver_id) if route.driver_id is not None else None
        if driver is not None:
            answer.driver_name = driver.name
        visits: list[VisitOut] = []
        for row, visit in zip(route.visits, answer.visits, strict=True):
            order = orders.get(row.order_id) if row.order_id is not None else None
            if order is not None:
                visit.stop = _stop(row, order)
            visits.append(visit)
        answer.visits = visits
        out.append(answer)
    return out


def unassigned_answers(session: Session, plan: Plan) -> list[UnassignedOut]:
    """The plan's unassigned orders with their reasons, each order named."""
    labels = naming.order_labels(
        session, org_id=plan.org_id, ids=[u.order_id for u in plan.unassigned]
    )
    out = []
    for u in plan.unassigned:
        answer = UnassignedOut.model_validate(u)
        answer.order = labels.get(str(u.order_id), "")
        out.append(answer)
    return out
