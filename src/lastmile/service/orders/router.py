"""Routes: /orders (CRUD, cancel, retry, CSV import, tracking links) and the
public /track/{token}."""

from __future__ import annotations

import os
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile, status

from lastmile.operations import OrderEvent, OrderStatus
from lastmile.service.deps import (
    PageDep,
    SessionDep,
    SettingsDep,
    StaffUser,
    client_address,
)
from lastmile.service.errors import FieldError, Unprocessable
from lastmile.service.geocoding import GeocodeFn
from lastmile.service.orders import importing, listing, service
from lastmile.service.orders.models import Order
from lastmile.service.orders.schemas import (
    ImportMode,
    ImportResult,
    OrderIn,
    OrderOut,
    OrderUpdate,
    TrackingLinkOut,
    TrackingOut,
)
from lastmile.service.orgs.models import Organisation
from lastmile.service.orgs.service import get_org
from lastmile.service.ratelimit import RateLimiter
from lastmile.service.schemas import Day

router = APIRouter(prefix="/orders", tags=["orders"])
public_router = APIRouter(tags=["customer tracking"])

#: Largest CSV file accepted by the import.
MAX_IMPORT_BYTES = 20 * 1024 * 1024


async def get_geocoder(request: Request) -> GeocodeFn | None:
    geocode: GeocodeFn | None = request.app.state.geocode
    return geocode


def org_dep(user: StaffUser, session: SessionDep) -> Organisation:
    return get_org(session, org_id=user.org_id)


def order_dep(order_id: uuid.UUID, user: StaffUser, session: SessionDep) -> Order:
    return service.get_order(session, org_id=user.org_id, order_id=order_id)


GeocoderDep = Annotated[GeocodeFn | None, Depends(get_geocoder)]
OrgDep = Annotated[Organisation, Depends(org_dep)]
OrderDep = Annotated[Order, Depends(order_dep)]


@router.get("", response_model=list[OrderOut])
def list_orders(
    user: StaffUser,
    session: SessionDep,
    page: PageDep,
    status: Annotated[OrderStatus | None, Query(description="Only orders in this status.")] = None,
    external_id: Annotated[
        str | None, Query(description="Only the order with this reference.")
    ] = None,
    needs_review: Annotated[
        bool | None,
        Query(
            description="true: only orders with a geocoded stop waiting for a dispatcher "
            "to confirm or correct it; false: only the others."
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Only orders whose external id, customer name or an address "
            "contains this text (case-insensitive).",
        ),
    ] = None,
    day: Annotated[
        Day | None,
        Query(
            description="Only orders with a time window on this day, in the organisation's "
            "time zone (orders without windows are on no day)."
        ),
    ] = None,
) -> list[OrderOut]:
    """Orders, oldest first; filter by status, external id, review flag, text or day.
    Each carries the route it is on (vehicle and driver by name)."""
    rows = listing.list_orders(
        session,
        org_id=user.org_id,
        limit=page.limit,
        offset=page.offset,
        status=status,
        external_id=external_id,
        review=needs_review,
        search=q,
        day=day,
        timezone=user.timezone,
    )
    routes = listing.routes_of(session, rows)
    return [service.to_out(o).model_copy(update={"route": routes.get(o.id)}) for o in rows]


@router.post("", response_model=OrderOut, status_code=status.HTTP_201_CREATED)
def create_order(
    body: OrderIn, org: OrgDep, session: SessionDep, geocode: GeocoderDep, settings: SettingsDep
) -> OrderOut:
    """Add an order. Stops with an address but no lon/lat are geocoded; an uncertain
    match is flagged needs_review."""
    order = service.create_order(
        session,
        org=org,
        data=body,
        geocode=geocode,
        review_below=settings.geocode_review_below,
    )
    return service.to_out(order)


