"""Depots."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lastmile.exceptions import InputError
from lastmile.service.crud import apply_changes, get_owned, list_owned
from lastmile.service.depots.models import Depot
from lastmile.service.depots.schemas import DepotIn, DepotUpdate
from lastmile.service.errors import Conflict
from lastmile.service.fleet.models import Vehicle


def create_depot(session: Session, *, org_id: uuid.UUID, data: DepotIn) -> Depot:
    depot = Depot(org_id=org_id, **data.model_dump())
    session.add(depot)
    session.commit()
    return depot


def get_depot(session: Session, *, org_id: uuid.UUID, depot_id: uuid.UUID) -> Depot:
    return get_owned(session, Depot, org_id=org_id, id=depot_id, what="depot")


def list_depots(session: Session, *, org_id: uuid.UUID, limit: int, offset: int) -> list[Depot]:
    return list_owned(session, Depot, org_id=org_id, limit=limit, offset=offset)


def update_depot(session: Session, *, depot: Depot, changes: DepotUpdate) -> Depot:
    apply_changes(depot, changes)
    if depot.closes_s < depot.opens_s:
        raise InputError("must not be before opens_s", where="closes_s")
    session.commit()
    return depot


def delete_depot(session: Session, *, depot: Depot) -> None:
    """Delete a depot no vehicle uses (409 otherwise)."""
    used = session.scalar(
        select(Vehicle.id).where(
            or_(Vehicle.depot_id == depot.id, Vehicle.end_depot_id == depot.id)
        )
    )
    if used is not None:
        raise Conflict("depot is used by vehicles; move them first")
    session.delete(depot)
    session.commit()
