"""Routes: GET /map/roads, /plans/{plan_id}/geometry and /routes/{route_id}/geometry."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from lastmile.service.deps import CurrentUser, SessionDep, StaffUser
from lastmile.service.maps import service
from lastmile.service.maps.service import (
    DEFAULT_ROUTE_TOLERANCE_M,
    DEFAULT_TOLERANCE_M,
    MAX_TOLERANCE_M,
    RoadMap,
)
from lastmile.service.plans import service as plans
from lastmile.service.plans.models import Plan, Route

router = APIRouter(tags=["maps"])


class GeoJSONResponse(JSONResponse):
    """A JSON body served as ``application/geo+json``.

    Routes answer with it explicitly (``response_class`` stays ``Response``): as a
    route's response class its media type would also be documented for the error
    answers, which are plain ``application/json``."""

    media_type = "application/geo+json"


#: Browsers keep the roads for a day, then ask again (a 304 while unchanged).
ROADS_CACHE_CONTROL = "private, max-age=86400"


async def get_road_map(request: Request) -> RoadMap:
    road_map: RoadMap = request.app.state.road_map
    return road_map


def plan_dep(plan_id: uuid.UUID, user: StaffUser, session: SessionDep) -> Plan:
    return plans.get_plan(session, org_id=user.org_id, plan_id=plan_id)


def route_dep(route_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Route:
    return plans.get_route(session, principal=user, route_id=route_id)


RoadMapDep = Annotated[RoadMap, Depends(get_road_map)]
PlanDep = Annotated[Plan, Depends(plan_dep)]
RouteDep = Annotated[Route, Depends(route_dep)]

_GEOJSON: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A GeoJSON FeatureCollection.",
        "content": {"application/geo+json": {"schema": {"type": "object"}}},
    }
}


@router.get(
    "/map/roads",
    response_class=Response,
    responses={
        **_GEOJSON,
        304: {"description": "Not modified (If-None-Match matched the ETag)."},
        404: {"description": "The service has no road network (it plans on straight lines)."},
    },
)
def read_roads(
    request: Request,
    user: CurrentUser,
    road_map: RoadMapDep,
    bbox: Annotated[
        str | None,
        Query(description="minlon,minlat,maxlon,maxlat: only the roads that may cross it"),
    ] = None,
    simplify: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_TOLERANCE_M,
            description="Drop vertices less than this many metres off the drawn line",
        ),
    ] = DEFAULT_TOLERANCE_M,
) -> Response:
    """The roads of the service's road network as GeoJSON LineStrings with
    ``properties.major`` (motorway to tertiary roads), the base map of the pages when
    no tile server is configured. Computed once per process; answers carry an ETag
    and may be cached by the browser. 404 when the service plans on straight lines."""
    del user
    answer = road_map.roads(bbox=service.parse_bbox(bbox), tolerance_m=simplify)
    headers = {
        "ETag": answer.etag,
        "Cache-Control": ROADS_CACHE_CONTROL,
        "Vary": "Accept-Encoding, Authorization, Cookie",
    }
    if answer.etag in _etags(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        return Response(answer.gzipped, media_type="application/geo+json", headers=headers)
    return Response(answer.body, media_type="application/geo+json", headers=headers)


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


RouteTolerance = Annotated[
    float,
    Query(
        ge=0,
        le=MAX_TOLERANCE_M,
        description="Drop vertices less than this many metres off the line (stops are kept)",
    ),
]


@router.get("/plans/{plan_id}/geometry", response_class=Response, responses=_GEOJSON)
def read_plan_geometry(
    plan: PlanDep,
    session: SessionDep,
    road_map: RoadMapDep,
    simplify: RouteTolerance = DEFAULT_ROUTE_TOLERANCE_M,
) -> Response:
    """One GeoJSON LineString per route of the plan, along the roads when the service
    has a road network (``properties.geometry``: ``road``), else straight lines
    between the visits (``straight_line``); with ``route_id``, ``vehicle_id``,
    ``vehicle_name`` and ``colour`` (the route's place in the plan)."""
    geometry = service.plan_geometry(session, plan=plan, road_map=road_map, tolerance_m=simplify)
    return GeoJSONResponse(geometry)


@router.get("/routes/{route_id}/geometry", response_class=Response, responses=_GEOJSON)
def read_route_geometry(
    route: RouteDep,
    session: SessionDep,
    road_map: RoadMapDep,
    simplify: RouteTolerance = DEFAULT_ROUTE_TOLERANCE_M,
) -> Response:
    """The route's line as in GET /plans/{plan_id}/geometry (drivers: their own routes)."""
    geometry = service.route_geometry(session, route=route, road_map=road_map, tolerance_m=simplify)
    return GeoJSONResponse(geometry)
