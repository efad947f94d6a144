"""The organisation's message templates: read, edit, restore, preview, and the wording
of a message about to be sent.

An organisation may word any customer message (kind x channel x language) its
own way; what it has not worded comes from the defaults shipped with the
package (:mod:`.wording`). Deleting its template restores the default. Each
order's customer gets messages in the order's ``language``, else the
organisation's ``customer_language`` setting, else its pages' ``language``;
English when that language has no template for the message.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.exceptions import InputError
from lastmile.operations.notify import Message, MessageFacts, NotifyEvent
from lastmile.service.db import utcnow
from lastmile.service.errors import FieldError, NotFound, Unprocessable
from lastmile.service.fleet.models import Driver
from lastmile.service.notifications import wording
from lastmile.service.notifications.models import MessageTemplate
from lastmile.service.orders.models import Order
from lastmile.service.orgs.models import Organisation
from lastmile.service.plans import models as pm


@dataclass(frozen=True, slots=True)
class TemplateView:
    """One template as the organisation sees it: its own wording or the default."""

    kind: str
    channel: str
    language: str
    subject: str
    body: str
    customised: bool
    updated_at: dt.datetime | None = None
    updated_by: str = ""


def customer_language(org: Organisation, order: Order | None = None) -> str:
    """The language an order's customer is written to in (see the module docstring)."""
    settings = org.settings or {}
    for value in (
        order.language if order is not None else None,
        settings.get("customer_language"),
        settings.get("language"),
    ):
        if isinstance(value, str) and value:
            return value
    return wording.DEFAULT_LANGUAGE


def _rows(session: Session, org_id: uuid.UUID) -> dict[tuple[str, str, str], MessageTemplate]:
    rows = session.scalars(select(MessageTemplate).where(MessageTemplate.org_id == org_id))
    return {(r.kind, r.channel, r.language): r for r in rows}


def lookup_for(session: Session, org_id: uuid.UUID) -> wording.Lookup:
    """The organisation's own templates, read once (for :func:`wording.compose`)."""
    own = {
        key: wording.TemplateText(subject=row.subject, body=row.body)
        for key, row in _rows(session, org_id).items()
    }
    return lambda kind, channel, language: own.get((kind, channel, language))


def _view(
    kind: str, channel: str, language: str, row: MessageTemplate | None
) -> TemplateView | None:
    if row is not None:
        return TemplateView(
            kind, channel, language, row.subject, row.body, True, row.updated_at, row.updated_by
        )
    default = wording.default_template(kind, channel, language)
    if default is None:
        return None
    return TemplateView(kind, channel, language, default.subject, default.body, False)


def _check_key(kind: str, channel: str) -> None:
    if kind not in wording.KINDS:
        raise InputError(f"{kind!r} is not one of {', '.join(wording.KINDS)}", where="kind")
    if channel not in {c.value for c in wording.Channel}:
        raise InputError(f"{channel!r} is not email or sms", where="channel")


def list_templates(session: Session, *, org_id: uuid.UUID) -> list[TemplateView]:
    """Every template the organisation sends with: per language (the defaults' and any
    the organisation added), kind and channel."""
    rows = _rows(session, org_id)
    languages = sorted({*wording.default_languages(), *(k[2] for k in rows)})
    views = []
    for language in languages:
        for kind in wording.KINDS:
            for channel in wording.Channel:
                view = _view(kind, channel.value, language, rows.get((kind, channel, language)))
                if view is not None:
                    views.append(view)
    return views


def get_template(
    session: Session, *, org_id: uuid.UUID, kind: str, channel: str, language: str
) -> TemplateView:
    """One template (404 when neither the organisation nor the defaults have it)."""
    _check_key(kind, channel)
    row = _rows(session, org_id).get((kind, channel, language))
    view = _view(kind, channel, language, row)
    if view is None:
        raise NotFound(
            f"no {channel} template for {kind} in {language!r} "
            f"(defaults exist in {', '.join(wording.default_languages())})"
        )
    return view