@router.post("/import", response_model=ImportResult)
def import_orders(
    org: OrgDep,
    session: SessionDep,
    geocode: GeocoderDep,
    file: Annotated[UploadFile, File(description="CSV file, UTF-8, one order per row.")],
    date: Annotated[Day | None, Query(description="Day that HH:MM time windows refer to.")] = None,
    dry_run: Annotated[bool, Query(description="Check everything, write nothing.")] = False,
    mode: Annotated[
        ImportMode | None,
        Query(
            description="all_or_nothing (default): any bad row fails the import; partial: "
            "the good rows are imported and the bad ones returned with their errors."
        ),
    ] = None,
    mode_field: Annotated[
        ImportMode | None,
        Form(alias="mode", description="The same as the mode query parameter, as a form field."),
    ] = None,
    *,
    settings: SettingsDep,
) -> ImportResult:
    """Import orders from CSV (see docs/api.md for the columns).

    All or nothing by default: errors come back as 422 with one entry per
    problem: row (the header is row 1), column and reason. With mode=partial
    the good rows are imported and the bad ones listed in `rejected`. Rows
    whose external_id already exists update that order instead of adding one,
    but keep what the customer changed through their tracking link (listed in
    `conflicts` when the file disagrees).
    """
    if mode is not None and mode_field is not None and mode != mode_field:
        raise Unprocessable(
            "two different modes",
            [FieldError(reason="the query and the form give different modes", column="mode")],
        )
    # The upload is already spooled to a temporary file (on disk beyond 1 MB):
    # the import reads it from there in pieces, never whole into memory.
    upload = file.file
    upload.seek(0, os.SEEK_END)
    if upload.tell() > MAX_IMPORT_BYTES:
        raise Unprocessable(
            "file too large", [FieldError(reason=f"more than {MAX_IMPORT_BYTES} bytes")]
        )
    upload.seek(0)
    return importing.import_orders(
        session,
        org=org,
        data=upload,
        date=date,
        geocode=geocode,
        review_below=settings.geocode_review_below,
        mode=mode or mode_field or ImportMode.ALL_OR_NOTHING,
        dry_run=dry_run,
    )


@router.get("/{order_id}", response_model=OrderOut)
def read_order(order: OrderDep) -> OrderOut:
    """One order."""
    return service.to_out(order)


@router.patch("/{order_id}", response_model=OrderOut)
def update_order(
    body: OrderUpdate,
    order: OrderDep,
    org: OrgDep,
    session: SessionDep,
    geocode: GeocoderDep,
    settings: SettingsDep,
) -> OrderOut:
    """Change an order that is pending, planned or failed (409 once dispatched).

    Giving a stop with lon/lat confirms or corrects its position and clears its
    needs_review flag."""
    updated = service.update_order(
        session,
        org=org,
        order=order,
        changes=body,
        geocode=geocode,
        review_below=settings.geocode_review_below,
    )
    return service.to_out(updated)


@router.post("/{order_id}/cancel", response_model=OrderOut)
def cancel_order(order: OrderDep, session: SessionDep) -> OrderOut:
    """Cancel an order that is not yet on its way (422 otherwise)."""
    return service.to_out(service.change_status(session, order=order, event=OrderEvent.CANCEL))


@router.post("/{order_id}/retry", response_model=OrderOut)
def retry_order(order: OrderDep, session: SessionDep) -> OrderOut:
    """Put a failed order back to pending, to be planned again."""
    return service.to_out(service.change_status(session, order=order, event=OrderEvent.RETRY))


@router.post(
    "/{order_id}/tracking-links",
    response_model=TrackingLinkOut,
    status_code=status.HTTP_201_CREATED,
)
def create_tracking_link(
    order: OrderDep, session: SessionDep, settings: SettingsDep
) -> TrackingLinkOut:
    """Make a customer tracking link for the order; the token is shown only here.

    The link starts with ``LASTMILE_PUBLIC_BASE_URL`` (409 when it is not set).
    """
    return service.create_tracking_link(
        session,
        order=order,
        ttl_s=settings.tracking_link_ttl_s,
        base_url=settings.public_base_url,
    )


@router.delete("/{order_id}/tracking-links", status_code=status.HTTP_204_NO_CONTENT)
def revoke_tracking_links(order: OrderDep, session: SessionDep) -> None:
    """Revoke every tracking link of the order."""
    service.revoke_tracking_links(session, order=order)


@public_router.get("/track/{token}", response_model=TrackingOut)
def track(
    token: str, request: Request, response: Response, settings: SettingsDep, session: SessionDep
) -> TrackingOut:
    """What a customer with a tracking link sees (no login; rate-limited per address).
    A browser asking for HTML gets the tracking page at this address instead."""
    limiter: RateLimiter = request.app.state.tracking_limiter
    limiter.hit(f"track:{client_address(request, settings)}", what="tracking requests")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Accept"
    return service.tracking_view(session, token=token)
