"""The dispatcher's dashboard: three pages sharing one layout.

* ``/dashboard``: the day live: map, timeline per vehicle, alerts, KPI tiles, and
  the changes a dispatcher makes to a running plan (move an order, insert an
  urgent one, report a breakdown);
* ``/dashboard/orders``: the order table, CSV import and geocodes to review;
* ``/dashboard/plan``: planning the day and dispatching it;
* ``/dashboard/messages``: the customer messages, edited with a live preview and
  their SMS length.

The pages are shells: their scripts (``static/dashboard/``) read the API with the
session cookie and follow ``/live``. Staff only; a driver is sent to their app.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lastmile.service.auth.principal import Principal
from lastmile.service.deps import SessionDep
from lastmile.service.notifications import message_templates, wording
from lastmile.service.orgs import service as orgs
from lastmile.service.web.access import SignedIn, home_of, page_context
from lastmile.service.web.rendering import language_of, render

router = APIRouter(include_in_schema=False)

#: Page texts each dashboard page's scripts get.
_TEXTS = ("dashboard",)


def _page(
    request: Request, session: SessionDep, principal: Principal, template: str, tab: str
) -> Response:
    if not principal.is_staff:
        return RedirectResponse(home_of(principal), status.HTTP_303_SEE_OTHER)
    org = orgs.get_org(session, org_id=principal.org_id)
    context = page_context(request, principal, org_name=org.name, timezone=org.timezone, tab=tab)
    return render(
        request,
        template,
        context,
        language=language_of(session, principal.org_id),
        pages=_TEXTS,
    )


@router.get("/dashboard", response_class=HTMLResponse)
def live(request: Request, session: SessionDep, principal: SignedIn) -> Response:
    """The day live: map, timeline, alerts, KPIs."""
    return _page(request, session, principal, "dashboard/live.html", "live")


@router.get("/dashboard/orders", response_class=HTMLResponse)
def orders(request: Request, session: SessionDep, principal: SignedIn) -> Response:
    """Orders: table, import, review."""
    return _page(request, session, principal, "dashboard/orders.html", "orders")


@router.get("/dashboard/plan", response_class=HTMLResponse)
def plan(request: Request, session: SessionDep, principal: SignedIn) -> Response:
    """Plan the day and dispatch."""
    return _page(request, session, principal, "dashboard/plan.html", "plan")


@router.get("/dashboard/messages", response_class=HTMLResponse)
def messages(request: Request, session: SessionDep, principal: SignedIn) -> Response:
    """Customer message templates: editor, live preview, SMS length."""
    if not principal.is_staff:
        return RedirectResponse(home_of(principal), status.HTTP_303_SEE_OTHER)
    org = orgs.get_org(session, org_id=principal.org_id)
    views = message_templates.list_templates(session, org_id=principal.org_id)
    context = page_context(
        request,
        principal,
        org_name=org.name,
        timezone=org.timezone,
        tab="messages",
        kinds=list(wording.KINDS),
        languages=sorted({v.language for v in views}),
        language=message_templates.customer_language(org),
    )
    return render(
        request,
        "dashboard/messages.html",
        context,
        language=language_of(session, principal.org_id),
        pages=(*_TEXTS, "messages"),
    )
