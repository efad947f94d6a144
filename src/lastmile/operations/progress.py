"""Route progress from stop events: what a driver reports at a stop, the
lifecycle event it means for the order, the visits of a route as tracking sees
them, and the replay of the reports into the state of every visit.

Pure functions over plain values; no I/O. Times are integer seconds since the
plan's epoch; ``location`` fields are rows of the caller's durations matrix.
Where the vehicle is (:mod:`lastmile.operations.position`) and when it reaches
the stops ahead (:mod:`lastmile.operations.eta`) are computed from a
:class:`RouteProgress`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from lastmile.domain import OrderKind, Route, TimeWindow, VisitKind
from lastmile.exceptions import InputError
from lastmile.operations.lifecycle import OrderEvent

if TYPE_CHECKING:
    from lastmile.planning.problem import PlanningProblem

_TASKS = frozenset((VisitKind.JOB, VisitKind.PICKUP, VisitKind.DELIVERY))


class StopEventKind(StrEnum):
    """What a driver reports at a stop."""

    ARRIVED = "arrived"
    #: The vehicle left the stop (reported, or detected from GPS fixes); not an outcome.
    DEPARTED = "departed"
    DELIVERED = "delivered"
    PICKED_UP = "picked_up"
    FAILED = "failed"
    #: Recorded for a stop left without an outcome when its route is closed.
    NOT_ATTEMPTED = "not_attempted"

    @property
    def is_outcome(self) -> bool:
        """Whether it is a final outcome for the stop on its route."""
        return self not in (StopEventKind.ARRIVED, StopEventKind.DEPARTED)

    @property
    def is_failure(self) -> bool:
        return self in (StopEventKind.FAILED, StopEventKind.NOT_ATTEMPTED)


class StopState(StrEnum):
    """Where a stop is in the day."""

    PENDING = "pending"
    ARRIVED = "arrived"
    DONE = "done"
    FAILED = "failed"

    @property
    def is_finished(self) -> bool:
        return self in (StopState.DONE, StopState.FAILED)


def order_event_for(
    *, event: StopEventKind, visit_kind: VisitKind, order_kind: OrderKind
) -> OrderEvent | None:
    """The lifecycle event a stop event means for the order (None: no change).

    ``delivered`` completes a delivery order or a shipment at its delivery
    stop; ``picked_up`` completes a pickup order and is the first half
    (``pick_up``) of a shipment at its pickup stop; ``failed`` and
    ``not_attempted`` fail the order;
    ``arrived`` and ``departed`` change nothing. Any other combination is an :class:`InputError`.
    """
    if not event.is_outcome:
        return None
    if event.is_failure:
        return OrderEvent.FAIL
    where = "kind"
    if event is StopEventKind.DELIVERED:
        if visit_kind is VisitKind.DELIVERY or (
            visit_kind is VisitKind.JOB and order_kind is OrderKind.DELIVERY
        ):
            return OrderEvent.COMPLETE
        raise InputError(
            f"delivered does not apply to the {_stop_name(visit_kind, order_kind)}: use picked_up",
            where=where,
        )
    if visit_kind is VisitKind.PICKUP:
        return OrderEvent.PICK_UP
    if visit_kind is VisitKind.JOB and order_kind is OrderKind.PICKUP:
        return OrderEvent.COMPLETE
    raise InputError(
        f"picked_up does not apply to the {_stop_name(visit_kind, order_kind)}: use delivered",
        where=where,
    )


def _stop_name(visit_kind: VisitKind, order_kind: OrderKind) -> str:
    if visit_kind is VisitKind.JOB:
        return f"stop of a {order_kind.value} order"
    return f"{visit_kind.value} stop of a {order_kind.value} order"


@dataclass(frozen=True, slots=True)
class TrackedStop:
    """One visit of a route, as tracking needs it.

    ``location`` is the visit's row in the durations matrix. For a break,
    ``service_s`` is its duration and ``windows`` its windows; for the end of
    the route, ``windows`` may hold the shift (its end is what lateness is
    measured against). ``order_id`` ties task visits to stop events.
    """

    sequence: int
    kind: VisitKind
    location: int
    windows: tuple[TimeWindow, ...] = ()
    service_s: int = 0
    setup_s: int = 0
    order_id: str | None = None

    @property
    def is_task(self) -> bool:
        return self.kind in _TASKS


def tracked_stops(problem: PlanningProblem, route: Route) -> tuple[TrackedStop, ...]:
    """The visits of a planned ``route`` as :class:`TrackedStop` s, locations being
    rows of ``problem``'s matrices (so its durations can be used directly).

    Task visits take their stop's windows, service and setup; breaks their
    windows and duration; reloads the depot's hours and reload time; the end
    the vehicle's shift.
    """
    vehicle = problem.vehicle(route.vehicle_id)
    breaks = {b.id: b for b in vehicle.breaks}
    out: list[TrackedStop] = []
    for seq, v in enumerate(route.visits):
        kind = v.kind
        if kind in _TASKS:
            order = problem.order(v.order_id or "")
            if kind is VisitKind.JOB:
                stop = order.single_stop
            else:
                found = order.pickup if kind is VisitKind.PICKUP else order.delivery
                assert found is not None
                stop = found
            out.append(
                TrackedStop(
                    seq,
                    kind,
                    v.location,
                    stop.time_windows,
                    stop.service,
                    stop.setup,
                    order.id,
                )
            )
        elif kind is VisitKind.BREAK:
            brk = breaks[v.break_id or ""]
            out.append(TrackedStop(seq, kind, v.location, brk.time_windows, brk.duration))
        elif kind is VisitKind.RELOAD:
            depot = problem.depots[v.depot if v.depot is not None else 0]
            out.append(TrackedStop(seq, kind, v.location, (depot.time_window,), depot.reload_time))
        elif kind is VisitKind.END:
            out.append(TrackedStop(seq, kind, v.location, (vehicle.shift,)))
        else:
            out.append(TrackedStop(seq, kind, v.location))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class StopEventRecord:
    """A reported stop event: ``kind`` at the ``visit_kind`` stop of ``order_id``."""

    order_id: str
    visit_kind: VisitKind
    kind: StopEventKind
    at_s: int


@dataclass(frozen=True, slots=True)
class StopProgress:
    """The state of one visit; times are when the driver reported them."""

    sequence: int
    state: StopState
    arrived_s: int | None = None
    finished_s: int | None = None


@dataclass(frozen=True, slots=True)
class RouteProgress:
    """Progress of a route: one :class:`StopProgress` per visit (same order as the
    stops given), where the vehicle is, and how far the reports reach.

    ``current`` is the index of the stop the driver is at (arrived, not
    finished); ``last_finished`` the index of the stop finished last (by report
    time); ``frontier`` the highest index with a report of its own (breaks and
    reloads before it count as taken). ``ignored`` counts events that matched
    no stop of the route.
    """

    stops: tuple[StopProgress, ...]
    current: int | None
    last_finished: int | None
    frontier: int
    ignored: int = 0

    @property
    def done(self) -> int:
        return sum(1 for s in self.stops if s.state is StopState.DONE)

    @property
    def failed(self) -> int:
        return sum(1 for s in self.stops if s.state is StopState.FAILED)


def route_progress(
    stops: Sequence[TrackedStop], events: Sequence[StopEventRecord]
) -> RouteProgress:
    """Replay ``events`` (in time order; ties keep the given order) over the route.

    ``arrived`` marks a pending stop; ``delivered``/``picked_up`` finish it as
    done and ``failed`` as failed (a finished stop stays finished). A failed
    order cannot go on: its other stops on the route fail with it.
    ``departed`` finishes nothing, but the vehicle is no longer at that stop
    (it is not :attr:`RouteProgress.current`).
    """
    index: dict[tuple[str, VisitKind], int] = {}
    by_order: dict[str, list[int]] = {}
    for i, s in enumerate(stops):
        if s.order_id is not None and s.is_task:
            index[(s.order_id, s.kind)] = i
            by_order.setdefault(s.order_id, []).append(i)
    n = len(stops)
    state = [StopState.PENDING] * n
    arrived: list[int | None] = [None] * n
    finished: list[int | None] = [None] * n
    frontier = -1
    ignored = 0
    last_finished: int | None = None
    left = [False] * n
    for ev in sorted(events, key=lambda e: e.at_s):
        found = index.get((ev.order_id, ev.visit_kind))
        if found is None:
            ignored += 1
            continue
        i = found
        frontier = max(frontier, i)
        if ev.kind is StopEventKind.DEPARTED:
            left[i] = True
            continue
        if state[i].is_finished:
            continue
        if ev.kind is StopEventKind.ARRIVED:
            state[i] = StopState.ARRIVED
            arrived[i] = ev.at_s
            left[i] = False
            continue
        if arrived[i] is None:
            arrived[i] = ev.at_s
        finished[i] = ev.at_s
        last_finished = i
        if ev.kind.is_failure:
            for j in by_order[ev.order_id]:
                if not state[j].is_finished:
                    state[j] = StopState.FAILED
                    finished[j] = ev.at_s
        else:
            state[i] = StopState.DONE
    # The driver is at the stop reported arrived most recently and not finished.
    current: int | None = None
    latest: int | None = None
    for i in range(n):
        a = arrived[i]
        if (
            state[i] is StopState.ARRIVED
            and not left[i]
            and a is not None
            and (latest is None or a >= latest)
        ):
            current, latest = i, a
    return RouteProgress(
        stops=tuple(
            StopProgress(stops[i].sequence, state[i], arrived[i], finished[i]) for i in range(n)
        ),
        current=current,
        last_finished=last_finished,
        frontier=frontier,
        ignored=ignored,
    )


@dataclass(frozen=True, slots=True)
class StopOutcome:
    """The final outcome of one order stop on a route, or None while it has none."""

    order_id: str
    visit_kind: VisitKind
    outcome: StopEventKind | None
    at_s: int | None = None


def stop_outcomes(
    stops: Sequence[tuple[str, VisitKind]], events: Sequence[StopEventRecord]
) -> tuple[StopOutcome, ...]:
    """The outcome of each order stop ``(order_id, visit kind)`` of a route, from
    the route's own stop events (in time order; ties keep the given order).

    ``delivered`` and ``picked_up`` settle their stop; ``failed`` and
    ``not_attempted`` settle every stop of the order still open on the route
    (a shipment not picked up is not delivered either). An outcome is final:
    what happens to the order afterwards (rescheduled to another day, planned
    again elsewhere) does not reopen it on this route.
    """
    found: dict[tuple[str, VisitKind], tuple[StopEventKind, int]] = {}
    by_order: dict[str, list[tuple[str, VisitKind]]] = {}
    for key in stops:
        by_order.setdefault(key[0], []).append(key)
    for ev in sorted(events, key=lambda e: e.at_s):
        if not ev.kind.is_outcome:
            continue
        targets = (
            by_order.get(ev.order_id, []) if ev.kind.is_failure else [(ev.order_id, ev.visit_kind)]
        )
        for key in targets:
            if key in by_order.get(key[0], []) and key not in found:
                found[key] = (ev.kind, ev.at_s)
    out = []
    for key in stops:
        kind, at = found.get(key, (None, None))
        out.append(StopOutcome(key[0], key[1], kind, at))
    return tuple(out)


def route_is_complete(outcomes: Sequence[StopOutcome]) -> bool:
    """A route is complete when every order stop on it has a final outcome."""
    return all(o.outcome is not None for o in outcomes)
