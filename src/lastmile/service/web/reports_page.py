"""The reports page of the dashboard (``/dashboard/reports``): a range of days and a
grouping, the KPI table, the figures of one day and the downloads (KPI and stop
CSV files, the HTML report).

A shell like the other dashboard pages: its script (``static/reports/reports.js``)
reads ``/reports/...`` with the session cookie. Staff only; a driver is sent to
their app.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lastmile.service.deps import SessionDep
from lastmile.service.orgs import service as orgs
from lastmile.service.reports.schemas import MAX_DAYS, FigureName, GroupBy
from lastmile.service.web.access import SignedIn, home_of, page_context
from lastmile.service.web.rendering import language_of, render

router = APIRouter(include_in_schema=False)

#: Page texts the page's script gets.
_TEXTS = ("dashboard", "reports")


@router.get("/dashboard/reports", response_class=HTMLResponse)
def reports(request: Request, session: SessionDep, principal: SignedIn) -> Response:
    """KPIs, figures and exports of a range of days."""
    if not principal.is_staff:
        return RedirectResponse(home_of(principal), status.HTTP_303_SEE_OTHER)
    org = orgs.get_org(session, org_id=principal.org_id)
    context = page_context(
        request,
        principal,
        org_name=org.name,
        timezone=org.timezone,
        tab="reports",
        groupings=[g.value for g in GroupBy],
        figures=[f.value for f in FigureName],
        max_days=MAX_DAYS,
    )
    return render(
        request,
        "dashboard/reports.html",
        context,
        language=language_of(session, principal.org_id),
        pages=_TEXTS,
    )
