"""Tracking: store pings and stop events durably and idempotently, authenticate
tracker devices, compute ETAs, and say what changed (events for the live stream).

Durability: every function here that writes commits before it returns, and
the routes answer only after that. On PostgreSQL a commit is flushed to disk
(``synchronous_commit`` on, the default). On SQLite the routes hand these
functions a session from :func:`durable_sessions`, whose connections run with
``PRAGMA synchronous=FULL``: the WAL is fsynced at every commit, so an
acknowledged ping survives the server being killed and the machine losing
power, as on PostgreSQL. (The service's other SQLite writes keep ``NORMAL``,
which survives a killed process but not a power cut.)

Idempotency: pings and stop events carry the sender's ``event_id``, unique per
organisation and sender (``source``); pings are inserted with ``ON CONFLICT DO
NOTHING`` (PostgreSQL and SQLite alike), so a retried batch adds nothing.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from threading import Lock
from typing import Any, cast

from pydantic import TypeAdapter
from sqlalchemy import (
    Engine,
    Table,
    bindparam,
    create_engine,
    event,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import Uuid

from lastmile.domain import Location, OrderKind, TimeWindow, VisitKind
from lastmile.exceptions import InputError
from lastmile.operations import OrderEvent, OrderStatus
from lastmile.operations.eta import RouteEta, track_route
from lastmile.operations.position import Fix, Origin
from lastmile.operations.progress import (
    RouteProgress,
    StopEventKind,
    StopEventRecord,
    StopState,
    TrackedStop,
    order_event_for,
)
from lastmile.service.auth.models import Role
from lastmile.service.db import make_sessionmaker, utcnow
from lastmile.service.depots.models import Depot
from lastmile.service.deps import Principal
from lastmile.service.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotAuthenticated,
    NotFound,
    Unprocessable,
)
from lastmile.service.fleet.models import Driver, Shift, Vehicle
from lastmile.service.orders.models import Order
from lastmile.service.orders.service import apply_event, windows_of
from lastmile.service.plans.models import Plan, Route, Visit
from lastmile.service.security import digest, new_token
from lastmile.service.tracking import models
from lastmile.service.tracking.schemas import (
    PingIn,
    PositionFix,
    RouteEtaOut,
    StopEtaOut,
    StopEventIn,
    StopEventOut,
    TrackerCreated,
    TrackerIn,
)
from lastmile.travel import TravelModel

TRACKER_TOKEN_PREFIX = "lmd_"
#: Routes that take positions and stop events.
_LIVE_ROUTE = ("dispatched", "started", "completed")
#: Fixes further in the future than this (device clock wrong) do not move the vehicle.
_CLOCK_SKEW = dt.timedelta(seconds=60)
#: Tracker ``last_seen_at`` is written at most this often.
_SEEN_RESOLUTION = dt.timedelta(minutes=1)
#: A tracker's position belongs to a route from this long before its start to after its end.
_ROUTE_SLACK = dt.timedelta(hours=6)


# -- who sends, and to which route ------------------------------------------------------------


def source_of(principal: Principal) -> str:
    """The sender an event id is unique for: the driver, the API key or the user."""
    if principal.driver_id is not None:
        return f"driver:{principal.driver_id}"
    if principal.api_key_id is not None:
        return f"key:{principal.api_key_id}"
    return f"user:{principal.user_id}"


@dataclass(frozen=True, slots=True)
class RouteRef:
    """The columns of a route that writing to it needs (no visits loaded)."""

    id: uuid.UUID
    org_id: uuid.UUID
    vehicle_id: uuid.UUID
    driver_id: uuid.UUID | None
    status: str


_REF_COLUMNS = (Route.id, Route.org_id, Route.vehicle_id, Route.driver_id, Route.status)


def _ref(row: Any) -> RouteRef:
    return RouteRef(*row)


def route_ref(session: Session, *, principal: Principal, route_id: uuid.UUID) -> RouteRef:
    """The route if the caller may see it: 404 for other organisations' routes,
    403 for a driver's route that is not theirs (as ``GET /routes/{id}``)."""
    row = session.execute(select(*_REF_COLUMNS).where(Route.id == route_id)).first()
    ref = _ref(row) if row is not None else None
    if ref is None or ref.org_id != principal.org_id:
        raise NotFound("route not found")
    if principal.role is Role.DRIVER and (
        principal.driver_id is None or ref.driver_id != principal.driver_id
    ):
        raise Forbidden("this route is not yours")
    return ref


