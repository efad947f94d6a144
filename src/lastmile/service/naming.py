"""Vehicles, drivers and orders named the way people know them, in summaries,
alerts and errors: ``vehicle van-02 (reg AB-123, id 1f3e...)``, ``order EXT-42
(Alice Martin, id 9c0d...)``, ``driver Jean Dupont (id 5a6b...)``.

The id is always there (it is what the API takes); the name, registration,
external id and customer name are what a dispatcher reads. Costs are written
with their unit (:func:`cost_change`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.service.fleet.models import Driver, Vehicle
from lastmile.service.orders.models import Order

#: What plan costs are counted in: VROOM's objective (fixed costs, plus costs per
#: hour driven and per km) has no currency of its own.
COST_UNIT = "cost units"


def vehicle_label(vehicle_id: uuid.UUID | str, *, name: str = "", registration: str = "") -> str:
    """``vehicle van-02 (reg AB-123, id ...)``; ``vehicle <id>`` when nothing else is known."""
    parts = [f"reg {registration}"] if registration else []
    parts.append(f"id {vehicle_id}")
    if not name:
        return f"vehicle {vehicle_id}" if not registration else f"vehicle ({', '.join(parts)})"
    return f"vehicle {name} ({', '.join(parts)})"


def order_label(
    order_id: uuid.UUID | str, *, external_id: str | None = None, customer: str = ""
) -> str:
    """``order EXT-42 (Alice Martin, id ...)``; ``order <id>`` when nothing else is known."""
    parts = [customer] if customer else []
    parts.append(f"id {order_id}")
    if not external_id:
        return f"order {order_id}" if not customer else f"order ({', '.join(parts)})"
    return f"order {external_id} ({', '.join(parts)})"


def driver_label(driver_id: uuid.UUID | str, *, name: str = "") -> str:
    """``driver Jean Dupont (id ...)``."""
    return f"driver {name} (id {driver_id})" if name else f"driver {driver_id}"


def of_vehicle(vehicle: Vehicle) -> str:
    return vehicle_label(vehicle.id, name=vehicle.name, registration=vehicle.registration)


def of_order(order: Order) -> str:
    return order_label(order.id, external_id=order.external_id, customer=order.customer_name)


def of_driver(driver: Driver) -> str:
    return driver_label(driver.id, name=driver.name)


def _ids(ids: Iterable[uuid.UUID | str]) -> set[uuid.UUID]:
    return {i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)) for i in ids}


def vehicle_labels(
    session: Session, *, org_id: uuid.UUID, ids: Iterable[uuid.UUID | str]
) -> dict[str, str]:
    """Labels of the organisation's vehicles, by id as text (unknown ids: the bare id)."""
    wanted = _ids(ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(Vehicle.id, Vehicle.name, Vehicle.registration).where(
            Vehicle.org_id == org_id, Vehicle.id.in_(wanted)
        )
    )
    found = {str(i): vehicle_label(i, name=n, registration=r) for i, n, r in rows}
    return {str(i): found.get(str(i), vehicle_label(i)) for i in wanted}


def driver_labels(
    session: Session, *, org_id: uuid.UUID, ids: Iterable[uuid.UUID | str]
) -> dict[str, str]:
    """Labels of the organisation's drivers, by id as text (unknown ids: the bare id)."""
    wanted = _ids(ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(Driver.id, Driver.name).where(Driver.org_id == org_id, Driver.id.in_(wanted))
    )
    found = {str(i): driver_label(i, name=n) for i, n in rows}
    return {str(i): found.get(str(i), driver_label(i)) for i in wanted}


def order_labels(
    session: Session, *, org_id: uuid.UUID, ids: Iterable[uuid.UUID | str]
) -> dict[str, str]:
    """Labels of the organisation's orders, by id as text (unknown ids: the bare id)."""
    wanted = _ids(ids)
    if not wanted:
        return {}
    found: dict[str, str] = {}
    chunk = sorted(wanted)
    for start in range(0, len(chunk), 500):
        rows = session.execute(
            select(Order.id, Order.external_id, Order.customer_name).where(
                Order.org_id == org_id, Order.id.in_(chunk[start : start + 500])
            )
        )
        for i, ext, customer in rows:
            found[str(i)] = order_label(i, external_id=ext, customer=customer)
    return {str(i): found.get(str(i), order_label(i)) for i in wanted}


def amount(value: float) -> str:
    """``1,234`` (whole numbers, as plan costs are) or ``1,234.50``."""
    return f"{value:,}" if float(value).is_integer() and isinstance(value, int) else f"{value:,.2f}"


def cost_change(before: float, after: float, *, unit: str = COST_UNIT) -> str:
    """``cost 1,234 -> 1,200 (-34 cost units)``: the change shown is exactly after - before."""
    delta = after - before
    sign = "+" if delta >= 0 else "-"
    return f"cost {amount(before)} -> {amount(after)} ({sign}{amount(abs(delta))} {unit})"
