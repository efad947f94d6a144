"""Reports of the organisation's delivery days: KPI rows, CSV exports, figures and the
HTML report, all from the days' records (:mod:`lastmile.service.reports.record`)
measured by :mod:`lastmile.analytics`.

Figures and reports are CPU-bound (matplotlib); the routes that ask for them are
plain functions, which FastAPI runs in its thread pool, so the event loop stays
free while they are drawn.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from lastmile.analytics import Grouping, stop_table, summarise, write_csv
from lastmile.analytics.roads import places_box
from lastmile.domain.day import DayRecord
from lastmile.service.errors import FieldError, Unprocessable
from lastmile.service.maps.service import RoadMap, no_network_reason
from lastmile.service.orgs import service as orgs
from lastmile.service.reports.record import build_record, build_records
from lastmile.service.reports.schemas import MAX_DAYS, FigureName, GroupBy

#: matplotlib is not documented as thread-safe (its font and text caches are shared):
#: one drawing at a time in the process.
_DRAWING = threading.Lock()
#: Roads under a route map: simplified to this many metres.
ROADS_TOLERANCE_M = 10.0
#: ... around the day's stops, depots and positions, with this margin (degrees).
ROADS_MARGIN_DEG = 0.005
Polyline = list[tuple[float, float]]
_GROUPING: dict[GroupBy, Grouping] = {
    GroupBy.DRIVER: "driver",
    GroupBy.VEHICLE: "vehicle",
    GroupBy.DEPOT: "depot",
    GroupBy.DAY: "day",
}


def check_range(first: dt.date, last: dt.date) -> None:
    """``first`` to ``last`` inclusive, at most :data:`MAX_DAYS` days (422 naming ``to``)."""
    if last < first:
        raise Unprocessable(
            "the range ends before it starts",
            [FieldError(reason=f"{last} is before from ({first})", column="to")],
        )
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise Unprocessable(
            f"at most {MAX_DAYS} days at once",
            [FieldError(reason=f"{days} days from {first}: at most {MAX_DAYS}", column="to")],
        )


def records(
    session: Session,
    *,
    org_id: uuid.UUID,
    first: dt.date,
    last: dt.date,
    eta_window_s: int,
    positions_days: int | None = 0,
) -> list[DayRecord]:
    """The records of the days with a dispatched plan in ``first``..``last`` (GPS
    positions only in the first ``positions_days``: none by default, as key figures
    and tables need none)."""
    check_range(first, last)
    return build_records(
        session,
        org_id=org_id,
        first=first,
        last=last,
        eta_window_s=eta_window_s,
        positions_days=positions_days,
    )


def kpi_rows(
    session: Session,
    *,
    org_id: uuid.UUID,
    first: dt.date,
    last: dt.date,
    by: GroupBy | None,
    eta_window_s: int,
) -> list[dict[str, Any]]:
    """KPI rows of the range: one per driver, vehicle, depot or day (``by``), or one
    for the whole range."""
    found = records(session, org_id=org_id, first=first, last=last, eta_window_s=eta_window_s)
    return [k.as_row() for k in summarise(found, by=_GROUPING[by] if by is not None else None)]


def _csv(rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    write_csv(rows, out)
    return out.getvalue()


def kpis_csv(
    session: Session,
    *,
    org_id: uuid.UUID,
    first: dt.date,
    last: dt.date,
    by: GroupBy | None,
    eta_window_s: int,
) -> str:
    """:func:`kpi_rows` as CSV."""
    return _csv(
        kpi_rows(session, org_id=org_id, first=first, last=last, by=by, eta_window_s=eta_window_s)
    )


def stops_csv(
    session: Session, *, org_id: uuid.UUID, first: dt.date, last: dt.date, eta_window_s: int
) -> str:
    """Planned versus actual per stop, as CSV."""
    found = records(session, org_id=org_id, first=first, last=last, eta_window_s=eta_window_s)
    return _csv(stop_table(found))


def day_record(
    session: Session,
    *,
    org_id: uuid.UUID,
    day: dt.date,
    plan_id: uuid.UUID | None,
    eta_window_s: int,
) -> DayRecord:
    """One day's record (only ``plan_id``'s routes when given)."""
    return build_record(session, org_id=org_id, day=day, plan_id=plan_id, eta_window_s=eta_window_s)


def roads_of(road_map: RoadMap | None, records: Sequence[DayRecord]) -> list[Polyline] | None:
    """The roads around the records' stops, depots and positions, from the service's
    road network (None without one, or with nothing to draw around)."""
    if road_map is None or no_network_reason(road_map.travel) is not None:
        return None
    around = places_box(records, margin_deg=ROADS_MARGIN_DEG)
    if around is None:
        return None
    box = (
        max(-180.0, around[0]),
        max(-90.0, around[1]),
        min(180.0, around[2]),
        min(90.0, around[3]),
    )
    answer = road_map.roads(bbox=box, tolerance_m=ROADS_TOLERANCE_M)
    features = json.loads(answer.body)["features"]
    return [[(x, y) for x, y in f["geometry"]["coordinates"]] for f in features]


def _draw(record: DayRecord, name: FigureName, road_map: RoadMap | None) -> bytes:
    # matplotlib is imported when a figure is first drawn, not with the app (0.9 s).
    from lastmile.analytics import figures as charts

    if name is FigureName.ROUTE_MAP:
        roads = roads_of(road_map, [record])
    with _DRAWING:
        if name is FigureName.ROUTE_MAP:
            fig = charts.route_map(record, roads=roads)
        elif name is FigureName.TIMELINE:
            fig = charts.timeline(record)
        elif name is FigureName.ON_TIME_HISTOGRAM:
            fig = charts.on_time_histogram([record])
        elif name is FigureName.PLANNED_VS_ACTUAL:
            fig = charts.planned_vs_actual([record])
        else:
            fig = charts.eta_error_over_day([record])
        png: bytes = charts.png(fig)
        return png


def figure_png(
    session: Session,
    *,
    org_id: uuid.UUID,
    day: dt.date,
    name: FigureName,
    plan_id: uuid.UUID | None,
    eta_window_s: int,
    road_map: RoadMap | None = None,
) -> bytes:
    """One figure of a day, as PNG (the route map on the roads of ``road_map``'s
    network, when the service has one)."""
    record = day_record(session, org_id=org_id, day=day, plan_id=plan_id, eta_window_s=eta_window_s)
    return _draw(record, name, road_map)


def report_html(
    session: Session,
    *,
    org_id: uuid.UUID,
    first: dt.date,
    last: dt.date,
    eta_window_s: int,
    road_map: RoadMap | None = None,
) -> str:
    """The self-contained HTML report of the range (figures embedded)."""
    from lastmile.analytics.report import MAX_DAY_FIGURES, html_report

    found = records(
        session,
        org_id=org_id,
        first=first,
        last=last,
        eta_window_s=eta_window_s,
        positions_days=MAX_DAY_FIGURES,  # the days the report draws maps of
    )
    org = orgs.get_org(session, org_id=org_id)
    span = str(first) if first == last else f"{first} to {last}"
    roads = roads_of(road_map, found)
    with _DRAWING:
        html: str = html_report(found, title=f"{org.name}: {span}", roads=roads)
    return html