def _live(ref: RouteRef) -> None:
    if ref.status not in _LIVE_ROUTE:
        raise Conflict(f"the route is {ref.status}; it takes reports once dispatched")


def durable_sessions(engine: Engine) -> tuple[sessionmaker[Session], Engine]:
    """Sessions for tracking writes, whose commits are on disk when they return,
    on an engine of their own (dispose it at shut-down).

    A request holds one connection: the pools are sized for the ping load (a
    pool smaller than the concurrent requests makes them queue, and on
    PostgreSQL opens and closes connections, a process each). SQLite: WAL
    with ``synchronous=FULL`` (see the module docs), and writes of this
    process take turns on a lock (see :func:`write_turn`) instead of spinning
    in SQLite's busy handler.
    """
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "sqlite":
        own = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=30)
        return make_sessionmaker(own), own
    own = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=20,
        max_overflow=20,
    )

    def pragmas(dbapi_connection: Any, connection_record: Any) -> None:
        del connection_record
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            "busy_timeout=30000",
            "synchronous=FULL",
        ):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    event.listen(own, "connect", pragmas)
    return sessionmaker(bind=own, expire_on_commit=False, info={"write_lock": Lock()}), own


def write_turn(session: Session) -> AbstractContextManager[Any]:
    """Hold this process's SQLite write turn (nothing on PostgreSQL)."""
    lock = session.info.get("write_lock")
    return lock if lock is not None else nullcontext()


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"tracking needs PostgreSQL or SQLite, not {dialect}")


# -- position pings ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PingResult:
    """What a batch stored: the new pings, whose vehicle and driver, and how many
    were already there."""

    stored: list[PingIn]
    duplicates: int
    vehicle_id: uuid.UUID | None = None
    driver_id: uuid.UUID | None = None

    @property
    def latest(self) -> PingIn | None:
        return max(self.stored, key=lambda p: p.at) if self.stored else None


