"""Orders: create, change, cancel, list, customer tracking links (the CSV
import is :mod:`.importing`, where stops are placed is :mod:`.placement`)."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lastmile.domain import OrderKind
from lastmile.operations import OrderEvent, OrderStatus, next_status
from lastmile.operations.notify import promise, promise_text
from lastmile.service.crud import get_owned
from lastmile.service.db import utcnow
from lastmile.service.depots.models import Depot
from lastmile.service.errors import Conflict, FieldError, NotFound, Unprocessable
from lastmile.service.geocoding import GeocodeFn
from lastmile.service.orders import customer
from lastmile.service.orders.models import Order, OrderItem, TrackingLink
from lastmile.service.orders.placement import (
    STOPS,
    StopPlacement,
    customer_stop,
    locate,
    placement_of,
    set_placement,
)
from lastmile.service.orders.schemas import (
    INSTRUCTIONS_MAX_LENGTH,
    ContactIn,
    GeocodeOut,
    ItemIn,
    ItemOut,
    OrderIn,
    OrderOut,
    OrderUpdate,
    StopIn,
    StopOut,
    TimeWindowIn,
    TimeWindowOut,
    TrackingDriverOut,
    TrackingLinkOut,
    TrackingOut,
    TrackingPlaceOut,
    TrackingProofOut,
)
from lastmile.service.orgs.models import Organisation
from lastmile.service.schemas import answer_in
from lastmile.service.security import digest, new_token
from lastmile.service.settings import NO_PUBLIC_BASE_URL

# -- rows <-> schemas ----------------------------------------------------------------------


def _windows_json(windows: Iterable[TimeWindowIn]) -> list[dict[str, Any]]:
    return [{"start": w.start.isoformat(), "end": w.end.isoformat()} for w in windows]


def windows_of(raw: list[dict[str, Any]]) -> list[tuple[dt.datetime, dt.datetime]]:
    """Stored windows as (start, end) UTC datetimes."""
    return [
        (dt.datetime.fromisoformat(w["start"]), dt.datetime.fromisoformat(w["end"])) for w in raw
    ]


def _stop_out(order: Order, prefix: str) -> StopOut | None:
    lon, lat = getattr(order, f"{prefix}_lon"), getattr(order, f"{prefix}_lat")
    if lon is None or lat is None:
        return None
    return StopOut(
        address=getattr(order, f"{prefix}_address"),
        lon=lon,
        lat=lat,
        time_windows=[
            TimeWindowOut(start=s, end=e)
            for s, e in windows_of(getattr(order, f"{prefix}_windows"))
        ],
        service_s=getattr(order, f"{prefix}_service_s"),
        geocode=_geocode_out(placement_of(order, prefix)),
        needs_review=getattr(order, f"{prefix}_needs_review"),
    )


def _geocode_out(placement: StopPlacement) -> GeocodeOut | None:
    if not placement.geocoded:
        return None
    return GeocodeOut(confidence=placement.confidence, matched_address=placement.matched_address)


def needs_review(order: Order) -> bool:
    """Whether a stop's geocoded position waits for a dispatcher."""
    return bool(order.pickup_needs_review or order.delivery_needs_review)


