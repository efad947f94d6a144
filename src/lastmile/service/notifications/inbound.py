"""Customers answering a message: by SMS (the gateway's inbound callback, or an SMPP
bind) or by e-mail (an inbound-mail service posting the parsed message).

An answer is matched to an order of the organisation whose inbound URL received
it: an SMS by its sender's number against the texts sent (the order of the
latest text to that number; failing that, the latest open order with that
phone), an e-mail by its sender's address against the orders' customer e-mail
(the order named in the subject, else the one last told something). It does
what the tracking page's forms do, through the same service functions
(:func:`.service.record_reply`):

* ``1``: keep the delivery as it is (stored as a ``keep`` reply);
* ``2``: the customer wants another window: they are answered, on the channel
  they used, with the windows they may choose from, numbered from 3
  (:func:`window_offer`: the hours of the order's window on the next days the
  tracking page accepts) and a new link to their tracking page for any other
  time (stored as a ``new_window_asked`` reply, for the dispatcher too; the
  windows offered are kept on the inbound message);
* ``2 N`` (``2 4``, ``2,4``), or ``N`` alone within :data:`OFFER_VALID` of the
  offer: the window numbered ``N``, taken as the tracking page's form takes a
  window (:func:`.service.record_reply`, same checks, same reply and event);
  the customer is told the new time, or why nothing changed (a number not
  offered, a window no longer open);
* anything else: delivery instructions, added to the order's instructions.

Every answer is kept on the order (:class:`InboundMessage`, with what it did),
and each reply is published as an ``order.customer_reply`` event. A sender that
matches no order changes nothing: the answer is logged and kept on the
organisation (``outcome`` ``unmatched``), and the gateway is told all is well
(so it does not post it again). The organisation's inbound URLs carry its
inbound secret (:func:`create_inbound_secret`; only its digest is stored).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import re
import uuid
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lastmile.domain import OrderKind
from lastmile.exceptions import InputError
from lastmile.operations import OrderStatus
from lastmile.service.db import utcnow
from lastmile.service.notifications import wording
from lastmile.service.notifications.delivery import Senders, tracking_url
from lastmile.service.notifications.message_templates import customer_language
from lastmile.service.notifications.models import (
    CustomerNotification,
    CustomerReply,
    InboundMessage,
    InboundSecret,
    OutboundMessage,
)
from lastmile.service.notifications.outbox import emit
from lastmile.service.notifications.queue import phone_key, queue_email, queue_sms
from lastmile.service.notifications.service import record_reply
from lastmile.service.orders.models import Order
from lastmile.service.orders.service import windows_of
from lastmile.service.orgs.models import Organisation
from lastmile.service.security import digest, new_token

logger = logging.getLogger("lastmile.sms")

INBOUND_PREFIX = "lmi_"
_OPEN = tuple(s.value for s in OrderStatus if not s.is_final)
#: Where a reply e-mail's quoted original starts.
_QUOTE_START = re.compile(
    r"^(>|On .+wrote:\s*$|Le .+a écrit\s*:\s*$|-{2,}\s*Original Message|From:\s)",
    re.IGNORECASE,
)
#: How many windows an answer to "2" offers, how long the customer may choose one of
#: them by its number alone, and the number of the first ("1" and "2" keep their
#: meaning).
OFFER_SIZE = 5
OFFER_VALID = dt.timedelta(hours=24)
FIRST_CHOICE = 3
#: The hours offered for an order without a window (local time).
DEFAULT_HOURS = (dt.time(9), dt.time(17))
#: How far ahead the tracking page lets a customer choose (its date field: today and
#: the 13 days after).
_PAGE_DAYS = 14
Window = tuple[dt.datetime, dt.datetime]


# -- the organisation's inbound secret -----------------------------------------------------------


def create_inbound_secret(session: Session, *, org_id: uuid.UUID) -> str:
    """A new inbound secret for the organisation (the old one stops working). Committed."""
    secret = new_token(INBOUND_PREFIX)
    session.execute(delete(InboundSecret).where(InboundSecret.org_id == org_id))
    session.add(InboundSecret(org_id=org_id, secret_hash=digest(secret)))
    session.commit()
    return secret


def inbound_secret_created(session: Session, *, org_id: uuid.UUID) -> InboundSecret | None:
    return session.scalars(select(InboundSecret).where(InboundSecret.org_id == org_id)).first()


def org_of_secret(session: Session, secret: str) -> uuid.UUID | None:
    """The organisation whose inbound secret ``secret`` is (``None``: none's)."""
    if not secret.startswith(INBOUND_PREFIX):
        return None
    return session.scalar(
        select(InboundSecret.org_id).where(InboundSecret.secret_hash == digest(secret))
    )


# -- matching --------------------------------------------------------------------------------------


def order_for_phone(session: Session, *, org_id: uuid.UUID | None, sender: str) -> Order | None:
    """The order an SMS from ``sender`` answers: the order of the latest text sent to
    that number (in the organisation; in any, for ``org_id`` ``None``: a shared SMPP
    bind, where the customer answers the last text they got), else the organisation's
    latest open order with that phone."""
    key = phone_key(sender)
    if not key:
        return None
    stmt = select(OutboundMessage.order_id).where(
        OutboundMessage.channel == "sms",
        OutboundMessage.phone_key == key,
        OutboundMessage.order_id.is_not(None),
    )
    if org_id is not None:
        stmt = stmt.where(OutboundMessage.org_id == org_id)
    order_id = session.scalar(stmt.order_by(OutboundMessage.created_at.desc()).limit(1))
    if order_id is not None:
        return session.get(Order, order_id)
    if org_id is None:
        return None
    candidates = session.scalars(
        select(Order)
        .where(Order.org_id == org_id, Order.customer_phone != "", Order.status.in_(_OPEN))
        .order_by(Order.created_at.desc())
    )
    return next((o for o in candidates if phone_key(o.customer_phone) == key), None)


def order_for_email(
    session: Session, *, org_id: uuid.UUID, sender: str, subject: str
) -> Order | None:
    """The order an e-mail from ``sender`` answers: the one whose reference the subject
    names, else the one its customer was last told something about, else the latest."""
    address = email.utils.parseaddr(sender)[1].strip().casefold()
    if "@" not in address:
        return None
    orders = list(
        session.scalars(
            select(Order)
            .where(Order.org_id == org_id, func.lower(Order.customer_email) == address)
            .order_by(Order.created_at.desc())
        )
    )
    if not orders:
        return None
    named = [o for o in orders if o.external_id and o.external_id in subject]
    if named:
        return max(named, key=lambda o: len(o.external_id or ""))
    told = session.scalar(
        select(CustomerNotification.order_id)
        .where(
            CustomerNotification.order_id.in_([o.id for o in orders]),
            CustomerNotification.sent_at.is_not(None),
        )
        .order_by(CustomerNotification.sent_at.desc())
        .limit(1)
    )
    return next((o for o in orders if o.id == told), orders[0])


# -- what the answer says ------------------------------------------------------------------------


def answer_text(text: str) -> str:
    """What the customer wrote, without the quoted message below it (e-mail replies)."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if _QUOTE_START.match(line.strip()):
            break
        lines.append(line)
    return "\n".join(lines).strip()


def intent(text: str) -> str:
    """``keep`` ("1"), ``new_window`` ("2"), ``choice`` ("2 4": the window numbered 4
    of those offered) or ``instructions`` (anything else; a number alone is a choice
    only while an offer is open, see :func:`handle_answer`)."""
    if re.fullmatch(r"\s*2\s*[\s,.:;/-]\s*\d{1,3}\s*[.)!]?\s*", text):
        return "choice"
    choice = re.fullmatch(r"\s*([12])\s*[.)!]?\s*", text)
    if choice is None:
        return "instructions"
    return "keep" if choice.group(1) == "1" else "new_window"


def chosen_number(text: str) -> int | None:
    """The number a choice names: ``4`` in "2 4" or in "4" (None: no number)."""
    found = re.fullmatch(r"\s*(?:2\s*[\s,.:;/-]\s*)?(\d{1,3})\s*[.)!]?\s*", text)
    return int(found.group(1)) if found is not None else None


def window_offer(order: Order, *, zone: dt.tzinfo, now: dt.datetime) -> list[Window]:
    """The windows an answer to "2" offers (at most :data:`OFFER_SIZE`): the local
    hours of the order's window (:data:`DEFAULT_HOURS` when it has none, or one
    spanning days) on each day the tracking page lets the customer choose (today
    and the 13 days after), those the page's form would refuse (starting before
    ``now``, ending more than 14 days ahead) and the order's own windows left out."""
    pickup = order.kind == OrderKind.PICKUP.value
    current = windows_of(order.pickup_windows if pickup else order.delivery_windows)
    hours = DEFAULT_HOURS
    if current:
        start, end = (t.astimezone(zone) for t in current[0])
        if start.date() == end.date() and end - start >= dt.timedelta(minutes=30):
            hours = (start.time().replace(tzinfo=None), end.time().replace(tzinfo=None))
    today = now.astimezone(zone).date()
    offered: list[Window] = []
    for k in range(_PAGE_DAYS):
        day = today + dt.timedelta(days=k)
        start = dt.datetime.combine(day, hours[0], zone)
        end = dt.datetime.combine(day, hours[1], zone)
        if start < now or end > now + dt.timedelta(days=_PAGE_DAYS) or (start, end) in current:
            continue
        offered.append((start, end))
        if len(offered) == OFFER_SIZE:
            break
    return offered