def ingest_pings(
    session: Session,
    *,
    org_id: uuid.UUID,
    source: str,
    route: RouteRef | None,
    pings: Sequence[PingIn],
    vehicle_id: uuid.UUID | None = None,
    driver_id: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> PingResult:
    """Store ``pings`` (new event ids only) and move the route's last position.

    Committed durably before returning. Event ids repeated inside the batch
    count once.
    """
    if route is not None:
        _live(route)
        vehicle_id = route.vehicle_id
        driver_id = route.driver_id if driver_id is None else driver_id
    now = now or utcnow()
    unique = list({p.event_id: p for p in reversed(pings)}.values())[::-1]  # first wins
    fixed = {
        "org_id": org_id,
        "source": source,
        "route_id": route.id if route else None,
        "vehicle_id": vehicle_id,
        "driver_id": driver_id,
        "received_at": now,
        "horizon": now + _CLOCK_SKEW,
    }
    if session.get_bind().dialect.name == "postgresql":
        new = _ingest_pg(session, unique, fixed)
        session.commit()
    else:
        with write_turn(session):
            new = _ingest_sqlite(session, unique, fixed)
            session.commit()
    stored = [p for p in unique if p.event_id in new]
    return PingResult(
        stored=stored,
        duplicates=len(pings) - len(stored),
        vehicle_id=vehicle_id,
        driver_id=driver_id,
    )


#: PostgreSQL (13+): one round trip whatever the batch size. The pings travel
#: as one JSON document (one parameter, not 50 x 16; a short statement the
#: driver prepares once), ids are made by the server, and the route's last
#: position moves in the same statement.
_PG_INGEST = text(
    """
    WITH new AS (
        INSERT INTO position_pings (id, org_id, source, event_id, route_id, vehicle_id,
            driver_id, recorded_at, received_at, lon, lat, speed_kph, heading_deg, accuracy_m,
            altitude_m, battery_pct)
        SELECT gen_random_uuid(), :org_id, :source, u.event_id, :route_id, :vehicle_id,
            :driver_id, u.at, :received_at, u.lon, u.lat, u.speed_kph,
            u.heading_deg, u.accuracy_m, u.altitude_m, u.battery_pct
        FROM json_to_recordset(CAST(:pings AS json)) AS u(event_id varchar, at timestamptz,
            lon float8, lat float8, speed_kph float8, heading_deg float8, accuracy_m float8,
            altitude_m float8, battery_pct float8)
        ON CONFLICT (org_id, source, event_id) DO NOTHING
        RETURNING event_id, recorded_at, lon, lat, speed_kph, heading_deg
    ), latest AS (
        SELECT * FROM new
        WHERE CAST(:route_id AS uuid) IS NOT NULL AND recorded_at <= :horizon
        ORDER BY recorded_at DESC LIMIT 1
    ), moved AS (
        INSERT INTO route_progress (id, org_id, route_id, last_fix_at, last_lon, last_lat,
            last_speed_kph, last_heading_deg, late_sequences, updated_at)
        SELECT gen_random_uuid(), :org_id, :route_id, recorded_at, lon, lat, speed_kph,
            heading_deg, CAST('[]' AS json), :received_at
        FROM latest
        ON CONFLICT (route_id) DO UPDATE SET
            last_fix_at = excluded.last_fix_at, last_lon = excluded.last_lon,
            last_lat = excluded.last_lat, last_speed_kph = excluded.last_speed_kph,
            last_heading_deg = excluded.last_heading_deg, updated_at = excluded.updated_at
        WHERE route_progress.last_fix_at IS NULL
            OR route_progress.last_fix_at < excluded.last_fix_at
    )
    SELECT event_id FROM new
    """
).bindparams(
    *(bindparam(name, type_=Uuid()) for name in ("org_id", "route_id", "vehicle_id", "driver_id")),
)
_PINGS_JSON = TypeAdapter(list[PingIn])


def _ingest_pg(session: Session, pings: list[PingIn], fixed: dict[str, Any]) -> set[str]:
    params = fixed | {"pings": _PINGS_JSON.dump_json(pings).decode()}
    return set(session.execute(_PG_INGEST, params).scalars())


def _ingest_sqlite(session: Session, pings: list[PingIn], fixed: dict[str, Any]) -> set[str]:
    table = models.PositionPing.__table__
    stmt = (
        _insert(session, table)
        .on_conflict_do_nothing(index_elements=["org_id", "source", "event_id"])
        .returning(table.c.event_id)
    )
    rows = [
        {
            "id": uuid.uuid4(),
            "org_id": fixed["org_id"],
            "source": fixed["source"],
            "event_id": p.event_id,
            "route_id": fixed["route_id"],
            "vehicle_id": fixed["vehicle_id"],
            "driver_id": fixed["driver_id"],
            "recorded_at": p.at,
            "received_at": fixed["received_at"],
            "lon": p.lon,
            "lat": p.lat,
            "speed_kph": p.speed_kph,
            "heading_deg": p.heading_deg,
            "accuracy_m": p.accuracy_m,
            "altitude_m": p.altitude_m,
            "battery_pct": p.battery_pct,
        }
        for p in pings
    ]
    new = set(session.execute(stmt, rows).scalars())
    usable = [p for p in pings if p.event_id in new and p.at <= fixed["horizon"]]
    if fixed["route_id"] is not None and usable:
        latest = max(usable, key=lambda p: p.at)
        _move(
            session,
            org_id=fixed["org_id"],
            route_id=fixed["route_id"],
            fix=latest,
            now=fixed["received_at"],
        )
    return new


def _move(
    session: Session,
    *,
    org_id: uuid.UUID,
    route_id: uuid.UUID,
    fix: PingIn,
    now: dt.datetime,
) -> None:
    """The route's last position becomes ``fix`` unless a newer one is known."""
    table = models.RouteProgress.__table__
    values = {
        "last_fix_at": fix.at,
        "last_lon": fix.lon,
        "last_lat": fix.lat,
        "last_speed_kph": fix.speed_kph,
        "last_heading_deg": fix.heading_deg,
        "updated_at": now,
    }
    stmt = _insert(session, table).values(
        id=uuid.uuid4(), org_id=org_id, route_id=route_id, late_sequences=[], **values
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["route_id"],
        set_={name: stmt.excluded[name] for name in values},
        where=or_(table.c.last_fix_at.is_(None), table.c.last_fix_at < stmt.excluded.last_fix_at),
    )
    session.execute(stmt)


def list_positions(
    session: Session, *, route: RouteRef, since: dt.datetime | None, limit: int
) -> list[models.PositionPing]:
    """The route's fixes in time order (from ``since`` on)."""
    stmt = select(models.PositionPing).where(models.PositionPing.route_id == route.id)
    if since is not None:
        stmt = stmt.where(models.PositionPing.recorded_at >= since)
    stmt = stmt.order_by(models.PositionPing.recorded_at, models.PositionPing.event_id)
    return list(session.scalars(stmt.limit(limit)))


def position_event(route: RouteRef | None, result: PingResult, **extra: Any) -> dict[str, Any]:
    """The live event telling dashboards where the vehicle is now."""
    latest = result.latest
    assert latest is not None
    return {
        "type": "position",
        "route_id": str(route.id) if route else None,
        "vehicle_id": str(result.vehicle_id) if result.vehicle_id else None,
        "driver_id": str(result.driver_id) if result.driver_id else None,
        "at": latest.at.isoformat(),
        "lon": latest.lon,
        "lat": latest.lat,
        "speed_kph": latest.speed_kph,
        "heading_deg": latest.heading_deg,
        "count": len(result.stored),
        **extra,
    }


# -- tracker devices (OsmAnd / Traccar) ---------------------------------------------------------


def create_tracker(
    session: Session, *, org_id: uuid.UUID, data: TrackerIn, base_url: str
) -> TrackerCreated:
    """Register a tracker; its token is returned once and only its digest kept."""
    errors = []
    if data.vehicle_id is not None:
        vehicle = session.get(Vehicle, data.vehicle_id)
        if vehicle is None or vehicle.org_id != org_id:
            errors.append(
                FieldError(reason=f"no such vehicle {data.vehicle_id}", column="vehicle_id")
            )
    if data.driver_id is not None:
        driver = session.get(Driver, data.driver_id)
        if driver is None or driver.org_id != org_id:
            errors.append(FieldError(reason=f"no such driver {data.driver_id}", column="driver_id"))
    if errors:
        raise Unprocessable("the tracker is not valid", errors)
    token = new_token(TRACKER_TOKEN_PREFIX)
    device = models.TrackerDevice(
        id=uuid.uuid4(),
        org_id=org_id,
        identifier=data.identifier,
        name=data.name,
        token_hash=digest(token),
        vehicle_id=data.vehicle_id,
        driver_id=data.driver_id,
    )
    session.add(device)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"a tracker with identifier {data.identifier!r} already exists") from None
    return TrackerCreated(
        id=device.id,
        identifier=device.identifier,
        name=device.name,
        vehicle_id=device.vehicle_id,
        driver_id=device.driver_id,
        created_at=device.created_at,
        last_seen_at=None,
        token=token,
        server_url=f"{base_url.rstrip('/')}/osmand?token={token}",
    )


