"""Customer message templates."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import replace

import pytest

from lastmile.exceptions import InputError
from lastmile.operations.notify import MessageFacts, NotifyEvent, eta_window, render

UTC = dt.UTC


def at(h: int, m: int = 0) -> dt.datetime:
    return dt.datetime(2025, 5, 2, h, m, tzinfo=UTC)  # a Friday; 2 h behind Paris


FACTS = MessageFacts(
    order_ref="ord-7",
    tz=zoneinfo.ZoneInfo("Europe/Paris"),
    customer_name="Ada",
    sender="Acme",
    tracking_url="https://track.example/track/abc",
    window=(at(7), at(10)),
)


def test_every_event_has_a_message() -> None:
    eta = eta_window(at(8, 47))
    for event in NotifyEvent:
        msg = render(event, replace(FACTS, eta=eta))
        assert "ord-7" in msg.subject and "ord-7" in msg.text and "ord-7" in msg.sms
        assert len(msg.sms) <= 160


def test_times_are_local_and_windows_rounded() -> None:
    assert eta_window(at(8, 47)) == (at(8, 30), at(9, 5))
    msg = render(NotifyEvent.ON_THE_WAY, replace(FACTS, eta=(at(8, 30), at(9))))
    assert "Friday 2 May between 10:30 and 11:00" in msg.text
    assert "02/05 10:30-11:00" in msg.sms
    assert msg.text.startswith("Hello Ada,")
    assert "https://track.example/track/abc" in msg.sms
    late = render(NotifyEvent.DELAY, replace(FACTS, eta=(at(10), at(10, 30))))
    assert "instead of Friday 2 May between 09:00 and 12:00" in late.text


def test_outcomes() -> None:
    done = render(NotifyEvent.DELIVERED, replace(FACTS, received_by="the neighbour"))
    assert done.subject == "Your delivery ord-7 was delivered"
    assert "to the neighbour" in done.text
    back = render(NotifyEvent.DELIVERED, MessageFacts(order_ref="r1", pickup=True))
    assert back.subject == "Your collection r1 was collected"
    failed = render(
        NotifyEvent.FAILED,
        MessageFacts(order_ref="o", reason="nobody was there", next_attempt=dt.date(2025, 5, 5)),
    )
    assert "nobody was there" in failed.text and "Monday 5 May" in failed.text
    final = render(NotifyEvent.FAILED, MessageFacts(order_ref="o"))
    assert "We will contact you" in final.text


def test_missing_facts_are_refused() -> None:
    with pytest.raises(InputError, match="expected arrival"):
        render(NotifyEvent.ON_THE_WAY, FACTS)
    with pytest.raises(InputError):
        eta_window(dt.datetime(2025, 1, 1))
