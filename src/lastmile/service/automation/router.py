"""Routes: /automation (what the organisation's automations did)."""

from __future__ import annotations

from fastapi import APIRouter

from lastmile.service.automation import service
from lastmile.service.automation.runtime import lifespan
from lastmile.service.automation.schemas import AutomationEntryOut
from lastmile.service.deps import PageDep, SessionDep, StaffUser

router = APIRouter(prefix="/automation", tags=["automation"], lifespan=lifespan)


@router.get("/log", response_model=list[AutomationEntryOut])
def read_log(user: StaffUser, session: SessionDep, page: PageDep) -> list[AutomationEntryOut]:
    """What the automations did (orders carried into a plan, plans created at the set
    time, plans dispatched once ready) and what they could not do, newest first."""
    rows = service.list_log(session, org_id=user.org_id, limit=page.limit, offset=page.offset)
    return [AutomationEntryOut.model_validate(r) for r in rows]