def list_trackers(session: Session, *, org_id: uuid.UUID) -> list[models.TrackerDevice]:
    stmt = (
        select(models.TrackerDevice)
        .where(models.TrackerDevice.org_id == org_id)
        .order_by(models.TrackerDevice.identifier)
    )
    return list(session.scalars(stmt))


def delete_tracker(session: Session, *, org_id: uuid.UUID, identifier: str) -> None:
    """Forget a tracker: its token stops working at once (its positions stay)."""
    device = session.scalar(
        select(models.TrackerDevice).where(
            models.TrackerDevice.org_id == org_id, models.TrackerDevice.identifier == identifier
        )
    )
    if device is None:
        raise NotFound(f"no tracker {identifier!r}")
    session.delete(device)
    session.commit()


def authenticate_tracker(
    session: Session, *, identifier: str, token: str, now: dt.datetime
) -> models.TrackerDevice:
    """The tracker with this token and identifier (401 otherwise)."""
    device = session.scalar(
        select(models.TrackerDevice).where(models.TrackerDevice.token_hash == digest(token))
    )
    if device is None or device.identifier != identifier:
        raise NotAuthenticated("unknown tracker: check its identifier and token")
    if device.last_seen_at is None or now - device.last_seen_at > _SEEN_RESOLUTION:
        device.last_seen_at = now
        session.commit()
    return device


def tracker_route(
    session: Session, *, device: models.TrackerDevice, at: dt.datetime
) -> RouteRef | None:
    """The route the tracker's vehicle (or driver) is on at ``at``: a started one
    first, else the dispatched one starting soonest; None between routes."""
    owner = (
        Route.vehicle_id == device.vehicle_id
        if device.vehicle_id is not None
        else Route.driver_id == device.driver_id
    )
    row = session.execute(
        select(*_REF_COLUMNS)
        .where(
            Route.org_id == device.org_id,
            owner,
            Route.status.in_(("dispatched", "started")),
            Route.start_at <= at + _ROUTE_SLACK,
            Route.end_at >= at - _ROUTE_SLACK,
        )
        .order_by((Route.status == "started").desc(), Route.start_at)
        .limit(1)
    ).first()
    return _ref(row) if row is not None else None


# -- stop events -------------------------------------------------------------------------------


@dataclass
class StopEventsResult:
    """The stored events (in the order sent) and what changed, for the live stream."""

    events: list[StopEventOut]
    live: list[dict[str, Any]] = field(default_factory=list)
    changed: bool = False


