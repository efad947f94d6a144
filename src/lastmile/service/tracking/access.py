"""Who reports to which route: the sender an event id is unique for, the route a
caller may write to (as ``GET /routes/{id}`` decides who sees it), and whether
the route takes reports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Uuid, bindparam, select
from sqlalchemy.orm import Session

from lastmile.service.auth.models import Role
from lastmile.service.auth.principal import Principal
from lastmile.service.errors import Conflict, Forbidden, NotFound
from lastmile.service.plans.models import Route

#: Routes that take positions and stop events.
LIVE_ROUTE = ("dispatched", "started", "completed")


def source_of(principal: Principal) -> str:
    """The sender an event id is unique for: the driver, the API key or the user."""
    if principal.driver_id is not None:
        return f"driver:{principal.driver_id}"
    if principal.api_key_id is not None:
        return f"key:{principal.api_key_id}"
    return f"user:{principal.user_id}"


@dataclass(frozen=True, slots=True)
class RouteRef:
    """The columns of a route that writing to it needs (no visits loaded)."""

    id: uuid.UUID
    org_id: uuid.UUID
    vehicle_id: uuid.UUID
    driver_id: uuid.UUID | None
    status: str


#: The columns to select for a :class:`RouteRef` (see :func:`ref_of`).
REF_COLUMNS = (Route.id, Route.org_id, Route.vehicle_id, Route.driver_id, Route.status)


#: Built once: every request on a route runs it.
_REF = select(*REF_COLUMNS).where(Route.id == bindparam("route_id", type_=Uuid))


def ref_of(row: Any) -> RouteRef:
    """The :class:`RouteRef` of a row selected with :data:`REF_COLUMNS`."""
    return RouteRef(*row)


def route_ref(session: Session, *, principal: Principal, route_id: uuid.UUID) -> RouteRef:
    """The route if the caller may see it: 404 for other organisations' routes,
    403 for a driver's route that is not theirs (as ``GET /routes/{id}``)."""
    row = session.execute(_REF, {"route_id": route_id}).first()
    if row is None:
        raise NotFound("route not found")
    ref = ref_of(row)
    check_route(principal, org_id=ref.org_id, driver_id=ref.driver_id)
    return ref


def check_route(principal: Principal, *, org_id: uuid.UUID, driver_id: uuid.UUID | None) -> None:
    """Whether the caller may see a route of ``org_id`` driven by ``driver_id``: 404
    for other organisations' routes, 403 for a driver's route that is not theirs."""
    if org_id != principal.org_id:
        raise NotFound("route not found")
    if principal.role is Role.DRIVER and (
        principal.driver_id is None or driver_id != principal.driver_id
    ):
        raise Forbidden("this route is not yours")


def ensure_live(ref: RouteRef) -> None:
    """409 unless the route takes reports (dispatched, started or completed)."""
    if ref.status not in LIVE_ROUTE:
        raise Conflict(f"the route is {ref.status}; it takes reports once dispatched")
