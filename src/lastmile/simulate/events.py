"""What the digital twin reports: its events, the legs driven on roads, its result."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from lastmile.domain import Plan, VisitKind
from lastmile.domain.day import DayRecord, Incident
from lastmile.planning.problem import PlanningProblem
from lastmile.travel.learning import ObservedLeg


class EventKind(StrEnum):
    """What a :class:`TwinEvent` reports (docs/simulation.md lists them)."""

    PING = "ping"
    DEPARTED = "departed"
    ARRIVED = "arrived"
    DELIVERED = "delivered"
    PICKED_UP = "picked_up"
    FAILED = "failed"
    BREAK_STARTED = "break_started"
    BREAK_ENDED = "break_ended"
    NOT_REACHED = "not_reached"
    FINISHED = "finished"
    INCIDENT = "incident"


@dataclass(frozen=True, slots=True)
class TwinEvent:
    """One thing that happened at ``t`` (seconds since the day's epoch).

    ``order_id``/``visit_kind`` name the stop (``START``/``RELOAD``/``END`` for
    depots), ``lon``/``lat`` where (GPS noise included for pings), ``reason``
    why a stop failed or was not reached, ``incident`` the incident reported.
    """

    t: int
    kind: EventKind
    vehicle_id: str | None = None
    order_id: str | None = None
    visit_kind: VisitKind | None = None
    lon: float | None = None
    lat: float | None = None
    reason: str | None = None
    incident: Incident | None = None


@dataclass(frozen=True, slots=True)
class DrivenLeg:
    """A leg as driven on the road network: its edges, when the road part began
    (seconds since the epoch) and how long it truly took, noise and weather
    included (:meth:`observed` gives it as the speed learner's ObservedLeg)."""

    vehicle_id: str
    origin: int
    destination: int
    edges: tuple[int, ...]
    departure_s: float
    duration_s: float
    distance_m: float
    weather_multiplier: float = 1.0

    def observed(self, epoch: dt.datetime) -> ObservedLeg:
        return ObservedLeg(
            self.edges,
            epoch + dt.timedelta(seconds=self.departure_s),
            self.duration_s,
            self.weather_multiplier,
        )


@dataclass(frozen=True)
class TwinResult:
    """The simulated day: its record, the legs driven on roads, and the final plan."""

    record: DayRecord
    legs: tuple[DrivenLeg, ...]
    plan: Plan
    problem: PlanningProblem
    events: int
    epoch: dt.datetime | None = None

    def observed_legs(self) -> list[ObservedLeg]:
        """The driven legs as the speed learner takes them (empty off a road network)."""
        if self.epoch is None:
            return []
        epoch = self.epoch
        return [leg.observed(epoch) for leg in self.legs if leg.edges]
