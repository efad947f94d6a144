"""Routes: webhook endpoints and their delivery log (admins), customer messages and
replies of an order (staff), and replies from customers through their tracking link.

A customer replies with ``POST /track/replies``, sending the token of their
tracking link as ``Authorization: Bearer <token>`` (the page at
``/track/{token}`` has it).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from lastmile.service.deps import (
    AdminUser,
    CredentialsDep,
    SessionDep,
    SettingsDep,
    StaffUser,
    client_address,
    get_principal,
)
from lastmile.service.errors import Forbidden, NotAuthenticated, NotFound
from lastmile.service.notifications import service
from lastmile.service.notifications.runtime import Notifier, lifespan
from lastmile.service.notifications.schemas import (
    NotificationOut,
    ReplyIn,
    ReplyOut,
    WebhookCreated,
    WebhookDeliveryOut,
    WebhookIn,
    WebhookOut,
)
from lastmile.service.orders.models import Order
from lastmile.service.orders.service import get_order
from lastmile.service.ratelimit import RateLimiter
from lastmile.service.security import API_KEY_PREFIX, SESSION_PREFIX

router = APIRouter(tags=["notifications"], lifespan=lifespan)


def order_dep(order_id: uuid.UUID, user: StaffUser, session: SessionDep) -> Order:
    return get_order(session, org_id=user.org_id, order_id=order_id)


OrderDep = Annotated[Order, Depends(order_dep)]


# -- webhooks ---------------------------------------------------------------------------------


@router.post("/webhooks", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED)
def create_webhook(
    body: WebhookIn, user: AdminUser, session: SessionDep, request: Request
) -> WebhookCreated:
    """Send the organisation's events to ``url``, signed with the secret answered here
    (only here). Known event types: see ``GET /webhooks/event-types``. The URL must
    reach a public address (422 naming ``url`` otherwise; the operator's
    ``LASTMILE_WEBHOOK_ALLOW`` permits internal receivers)."""
    notifier: Notifier = request.app.state.notifier
    endpoint = service.create_endpoint(
        session,
        org_id=user.org_id,
        url=str(body.url),
        events=body.events,
        description=body.description,
        allow=notifier.settings.allow(),
        resolve=notifier.senders.resolve,
    )
    return WebhookCreated(
        **WebhookOut.model_validate(endpoint).model_dump(), secret=endpoint.secret
    )


@router.get("/webhooks", response_model=list[WebhookOut])
def list_webhooks(user: AdminUser, session: SessionDep) -> list[WebhookOut]:
    """The organisation's webhook endpoints."""
    rows = service.list_endpoints(session, org_id=user.org_id)
    return [WebhookOut.model_validate(r) for r in rows]


@router.get("/webhooks/event-types", response_model=list[str])
def event_types(user: AdminUser) -> list[str]:
    """Every event type a webhook can receive."""
    del user
    return service.event_types()


@router.delete("/webhooks", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(
    user: AdminUser,
    session: SessionDep,
    endpoint_id: Annotated[uuid.UUID, Query(description="The endpoint to remove.")],
) -> None:
    """Remove an endpoint; its pending deliveries are dropped."""
    service.delete_endpoint(session, org_id=user.org_id, endpoint_id=endpoint_id)


@router.get("/webhooks/deliveries", response_model=list[WebhookDeliveryOut])
def list_deliveries(
    user: AdminUser,
    session: SessionDep,
    endpoint_id: Annotated[uuid.UUID | None, Query(description="Only this endpoint's.")] = None,
    delivery_status: Annotated[
        str | None, Query(alias="status", description="pending, delivered or failed.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most recent first, this many.")] = 100,
) -> list[WebhookDeliveryOut]:
    """The delivery log: one row per event and endpoint, with its attempts."""
    rows = service.list_deliveries(
        session, org_id=user.org_id, endpoint_id=endpoint_id, status=delivery_status, limit=limit
    )
    return [WebhookDeliveryOut.model_validate(r) for r in rows]


# -- an order's messages and replies ---------------------------------------------------------


@router.get("/orders/{order_id}/notifications", response_model=list[NotificationOut])
def order_notifications(order: OrderDep, session: SessionDep) -> list[NotificationOut]:
    """The messages sent (or queued) to the order's customer, oldest first."""
    rows = service.order_notifications(session, order=order)
    return [NotificationOut.model_validate(r) for r in rows]


@router.get("/orders/{order_id}/replies", response_model=list[ReplyOut])
def order_replies(order: OrderDep, session: SessionDep) -> list[ReplyOut]:
    """What the order's customer replied through their tracking link, oldest first."""
    rows = service.order_replies(session, order=order)
    return [ReplyOut.model_validate(r) for r in rows]


# -- customers --------------------------------------------------------------------------------


def customer_order(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    credentials: CredentialsDep,
) -> Order:
    """The order whose tracking link token is the bearer token (401 otherwise; 403 for
    staff and driver credentials: customers only)."""
    limiter: RateLimiter = request.app.state.tracking_limiter
    limiter.hit(f"track:{client_address(request, settings)}", what="tracking requests")
    if credentials is None or not credentials.credentials:
        raise NotAuthenticated("send your tracking link's token: Authorization: Bearer <token>")
    token = credentials.credentials
    if token.startswith((SESSION_PREFIX, API_KEY_PREFIX)):
        get_principal(session, credentials)
        raise Forbidden("replies come from customers, with their tracking link's token")
    try:
        return service.order_of_link(session, token=token)
    except NotFound:
        raise NotAuthenticated("unknown or expired tracking link") from None


@router.post("/track/replies", response_model=ReplyOut, status_code=status.HTTP_201_CREATED)
def customer_reply(
    body: ReplyIn,
    order: Annotated[Order, Depends(customer_order)],
    session: SessionDep,
) -> ReplyOut:
    """A customer's instructions, new window or "leave with neighbour", checked and stored
    on the order (a new window replaces the order's windows while it may still change)."""
    window = (
        (body.window_start, body.window_end)
        if body.window_start is not None and body.window_end is not None
        else None
    )
    reply = service.record_reply(
        session,
        order=order,
        kind=body.kind,
        text=body.text,
        window=window,
        neighbour_name=body.neighbour_name,
        neighbour_address=body.neighbour_address,
    )
    return ReplyOut.model_validate(reply)