def _offer_json(windows: list[Window]) -> list[dict[str, str]]:
    return [
        {"start": s.astimezone(dt.UTC).isoformat(), "end": e.astimezone(dt.UTC).isoformat()}
        for s, e in windows
    ]


def open_offer(session: Session, *, order: Order, now: dt.datetime) -> list[Window] | None:
    """The windows last offered to the order's customer, while they may still be
    chosen by number (:data:`OFFER_VALID`); None: no offer open."""
    rows = session.scalars(
        select(InboundMessage)
        .where(
            InboundMessage.order_id == order.id,
            InboundMessage.created_at >= now - OFFER_VALID,
        )
        .order_by(InboundMessage.created_at.desc())
    )
    for row in rows:
        if row.offered_windows:
            return windows_of(row.offered_windows)
    return None


class _Words:
    """The answers' wording in the customer's language (``[replies]`` of the
    language's defaults; English for a language without them)."""

    def __init__(self, language: str) -> None:
        table = wording.default_table("replies", language)
        self.language = language if table is not None else wording.DEFAULT_LANGUAGE
        self.t: Mapping[str, Any] = table or wording.default_table("replies", "en") or {}
        self.words = wording.Words(self.language)

    def __call__(self, key: str, **values: object) -> str:
        return str(self.t[key]).format(**values)

    def hours(self, window: Window, zone: dt.tzinfo) -> str:
        start, end = (t.astimezone(zone) for t in window)
        return f"{self.words.time(start)}-{self.words.time(end)}"

    def choice(self, number: int, window: Window, zone: dt.tzinfo) -> str:
        start = window[0].astimezone(zone)
        return self(
            "choice",
            number=number,
            weekday=self.t["weekdays_short"][start.weekday()],
            date=self.words.date_short(start.date()),
        )


