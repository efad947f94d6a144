"""Routes: position pings, stop events, ETAs, tracker devices (OsmAnd/Traccar) and
the live event stream (server-sent events).

Writes answer only once committed to disk; fan-out to dashboards and ETA
recomputation happen after the answer (see runtime.py). See docs/tracking.md.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from lastmile.operations.pod import ReattemptPolicy
from lastmile.service.auth.models import Role
from lastmile.service.db import utcnow
from lastmile.service.deps import (
    CredentialsDep,
    CurrentUser,
    Principal,
    SessionDep,
    SettingsDep,
    StaffUser,
    get_principal,
)
from lastmile.service.errors import FieldError, Forbidden, NotAuthenticated, Unprocessable
from lastmile.service.pod.settings import PodSettings
from lastmile.service.schemas import AwareDatetime
from lastmile.service.tracking import access, eta, osmand, pings, stop_events, trackers
from lastmile.service.tracking.runtime import TrackingRuntime, lifespan
from lastmile.service.tracking.schemas import (
    PingBatchIn,
    PingBatchOut,
    PositionOut,
    RouteCloseIn,
    RouteCloseOut,
    RouteEtaOut,
    StopEventBatchIn,
    StopEventBatchOut,
    StopEventOut,
    StopOutcomeOut,
    TrackerCreated,
    TrackerIn,
    TrackerOut,
)

router = APIRouter(tags=["tracking"], lifespan=lifespan)


async def get_runtime(request: Request) -> TrackingRuntime:
    runtime: TrackingRuntime = request.app.state.tracking
    return runtime


def get_writer(
    runtime: Annotated[TrackingRuntime, Depends(get_runtime)], session: SessionDep
) -> Iterator[Session]:
    """The session tracking writes go through (durable commits, see
    durability.durable_sessions)."""
    session.rollback()  # hand the read connection back before taking a writer
    with runtime.sessions() as writer:
        yield writer


def route_dep(route_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> access.RouteRef:
    return access.route_ref(session, principal=user, route_id=route_id)


async def get_reattempt_policy(request: Request) -> ReattemptPolicy:
    """When failed orders are tried again: the proof-of-delivery settings'
    (``app.state.pod_settings``, else from the environment)."""
    settings: PodSettings | None = getattr(request.app.state, "pod_settings", None)
    return (settings or PodSettings()).reattempt_policy()


async def get_clock(request: Request) -> dt.datetime:
    """What time it is (``app.state.clock`` when set: simulations and tests)."""
    now: dt.datetime = getattr(request.app.state, "clock", utcnow)()
    return now


RuntimeDep = Annotated[TrackingRuntime, Depends(get_runtime)]
NowDep = Annotated[dt.datetime, Depends(get_clock)]
PolicyDep = Annotated[ReattemptPolicy, Depends(get_reattempt_policy)]
WriterDep = Annotated[Session, Depends(get_writer)]
RouteDep = Annotated[access.RouteRef, Depends(route_dep)]


# -- pings -------------------------------------------------------------------------------------


def _authorise(
    session: Session, credentials: HTTPAuthorizationCredentials | None, route_id: uuid.UUID
) -> tuple[Principal, access.RouteRef]:
    principal = get_principal(session, credentials)
    return principal, access.route_ref(session, principal=principal, route_id=route_id)


async def ping_target(
    route_id: uuid.UUID,
    runtime: Annotated[TrackingRuntime, Depends(get_runtime)],
    credentials: CredentialsDep,
) -> AsyncIterator[tuple[Principal, access.RouteRef, Session]]:
    """Who posts, to which route (401/403/404 as everywhere), and the session to
    write with. The ping route is the hot path: one session (one pooled
    connection) for the whole request, one thread hop to authorise."""
    session = runtime.sessions()
    try:
        principal, route = await run_in_threadpool(_authorise, session, credentials, route_id)
        yield principal, route, session
    finally:
        session.close()  # committed or never written: no round trip left


@router.post("/routes/{route_id}/pings", response_model=PingBatchOut)
async def post_pings(
    body: PingBatchIn,
    target: Annotated[tuple[Principal, access.RouteRef, Session], Depends(ping_target)],
    runtime: RuntimeDep,
    background: BackgroundTasks,
) -> PingBatchOut:
    """Store a batch of GPS fixes of the route's vehicle (drivers: their own route).

    Idempotent: fixes whose ``event_id`` this sender already sent are not
    stored again (``duplicates``). The answer comes once the batch is on disk;
    a batch without an answer may be sent again safely.
    """
    user, route, session = target
    result = await run_in_threadpool(
        lambda: pings.ingest_pings(
            session,
            org_id=route.org_id,
            source=access.source_of(user),
            route=route,
            pings=body.pings,
        )
    )
    if result.stored:
        event = pings.position_event(route, result)
        background.add_task(runtime.after_pings, route.org_id, [event], route.id, result.stored)
    return PingBatchOut(accepted=len(result.stored), duplicates=result.duplicates)


@router.get("/routes/{route_id}/positions", response_model=list[PositionOut])
def list_positions(
    route: RouteDep,
    session: SessionDep,
    since: Annotated[
        AwareDatetime | None,
        Query(description="Only fixes taken at or after this time (with time zone)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Most fixes to return.")] = 1000,
) -> list[PositionOut]:
    """The route's GPS fixes, oldest first (for drawing its track)."""
    rows = pings.list_positions(session, route=route, since=since, limit=limit)
    return [
        PositionOut(
            event_id=r.event_id,
            at=r.recorded_at,
            lon=r.lon,
            lat=r.lat,
            speed_kph=r.speed_kph,
            heading_deg=r.heading_deg,
            accuracy_m=r.accuracy_m,
        )
        for r in rows
    ]


