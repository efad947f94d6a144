"""Routes: /org (the caller's organisation)."""

from __future__ import annotations

from fastapi import APIRouter

from lastmile.service.deps import AdminUser, CurrentUser, SessionDep
from lastmile.service.orgs import service
from lastmile.service.orgs.schemas import OrgOut, OrgUpdate

router = APIRouter(prefix="/org", tags=["organisation"])


@router.get("", response_model=OrgOut)
def read_org(user: CurrentUser, session: SessionDep) -> OrgOut:
    """The caller's organisation."""
    return OrgOut.model_validate(service.get_org(session, org_id=user.org_id))


@router.patch("", response_model=OrgOut)
def update_org(changes: OrgUpdate, user: AdminUser, session: SessionDep) -> OrgOut:
    """Rename the organisation, change its time zone, its capacity dimensions or its
    options (``settings``, e.g. ``{"waiting_costs_like_driving": false}``) (admin)."""
    org = service.update_org(session, org_id=user.org_id, changes=changes)
    return OrgOut.model_validate(org)