def _event_out(row: models.StopEvent, *, duplicate: bool) -> StopEventOut:
    return StopEventOut(
        event_id=row.event_id,
        kind=StopEventKind(row.kind),
        sequence=row.sequence,
        order_id=row.order_id,
        stop=VisitKind(row.stop),
        reason=row.reason,
        note=row.note,
        order_status=row.order_status,
        at=row.recorded_at,
        received_at=row.received_at,
        duplicate=duplicate,
    )


def _find_visit(
    event: StopEventIn, visits: Sequence[Visit], orders: Mapping[uuid.UUID, Order]
) -> Visit | str:
    """The task visit ``event`` is about, or the reason it names none."""
    tasks = [v for v in visits if v.kind in ("job", "pickup", "delivery")]
    if event.sequence is not None:
        visit = next((v for v in visits if v.sequence == event.sequence), None)
        if visit is None:
            return f"the route has no visit {event.sequence}"
        if visit not in tasks:
            return f"visit {event.sequence} is a {visit.kind}: stop events are for order stops"
        if event.order_id is not None and visit.order_id != event.order_id:
            return f"visit {event.sequence} serves another order"
        return visit
    candidates = [v for v in tasks if v.order_id == event.order_id]
    if not candidates:
        return f"order {event.order_id} is not on this route"
    if len(candidates) == 1:
        return candidates[0]
    # A shipment: its pickup stop until picked up, then its delivery stop.
    order = orders.get(event.order_id) if event.order_id else None
    wanted = (
        "pickup"
        if event.kind is StopEventKind.PICKED_UP
        or (
            event.kind is not StopEventKind.DELIVERED
            and order is not None
            and order.status in (OrderStatus.DISPATCHED, OrderStatus.EN_ROUTE)
        )
        else "delivery"
    )
    return next((v for v in candidates if v.kind == wanted), candidates[0])


def _start(route: Route, orders: Mapping[uuid.UUID, Order], now: dt.datetime) -> None:
    """A dispatched route whose driver reports at a stop has started (as
    ``POST /routes/{id}/start`` does it)."""
    for order in orders.values():
        if order.status == OrderStatus.DISPATCHED.value:
            apply_event(order, OrderEvent.START)
    route.status = "started"
    route.started_at = now


def record_stop_events(
    session: Session,
    *,
    route_ref: RouteRef,
    source: str,
    events: Sequence[StopEventIn],
    now: dt.datetime | None = None,
) -> StopEventsResult:
    """Apply stop events to the route's orders through the lifecycle, all or nothing.

    Events already stored (same sender and event id) are reported as
    duplicates and change nothing. The first report of a dispatched route
    starts it; a route whose every order stop is finished is completed.
    Committed durably before returning.
    """
    _live(route_ref)
    now = now or utcnow()
    ids = [e.event_id for e in events]
    known = {
        row.event_id: row
        for row in session.scalars(
            select(models.StopEvent).where(
                models.StopEvent.org_id == route_ref.org_id,
                models.StopEvent.source == source,
                models.StopEvent.event_id.in_(ids),
            )
        )
    }
    route = session.get(Route, route_ref.id)
    assert route is not None
    visits = list(route.visits)
    order_ids = {v.order_id for v in visits if v.order_id is not None}
    orders = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(order_ids)))}
    errors: list[FieldError] = []
    rows: list[models.StopEvent | None] = []
    route_status = route.status
    fresh: dict[str, models.StopEvent] = {}
    for k, item in enumerate(events):
        if item.event_id in known or item.event_id in fresh:
            rows.append(None)
            continue
        found = _find_visit(item, visits, orders)
        if isinstance(found, str):
            errors.append(FieldError(reason=found, column=f"events[{k}]"))
            rows.append(None)
            continue
        order = orders.get(found.order_id) if found.order_id else None
        if order is None:
            errors.append(
                FieldError(reason="the order of this stop is gone", column=f"events[{k}]")
            )
            rows.append(None)
            continue
        try:
            change = order_event_for(
                event=item.kind, visit_kind=VisitKind(found.kind), order_kind=OrderKind(order.kind)
            )
            if route.status == "dispatched":
                _start(route, orders, now)
            if change is not None:
                apply_event(order, change)
        except InputError as exc:
            errors.append(FieldError(reason=str(exc), column=f"events[{k}].kind"))
            rows.append(None)
            continue
        row = models.StopEvent(
            id=uuid.uuid4(),
            org_id=route_ref.org_id,
            source=source,
            event_id=item.event_id,
            route_id=route.id,
            order_id=order.id,
            stop=found.kind,
            sequence=found.sequence,
            kind=item.kind.value,
            reason=item.reason.strip(),
            note=item.note,
            order_status=order.status,
            recorded_at=item.at,
            received_at=now,
            lon=item.lon,
            lat=item.lat,
        )
        fresh[item.event_id] = row
        rows.append(row)
    if errors:
        session.rollback()
        raise Unprocessable("the stop events cannot be applied; nothing was stored", errors)
    if not fresh:
        session.rollback()
        return StopEventsResult(
            events=[_event_out(known[e.event_id], duplicate=True) for e in events]
        )
    finished = {OrderStatus.COMPLETED.value, OrderStatus.FAILED.value, OrderStatus.CANCELLED.value}
    if route.status == "started" and all(
        orders[v.order_id].status in finished
        for v in visits
        if v.order_id is not None and v.order_id in orders
    ):
        route.status = "completed"
    session.add_all(fresh.values())
    try:
        with write_turn(session):
            session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("another request is storing the same events; send them again") from None
    out: list[StopEventOut] = []
    live: list[dict[str, Any]] = []
    for item, new_row in zip(events, rows, strict=True):
        if new_row is None:
            earlier = known.get(item.event_id)
            again = earlier if earlier is not None else fresh[item.event_id]
            out.append(_event_out(again, duplicate=earlier is not None))
            continue
        row = new_row
        out.append(_event_out(row, duplicate=False))
        live.append(
            {
                "type": "stop_event",
                "route_id": str(route.id),
                "order_id": str(row.order_id),
                "sequence": row.sequence,
                "kind": row.kind,
                "reason": row.reason,
                "order_status": row.order_status,
                "at": row.recorded_at.isoformat(),
            }
        )
    if route.status != route_status:
        live.append({"type": "route_status", "route_id": str(route.id), "status": route.status})
    return StopEventsResult(events=out, live=live, changed=True)


