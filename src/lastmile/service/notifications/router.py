"""Routes: webhook endpoints and their delivery log (admins), customer messages and
replies of an order (staff), and replies from customers through their tracking link.

Message templates (``/message-templates``): staff read and preview them, admins
word them their own way or restore the default.

A customer replies with ``POST /track/replies``, sending the token of their
tracking link as ``Authorization: Bearer <token>`` (the page at
``/track/{token}`` has it), or answers a text or e-mail: the SMS gateway posts
the answer to ``/sms/inbound/{secret}``, an inbound-mail service to
``/email/inbound/{secret}``, with the organisation's inbound secret
(``POST /messaging/inbound-secret``). The gateway posts delivery statuses to
``/sms/status/{secret}`` with the operator's ``LASTMILE_SMS_CALLBACK_SECRET``.
These three are called by machines, not users: the secret in the address is
their credential (a wrong one answers 401).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status

from lastmile.exceptions import InputError
from lastmile.operations.notify import NotifyEvent
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
from lastmile.service.notifications import inbound, message_templates, messages, service, wording
from lastmile.service.notifications.gateways import read_fields
from lastmile.service.notifications.runtime import Notifier, lifespan
from lastmile.service.notifications.schemas import (
    InboundAnswer,
    InboundSecretOut,
    MessageOut,
    NotificationOut,
    PreviewIn,
    PreviewOut,
    ReplyIn,
    ReplyOut,
    SmsLengthOut,
    StatusCallbackAnswer,
    TemplateIn,
    TemplateOut,
    VariableOut,
    WebhookCreated,
    WebhookDeliveryOut,
    WebhookIn,
    WebhookOut,
)
from lastmile.service.orders.models import Order
from lastmile.service.orders.service import get_order
from lastmile.service.ratelimit import RateLimiter
from lastmile.service.schemas import LanguageCode
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


@router.get("/orders/{order_id}/messages", response_model=list[MessageOut])
def order_messages(order: OrderDep, session: SessionDep) -> list[MessageOut]:
    """The order's message history, oldest first: every text and answer e-mail sent
    (with the gateway's status and id) and every answer the customer sent back (with
    what it did)."""
    rows = [messages.message_view(m) for m in service.order_outbound(session, order=order)]
    rows += [inbound.inbound_view(m) for m in service.order_inbound(session, order=order)]
    rows.sort(key=lambda r: r["at"])
    return [MessageOut.model_validate(r) for r in rows]


# -- gateways and inbound messages ------------------------------------------------------------


@router.post(
    "/messaging/inbound-secret",
    response_model=InboundSecretOut,
    status_code=status.HTTP_201_CREATED,
)
def create_inbound_secret(user: AdminUser, session: SessionDep) -> InboundSecretOut:
    """A new inbound secret for the organisation (the old one stops working), answered
    only here, with the addresses that carry it: give the SMS gateway
    ``/sms/inbound/<secret>`` for customers' texts and the inbound-mail service
    ``/email/inbound/<secret>``."""
    secret = inbound.create_inbound_secret(session, org_id=user.org_id)
    return InboundSecretOut(
        secret=secret,
        sms_inbound_path=f"/sms/inbound/{secret}",
        email_inbound_path=f"/email/inbound/{secret}",
    )


def _org_of_secret(session: SessionDep, secret: str) -> uuid.UUID:
    org_id = inbound.org_of_secret(session, secret)
    if org_id is None:
        raise NotAuthenticated("unknown inbound secret")
    return org_id


async def _raw_body(request: Request) -> bytes:
    return await request.body()


BodyDep = Annotated[bytes, Depends(_raw_body)]


def _fields(body: bytes, content_type: str, where: str) -> Any:
    try:
        return read_fields(body, content_type)
    except ValueError as exc:
        raise InputError(str(exc), where=where) from None


@router.post("/sms/status/{secret}", response_model=StatusCallbackAnswer)
def sms_status(
    secret: str, request: Request, session: SessionDep, body: BodyDep
) -> StatusCallbackAnswer:
    """Delivery statuses from the SMS gateway (JSON or form; one status or a list),
    read with the ``LASTMILE_SMS_STATUS_*`` paths. The address carries the operator's
    ``LASTMILE_SMS_CALLBACK_SECRET``; with ``LASTMILE_SMS_CALLBACK_HMAC_HEADER`` set,
    that header must also carry the body's HMAC-SHA256 (hex) under the secret."""
    notifier: Notifier = request.app.state.notifier
    settings = notifier.settings
    expected = settings.sms_callback_secret
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise NotAuthenticated("unknown status callback secret")
    if settings.sms_callback_hmac_header:
        given = request.headers.get(settings.sms_callback_hmac_header, "").strip().lower()
        mac = hmac.new(expected.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.removeprefix("sha256="), mac):
            raise NotAuthenticated("the status callback's signature does not match")
    gateway = notifier.senders.sms
    if gateway is None:
        raise NotFound("no SMS gateway is configured")
    try:
        updates = gateway.parse_status(body, request.headers.get("content-type", ""))
    except ValueError as exc:
        raise InputError(str(exc), where="body") from None
    matched, unmatched = messages.record_statuses(session, updates, gateway=gateway.name)
    return StatusCallbackAnswer(matched=matched, unmatched=unmatched)


