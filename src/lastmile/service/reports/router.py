"""Routes: /reports (dispatchers and admins).

Dependencies that only read the request or the app's state are ``async`` (no thread
hop for them).

Figures and the HTML report are drawn by plain (non-async) route functions, which
FastAPI runs in its thread pool: the event loop stays free while matplotlib works.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from lastmile.service.deps import SessionDep, StaffUser
from lastmile.service.maps.service import RoadMap
from lastmile.service.notifications.settings import NotifySettings
from lastmile.service.reports import service
from lastmile.service.reports.schemas import MAX_DAYS, FigureName, GroupBy

router = APIRouter(prefix="/reports", tags=["reports"])


@dataclass(frozen=True, slots=True)
class Days:
    first: dt.date
    last: dt.date


async def days_dep(
    first: Annotated[
        dt.date, Query(alias="from", description="First day (the organisation's calendar).")
    ],
    last: Annotated[
        dt.date,
        Query(alias="to", description=f"Last day, included; at most {MAX_DAYS} days after from."),
    ],
) -> Days:
    return Days(first, last)


async def eta_window_dep(request: Request) -> int:
    """The widest range told to customers (the notifier's setting), to compute the
    promises again."""
    settings = getattr(request.app.state, "notify_settings", None) or NotifySettings()
    return settings.eta_window_s


async def road_map_dep(request: Request) -> RoadMap | None:
    """The process's road drawing (route maps are drawn on its roads)."""
    found: RoadMap | None = getattr(request.app.state, "road_map", None)
    return found


DaysDep = Annotated[Days, Depends(days_dep)]
RoadMapDep = Annotated[RoadMap | None, Depends(road_map_dep)]
EtaWindowDep = Annotated[int, Depends(eta_window_dep)]
ByQuery = Annotated[
    GroupBy | None,
    Query(description="One row per driver, vehicle, depot or day; omitted: one row in all."),
]
PlanQuery = Annotated[
    uuid.UUID | None,
    Query(description="Only this plan's routes (a dispatched plan of that day)."),
]

_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "A CSV file (UTF-8, header row)."}
}
_PNG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "A PNG image."}
}
_HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "A self-contained HTML file."}
}


def _download(body: str | bytes, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/kpis", response_model=list[dict[str, Any]])
def kpis(
    user: StaffUser, session: SessionDep, days: DaysDep, eta: EtaWindowDep, by: ByQuery = None
) -> list[dict[str, Any]]:
    """KPIs of the days from ``from`` to ``to`` (days with a dispatched plan): on-time
    rate, lateness, cost, km and hours per stop, stops per hour, utilisation,
    waiting, first-attempt success, ETA accuracy; one row per ``by`` group."""
    return service.kpi_rows(
        session, org_id=user.org_id, first=days.first, last=days.last, by=by, eta_window_s=eta
    )


@router.get("/kpis.csv", response_class=Response, responses=_CSV)
def kpis_csv(
    user: StaffUser, session: SessionDep, days: DaysDep, eta: EtaWindowDep, by: ByQuery = None
) -> Response:
    """The KPI rows of ``/reports/kpis`` as a CSV download."""
    text = service.kpis_csv(
        session, org_id=user.org_id, first=days.first, last=days.last, by=by, eta_window_s=eta
    )
    suffix = f"-by-{by.value}" if by is not None else ""
    return _download(text, "text/csv; charset=utf-8", f"kpis-{days.first}-{days.last}{suffix}.csv")


@router.get("/stops.csv", response_class=Response, responses=_CSV)
def stops_csv(user: StaffUser, session: SessionDep, days: DaysDep, eta: EtaWindowDep) -> Response:
    """Planned versus actual per stop (times, status, reason, lateness, promise) as a
    CSV download."""
    text = service.stops_csv(
        session, org_id=user.org_id, first=days.first, last=days.last, eta_window_s=eta
    )
    return _download(text, "text/csv; charset=utf-8", f"stops-{days.first}-{days.last}.csv")


@router.get("/days/{date}/record", response_model=dict[str, Any])
def day_record(
    date: dt.date,
    user: StaffUser,
    session: SessionDep,
    eta: EtaWindowDep,
    plan_id: PlanQuery = None,
) -> dict[str, Any]:
    """The day as it went (a ``DayRecord`` as JSON; see docs/api.md): every route of the
    day's dispatched plans with planned and actual times per stop, GPS positions,
    promises, ETA samples and incidents. A day without a plan has no routes."""
    record = service.day_record(
        session, org_id=user.org_id, day=date, plan_id=plan_id, eta_window_s=eta
    )
    return record.to_dict()


@router.get(
    "/days/{date}/figures/{name}.png",
    response_class=Response,
    responses=_PNG,
)
def figure(
    date: dt.date,
    name: FigureName,
    user: StaffUser,
    session: SessionDep,
    eta: EtaWindowDep,
    road_map: RoadMapDep,
    plan_id: PlanQuery = None,
) -> Response:
    """One figure of the day as PNG: ``route_map``, ``timeline``, ``on_time_histogram``,
    ``planned_vs_actual`` or ``eta_error_over_day``."""
    png = service.figure_png(
        session,
        org_id=user.org_id,
        day=date,
        name=name,
        plan_id=plan_id,
        eta_window_s=eta,
        road_map=road_map,
    )
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, no-cache"})


@router.get("/report.html", response_class=Response, responses=_HTML)
def report(
    user: StaffUser, session: SessionDep, days: DaysDep, eta: EtaWindowDep, road_map: RoadMapDep
) -> Response:
    """The report of the days as one self-contained HTML file (KPI table and figures
    embedded; opens offline), as a download."""
    html = service.report_html(
        session,
        org_id=user.org_id,
        first=days.first,
        last=days.last,
        eta_window_s=eta,
        road_map=road_map,
    )
    return _download(
        html, "text/html; charset=utf-8", f"lastmile-report-{days.first}-{days.last}.html"
    )