def new_window_answer(
    *, sender: str, reference: str, url: str, offer: list[Window], zone: dt.tzinfo, language: str
) -> tuple[str, str]:
    """(subject, text) answering a customer who asked for another window: the windows
    ``offer`` numbered from :data:`FIRST_CHOICE` and the link ``url`` for any other
    time (only the link when nothing can be offered)."""
    w = _Words(language)
    who = f"{sender}: " if sender else ""
    subject = w("offer_subject", reference=reference)
    if not offer:
        where = w("link_only_url", url=url) if url else w("link_only_none")
        return subject, w("link_only", sender=who, reference=reference, where=where)
    choices = ", ".join(w.choice(FIRST_CHOICE + i, win, zone) for i, win in enumerate(offer))
    text = w(
        "offer",
        sender=who,
        reference=reference,
        hours=w.hours(offer[0], zone),
        choices=choices,
        link=w("offer_link", url=url) if url else "",
    )
    return subject, text


@dataclass(frozen=True)
class Outcome:
    outcome: str
    order_id: uuid.UUID | None = None
    note: str = ""


def _keep(session: Session, order: Order, text: str) -> CustomerReply:
    status = OrderStatus(order.status)
    if status.is_final:
        raise InputError(f"the order is {status.value}: replies are closed", where="kind")
    reply = CustomerReply(org_id=order.org_id, order_id=order.id, kind="keep", text=text)
    reply.applied = True
    session.add(reply)
    return reply


def _asked(session: Session, order: Order, text: str) -> CustomerReply:
    status = OrderStatus(order.status)
    if status.is_final:
        raise InputError(f"the order is {status.value}: replies are closed", where="kind")
    reply = CustomerReply(
        org_id=order.org_id,
        order_id=order.id,
        kind="new_window_asked",
        text=text,
        applied=False,
        note="the customer asked for another window; they were sent windows to choose from "
        "and a link to choose another",
    )
    session.add(reply)
    return reply


