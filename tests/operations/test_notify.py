"""Customer message templates."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import replace

import pytest

from lastmile.exceptions import InputError
from lastmile.operations.notify import (
    MessageFacts,
    NotifyEvent,
    eta_window,
    promise,
    promise_margin_s,
    promise_s,
    promise_text,
    render,
)

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


# -- promises: the start of service, inside the window ----------------------------------------

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
SLOT = (at(11), at(14))  # 13:00-16:00 in Paris


def test_the_margin_grows_with_how_far_ahead() -> None:
    assert promise_margin_s(0) == 600
    assert promise_margin_s(-3600) == 600
    assert promise_margin_s(2 * 3600) == 600 + 2 * 300
    assert promise_margin_s(48 * 3600) == 3600


def test_a_start_inside_the_window_is_told_a_range_inside_it() -> None:
    # Predicted to start at 14:02 Paris, told at 10:00 Paris (4 h ahead): +-30 min.
    told = promise(at(12, 2), [SLOT], now=at(8))
    assert not told.late and told.expected == at(12, 2)
    assert told.told == (at(11, 30), at(12, 35))
    msg = render(NotifyEvent.ON_THE_WAY, replace(FACTS, window=SLOT, eta=told.told))
    assert "be with you Friday 2 May between 13:30 and 14:35 (UTC+02:00)" in msg.text
    assert "02/05 13:30-14:35 UTC+02:00" in msg.sms
    assert promise_text(told, PARIS) == "Expected Friday 2 May between 13:30 and 14:35 (UTC+02:00)"
    # Close to the window's end the range is clipped to it.
    assert promise(at(13, 55), [SLOT], now=at(13, 50)).told == (at(13, 40), at(14))


def test_an_early_arrival_is_told_the_window_start_not_the_arrival() -> None:
    # The reported case: a 13:00-16:00 slot, the van predicted at 09:05.
    told = promise(at(7, 5), [SLOT], now=at(6, 30))
    assert not told.late and told.expected == at(11)  # service starts when the slot opens
    lo, hi = told.told
    assert lo == at(11) and SLOT[0] <= lo < hi <= SLOT[1]
    msg = render(NotifyEvent.ON_THE_WAY, replace(FACTS, window=SLOT, eta=told.told))
    assert "between 13:00 and 13:35 (UTC+02:00)" in msg.text
    assert "09:05" not in msg.text and "09:" not in msg.sms
    # Between two windows: the next one.
    two = [(at(7), at(8)), SLOT]
    assert promise(at(9), two, now=at(9)).told[0] == at(11)


def test_a_start_after_the_window_is_told_running_late() -> None:
    told = promise(at(14, 22), [SLOT], now=at(13))
    assert told.late and told.told == (at(14, 20), at(14, 20)) and told.window == SLOT
    for event in (NotifyEvent.ON_THE_WAY, NotifyEvent.DELAY):
        msg = render(event, replace(FACTS, window=SLOT, eta=told.told, late=True))
        assert msg.subject == "Your delivery ord-7 is running late"
        assert "running late" in msg.text
        assert "expected around 16:20 (UTC+02:00)" in msg.text
        assert "instead of Friday 2 May between 13:00 and 16:00 (UTC+02:00)" in msg.text
        assert "running late, expected ~16:20 UTC+02:00" in msg.sms and len(msg.sms) <= 160
    assert promise_text(told, PARIS).startswith("Running late, expected around 16:20 (UTC+02:00)")
    with pytest.raises(InputError):
        promise(dt.datetime(2025, 5, 2, 12), [SLOT], now=at(8))


def test_a_promise_on_a_plans_clock_is_the_services_promise() -> None:
    # Helsinki's clocks go back on 26 October 2025: the day has 25 hours.
    epoch = dt.datetime(2025, 10, 26, tzinfo=zoneinfo.ZoneInfo("Europe/Helsinki"))
    base = epoch.astimezone(dt.UTC)
    h = 3600
    window = (13 * h, 16 * h)
    for arrival, now in ((12 * h, 8 * h), (14 * h + 7 * 60, 9 * h), (17 * h, 9 * h)):
        at = [base + dt.timedelta(seconds=s) for s in (arrival, now, *window)]
        told = promise(at[0], [(at[2], at[3])], now=at[1])
        lo, hi = promise_s(arrival, [window], now_s=now, epoch=epoch)
        assert (base + dt.timedelta(seconds=lo), base + dt.timedelta(seconds=hi)) == told.told
        if not told.late:
            assert window[0] <= lo <= hi <= window[1]
    # Early for the slot: told from when it opens, never before.
    assert promise_s(12 * h, [window], now_s=8 * h, epoch=epoch)[0] == 13 * h
    with pytest.raises(InputError):
        promise_s(0, [], now_s=0, epoch=dt.datetime(2025, 1, 1))
