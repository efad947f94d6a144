"""Organisations: creation (bootstrap), lookup and settings."""

from __future__ import annotations

import re
import uuid
import zoneinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.exceptions import InputError
from lastmile.service.errors import Conflict, NotFound
from lastmile.service.fleet.models import VehicleType
from lastmile.service.orders.models import Order
from lastmile.service.orgs.models import Organisation
from lastmile.service.orgs.schemas import OrgSettings, OrgUpdate

#: Options that switch automations on or off (they change no plan's problem).
AUTOMATION_SETTINGS = frozenset(
    {"plan_carry_over", "auto_plan_at", "auto_plan_time_limit_s", "auto_dispatch"}
)

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def create_org(
    session: Session,
    *,
    name: str,
    slug: str,
    timezone: str = "UTC",
    dimensions: list[str] | None = None,
) -> Organisation:
    """A new organisation; ``slug`` is lower-case letters, digits and dashes, unique."""
    if not name.strip():
        raise InputError("must not be empty", where="name")
    if not _SLUG.match(slug):
        raise InputError(
            f"{slug!r} must be lower-case letters, digits and dashes (max 63)", where="slug"
        )
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone {timezone!r}", where="timezone") from None
    if session.scalar(select(Organisation.id).where(Organisation.slug == slug)):
        raise Conflict(f"an organisation with slug {slug!r} already exists")
    org = Organisation(
        name=name.strip(), slug=slug, timezone=timezone, dimensions=dimensions or ["units"]
    )
    session.add(org)
    session.commit()
    return org


def get_org(session: Session, *, org_id: uuid.UUID) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    return org


def get_org_by_slug(session: Session, *, slug: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise NotFound(f"no organisation {slug!r}")
    return org


def update_org(session: Session, *, org_id: uuid.UUID, changes: OrgUpdate) -> Organisation:
    """Apply ``changes``. The number of dimensions may change only while no order
    amount or vehicle capacity is recorded (their values would lose their meaning)."""
    org = get_org(session, org_id=org_id)
    if changes.name is not None:
        org.name = changes.name
    if changes.timezone is not None:
        org.timezone = changes.timezone
    if changes.dimensions is not None:
        names = [d.strip() for d in changes.dimensions]
        if any(not d for d in names) or len(set(names)) != len(names):
            raise InputError("dimension names must be non-empty and unique", where="dimensions")
        if len(names) != len(org.dimensions) and _amounts_exist(session, org_id=org_id):
            raise Conflict(
                "cannot change the number of dimensions while orders or vehicle types "
                "record amounts; rename them instead"
            )
        org.dimensions = names
    if changes.settings is not None:
        given = changes.settings.model_dump(exclude_none=True)
        merged = OrgSettings.model_validate({**(org.settings or {}), **given})
        if merged.departure_radius_m < merged.arrival_radius_m:
            raise InputError(
                f"must be at least arrival_radius_m ({merged.arrival_radius_m:g} m): "
                "the vehicle leaves a wider circle than the one it arrives in",
                where="settings.departure_radius_m",
            )
        if given:
            # A new dict: the JSON column sees the change. Plans read the costing
            # options, so those change what plans are built from; the automations'
            # switches do not.
            org.settings = {**(org.settings or {}), **given}
            if set(given) - AUTOMATION_SETTINGS:
                org.planning_revision = (org.planning_revision or 0) + 1
    session.commit()
    return org


def _amounts_exist(session: Session, *, org_id: uuid.UUID) -> bool:
    amounts = session.scalars(select(Order.amount).where(Order.org_id == org_id))
    capacities = session.scalars(select(VehicleType.capacity).where(VehicleType.org_id == org_id))
    return any(a for a in amounts) or any(c for c in capacities)
