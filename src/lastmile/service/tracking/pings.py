"""Position pings: store GPS fixes durably and idempotently, move the route's
last position, list a route's fixes, and the live event saying where the
vehicle is.

Idempotency: pings carry the sender's ``event_id``, unique per organisation and
sender (``source``); they are inserted with ``ON CONFLICT DO NOTHING``
(PostgreSQL and SQLite alike), so a retried batch adds nothing. Durability:
see :mod:`lastmile.service.tracking.durability`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import bindparam, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import Uuid

from lastmile.service.db import utcnow
from lastmile.service.tracking import models
from lastmile.service.tracking.access import RouteRef, ensure_live
from lastmile.service.tracking.durability import write_turn
from lastmile.service.tracking.schemas import PingIn

#: Fixes further in the future than this (device clock wrong) do not move the vehicle.
CLOCK_SKEW = dt.timedelta(seconds=60)


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"tracking needs PostgreSQL or SQLite, not {dialect}")


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
        ensure_live(route)
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
        "horizon": now + CLOCK_SKEW,
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