def list_stop_events(session: Session, *, route: RouteRef) -> list[StopEventOut]:
    stmt = (
        select(models.StopEvent)
        .where(models.StopEvent.route_id == route.id)
        .order_by(models.StopEvent.recorded_at, models.StopEvent.received_at)
    )
    return [_event_out(row, duplicate=False) for row in session.scalars(stmt)]


# -- ETAs ----------------------------------------------------------------------------------------


@dataclass
class EtaComputation:
    """A route's ETAs with what is needed to store and announce them."""

    out: RouteEtaOut
    eta: RouteEta
    progress: RouteProgress
    #: The route's visits (plain rows) by sequence.
    visits: dict[int, Any]
    epoch: dt.datetime
    org_id: uuid.UUID


def _seconds(epoch: dt.datetime, when: dt.datetime) -> int:
    return math.floor((when - epoch).total_seconds())


def _windows(raw: list[dict[str, Any]], epoch: dt.datetime) -> tuple[TimeWindow, ...]:
    return tuple(
        sorted(TimeWindow(_seconds(epoch, s), _seconds(epoch, e)) for s, e in windows_of(raw))
    )


def compute_eta(
    session: Session,
    *,
    route_id: uuid.UUID,
    travel_model: TravelModel,
    margin_s: int,
    now: dt.datetime | None = None,
) -> EtaComputation:
    """Progress and ETAs of the route's remaining visits, from its stop events and
    last position, with ``travel_model`` (leaving now) for the legs ahead."""
    now = now or utcnow()
    # Plain rows, not ORM objects: this runs for every route every few seconds.
    route = session.execute(
        select(
            Route.id,
            Route.org_id,
            Route.driver_id,
            Route.status,
            Route.start_at,
            Route.end_at,
            Plan.epoch,
        )
        .join(Plan, Plan.id == Route.plan_id)
        .where(Route.id == route_id)
    ).first()
    if route is None:
        raise NotFound("route not found")
    epoch: dt.datetime = route.epoch
    visits = list(
        session.execute(
            select(
                Visit.id,
                Visit.sequence,
                Visit.kind,
                Visit.order_id,
                Visit.depot_id,
                Visit.lon,
                Visit.lat,
                Visit.arrival_at,
                Visit.start_at,
                Visit.departure_at,
                Visit.eta_at,
            )
            .where(Visit.route_id == route_id)
            .order_by(Visit.sequence)
        )
    )
    order_ids = {v.order_id for v in visits if v.order_id is not None}
    orders = {
        r.id: r
        for r in session.execute(
            select(
                Order.id,
                Order.kind,
                Order.pickup_windows,
                Order.pickup_service_s,
                Order.delivery_windows,
                Order.delivery_service_s,
            ).where(Order.id.in_(order_ids))
        )
    }
    depot_ids = {v.depot_id for v in visits if v.kind == "reload" and v.depot_id is not None}
    depots = {
        r.id: r
        for r in session.execute(
            select(Depot.id, Depot.opens_s, Depot.closes_s, Depot.reload_time_s).where(
                Depot.id.in_(depot_ids)
            )
        )
    }
    shift_end = None
    if route.driver_id is not None:
        shift_end = session.scalar(
            select(Shift.end_at)
            .where(
                Shift.driver_id == route.driver_id,
                Shift.start_at <= route.end_at,
                Shift.end_at >= route.start_at,
            )
            .order_by(Shift.start_at)
            .limit(1)
        )
    progress_row = session.scalar(
        select(models.RouteProgress).where(models.RouteProgress.route_id == route.id)
    )
    event_rows = session.execute(
        select(
            models.StopEvent.order_id,
            models.StopEvent.stop,
            models.StopEvent.kind,
            models.StopEvent.recorded_at,
        ).where(models.StopEvent.route_id == route.id, models.StopEvent.order_id.is_not(None))
    ).all()

    places: dict[tuple[float, float], int] = {}
    locations: list[Location] = []

    def row_of(lon: float, lat: float) -> int:
        key = (lon, lat)
        if key not in places:
            places[key] = len(locations)
            locations.append(Location(lon, lat))
        return places[key]

    stops: list[TrackedStop] = []
    last = (0.0, 0.0)
    for v in visits:
        if v.lon is not None and v.lat is not None:
            last = (v.lon, v.lat)
        loc = row_of(*last)
        kind = VisitKind(v.kind)
        windows: tuple[TimeWindow, ...] = ()
        service = 0
        if v.order_id is not None and v.order_id in orders:
            o = orders[v.order_id]
            pickup = kind is VisitKind.PICKUP or (
                kind is VisitKind.JOB and o.kind == OrderKind.PICKUP.value
            )
            windows = _windows(o.pickup_windows if pickup else o.delivery_windows, epoch)
            service = o.pickup_service_s if pickup else o.delivery_service_s
        elif kind is VisitKind.RELOAD and v.depot_id in depots:
            d = depots[v.depot_id]
            windows, service = (TimeWindow(d.opens_s, d.closes_s),), d.reload_time_s
        elif kind is VisitKind.BREAK:
            service = _seconds(v.start_at, v.departure_at)
        elif kind is VisitKind.END and shift_end is not None:
            windows = (TimeWindow(min(0, _seconds(epoch, shift_end)), _seconds(epoch, shift_end)),)
        stops.append(
            TrackedStop(
                v.sequence,
                kind,
                loc,
                windows,
                service,
                0,
                str(v.order_id) if v.order_id is not None else None,
            )
        )
    records = [
        StopEventRecord(str(oid), VisitKind(stop), StopEventKind(kind), _seconds(epoch, at))
        for oid, stop, kind, at in event_rows
    ]
    now_s = _seconds(epoch, now)
    fix: Fix | None = None
    position: PositionFix | None = None
    if (
        progress_row is not None
        and progress_row.last_fix_at is not None
        and progress_row.last_lon is not None
        and progress_row.last_lat is not None
    ):
        position = PositionFix(
            at=progress_row.last_fix_at,
            lon=progress_row.last_lon,
            lat=progress_row.last_lat,
            speed_kph=progress_row.last_speed_kph,
        )
        if progress_row.last_fix_at <= now + _CLOCK_SKEW and (
            route.status != "dispatched" or progress_row.last_fix_at >= route.start_at
        ):
            locations.append(Location(progress_row.last_lon, progress_row.last_lat))
            fix = Fix(len(locations) - 1, _seconds(epoch, progress_row.last_fix_at))
    first = visits[0] if visits else None
    start = Origin(
        stops[0].location if stops else 0,
        _seconds(epoch, first.departure_at) if first is not None else now_s,
    )
    durations = (
        travel_model.matrix(locations, departure=now_s).durations.tolist() if locations else []
    )
    progress, eta = track_route(
        stops,
        records,
        durations=durations,
        now_s=now_s,
        start=start,
        fix=fix,
        margin_s=margin_s,
    )
    by_seq = {v.sequence: v for v in visits}
    state = {p.sequence: p.state for p in progress.stops}

    def at(t: int) -> dt.datetime:
        return epoch + dt.timedelta(seconds=t)

    out = RouteEtaOut(
        route_id=route.id,
        status=route.status,
        computed_at=now,
        origin=eta.origin.why,
        margin_s=margin_s,
        done=progress.done,
        failed=progress.failed,
        remaining=sum(
            1 for s in eta.stops if s.kind in (VisitKind.JOB, VisitKind.PICKUP, VisitKind.DELIVERY)
        ),
        position=position,
        end_at=at(eta.end_s) if eta.end_s is not None else None,
        stops=[
            StopEtaOut(
                sequence=s.sequence,
                kind=s.kind,
                order_id=by_seq[s.sequence].order_id,
                state=state.get(s.sequence, StopState.PENDING),
                eta_at=at(s.arrival_s),
                start_at=at(s.start_s),
                departure_at=at(s.departure_s),
                planned_at=by_seq[s.sequence].arrival_at,
                window_end_at=at(s.window_end_s) if s.window_end_s is not None else None,
                slack_s=s.slack_s,
                late=s.late,
            )
            for s in eta.stops
        ],
    )
    return EtaComputation(
        out=out, eta=eta, progress=progress, visits=by_seq, epoch=epoch, org_id=route.org_id
    )