def handle_answer(
    session: Session,
    *,
    org_id: uuid.UUID | None,
    channel: str,
    sender: str,
    text: str,
    subject: str = "",
    senders: Senders,
    now: dt.datetime | None = None,
) -> Outcome:
    """Match an answer to its order and do what it says (committed); see the module."""
    now = now or utcnow()
    text = text.strip()
    if channel == "email":
        assert org_id is not None
        order = order_for_email(session, org_id=org_id, sender=sender, subject=subject)
        said = answer_text(text)
    else:
        order = order_for_phone(session, org_id=org_id, sender=sender)
        said = text
    if order is None:
        logger.info("%s answer from %s matches no order: ignored", channel, sender)
        if org_id is not None:
            session.add(
                InboundMessage(
                    org_id=org_id,
                    channel=channel,
                    sender=sender[:320],
                    subject=subject[:300],
                    text=text,
                    outcome="unmatched",
                    note="the sender matches no order",
                )
            )
            session.commit()
        return Outcome("unmatched")
    kind = intent(said)
    number = chosen_number(said)
    offer = open_offer(session, order=order, now=now) if number is not None else None
    if kind == "instructions" and number is not None and number >= FIRST_CHOICE and offer:
        kind = "choice"  # a number alone answers the windows offered
    inbound = InboundMessage(
        org_id=order.org_id,
        order_id=order.id,
        channel=channel,
        sender=sender[:320],
        subject=subject[:300],
        text=text,
        outcome=kind,
        note="",
    )
    answer = _Answer(session, order=order, channel=channel, to=sender, senders=senders, now=now)
    try:
        if kind == "choice":
            assert number is not None
            if offer:
                return _choose(session, inbound, answer, number=number, offer=offer)
            # No list open (none sent, or too old): the windows are offered again.
            kind = inbound.outcome = "new_window"
            inbound.note = "no windows were open to choose from: they were offered again; "
        if kind == "instructions":
            if not said:
                raise InputError("the answer is empty", where="text")
            # record_reply commits: the inbound row goes in the same transaction.
            session.add(inbound)
            reply = record_reply(session, order=order, kind="instructions", text=said)
            inbound.reply_id = reply.id
            session.commit()
            logger.info("%s answer from %s: instructions for order %s", channel, sender, order.id)
            return Outcome(kind, order.id)
        reply = _keep(session, order, said) if kind == "keep" else _asked(session, order, said)
        session.flush()
        inbound.reply_id = reply.id
        if kind == "new_window":
            offered = answer.offer()
            inbound.offered_windows = _offer_json(offered) if offered else None
            inbound.note += (
                f"answered with {len(offered)} windows to choose from and a link to choose "
                "another time"
                if offered
                else "answered with a link to choose another window"
            )
        emit(
            session,
            org_id=order.org_id,
            event_type="order.customer_reply",
            data={
                "order_id": str(order.id),
                "external_id": order.external_id,
                "kind": reply.kind,
                "applied": reply.applied,
                "channel": channel,
            },
        )
        session.add(inbound)
        session.commit()
    except InputError as exc:
        return _refused(session, inbound, exc)
    logger.info("%s answer from %s: %s for order %s", channel, sender, kind, order.id)
    return Outcome(kind, order.id, inbound.note)


def _refused(
    session: Session,
    inbound: InboundMessage,
    exc: InputError,
    tell: Callable[[], None] | None = None,
) -> Outcome:
    """Nothing changed: the answer is kept as ``refused`` with why (and the customer
    told, by ``tell``)."""
    session.rollback()
    refused = InboundMessage(
        org_id=inbound.org_id,
        order_id=inbound.order_id,
        channel=inbound.channel,
        sender=inbound.sender,
        subject=inbound.subject,
        text=inbound.text,
        outcome="refused",
        note=str(exc),
    )
    session.add(refused)
    if tell is not None:
        tell()
    session.commit()
    logger.info(
        "%s answer from %s for order %s refused: %s",
        inbound.channel,
        inbound.sender,
        inbound.order_id,
        exc,
    )
    return Outcome("refused", inbound.order_id, str(exc))


