"""Customer messages: what each moment of a delivery says, by e-mail and SMS.

Pure: :func:`render` turns an event and its facts into a subject, an e-mail
text and a short SMS text. Sending, retries and logging belong to the
service. Times are shown in the organisation's time zone.

========== ==================================================================
dispatched the order is on a route for its day, with the agreed window
on_the_way the vehicle has left: the expected arrival window (ETA +- width/2)
delay      the vehicle will be later than agreed: the new expected window
delivered  served (delivered, or collected for a pickup), and to whom
failed     not served, why, and when it will be tried again (if it will)
========== ==================================================================
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from lastmile.exceptions import InputError

__all__ = ["Message", "MessageFacts", "NotifyEvent", "eta_window", "render"]

Window = tuple[dt.datetime, dt.datetime]


class NotifyEvent(StrEnum):
    """The moments a customer hears about."""

    DISPATCHED = "dispatched"
    ON_THE_WAY = "on_the_way"
    DELAY = "delay"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What a message may mention. Datetimes are aware; ``tz`` is how they are shown.

    ``pickup`` says the customer hands goods over (a return) instead of
    receiving them.
    """

    order_ref: str
    tz: dt.tzinfo = dt.UTC
    customer_name: str = ""
    sender: str = ""
    tracking_url: str = ""
    window: Window | None = None
    eta: Window | None = None
    received_by: str = ""
    reason: str = ""
    next_attempt: Window | dt.date | None = None
    pickup: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    """One message, ready for either channel."""

    subject: str
    text: str
    sms: str


def eta_window(eta: dt.datetime, *, width_s: int = 1800, round_s: int = 300) -> Window:
    """A window of ``width_s`` around ``eta``, its ends rounded to ``round_s``."""
    if width_s < 0 or round_s <= 0:
        raise InputError("width_s must be >= 0 and round_s > 0", where="eta_window")
    if eta.tzinfo is None:
        raise InputError("give a time zone", where="eta")
    stamp = eta.timestamp()
    start = (stamp - width_s / 2) // round_s * round_s
    end = -((-(stamp + width_s / 2)) // round_s) * round_s
    return (
        dt.datetime.fromtimestamp(start, tz=eta.tzinfo),
        dt.datetime.fromtimestamp(end, tz=eta.tzinfo),
    )


def _day(value: dt.datetime | dt.date) -> str:
    return f"{value:%A} {value.day} {value:%B}"


def _span(window: Window, zone: dt.tzinfo) -> str:
    start, end = (t.astimezone(zone) for t in window)
    if start.date() == end.date():
        return f"{_day(start)} between {start:%H:%M} and {end:%H:%M}"
    return f"between {_day(start)} {start:%H:%M} and {_day(end)} {end:%H:%M}"


def _short(window: Window, zone: dt.tzinfo) -> str:
    start, end = (t.astimezone(zone) for t in window)
    return f"{start:%d/%m} {start:%H:%M}-{end:%H:%M}"


def render(event: NotifyEvent, facts: MessageFacts) -> Message:
    """The message for ``event``. Raises :class:`InputError` when a fact it needs is missing
    (``on_the_way`` and ``delay`` need ``eta``)."""
    zone = facts.tz
    who = f"Hello {facts.customer_name}," if facts.customer_name else "Hello,"
    sender = facts.sender or "We"
    ref = facts.order_ref
    goods = "collection" if facts.pickup else "delivery"
    link = f"\n\nFollow it here: {facts.tracking_url}" if facts.tracking_url else ""
    sms_link = f" {facts.tracking_url}" if facts.tracking_url else ""
    name = f"{facts.sender}: " if facts.sender else ""

    if event is NotifyEvent.DISPATCHED:
        when = f" {_span(facts.window, zone)}" if facts.window else " on its planned day"
        short = f" {_short(facts.window, zone)}" if facts.window else ""
        return Message(
            f"Your {goods} {ref} is scheduled",
            f"{who}\n\n{sender} will come for your {goods} {ref}{when}.{link}",
            f"{name}{goods} {ref} scheduled{short}.{sms_link}",
        )
    if event in (NotifyEvent.ON_THE_WAY, NotifyEvent.DELAY):
        if facts.eta is None:
            raise InputError(f"a {event.value} message needs the expected arrival", where="eta")
        if event is NotifyEvent.ON_THE_WAY:
            return Message(
                f"Your {goods} {ref} is on the way",
                f"{who}\n\nOur driver is on the way with your {goods} {ref} and expects to "
                f"arrive {_span(facts.eta, zone)}.{link}",
                f"{name}{goods} {ref} on the way, expected {_short(facts.eta, zone)}.{sms_link}",
            )
        agreed = f" instead of {_span(facts.window, zone)}" if facts.window else ""
        return Message(
            f"Your {goods} {ref} is running late",
            f"{who}\n\nSorry: our driver is running late. Your {goods} {ref} is now expected "
            f"{_span(facts.eta, zone)}{agreed}.{link}",
            f"{name}{goods} {ref} delayed, now expected {_short(facts.eta, zone)}.{sms_link}",
        )
    if event is NotifyEvent.DELIVERED:
        done = "collected" if facts.pickup else "delivered"
        to = f" to {facts.received_by}" if facts.received_by and not facts.pickup else ""
        return Message(
            f"Your {goods} {ref} was {done}",
            f"{who}\n\nYour {goods} {ref} was {done}{to}. Thank you.",
            f"{name}{goods} {ref} {done}{to}.",
        )
    why = f": {facts.reason}" if facts.reason else ""
    nxt = facts.next_attempt
    if isinstance(nxt, tuple):
        again, again_short = (
            f" We will try again {_span(nxt, zone)}.",
            f" Next try {_short(nxt, zone)}.",
        )
    elif isinstance(nxt, dt.date):
        again, again_short = f" We will try again on {_day(nxt)}.", f" Next try {nxt:%d/%m}."
    else:
        again, again_short = " We will contact you to arrange what happens next.", ""
    return Message(
        f"We could not complete your {goods} {ref}",
        f"{who}\n\nWe could not complete your {goods} {ref} today{why}.{again}{link}",
        f"{name}{goods} {ref} not completed{why}.{again_short}{sms_link}",
    )
