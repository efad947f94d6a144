"""A held simulated clock moved forward (``lastmile serve --demo`` starts the day's
clock just before the first van leaves): it stays held there, runs on from there,
and never goes back."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from lastmile.service.clock import SimulatedClock

START = dt.datetime(2026, 12, 8, 5, 50, tzinfo=dt.UTC)


def test_a_held_clock_moves_forward_and_runs_on_from_there() -> None:
    clock = SimulatedClock(START, speed=600)
    clock.hold()
    later = dt.datetime(2026, 12, 8, 10, 17, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    clock.move_to(later)
    assert clock.held and clock.now() == later
    clock.run()
    time.sleep(0.05)
    assert later < clock.now() < later + dt.timedelta(seconds=600)


def test_a_running_clock_a_naive_instant_or_the_past_are_refused() -> None:
    clock = SimulatedClock(START, speed=600)
    with pytest.raises(ValueError, match="held"):
        clock.move_to(START + dt.timedelta(hours=1))
    clock.hold()
    held = clock.now()
    with pytest.raises(ValueError, match="time zone"):
        clock.move_to(dt.datetime(2026, 12, 8, 9, 0))
    with pytest.raises(ValueError, match="back"):
        clock.move_to(held - dt.timedelta(seconds=1))
    assert clock.now() == held