def claim_eta_refresh(
    session: Session, *, route_id: uuid.UUID, every_s: float, now: dt.datetime | None = None
) -> bool:
    """Whether this process should recompute the route's ETAs now: at most once
    per ``every_s`` across all API processes (an atomic conditional update)."""
    now = now or utcnow()
    progress = models.RouteProgress
    with write_turn(session):
        claimed = session.execute(
            update(progress)
            .where(
                progress.route_id == route_id,
                or_(
                    progress.eta_computed_at.is_(None),
                    progress.eta_computed_at < now - dt.timedelta(seconds=every_s),
                ),
            )
            .values(eta_computed_at=now)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return getattr(claimed, "rowcount", 0) == 1


def refresh_eta(
    session: Session,
    *,
    route_id: uuid.UUID,
    travel_model: TravelModel,
    margin_s: int,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Recompute the route's ETAs, store them (``visits.eta_at``, which customers'
    tracking pages show) and return the live events: the new ETAs, and one
    ``late`` alert per stop newly predicted late."""
    now = now or utcnow()
    comp = compute_eta(
        session, route_id=route_id, travel_model=travel_model, margin_s=margin_s, now=now
    )
    changed = [
        {"visit_id": comp.visits[s.sequence].id, "eta_at": s.eta_at}
        for s in comp.out.stops
        if comp.visits[s.sequence].eta_at != s.eta_at
    ]
    late = [s.sequence for s in comp.out.stops if s.late]
    progress = session.scalar(
        select(models.RouteProgress).where(models.RouteProgress.route_id == route_id)
    )
    if progress is None:
        progress = models.RouteProgress(
            id=uuid.uuid4(), org_id=comp.org_id, route_id=route_id, late_sequences=[]
        )
        session.add(progress)
    before = set(progress.late_sequences or [])
    progress.late_sequences = late
    progress.eta_computed_at = now
    progress.updated_at = now
    try:
        with write_turn(session):
            if changed:
                visits = cast(Table, Visit.__table__)
                session.execute(
                    update(visits)
                    .where(visits.c.id == bindparam("visit_id"))
                    .values(eta_at=bindparam("eta_at")),
                    changed,
                )
            session.commit()
    except IntegrityError:
        # Another process created the progress row meanwhile; its ETAs stand.
        session.rollback()
        return []
    nxt = next((s for s in comp.out.stops if s.kind is not VisitKind.END), None)
    events: list[dict[str, Any]] = [
        {
            "type": "eta",
            "route_id": str(route_id),
            "computed_at": now.isoformat(),
            "origin": comp.out.origin,
            "done": comp.out.done,
            "failed": comp.out.failed,
            "remaining": comp.out.remaining,
            "next": ({"sequence": nxt.sequence, "eta_at": nxt.eta_at.isoformat()} if nxt else None),
            "end_at": comp.out.end_at.isoformat() if comp.out.end_at else None,
            "late": late,
        }
    ]
    for s in comp.out.stops:
        if s.late and s.sequence not in before:
            events.append(
                {
                    "type": "late",
                    "route_id": str(route_id),
                    "sequence": s.sequence,
                    "kind": s.kind.value,
                    "order_id": str(s.order_id) if s.order_id else None,
                    "eta_at": s.eta_at.isoformat(),
                    "window_end_at": s.window_end_at.isoformat() if s.window_end_at else None,
                    "slack_s": s.slack_s,
                }
            )
    return events