# -- stop events and ETAs ---------------------------------------------------------------------


@router.post("/routes/{route_id}/events", response_model=StopEventBatchOut)
def post_stop_events(
    body: StopEventBatchIn,
    route: RouteDep,
    user: CurrentUser,
    writer: WriterDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    policy: PolicyDep,
) -> StopEventBatchOut:
    """Report what happened at stops: arrived, delivered, picked_up, failed (with a reason).

    Orders move through their lifecycle (delivered/picked_up complete them,
    picked_up at a shipment's pickup makes it picked_up, failed fails it and
    schedules its re-attempt, as proof of delivery does); the first report
    starts a dispatched route, and a route whose every order stop has an
    outcome completes. All or nothing: any event that cannot apply fails the
    request with 422 and stores nothing. Idempotent by ``event_id``, like pings.
    """
    result = stop_events.record_stop_events(
        writer, route_ref=route, source=access.source_of(user), events=body.events, policy=policy
    )
    if result.changed:
        background.add_task(runtime.after_stop_events, route.org_id, result.live, route.id)
    return StopEventBatchOut(events=result.events)


@router.get("/routes/{route_id}/events", response_model=list[StopEventOut])
def list_stop_events(route: RouteDep, session: SessionDep) -> list[StopEventOut]:
    """The route's stop events in the order they happened."""
    return stop_events.list_stop_events(session, route=route)


@router.get("/routes/{route_id}/outcomes", response_model=list[StopOutcomeOut])
def list_outcomes(route: RouteDep, session: SessionDep) -> list[StopOutcomeOut]:
    """Every order stop of the route with its outcome on this route so far."""
    return stop_events.route_stop_outcomes(session, route_ref=route)


@router.post("/routes/{route_id}/close", response_model=RouteCloseOut)
def close_route(
    route_id: uuid.UUID,
    user: StaffUser,
    writer: WriterDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    policy: PolicyDep,
    now: NowDep,
    body: RouteCloseIn | None = None,
) -> RouteCloseOut:
    """Close a route (dispatchers and admins): its day is over.

    Every order stop without an outcome gets ``not_attempted`` (with the
    note); its order fails and is rescheduled like any failure (back to
    pending on the next open day; not counted as an attempt). The route is
    completed. 409 unless it is dispatched or started.
    """
    ref = access.route_ref(writer, principal=user, route_id=route_id)
    closed = stop_events.close_route(
        writer,
        route_ref=ref,
        principal=user,
        note=body.note if body is not None else "",
        now=now,
        policy=policy,
    )
    background.add_task(runtime.after_stop_events, ref.org_id, closed.live, ref.id)
    return closed.out


def _eta_for_caller(
    sessionmaker: Callable[[], Session],
    credentials: HTTPAuthorizationCredentials | None,
    **asked: Any,
) -> bytes:
    """Who asks and their answer's JSON body in one thread hop and one session (the
    ETA is the read that dashboards and customers' pages repeat most: a hop and a
    session less than a dependency of its own would take, and an answer given
    again is sent as it was serialised, not validated and serialised again)."""
    with sessionmaker() as session:
        principal = get_principal(session, credentials)
        return eta.answer_eta(session, principal=principal, **asked).body