@router.post("/sms/inbound/{secret}", response_model=InboundAnswer)
def sms_inbound(secret: str, request: Request, session: SessionDep, body: BodyDep) -> InboundAnswer:
    """A customer's text, posted by the SMS gateway (JSON or form, read with the
    ``LASTMILE_SMS_INBOUND_*`` paths): "1" keeps the delivery, "2" asks for another
    window (answered with numbered windows to choose from and a link), "2 N" (or "N"
    within 24 hours of that answer) takes window N as the tracking page's form does,
    anything else is instructions. A sender that matches no order of the
    organisation is logged and ignored (200)."""
    org_id = _org_of_secret(session, secret)
    notifier: Notifier = request.app.state.notifier
    gateway = notifier.senders.sms
    if gateway is None:
        raise NotFound("no SMS gateway is configured")
    try:
        sms = gateway.parse_inbound(body, request.headers.get("content-type", ""))
    except ValueError as exc:
        raise InputError(str(exc), where="body") from None
    if sms is None:
        raise InputError("the post names no sender and text", where="body")
    outcome = inbound.handle_answer(
        session,
        org_id=org_id,
        channel="sms",
        sender=sms.sender[:64],
        text=sms.text[:2000],
        senders=notifier.senders,
    )
    return InboundAnswer(outcome=outcome.outcome)


def _text_field(data: dict[str, Any], *names: str) -> str:
    for name in names:
        value = data.get(name)
        if isinstance(value, str):
            return value
    return ""


@router.post("/email/inbound/{secret}", response_model=InboundAnswer)
def email_inbound(
    secret: str, request: Request, session: SessionDep, body: BodyDep
) -> InboundAnswer:
    """A customer's e-mail, parsed by an inbound-mail service: JSON or form with
    ``from`` (or ``sender``), ``subject`` and ``text`` (or ``body-plain``). The quoted
    message below the answer is left out; then as ``/sms/inbound``."""
    org_id = _org_of_secret(session, secret)
    notifier: Notifier = request.app.state.notifier
    data = _fields(body, request.headers.get("content-type", ""), "body")
    if not isinstance(data, dict):
        raise InputError("send one message as an object", where="body")
    sender = _text_field(data, "from", "sender")
    if not sender.strip():
        raise InputError("give the sender's address", where="from")
    outcome = inbound.handle_answer(
        session,
        org_id=org_id,
        channel="email",
        sender=sender[:320],
        subject=_text_field(data, "subject")[:300],
        text=_text_field(data, "text", "body-plain", "stripped-text")[:10_000],
        senders=notifier.senders,
    )
    return InboundAnswer(outcome=outcome.outcome)


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


