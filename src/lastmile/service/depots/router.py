"""Routes: /depots."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from lastmile.service.depots import service
from lastmile.service.depots.models import Depot
from lastmile.service.depots.schemas import DepotIn, DepotOut, DepotUpdate
from lastmile.service.deps import PageDep, SessionDep, StaffUser

router = APIRouter(prefix="/depots", tags=["depots"])


def depot_dep(depot_id: uuid.UUID, user: StaffUser, session: SessionDep) -> Depot:
    return service.get_depot(session, org_id=user.org_id, depot_id=depot_id)


DepotDep = Annotated[Depot, Depends(depot_dep)]


@router.get("", response_model=list[DepotOut])
def list_depots(user: StaffUser, session: SessionDep, page: PageDep) -> list[DepotOut]:
    """Depots of the organisation."""
    rows = service.list_depots(session, org_id=user.org_id, limit=page.limit, offset=page.offset)
    return [DepotOut.model_validate(d) for d in rows]


@router.post("", response_model=DepotOut, status_code=status.HTTP_201_CREATED)
def create_depot(body: DepotIn, user: StaffUser, session: SessionDep) -> DepotOut:
    """Add a depot."""
    return DepotOut.model_validate(service.create_depot(session, org_id=user.org_id, data=body))


@router.get("/{depot_id}", response_model=DepotOut)
def read_depot(depot: DepotDep) -> DepotOut:
    """One depot."""
    return DepotOut.model_validate(depot)


@router.patch("/{depot_id}", response_model=DepotOut)
def update_depot(body: DepotUpdate, depot: DepotDep, session: SessionDep) -> DepotOut:
    """Change a depot."""
    return DepotOut.model_validate(service.update_depot(session, depot=depot, changes=body))


@router.delete("/{depot_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_depot(depot: DepotDep, session: SessionDep) -> None:
    """Delete a depot that no vehicle uses (409 otherwise)."""
    service.delete_depot(session, depot=depot)
