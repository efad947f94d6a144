"""Customer messages: what each moment of a delivery says, by e-mail and SMS.

Pure: :func:`render` turns an event and its facts into a subject, an e-mail
text and a short SMS text. Sending, retries and logging belong to the
service. Times are shown in the organisation's time zone, with its UTC offset.

========== ==================================================================
dispatched the order is on a route for its day, with the agreed window
on_the_way the vehicle has left: when service is expected to start (a range
           inside the agreed window, see :func:`promise`), or that it runs late
delay      the vehicle will be later than agreed: "running late, expected
           around HH:MM"
delivered  served (delivered, or collected for a pickup), and to whom
failed     not served, why, and when it will be tried again (if it will)
window_    the time window of an order the customer has already heard about
changed    changed (the customer's own new window, or staff's)
========== ==================================================================

What customers are promised (:func:`promise`) is about the **start of
service**, never the vehicle's arrival (a driver early for a 13:00-16:00 slot
waits until 13:00):

* the predicted start is never before the window opens (service starts at the
  earliest time inside one of the windows; before the first, at its opening);
* the range told is that start +- a margin that grows with how far ahead it
  is: 10 minutes, plus 5 minutes per hour between now and the predicted start,
  at most 60 minutes (:func:`promise_margin_s`), its ends rounded outwards to
  5 minutes and clipped to the window the start falls in;
* a start after the end of the last window is *late*: the customer is told
  the driver is running late and expected around the predicted start (rounded
  to 5 minutes), and the dispatcher gets a late alert.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from lastmile.exceptions import InputError

__all__ = [
    "Message",
    "MessageFacts",
    "NotifyEvent",
    "Promise",
    "eta_window",
    "promise",
    "promise_margin_s",
    "promise_s",
    "promise_text",
    "render",
]

Window = tuple[dt.datetime, dt.datetime]


class NotifyEvent(StrEnum):
    """The moments a customer hears about."""

    DISPATCHED = "dispatched"
    ON_THE_WAY = "on_the_way"
    DELAY = "delay"
    DELIVERED = "delivered"
    FAILED = "failed"
    WINDOW_CHANGED = "window_changed"


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What a message may mention. Datetimes are aware; ``tz`` is how they are shown.

    ``pickup`` says the customer hands goods over (a return) instead of
    receiving them. ``eta`` is the range told for the start of service (see
    :func:`promise`); with ``late`` the driver runs late and ``eta`` starts at
    the expected time.
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
    late: bool = False


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


#: The margin told around a predicted start: at least, growth per hour ahead, at most.
MARGIN_MIN_S, MARGIN_PER_HOUR_S, MARGIN_MAX_S = 600, 300, 3600
#: Times told to customers are rounded to this.
ROUND_S = 300


@dataclass(frozen=True, slots=True)
class Promise:
    """What a customer is told about when service starts.

    ``expected`` is the predicted start of service (never before the window
    opens); ``told`` the range told, inside ``window`` (the window the start
    falls in). When ``late`` the start is after the last window: ``told`` is
    the expected time rounded to 5 minutes, at both ends, and ``window`` the
    last window.
    """

    expected: dt.datetime
    told: Window
    late: bool
    window: Window | None


def promise_margin_s(lead_s: float) -> int:
    """The +- margin told around a start ``lead_s`` seconds ahead: 10 minutes,
    plus 5 minutes per hour ahead, at most 60 minutes."""
    grown = MARGIN_MIN_S + MARGIN_PER_HOUR_S * max(0.0, lead_s) / 3600
    return int(min(MARGIN_MAX_S, grown))


def _floor(t: dt.datetime, step: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(t.timestamp() // step * step, tz=t.tzinfo)


def _ceil(t: dt.datetime, step: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(-(-t.timestamp() // step) * step, tz=t.tzinfo)


def promise(
    start: dt.datetime,
    windows: Sequence[Window],
    *,
    now: dt.datetime,
    max_margin_s: int = MARGIN_MAX_S,
) -> Promise:
    """The promise for a service predicted to start at ``start`` (aware), with the
    order's ``windows``, told at ``now``; see the module docstring for the rule.

    ``start`` may be the predicted arrival: service starts at the earliest time
    inside a window, which is what this computes first. ``max_margin_s`` caps
    the margin (half the widest range told)."""
    if max_margin_s < 0:
        raise InputError(f"must be >= 0, got {max_margin_s}", where="max_margin_s")
    if start.tzinfo is None or now.tzinfo is None:
        raise InputError("give a time zone", where="start")
    ordered = sorted(windows)
    window: Window | None = None
    for w in ordered:
        if start <= w[1]:
            window = w
            start = max(start, w[0])  # service never starts before the window opens
            break
    if ordered and window is None:
        last = ordered[-1]
        around = _floor(start + dt.timedelta(seconds=ROUND_S / 2), ROUND_S)
        return Promise(start, (around, around), True, last)
    lead = (start - now).total_seconds()
    margin = dt.timedelta(seconds=min(max_margin_s, promise_margin_s(lead)))
    lo, hi = _floor(start - margin, ROUND_S), _ceil(start + margin, ROUND_S)
    if window is not None:
        lo, hi = max(lo, window[0]), min(hi, window[1])
    return Promise(start, (lo, hi), False, window)


def promise_s(
    start_s: int,
    windows_s: Sequence[tuple[int, int]],
    *,
    now_s: int,
    epoch: dt.datetime,
    max_margin_s: int = MARGIN_MAX_S,
) -> tuple[int, int]:
    """:func:`promise` on a plan's clock: times in seconds since ``epoch`` (aware;
    a plan's local midnight), the range told returned as ``(start, end)`` in those
    seconds. A late start is told as one time, both ends equal."""
    if epoch.tzinfo is None:
        raise InputError("give a time zone", where="epoch")
    base = epoch.astimezone(dt.UTC)

    def at(seconds: int) -> dt.datetime:
        return base + dt.timedelta(seconds=seconds)

    told = promise(
        at(start_s),
        [(at(a), at(b)) for a, b in windows_s],
        now=at(now_s),
        max_margin_s=max_margin_s,
    )
    lo, hi = ((t - base).total_seconds() for t in told.told)
    return round(lo), round(hi)


def _offset(t: dt.datetime) -> str:
    z = t.strftime("%z") or "+0000"
    return f"UTC{z[:3]}:{z[3:]}"


def _day(value: dt.datetime | dt.date) -> str:
    return f"{value:%A} {value.day} {value:%B}"


def _span(window: Window, zone: dt.tzinfo) -> str:
    start, end = (t.astimezone(zone) for t in window)
    if start.date() == end.date():
        return f"{_day(start)} between {start:%H:%M} and {end:%H:%M} ({_offset(end)})"
    return f"between {_day(start)} {start:%H:%M} and {_day(end)} {end:%H:%M} ({_offset(end)})"


def _short(window: Window, zone: dt.tzinfo) -> str:
    start, end = (t.astimezone(zone) for t in window)
    return f"{start:%d/%m} {start:%H:%M}-{end:%H:%M} {_offset(end)}"


def _around(when: dt.datetime, zone: dt.tzinfo) -> str:
    t = when.astimezone(zone)
    return f"around {t:%H:%M} ({_offset(t)}) on {_day(t)}"


def _around_short(when: dt.datetime, zone: dt.tzinfo) -> str:
    t = when.astimezone(zone)
    return f"~{t:%H:%M} {_offset(t)}"


def promise_text(told: Promise, zone: dt.tzinfo) -> str:
    """One line for a tracking page: "Expected Friday 2 May between 13:30 and 14:30
    (UTC+02:00)", or "Running late, expected around 16:20 (UTC+02:00) on ..."."""
    if told.late:
        return f"Running late, expected {_around(told.told[0], zone)}"
    return f"Expected {_span(told.told, zone)}"


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
        if event is NotifyEvent.ON_THE_WAY and not facts.late:
            return Message(
                f"Your {goods} {ref} is on the way",
                f"{who}\n\nOur driver is on the way with your {goods} {ref} and expects to "
                f"be with you {_span(facts.eta, zone)}.{link}",
                f"{name}{goods} {ref} on the way, expected {_short(facts.eta, zone)}.{sms_link}",
            )
        agreed = f", instead of {_span(facts.window, zone)}" if facts.window else ""
        if facts.late:
            when, short = _around(facts.eta[0], zone), _around_short(facts.eta[0], zone)
        else:
            when, short = _span(facts.eta, zone), _short(facts.eta, zone)
        return Message(
            f"Your {goods} {ref} is running late",
            f"{who}\n\nSorry: our driver is running late. Your {goods} {ref} is now expected "
            f"{when}{agreed}.{link}",
            f"{name}{goods} {ref}: running late, expected {short}.{sms_link}",
        )
    if event is NotifyEvent.DELIVERED:
        done = "collected" if facts.pickup else "delivered"
        to = f" to {facts.received_by}" if facts.received_by and not facts.pickup else ""
        return Message(
            f"Your {goods} {ref} was {done}",
            f"{who}\n\nYour {goods} {ref} was {done}{to}. Thank you.",
            f"{name}{goods} {ref} {done}{to}.",
        )
    if event is NotifyEvent.WINDOW_CHANGED:
        when = _span(facts.window, zone) if facts.window else "on a day we will confirm"
        short = _short(facts.window, zone) if facts.window else "to be confirmed"
        return Message(
            f"New time for your {goods} {ref}",
            f"{who}\n\nYour {goods} {ref} is now expected {when}.{link}",
            f"{name}{goods} {ref}: new time {short}.{sms_link}",
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