def _choose(
    session: Session,
    inbound: InboundMessage,
    answer: _Answer,
    *,
    number: int,
    offer: list[Window],
) -> Outcome:
    """The customer chose the window ``number`` of ``offer``: taken as the tracking
    page's form takes a window, or refused (nothing changed) with the reason told."""
    order = answer.order
    last = FIRST_CHOICE + len(offer) - 1
    if not FIRST_CHOICE <= number <= last:
        exc = InputError(
            f"{number} is not one of the windows offered ({FIRST_CHOICE}-{last})",
            where="text",
        )
        return _refused(session, inbound, exc, lambda: answer.invalid(number, last))
    window = offer[number - FIRST_CHOICE]
    try:
        # The tracking page's form: the same checks, reply and event; it commits, so
        # the inbound row goes in the same transaction.
        inbound.outcome = "window_chosen"
        session.add(inbound)
        reply = record_reply(session, order=order, kind="new_window", window=window, now=answer.now)
    except InputError as exc:
        reason = str(exc).removeprefix(f"{exc.where}: ")
        return _refused(session, inbound, exc, lambda: answer.refused(reason))
    inbound.reply_id = reply.id
    inbound.note = f"window {number} chosen: {window[0].isoformat()} - {window[1].isoformat()}" + (
        "" if reply.applied else f"; {reply.note}"
    )
    answer.moved(window, applied=reply.applied)
    session.commit()
    logger.info(
        "%s answer from %s: window %d chosen for order %s",
        inbound.channel,
        answer.to,
        number,
        order.id,
    )
    return Outcome("window_chosen", order.id, inbound.note)


class _Answer:
    """What the customer is answered, on the channel they used, in their language."""

    def __init__(
        self,
        session: Session,
        *,
        order: Order,
        channel: str,
        to: str,
        senders: Senders,
        now: dt.datetime,
    ) -> None:
        self.session, self.order, self.channel, self.to = session, order, channel, to
        self.senders, self.now = senders, now
        org = session.get(Organisation, order.org_id)
        self.sender = org.name if org is not None else ""
        self.zone = zoneinfo.ZoneInfo(org.timezone if org is not None else "UTC")
        self.language = customer_language(org, order) if org is not None else "en"
        self.reference = order.external_id or str(order.id)[:8]

    @property
    def _who(self) -> str:
        return f"{self.sender}: " if self.sender else ""

    def _link(self, words: _Words) -> str:
        url = tracking_url(self.session, self.order, self.senders)
        return words("offer_link", url=url) if url else ""

    def offer(self) -> list[Window]:
        """Answer "2": the windows offered (returned) and a link for any other time."""
        offered = window_offer(self.order, zone=self.zone, now=self.now)
        subject, text = new_window_answer(
            sender=self.sender,
            reference=self.reference,
            url=tracking_url(self.session, self.order, self.senders),
            offer=offered,
            zone=self.zone,
            language=self.language,
        )
        self.send(subject, text)
        return offered

    def moved(self, window: Window, *, applied: bool) -> None:
        w = _Words(self.language)
        when = w.words.short(window, self.zone)
        text = w(
            "moved" if applied else "pending",
            sender=self._who,
            reference=self.reference,
            window=when,
        )
        self.send(w("moved_subject", reference=self.reference), text)

    def invalid(self, number: int, last: int) -> None:
        """``number`` is not one of the windows offered (``FIRST_CHOICE``-``last``)."""
        w = _Words(self.language)
        text = w(
            "invalid",
            sender=self._who,
            number=number,
            reference=self.reference,
            first=FIRST_CHOICE,
            last=last,
            link=self._link(w),
        )
        self.send(w("invalid_subject", reference=self.reference), text)

    def refused(self, reason: str) -> None:
        """The window chosen could not be taken (``reason``: the form's check)."""
        w = _Words(self.language)
        text = w(
            "refused",
            sender=self._who,
            reference=self.reference,
            reason=reason,
            link=self._link(w),
        )
        self.send(w("invalid_subject", reference=self.reference), text)

    def send(self, subject: str, text: str) -> None:
        order = self.order
        if self.channel == "email":
            address = email.utils.parseaddr(self.to)[1] or self.to
            queue_email(
                self.session,
                org_id=order.org_id,
                order_id=order.id,
                to=address,
                subject=subject,
                text=text,
            )
        else:
            queue_sms(
                self.session,
                org_id=order.org_id,
                order_id=order.id,
                to=order.customer_phone or self.to,
                text=text,
            )


def inbound_view(message: InboundMessage) -> dict[str, object]:
    """One inbound message as the order's history shows it."""
    return {
        "at": message.created_at,
        "direction": "in",
        "channel": message.channel,
        "party": message.sender,
        "subject": message.subject,
        "text": message.text,
        "status": message.outcome,
        "provider_id": "",
        "note": message.note,
        "attempts": 0,
    }