def to_out(order: Order) -> OrderOut:
    return OrderOut(
        id=order.id,
        external_id=order.external_id,
        kind=OrderKind(order.kind),
        status=OrderStatus(order.status),
        pickup=_stop_out(order, "pickup"),
        delivery=_stop_out(order, "delivery"),
        amount=order.amount,
        skills=order.skills,
        priority=order.priority,
        depot_id=order.depot_id,
        customer=ContactIn(
            name=order.customer_name, phone=order.customer_phone, email=order.customer_email
        ),
        language=order.language,
        instructions=order.instructions,
        compartment=order.compartment,
        items=[ItemOut.model_validate(i) for i in order.items],
        needs_review=needs_review(order),
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


def _stop_in(order: Order, prefix: str) -> StopIn | None:
    out = _stop_out(order, prefix)
    if out is None:
        return None
    return StopIn(
        address=out.address,
        lon=out.lon,
        lat=out.lat,
        time_windows=[TimeWindowIn(start=w.start, end=w.end) for w in out.time_windows],
        service_s=out.service_s,
    )


def content_of(order: Order) -> OrderIn:
    """The order as the input that would create it (to compare re-imports).

    Instructions stored before their limit held everywhere (longer than
    ``INSTRUCTIONS_MAX_LENGTH``) are kept as they are, not refused: the order
    stays editable."""
    content = OrderIn(
        external_id=order.external_id,
        kind=OrderKind(order.kind),
        pickup=_stop_in(order, "pickup"),
        delivery=_stop_in(order, "delivery"),
        amount=order.amount,
        skills=order.skills,
        priority=order.priority,
        depot_id=order.depot_id,
        customer=ContactIn(
            name=order.customer_name, phone=order.customer_phone, email=order.customer_email
        ),
        language=order.language,
        instructions=order.instructions[:INSTRUCTIONS_MAX_LENGTH],
        compartment=order.compartment,
        items=[
            ItemIn(
                barcode=i.barcode,
                description=i.description,
                quantity=i.quantity,
                compartment=i.compartment,
            )
            for i in order.items
        ],
    )
    if len(order.instructions) > INSTRUCTIONS_MAX_LENGTH:
        content = content.model_copy(update={"instructions": order.instructions})
    return content


def _set_stop(order: Order, prefix: str, stop: StopIn | None) -> None:
    setattr(order, f"{prefix}_address", stop.address if stop else "")
    setattr(order, f"{prefix}_lon", stop.lon if stop else None)
    setattr(order, f"{prefix}_lat", stop.lat if stop else None)
    setattr(order, f"{prefix}_windows", _windows_json(stop.time_windows) if stop else [])
    setattr(order, f"{prefix}_service_s", stop.service_s if stop else 0)


def staff_values(data: OrderIn) -> dict[str, Any]:
    """The fields a customer may change through their tracking link, as ``data``
    sets them (kept on the order as ``staff_values``)."""
    stop: StopIn | None = getattr(data, customer_stop(data.kind))
    return {
        "instructions": data.instructions,
        "windows": _windows_json(stop.time_windows) if stop is not None else [],
    }


def fill_order(
    order: Order, data: OrderIn, placements: dict[str, StopPlacement] | None = None
) -> None:
    """Write ``data`` onto ``order``; ``placements`` says how each stop was placed
    (a stop missing from it had its position given)."""
    for name in STOPS:
        set_placement(order, name, (placements or {}).get(name))
    order.external_id = data.external_id
    order.kind = data.kind.value
    _set_stop(order, "pickup", data.pickup)
    _set_stop(order, "delivery", data.delivery)
    order.amount = list(data.amount)
    order.skills = sorted(set(data.skills))
    order.priority = data.priority
    order.depot_id = data.depot_id
    order.customer_name = data.customer.name
    order.customer_phone = data.customer.phone
    order.customer_email = data.customer.email
    order.language = data.language
    order.instructions = data.instructions
    order.compartment = data.compartment
    order.items = [
        OrderItem(org_id=order.org_id, position=k, **item.model_dump())
        for k, item in enumerate(data.items)
    ]


# -- checks ------------------------------------------------------------------------------


def check_order(
    session: Session, org: Organisation, data: OrderIn, *, row: int | None = None
) -> list[FieldError]:
    """What is wrong with ``data`` for ``org`` beyond its schema (amounts, depot)."""
    errors: list[FieldError] = []
    if data.amount and len(data.amount) != len(org.dimensions):
        errors.append(
            FieldError(
                reason=f"has {len(data.amount)} values for the organisation's "
                f"{len(org.dimensions)} dimensions ({', '.join(org.dimensions)})",
                column="amount",
                row=row,
            )
        )
    if data.depot_id is not None:
        depot = session.get(Depot, data.depot_id)
        if depot is None or depot.org_id != org.id:
            errors.append(
                FieldError(reason=f"no such depot {data.depot_id}", column="depot_id", row=row)
            )
    return errors


# -- create, read, change -----------------------------------------------------------------


def create_order(
    session: Session,
    *,
    org: Organisation,
    data: OrderIn,
    geocode: GeocodeFn | None,
    review_below: float,
) -> Order:
    """Add an order; stops given by address are geocoded, and flagged for review
    when the geocoder's confidence is below ``review_below``."""
    given = data
    data, placements, errors = locate(data, geocode, review_below=review_below)
    errors += check_order(session, org, data)
    if errors:
        raise Unprocessable("the order is not valid", errors)
    if data.external_id is not None and by_external_id(session, org.id, [data.external_id]):
        raise Conflict(f"an order with external_id {data.external_id!r} already exists")
    order = Order(org_id=org.id, id=uuid.uuid4(), status=OrderStatus.PENDING.value)
    fill_order(order, data, placements)
    order.staff_values = staff_values(given)
    session.add(order)
    commit(session)
    return order


def get_order(session: Session, *, org_id: uuid.UUID, order_id: uuid.UUID) -> Order:
    return get_owned(session, Order, org_id=org_id, id=order_id, what="order")


def update_order(
    session: Session,
    *,
    org: Organisation,
    order: Order,
    changes: OrderUpdate,
    geocode: GeocodeFn | None,
    review_below: float,
) -> Order:
    """Change an order that is still editable (pending, planned or failed).

    A stop given with lon/lat confirms (same position) or corrects its position:
    its review flag is cleared. A stop given by the address it already has keeps
    its position; a new address is geocoded."""
    status = OrderStatus(order.status)
    if not status.is_editable:
        raise Conflict(f"order is {status.value}; it can no longer be changed")
    merged = content_of(order).model_dump()
    for name, value in changes.model_dump(exclude_unset=True).items():
        if value is None and name in (
            "customer",
            "items",
            "amount",
            "skills",
            "priority",
            "instructions",
        ):
            continue
        merged[name] = value
    # Over-long instructions can only be the stored ones (an edit's are checked):
    # kept as they are when the edit does not replace them.
    long = len(merged["instructions"]) > INSTRUCTIONS_MAX_LENGTH
    stored = merged["instructions"] if long else None
    if stored is not None:
        merged["instructions"] = ""
    try:
        data = OrderIn.model_validate(merged)
        if stored is not None:
            data = data.model_copy(update={"instructions": stored})
    except ValidationError as exc:
        raise Unprocessable(
            "the order is not valid",
            [
                FieldError(reason=e["msg"], column=".".join(str(p) for p in e["loc"]))
                for e in exc.errors()
            ],
        ) from None
    given = changes.model_fields_set
    confirmed = frozenset(
        name
        for name in STOPS
        if name in given and (stop := getattr(changes, name)) is not None and stop.lon is not None
    )
    data, placements, errors = locate(
        data, geocode, review_below=review_below, current=order, confirmed=confirmed
    )
    errors += check_order(session, org, data)
    if errors:
        raise Unprocessable("the order is not valid", errors)
    renamed = data.external_id is not None and data.external_id != order.external_id
    if renamed and by_external_id(session, org.id, [data.external_id or ""]):
        raise Conflict(f"an order with external_id {data.external_id!r} already exists")
    order.staff_values = _staff_edit(order, data, given)
    fill_order(order, data, placements)
    commit(session)
    return order


def _staff_edit(order: Order, data: OrderIn, given: set[str]) -> dict[str, Any] | None:
    """``order.staff_values`` after staff set ``data``: a field counts as set by
    staff only where the edit named it and changed it (an edit of something else
    does not take over what the customer wrote)."""
    base = dict(order.staff_values) if order.staff_values is not None else {}
    new = staff_values(data)
    if "instructions" in given and data.instructions != order.instructions:
        base["instructions"] = new["instructions"]
    stop = customer_stop(data.kind)
    if stop in given and windows_of(new["windows"]) != windows_of(
        getattr(order, f"{stop}_windows")
    ):
        base["windows"] = new["windows"]
    return base if base or order.staff_values is not None else None


def apply_event(order: Order, event: OrderEvent) -> None:
    """Move ``order`` through the lifecycle (422 naming the order if not allowed)."""
    order.status = next_status(
        kind=OrderKind(order.kind),
        status=OrderStatus(order.status),
        event=event,
        where=f"order {order.external_id or order.id}",
    ).value


def change_status(session: Session, *, order: Order, event: OrderEvent) -> Order:
    apply_event(order, event)
    session.commit()
    return order


def commit(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("another request changed the same orders; try again") from None


def by_external_id(session: Session, org_id: uuid.UUID, ids: list[str]) -> dict[str, Order]:
    """The organisation's orders with these external ids, by external id."""
    found: dict[str, Order] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = select(Order).where(Order.org_id == org_id, Order.external_id.in_(chunk))
        for order in session.scalars(stmt):
            assert order.external_id is not None
            found[order.external_id] = order
    return found


# -- tracking links ------------------------------------------------------------------------


def create_tracking_link(
    session: Session, *, order: Order, ttl_s: int, base_url: str
) -> TrackingLinkOut:
    """A new link for the customer of ``order``; only its digest is stored. ``base_url``
    is the configured public address (409 when empty: never the request's Host)."""
    if not base_url:
        raise Conflict(NO_PUBLIC_BASE_URL)
    token = new_token(nbytes=24)
    link = TrackingLink(
        org_id=order.org_id,
        order_id=order.id,
        token_hash=digest(token),
        expires_at=utcnow() + dt.timedelta(seconds=ttl_s),
    )
    session.add(link)
    session.commit()
    return TrackingLinkOut(
        token=token, url=f"{base_url.rstrip('/')}/track/{token}", expires_at=link.expires_at
    )


def revoke_tracking_links(session: Session, *, order: Order) -> int:
    links = session.scalars(
        select(TrackingLink).where(
            TrackingLink.order_id == order.id, TrackingLink.revoked_at.is_(None)
        )
    ).all()
    for link in links:
        link.revoked_at = utcnow()
    session.commit()
    return len(links)


def tracking_view(session: Session, *, token: str) -> TrackingOut:
    """What the holder of a tracking link may see (404 for unknown/expired/revoked):
    their order only, the driver's position only once their stop is near
    (:mod:`.customer`)."""
    link = session.scalar(select(TrackingLink).where(TrackingLink.token_hash == digest(token)))
    if link is None or link.revoked_at is not None or link.expires_at <= utcnow():
        raise NotFound("unknown or expired tracking link")
    order = session.get(Order, link.order_id)
    org = session.get(Organisation, link.org_id)
    if order is None or org is None:
        raise NotFound("unknown or expired tracking link")
    answer_in(org.timezone)
    eta = None
    if order.status in (OrderStatus.DISPATCHED, OrderStatus.EN_ROUTE, OrderStatus.PICKED_UP):
        found = customer.customer_visit(session, order=order)
        eta = found[0].eta_at if found is not None else None
    prefix = "pickup" if order.kind == OrderKind.PICKUP else "delivery"
    windows = windows_of(getattr(order, f"{prefix}_windows"))
    zone = zoneinfo.ZoneInfo(org.timezone)

    def local(t: dt.datetime) -> dt.datetime:
        return t.astimezone(zone)

    told = promise(eta, windows, now=utcnow()) if eta is not None else None
    near = customer.approach(session, order=order)
    proof = customer.proof_summary(session, order=order)
    return TrackingOut(
        organisation=org.name,
        kind=OrderKind(order.kind),
        status=OrderStatus(order.status),
        eta_at=local(told.expected) if told is not None else None,
        expected_from=local(told.told[0]) if told is not None else None,
        expected_to=local(told.told[1]) if told is not None else None,
        running_late=told.late if told is not None else False,
        message=promise_text(told, zone) if told is not None else "",
        timezone=org.timezone,
        time_windows=[TimeWindowOut(start=local(s), end=local(e)) for s, e in windows],
        updated_at=local(order.updated_at),
        instructions=order.instructions,
        stops_before=near.stops_before if near is not None else None,
        driver=(
            TrackingDriverOut(lon=near.driver.lon, lat=near.driver.lat, at=local(near.driver.at))
            if near is not None and near.driver is not None
            else None
        ),
        destination=(
            TrackingPlaceOut(lon=near.destination[0], lat=near.destination[1])
            if near is not None and near.destination is not None
            else None
        ),
        proof=(
            TrackingProofOut(
                delivered_at=local(proof.delivered_at),
                recipient_name=proof.recipient_name,
                photo=proof.photo,
                signature=proof.signature,
            )
            if proof is not None
            else None
        ),
    )