@router.get("/routes/{route_id}/eta", response_model=RouteEtaOut)
async def read_eta(
    route_id: uuid.UUID,
    request: Request,
    credentials: CredentialsDep,
    runtime: RuntimeDep,
    now: NowDep,
    margin_s: Annotated[
        int | None,
        Query(ge=0, le=86_400, description="Late margin (default: LASTMILE_LATE_MARGIN_S)."),
    ] = None,
) -> Response:
    """Progress and ETAs of the visits still ahead, computed now.

    ETAs start from where the driver is (the stop they reported arriving at,
    their last GPS fix, or the last stop they finished) and follow the plan's
    order with the travel model, waiting for windows and adding service times.
    ``late`` marks stops whose ETA is after their window end minus the margin.

    The same ETAs are answered again for up to ``LASTMILE_ETA_ANSWER_FRESH_S``
    (default 2 s; ``computed_at`` says when) while nothing they were computed from
    changed: no stop event, GPS fix, change to the plan, its stops or the route.
    """
    margin = runtime.settings.late_margin_s if margin_s is None else margin_s
    body = await run_in_threadpool(
        _eta_for_caller,
        request.app.state.sessionmaker,
        credentials,
        route_id=route_id,
        travel_model=runtime.travel_model,
        margin_s=margin,
        now=now,
        kept=runtime.route_stops,
        recent=runtime.recent_etas,
    )
    return Response(content=body, media_type="application/json")


# -- tracker devices and the OsmAnd protocol ----------------------------------------------------


@router.post("/trackers", response_model=TrackerCreated, status_code=status.HTTP_201_CREATED)
def create_tracker(
    body: TrackerIn, user: StaffUser, session: SessionDep, settings: SettingsDep
) -> TrackerCreated:
    """Register a tracker app or device (OsmAnd, Traccar Client, a GPS box) for a
    vehicle or a driver. The token is shown only in this answer; the server URL starts
    with ``LASTMILE_PUBLIC_BASE_URL`` (409 when it is not set)."""
    return trackers.create_tracker(
        session, org_id=user.org_id, data=body, base_url=settings.public_base_url
    )


@router.get("/trackers", response_model=list[TrackerOut])
def list_trackers(user: StaffUser, session: SessionDep) -> list[TrackerOut]:
    """Registered trackers, by identifier."""
    return [
        TrackerOut.model_validate(t) for t in trackers.list_trackers(session, org_id=user.org_id)
    ]


@router.delete("/trackers", status_code=status.HTTP_204_NO_CONTENT)
def delete_tracker(
    user: StaffUser,
    session: SessionDep,
    identifier: Annotated[str, Query(max_length=128, description="The tracker's identifier.")],
) -> None:
    """Remove a tracker: its token stops working (its positions are kept)."""
    trackers.delete_tracker(session, org_id=user.org_id, identifier=identifier)


def _not_a_tracker(session: Session, credentials: HTTPAuthorizationCredentials | None) -> None:
    """Refuse a request without tracker credentials: 401, or 403 for a logged-in
    user (people post positions to /routes/{route_id}/pings)."""
    if credentials is None or not credentials.credentials:
        raise NotAuthenticated("send the tracker's id and token")
    get_principal(session, credentials)
    raise Forbidden(
        "this endpoint takes positions from registered trackers (id and token); "
        "post positions to /routes/{route_id}/pings"
    )


def osmand_fields(
    id: Annotated[str | None, Query(description="Tracker identifier (or deviceid).")] = None,
    token: Annotated[str | None, Query(description="The tracker's token.")] = None,
    lat: Annotated[str | None, Query(description="Latitude, degrees.")] = None,
    lon: Annotated[str | None, Query(description="Longitude, degrees.")] = None,
    timestamp: Annotated[
        str | None, Query(description="Unix seconds or milliseconds, or ISO 8601 (default: now).")
    ] = None,
    speed: Annotated[str | None, Query(description="Speed in knots.")] = None,
    bearing: Annotated[str | None, Query(description="Heading, degrees.")] = None,
) -> None:
    """Documents the main OsmAnd fields; the handler reads every field itself
    (query, form or JSON: also altitude, accuracy, batt, location)."""
    del id, token, lat, lon, timestamp, speed, bearing


OsmandFields = Annotated[None, Depends(osmand_fields)]
_OSMAND = {
    "response_class": Response,
    "responses": {200: {"description": "Stored (empty body)."}},
}


@router.get("/osmand", **_OSMAND)  # type: ignore[arg-type]
async def osmand_get(
    request: Request,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    credentials: CredentialsDep,
    fields: OsmandFields,
) -> Response:
    """A position in the OsmAnd protocol, for tracker apps (OsmAnd, Traccar
    Client) and GPS devices: query fields ``id, token, lat, lon, timestamp,
    speed (knots), bearing, altitude, accuracy, batt``. Answers 200 with an
    empty body once stored; the same fix sent again is stored once."""
    del fields
    return await _osmand(request, runtime, background, credentials)


@router.post("/osmand", **_OSMAND)  # type: ignore[arg-type]
async def osmand_post(
    request: Request,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    credentials: CredentialsDep,
    fields: OsmandFields,
) -> Response:
    """As ``GET /osmand``, with the fields in the query, in a form body, or in
    Traccar Client's JSON body (``{"device_id", "location": {...}}``)."""
    del fields
    return await _osmand(request, runtime, background, credentials)


