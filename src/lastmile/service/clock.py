"""The service's clock: the wall clock, or a simulated one for a simulation instance.

``LASTMILE_SIMULATED_CLOCK="2026-12-08T06:00:00+01:00 x120"`` makes the service
believe it is that instant when it starts, with time running 120 times faster
than the wall clock from then on. Every timestamp the service takes
(:func:`lastmile.service.db.utcnow`, hence every ``received_at``, every ETA's
``computed_at``, the clock-skew horizon of GPS fixes, re-planning's "now", the
tracking page's "today") follows it, so a digital twin can drive a whole day
through the API in minutes. ``GET /health`` shows it; a client that means to
drive a real service refuses one whose clock is simulated, and the twin refuses
one whose clock is the wall clock (unless the day is today at real speed).

Left on the wall clock, on purpose: compute budgets (the planner's answer-by
time), rate limits and timers (monotonic), signatures checked by other parties
(webhook signatures, S3 requests), which must carry real time, and
``lastmile demo --serve``'s seeding of today (:mod:`lastmile.service.demo_day`),
which runs on the wall clock.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from dataclasses import dataclass, field

from lastmile.exceptions import InputError

SETTING = "LASTMILE_SIMULATED_CLOCK"
_FORMAT = re.compile(r"^\s*(\S+)(?:\s+x\s*([0-9.eE+-]+))?\s*$")
#: The largest speed-up accepted (a day in under ten seconds).
MAX_SPEED = 10_000.0


@dataclass
class SimulatedClock:
    """``start`` when the clock was made, running ``speed`` times faster than real time.

    A clock can be *held* (:meth:`hold`): it then stays where it is until
    :meth:`run`. A private simulation service holds its clock while the day is set up
    through the API, however long that takes on a loaded machine, and runs it once
    the drivers are about to set off.
    """

    start: dt.datetime
    speed: float = 1.0
    _wall_start: float | None = field(default_factory=time.monotonic, compare=False, repr=False)
    _anchor: dt.datetime | None = field(default=None, compare=False, repr=False)

    @property
    def held(self) -> bool:
        return self._wall_start is None

    def hold(self) -> None:
        """Stop the clock where it is now."""
        self._anchor, self._wall_start = self.now(), None

    def run(self) -> None:
        """Let a held clock run again from where it stopped (nothing if it runs)."""
        if self._wall_start is None:
            self._wall_start = time.monotonic()

    def move_to(self, when: dt.datetime) -> None:
        """Put a held clock at ``when`` (aware, later than now: the service's time
        never goes back); it stays held."""
        if not self.held:
            raise ValueError("only a held clock can be moved")
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"the instant needs a time zone: {when!r}")
        if when < self.now():
            raise ValueError(f"the clock cannot go back from {self.now()} to {when}")
        self._anchor = when.astimezone(dt.UTC)

    @classmethod
    def parse(cls, text: str, *, where: str = SETTING) -> SimulatedClock:
        """``"<ISO instant with zone> [x<speed>]"``, e.g. ``2026-12-08T06:00+01:00 x120``."""
        match = _FORMAT.match(text)
        if not match:
            raise InputError(
                f"expected '<instant with time zone> x<speed>', e.g. "
                f"'2026-12-08T06:00:00+01:00 x120'; got {text!r}",
                where=where,
            )
        raw, speed_text = match[1], match[2]
        try:
            start = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise InputError(f"not an ISO 8601 instant: {raw!r}", where=where) from None
        if start.tzinfo is None or start.utcoffset() is None:
            raise InputError(f"the instant needs a time zone (e.g. +01:00): {raw!r}", where=where)
        try:
            speed = 1.0 if speed_text is None else float(speed_text)
        except ValueError:
            raise InputError(f"the speed-up is not a number: {speed_text!r}", where=where) from None
        if not (math.isfinite(speed) and 0 < speed <= MAX_SPEED):
            raise InputError(
                f"the speed-up must be more than 0 and at most {MAX_SPEED:g}, got {speed_text}",
                where=where,
            )
        return cls(start.astimezone(dt.UTC), speed)

    def now(self) -> dt.datetime:
        """The simulated time now (aware, UTC)."""
        anchor = self.start if self._anchor is None else self._anchor
        wall_start = self._wall_start
        if wall_start is None:
            return anchor
        return anchor + dt.timedelta(seconds=(time.monotonic() - wall_start) * self.speed)

    def describe(self) -> dict[str, object]:
        """What ``GET /health`` shows."""
        return {
            "simulated": True,
            "start": self.start.isoformat(),
            "speed": self.speed,
            "held": self.held,
            "now": self.now().isoformat(),
        }


def wall_clock() -> dict[str, object]:
    """What ``GET /health`` shows for the wall clock."""
    return {"simulated": False, "speed": 1.0, "now": dt.datetime.now(dt.UTC).isoformat()}