def check_template(channel: str, subject: str, body: str) -> None:
    """Refuse a template (422) with every problem, each naming its part and line."""
    errors = [FieldError(reason=p, column="body") for p in wording.check("body", body)]
    if channel == wording.Channel.EMAIL:
        found = wording.check("subject", subject)
        if not subject.strip():
            found.insert(0, "an e-mail needs a subject")
        errors = [FieldError(reason=p, column="subject") for p in found] + errors
    elif subject:
        errors.insert(
            0, FieldError(reason="an SMS has no subject: leave it empty", column="subject")
        )
    if errors:
        raise Unprocessable("the template is not valid", errors)


def put_template(
    session: Session,
    *,
    org_id: uuid.UUID,
    kind: str,
    channel: str,
    language: str,
    subject: str,
    body: str,
    by: str = "",
) -> TemplateView:
    """Store the organisation's wording (checked first: see :func:`check_template`)."""
    _check_key(kind, channel)
    check_template(channel, subject, body)
    row = _rows(session, org_id).get((kind, channel, language))
    if row is None:
        row = MessageTemplate(org_id=org_id, kind=kind, channel=channel, language=language)
        session.add(row)
    row.subject, row.body = subject, body
    row.updated_at, row.updated_by = utcnow(), by[:200]
    session.commit()
    view = _view(kind, channel, language, row)
    assert view is not None
    return view


def delete_template(
    session: Session, *, org_id: uuid.UUID, kind: str, channel: str, language: str
) -> None:
    """Drop the organisation's wording: the default is used again (404 when it had none)."""
    _check_key(kind, channel)
    row = _rows(session, org_id).get((kind, channel, language))
    if row is None:
        raise NotFound(f"the organisation has not worded the {channel} {kind} in {language!r}")
    session.delete(row)
    session.commit()


@dataclass(frozen=True, slots=True)
class PreviewOut:
    """A preview and the template it rendered (``language``: the one it is in)."""

    preview: wording.Preview
    language: str
    customised: bool


def preview(
    session: Session,
    *,
    org_id: uuid.UUID,
    kind: str,
    channel: str,
    language: str,
    subject: str | None = None,
    body: str | None = None,
    pickup: bool = False,
    late: bool = False,
) -> PreviewOut:
    """Render a template with a sample order: the one given (``body``, and ``subject``
    for e-mail), else the one the organisation sends with (English when ``language``
    has none). Refused (422) like :func:`put_template`."""
    _check_key(kind, channel)
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    customised = False
    if body is None:
        rows = _rows(session, org_id)
        template, language = wording.resolve(
            lambda k, c, lang: (
                wording.TemplateText(r.subject, r.body)
                if (r := rows.get((k, c, lang))) is not None
                else None
            ),
            kind,
            channel,
            language,
        )
        customised = (kind, channel, language) in rows
    else:
        check_template(channel, subject or "", body)
        template = wording.TemplateText(subject=subject or "", body=body)
    facts = wording.sample_facts(
        kind,
        organisation_name=org.name,
        tz=zoneinfo.ZoneInfo(org.timezone),
        pickup=pickup,
        late=late,
    )
    return PreviewOut(
        wording.preview(template, channel, facts, language=language), language, customised
    )


def _driver_first_name(session: Session, order: Order) -> str:
    name = session.scalar(
        select(Driver.name)
        .join(pm.Route, pm.Route.driver_id == Driver.id)
        .join(pm.Visit, pm.Visit.route_id == pm.Route.id)
        .where(
            pm.Visit.order_id == order.id,
            pm.Route.org_id == order.org_id,
            pm.Route.status.in_(("dispatched", "started", "completed")),
        )
        .order_by(pm.Visit.eta_at.desc())
        .limit(1)
    )
    parts = (name or "").split()
    return parts[0] if parts else ""


def compose_message(
    session: Session, *, event: NotifyEvent, order: Order, facts: MessageFacts
) -> Message:
    """The message about to be sent to ``order``'s customer, in their language,
    worded with the organisation's templates."""
    org = session.get(Organisation, order.org_id)
    assert org is not None
    return wording.compose(
        event,
        facts,
        language=customer_language(org, order),
        lookup=lookup_for(session, org.id),
        driver_first_name=_driver_first_name(session, order),
    )