async def _osmand(
    request: Request,
    runtime: TrackingRuntime,
    background: BackgroundTasks,
    credentials: HTTPAuthorizationCredentials | None,
) -> Response:
    now = utcnow()
    body: dict[str, Any] | None = None
    content_type = request.headers.get("content-type", "")
    if request.method == "POST":
        if content_type.startswith("application/json"):
            body = _json_object(await request.body())
        elif content_type.startswith("application/x-www-form-urlencoded"):
            body = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    fields = dict(request.query_params)
    identifier, secret = osmand.credentials(fields, body)
    if not secret:
        with runtime.sessions() as session:
            await run_in_threadpool(_not_a_tracker, session, credentials)

    stored = await run_in_threadpool(
        _store_tracker_ping, runtime, identifier, secret, fields, body, now
    )
    route, result = stored.route, stored.result
    if result.stored:
        event = pings.position_event(route, result, tracker=identifier)
        background.add_task(
            runtime.after_pings,
            stored.org_id,
            [event],
            route.id if route else None,
            result.stored,
        )
    return Response(status_code=200, background=background)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    """A JSON body's object (None for an empty body or other JSON values); 422 when
    it is not JSON."""
    if not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:  # also bytes that are not UTF-8
        raise Unprocessable(
            "the body is not JSON", [FieldError(reason=f"not JSON: {exc}", column="body")]
        ) from None
    return value if isinstance(value, dict) else None


def _store_tracker_ping(
    runtime: TrackingRuntime,
    identifier: str,
    secret: str,
    fields: dict[str, str],
    body: dict[str, Any] | None,
    now: dt.datetime,
) -> trackers.TrackerPingResult:
    with runtime.sessions() as session:
        return trackers.ingest_tracker_ping(
            session, identifier=identifier, token=secret, fields=fields, body=body, now=now
        )


# -- live stream ---------------------------------------------------------------------------------


def live_user(
    request: Request,
    credentials: CredentialsDep,
    route_id: Annotated[uuid.UUID | None, Query(description="Only events of this route.")] = None,
) -> Principal:
    """Who may follow the stream, checked with a session of its own (the stream
    outlives the request's dependencies, and must not hold a database
    connection): staff, anything of their organisation; a driver, one of their
    own routes (``route_id`` required: 403 without it or for another driver's
    route, 404 for a route of another organisation)."""
    with request.app.state.sessionmaker() as session:
        principal = get_principal(session, credentials)
        if principal.is_staff:
            return principal
        if principal.role is not Role.DRIVER or route_id is None:
            raise Forbidden(
                f"drivers follow one of their own routes (give route_id); "
                f"everything else needs role admin, dispatcher; you are {principal.role.value}"
            )
        access.route_ref(session, principal=principal, route_id=route_id)
    return principal


def _sse(event: dict[str, Any]) -> str:
    return f"event: {event.get('type', 'message')}\ndata: {json.dumps(event)}\n\n"


@router.get(
    "/live",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An event stream."}},
)
async def live(
    user: Annotated[Principal, Depends(live_user)],
    runtime: RuntimeDep,
    route_id: Annotated[uuid.UUID | None, Query(description="Only events of this route.")] = None,
) -> StreamingResponse:
    """Live events of the organisation as server-sent events (``text/event-stream``).

    Staff follow the whole organisation or one route; a driver follows one of
    their own routes only (``route_id`` required). Types: ``hello`` (subscribed),
    ``position``, ``stop_event``,
    ``route_status``, ``eta``, ``late`` (a stop newly predicted late),
    ``plan`` (a re-planning change rewrote the route: read it again),
    ``lagged`` (events were dropped for this slow reader). Comments are sent
    while idle to keep proxies from closing the connection. With several API
    processes and ``LASTMILE_REDIS_URL`` set, events from every process arrive.
    """
    wanted = str(route_id) if route_id is not None else None
    heartbeat_s = runtime.settings.live_heartbeat_s

    async def stream() -> AsyncIterator[str]:
        async with runtime.broker.subscribe(user.org_id) as sub:
            yield "retry: 3000\n\n"
            yield _sse({"type": "hello", "broker": runtime.broker.name, "route_id": wanted})
            dropped = 0
            while True:
                event = await sub.get(timeout_s=heartbeat_s)
                if sub.dropped != dropped:
                    yield _sse({"type": "lagged", "dropped": sub.dropped - dropped})
                    dropped = sub.dropped
                if event is None:
                    yield ": keep-alive\n\n"
                    continue
                if wanted is not None and event.get("route_id") != wanted:
                    continue
                yield _sse(event)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