# -- message templates ----------------------------------------------------------------------

_TEMPLATE = "/message-templates/{kind}/{channel}/{language}"
LanguagePath = Annotated[LanguageCode, Path(description="Language code: en, fi, ...")]


def _template_out(view: message_templates.TemplateView) -> TemplateOut:
    return TemplateOut.model_validate(view, from_attributes=True)


@router.get("/message-templates", response_model=list[TemplateOut])
def list_message_templates(user: StaffUser, session: SessionDep) -> list[TemplateOut]:
    """Every customer message template the organisation sends with, per language,
    kind and channel: its own wording where it has one, the default otherwise."""
    views = message_templates.list_templates(session, org_id=user.org_id)
    return [_template_out(v) for v in views]


@router.get("/message-templates/variables", response_model=list[VariableOut])
def template_variables(user: StaffUser) -> list[VariableOut]:
    """The variables a message template may use."""
    del user
    return [VariableOut(name=k, description=v) for k, v in wording.VARIABLES.items()]


@router.post("/message-templates/preview", response_model=PreviewOut)
def preview_message_template(body: PreviewIn, user: StaffUser, session: SessionDep) -> PreviewOut:
    """Render a template with a sample order (the one given, else the one in use),
    with its SMS length in segments. A template that would be refused is 422,
    naming the part (subject, body), the line and the problem."""
    out = message_templates.preview(
        session,
        org_id=user.org_id,
        kind=body.kind.value,
        channel=body.channel.value,
        language=body.language,
        subject=body.subject,
        body=body.body,
        pickup=body.pickup,
        late=body.late,
    )
    sms = out.preview.sms
    return PreviewOut(
        language=out.language,
        customised=out.customised,
        subject=out.preview.subject,
        text=out.preview.text,
        sms=None
        if sms is None
        else SmsLengthOut(
            encoding=sms.encoding,
            characters=sms.characters,
            units=sms.units,
            segments=sms.segments,
            per_segment=sms.per_segment,
            remaining=sms.remaining,
            non_gsm=list(sms.non_gsm),
        ),
    )


@router.get(_TEMPLATE, response_model=TemplateOut)
def read_message_template(
    kind: NotifyEvent,
    channel: wording.Channel,
    language: LanguagePath,
    user: StaffUser,
    session: SessionDep,
) -> TemplateOut:
    """One template: the organisation's wording, else the default (404 when the
    language has neither)."""
    view = message_templates.get_template(
        session, org_id=user.org_id, kind=kind.value, channel=channel.value, language=language
    )
    return _template_out(view)


@router.put(_TEMPLATE, response_model=TemplateOut)
def write_message_template(
    kind: NotifyEvent,
    channel: wording.Channel,
    language: LanguagePath,
    body: TemplateIn,
    user: AdminUser,
    session: SessionDep,
) -> TemplateOut:
    """Word a message the organisation's way (admin); it replaces the default for this
    kind, channel and language. Refused with 422 naming the part, line and problem:
    a syntax error, an unknown variable, or what the sandbox does not allow."""
    who = f"user:{user.user_id}" if user.user_id else f"api-key:{user.api_key_id}"
    view = message_templates.put_template(
        session,
        org_id=user.org_id,
        kind=kind.value,
        channel=channel.value,
        language=language,
        subject=body.subject,
        body=body.body,
        by=who,
    )
    return _template_out(view)


@router.delete(_TEMPLATE, status_code=status.HTTP_204_NO_CONTENT)
def delete_message_template(
    kind: NotifyEvent,
    channel: wording.Channel,
    language: LanguagePath,
    user: AdminUser,
    session: SessionDep,
) -> None:
    """Drop the organisation's wording (admin): the default is sent again (404 when
    it has none of its own)."""
    message_templates.delete_template(
        session, org_id=user.org_id, kind=kind.value, channel=channel.value, language=language
    )
