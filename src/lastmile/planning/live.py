"""Re-planning a plan that is being driven.

Three changes happen to a plan during the day: an urgent order arrives
(:func:`insert_order`), a vehicle breaks down (:func:`reassign_vehicle`), or
the dispatcher wants everything that has not happened yet planned again
(:func:`reoptimise`). Each works on a :class:`LivePlan`: the plan plus what has
happened so far, and returns a new full plan only after the planner's
validator has accepted the change.

The residual problem
--------------------
A :class:`LivePlan` turns "a plan plus progress" into an ordinary
:class:`~lastmile.planning.problem.PlanningProblem`, the **residual problem**,
and the rest of the plan into an ordinary plan of it, the **residual plan**.
Everything is then checked by :func:`~lastmile.planning.validate.validate` and
solved by :func:`~lastmile.planning.solve.solve` without either knowing
anything about live operations:

* a vehicle that has left its depot (it has a :class:`VehicleState`) starts
  from a private depot where it is now, not before it is ready, with the
  driving, distance, stops and reloads already used taken off its limits;
  ``max_duration`` becomes a shift end (the route began when it began);
* what it carries is made explicit. Goods on board that it still has to
  drop (the deliveries of the trip in progress, shipments picked up) become
  shipments picked up at its current position at exactly its ready time;
  goods that only go back to the depot (failed deliveries, collected
  pickups) become one pickup there. That position is a private matrix row
  nobody can drive into (its column is prohibitive), so no other vehicle can
  take those goods: what each vehicle carries stays on it, with the
  validator's own load rules;
* an order loaded at a depot (a delivery) can go only to a vehicle still at
  its depot or with a reload ahead: a reserved skill, :data:`LOADED_AT_DEPOT`,
  that started vehicles without a reload ahead lack;
* a vehicle that has not left does not leave before ``now_s``;
* a promise the current forecast already breaks (a stop predicted after its
  window, a break whose window passed, a route ending after its shift or
  after its depot closes, a limit exceeded, a load over capacity after a
  failed delivery) is relaxed to the forecast value, so the unchanged plan
  is valid and a change is accepted only if it makes no broken promise worse.
  :attr:`LivePlan.relaxations` lists them: they are what a dispatcher should
  look at.

Insertion
---------
:meth:`LivePlan.insert` is cheapest insertion over every route and every
position after the part already done. Per route it precomputes, once, the
earliest departure from each visit and, backwards, the latest departure that
keeps every later visit feasible (windows with several intervals, breaks taken
on the way, shift end, depot hours), prefix/suffix maxima of the load per trip,
and the route's totals. Checking one position is then O(1) (plus the breaks of
the legs it touches), so one order is checked against every position of a
plan in O(stops); a shipment's two positions are paired best-first by their
added cost and checked by a forward pass between them. Candidates are taken in
order of added cost (the objective of :mod:`lastmile.planning.problem`) and the
first one whose rebuilt route passes the validator wins; then the whole
residual plan is validated again before anything is returned.

Stops in progress count as done: a vehicle at a stop is ``ready_s`` when its
service there ends.
"""

from __future__ import annotations

import copy
import dataclasses
import heapq
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from lastmile.domain import (
    Depot,
    Location,
    Order,
    OrderKind,
    Plan,
    Route,
    Stop,
    TimeWindow,
    Unassigned,
    Vehicle,
    VehicleType,
    Visit,
    VisitKind,
)
from lastmile.domain.time import HORIZON, earliest_start, format_clock
from lastmile.exceptions import InputError
from lastmile.planning.problem import PlanningProblem, TravelMatrix, route_cost
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import InvalidPlan, Violation, validate

if TYPE_CHECKING:
    from lastmile.planning.solve import Progress

_T = TypeVar("_T")
#: ``(origins, destinations) -> (durations, distances)``, each ``len(origins) x len(destinations)``.
Between = Callable[[Sequence[Location], Sequence[Location]], tuple[np.ndarray, np.ndarray]]

__all__ = [
    "LOADED_AT_DEPOT",
    "LiveChangeRejected",
    "LivePlan",
    "Relaxation",
    "VehicleState",
    "insert_order",
    "reassign_vehicle",
    "reoptimise",
]

#: Reserved skill: the order's goods wait at a depot (deliveries).
LOADED_AT_DEPOT = "lastmile:loaded-at-depot"
#: At least this much travel time (s) and distance (m) into a vehicle's private "now"
#: row (more when the day runs longer): never in time for goods picked up there at once.
_NO_ENTRY = 2 * 86_400
_NEG = -(2**62)
_START, _END, _BREAK, _RELOAD = VisitKind.START, VisitKind.END, VisitKind.BREAK, VisitKind.RELOAD
_JOB, _PICKUP, _DELIVERY = VisitKind.JOB, VisitKind.PICKUP, VisitKind.DELIVERY
_TASKS = (_JOB, _PICKUP, _DELIVERY)

StopKey = tuple[str, VisitKind]


class LiveChangeRejected(InvalidPlan):
    """A live change the validator refused; nothing was changed."""

    def __init__(self, what: str, violations: tuple[Violation, ...]) -> None:
        super().__init__(violations)
        self.args = (f"{what}: {self.args[0]}",)


@dataclass(frozen=True, slots=True)
class VehicleState:
    """What a vehicle that has left its depot has done, and where it is.

    ``completed`` and ``failed`` name the stops behind it by ``(order_id,
    visit kind)`` (``JOB`` for deliveries and pickups, ``PICKUP``/``DELIVERY``
    for the halves of a shipment); a stop in progress counts as completed.
    ``location`` is the matrix row where it is (add a row for a GPS position)
    and ``ready_s`` when it can leave it (never before the live plan's
    ``now_s``). ``travel_s``/``distance_m`` are what it has driven so far;
    by default the plan's figures up to the last stop behind it plus the leg
    from there to ``location``.
    """

    vehicle_id: str
    location: int
    ready_s: int
    completed: frozenset[StopKey] = frozenset()
    failed: frozenset[StopKey] = frozenset()
    travel_s: int | None = None
    distance_m: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "completed", frozenset(self.completed))
        object.__setattr__(self, "failed", frozenset(self.failed))
        both = self.completed & self.failed
        if both:
            raise InputError(
                f"stops both completed and failed: {sorted(both)}",
                where=f"vehicle state {self.vehicle_id!r}",
            )


@dataclass(frozen=True, slots=True)
class Relaxation:
    """A promise the current forecast already breaks; tolerated, never worsened."""

    vehicle_id: str
    code: str
    message: str
    order_id: str | None = None


@dataclass(frozen=True)
class _Track:
    """One vehicle in the live view: its history and how its residual maps back."""

    vehicle_id: str
    started: bool
    #: Visits of the plan already behind the vehicle (START first), for the full plan.
    done: tuple[Visit, ...] = ()
    travel_s: int = 0
    distance_m: int = 0
    #: Orders on board with a stop still to serve, by their original kind.
    pinned: Mapping[str, OrderKind] = field(default_factory=dict)
    #: The pseudo order standing for goods that only go back to the depot.
    dead_load_id: str | None = None
    #: The real row behind the vehicle's private "now" row.
    now_row: int | None = None
    here: int | None = None


@dataclass(frozen=True)
class LivePlan:
    """A plan being driven: the full plan, the states, and the residual problem.

    Build one with :meth:`build`. ``plan`` is the full plan (the visits behind
    each vehicle followed by the forecast of the rest); ``residual`` and
    ``residual_plan`` are what is left, as an ordinary problem and a plan the
    validator accepts. ``unavailable`` vehicles take no new work.
    """

    problem: PlanningProblem
    plan: Plan
    now_s: int
    states: Mapping[str, VehicleState]
    residual: PlanningProblem
    residual_plan: Plan
    relaxations: tuple[Relaxation, ...]
    unavailable: frozenset[str]
    _tracks: Mapping[str, _Track] = field(repr=False)
    #: residual depot index -> depot index of ``problem``
    _depot_map: tuple[int, ...] = field(repr=False)
    _index: dict[str, _RouteIndex] = field(default_factory=dict, repr=False, compare=False)

    # -- construction --------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        problem: PlanningProblem,
        plan: Plan,
        *,
        now_s: int,
        states: Iterable[VehicleState] = (),
        unavailable: Iterable[str] = (),
    ) -> LivePlan:
        """The live view of ``plan`` at ``now_s``; raises :class:`InputError` on a state
        that does not fit the plan, and :class:`LiveChangeRejected` when even the
        relaxed forecast breaks a rule (the plan itself does not fit the problem)."""
        return _Builder(problem, plan, now_s, tuple(states), frozenset(unavailable)).build()

    # -- queries -------------------------------------------------------------------------

    def is_started(self, vehicle_id: str) -> bool:
        return vehicle_id in self.states

    def residual_route(self, vehicle_id: str) -> Route | None:
        return self.residual_plan.route_of(vehicle_id)

    def pinned(self, vehicle_id: str) -> Mapping[str, OrderKind]:
        """Orders on board ``vehicle_id`` that it still has to serve."""
        track = self._tracks.get(vehicle_id)
        return track.pinned if track is not None else {}

    # -- changes ---------------------------------------------------------------------------

    def insert(self, order: Order) -> LivePlan | Unassigned:
        """Cheapest feasible insertion of ``order`` (new, or unassigned so far).

        Returns the new live view, or an :class:`Unassigned` with the reason when
        no position of any available vehicle is feasible.
        """
        return _insert(self, order)

    def without_vehicle(self, vehicle_id: str, *, transfer_s: int | None = None) -> LivePlan:
        """``vehicle_id`` broke down: its stops still to do go to other vehicles.

        Orders not yet on board (pickups, shipments not picked up, deliveries
        of a later trip) are inserted one by one, tightest deadline first.
        Goods on board cannot be delivered by a vehicle that does not move:
        with ``transfer_s=None`` they are listed as unassigned (code
        ``on_board``) for the dispatcher to organise a transfer; with
        ``transfer_s`` seconds they become shipments picked up from the
        broken vehicle where it stands (``transfer_s`` of handover) and
        delivered as planned, inserted like any other order -- their orders
        are then shipments in :attr:`problem`. The vehicle takes no new work.
        """
        return _reassign(self, vehicle_id, transfer_s)

    def reoptimise(
        self,
        *,
        time_limit: float,
        engine: str = "auto",
        seed: int = 0,
        workers: int | None = None,
        keep_started: bool = False,
        on_progress: Progress | None = None,
    ) -> LivePlan:
        """Everything not yet done planned again by :func:`~lastmile.planning.solve.solve`.

        Vehicles on the road take part from where they are with what they
        carry; with ``keep_started`` (and always for a started vehicle with a
        reload ahead) their remaining sequence is kept as it is. The new plan
        replaces the current one only if it leaves fewer orders unassigned, or
        as many at a lower cost; ``plan.engine`` says which (``"... (kept)"``).
        """
        return _reoptimise(
            self,
            time_limit=time_limit,
            engine=engine,
            seed=seed,
            workers=workers,
            keep_started=keep_started,
            on_progress=on_progress,
        )

    def rebase(self, problem: PlanningProblem) -> LivePlan:
        """The same live view over ``problem`` (e.g. the same problem with rows added).

        When ``problem`` only adds locations at the end (same orders, vehicles
        and depots, the same matrices on the rows already there), the view is
        grown in place of being rebuilt: O(locations^2) array copies instead of
        forecasting and validating every route again.
        """
        if _only_adds_locations(self.problem, problem):
            return _grown(self, problem)
        return LivePlan.build(
            problem,
            self.plan,
            now_s=self.now_s,
            states=self.states.values(),
            unavailable=self.unavailable,
        )

    @property
    def next_row(self) -> int:
        """The matrix row the next location added by :meth:`with_locations` gets."""
        return len(self.residual.locations)

    def with_locations(
        self, locations: Sequence[Location], between: Mapping[str, Between]
    ) -> LivePlan:
        """The same live view with ``locations`` added (say, the address of an order
        about to be inserted), at rows :attr:`next_row` onwards.

        ``between[profile](origins, destinations)`` gives the durations and
        distances from each origin to each destination for every profile of
        the problem; only the new rows and columns are asked for. The new rows
        come after the vehicles' private rows, which the problem then lists
        too (copies of where the vehicles are, used by none of its stops), so
        the problem and the residual problem share one matrix per profile.
        Matrices keep room to grow: adding a location writes its row and
        column in place, O(rows), and copies the matrix only when the room is
        used up (or when another view grown from the same one took it first).
        """
        if not locations:
            return self
        k = len(locations)
        here = self.residual.locations
        size = len(here)
        everything = [*here, *locations]
        private = sorted({t.now_row for t in self._tracks.values() if t.now_row is not None})
        matrices: dict[str, TravelMatrix] = {}
        done: dict[int, TravelMatrix] = {}
        for profile, m in self.residual.matrices.items():
            same = done.get(id(m))
            if same is not None:
                matrices[profile] = same
                continue
            out_t, out_d = between[profile](locations, everything)
            in_t, in_d = between[profile](here, locations)
            parts = (out_t, out_d, in_t, in_d)
            shapes = ((k, size + k),) * 2 + ((size, k),) * 2
            for part, shape in zip(parts, shapes, strict=True):
                if part.shape != shape:
                    raise InputError(
                        f"expected a {shape[0]} x {shape[1]} block, got {part.shape}",
                        where=f"between[{profile!r}]",
                    )
                if (part < 0).any():
                    raise InputError("negative travel value", where=f"between[{profile!r}]")
            if private:
                # No new stop enters a vehicle's private row.
                out_t = np.array(out_t, dtype=np.int64)
                out_d = np.array(out_d, dtype=np.int64)
                out_t[:, private] = m.durations[0, private]
                out_d[:, private] = m.distances[0, private]
            matrices[profile] = done[id(m)] = m.grown_in_place(out_t, out_d, in_t, in_d)
        locs = (*here, *locations)
        problem = copy.copy(self.problem)
        object.__setattr__(problem, "locations", locs)
        object.__setattr__(problem, "matrices", {p: matrices[p] for p in self.problem.matrices})
        residual = copy.copy(self.residual)
        object.__setattr__(residual, "locations", locs)
        object.__setattr__(residual, "matrices", matrices)
        return dataclasses.replace(
            self, problem=problem, residual=residual, _index=dict(self._index)
        )

    def _route_index(self, vehicle_id: str) -> _RouteIndex | None:
        found = self._index.get(vehicle_id)
        if found is None:
            route = self.residual_plan.route_of(vehicle_id)
            if route is None:
                return None
            found = _RouteIndex.build(self, route)
            self._index[vehicle_id] = found
        return found


_FIELDS: dict[type, tuple[str, ...]] = {}


def _clone(obj: _T, **changes: object) -> _T:
    """A copy of the frozen dataclass ``obj`` with ``changes``, not checked again
    (the caller keeps it valid)."""
    cls = type(obj)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    out = object.__new__(cls)
    for name in names:
        object.__setattr__(out, name, changes[name] if name in changes else getattr(obj, name))
    return out


def _only_adds_locations(old: PlanningProblem, new: PlanningProblem) -> bool:
    n = len(old.locations)
    if (
        len(new.locations) < n
        or new.locations[:n] != old.locations
        or new.orders != old.orders
        or new.vehicles != old.vehicles
        or new.depots != old.depots
        or new.dimensions != old.dimensions
        or new.time_scale != old.time_scale
        or set(new.matrices) != set(old.matrices)
    ):
        return False
    for profile, m in old.matrices.items():
        g = new.matrices[profile]
        if (g.durations is m.durations and g.distances is m.distances) or g.is_grown_from(m):
            continue  # the same arrays, or grown from them (their block copied)
        if not (
            np.array_equal(g.durations[:n, :n], m.durations)
            and np.array_equal(g.distances[:n, :n], m.distances)
        ):
            return False
    return True


def _grown(live: LivePlan, problem: PlanningProblem) -> LivePlan:
    """``live`` over ``problem``, which has locations more at the end (checked by
    :func:`_only_adds_locations`)."""
    n = len(live.problem.locations)
    k = len(problem.locations) - n
    if k == 0:
        return dataclasses.replace(live, problem=problem)
    blocks = {
        profile: (g.durations[n:, :], g.distances[n:, :], g.durations[:n, n:], g.distances[:n, n:])
        for profile, g in problem.matrices.items()
    }
    return _grown_by(live, problem.locations[n:], blocks, problem)


Blocks = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _grown_by(
    live: LivePlan,
    extra: Sequence[Location],
    blocks: Mapping[str, Blocks],
    problem: PlanningProblem,
) -> LivePlan:
    """``live`` with ``extra`` locations added at the end of its problem.

    ``blocks[profile]`` are the new rows and columns: durations and distances
    from each new location to every location (``k x (n+k)``), and from every
    old location to each new one (``n x k``). ``problem`` is the grown problem.

    The residual problem's locations are the problem's followed by the
    vehicles' private "now" rows (:func:`_with_private_rows`); the new
    locations go between the two, so every reference to a private row moves
    up by ``k``: depots where started vehicles stand, goods on board, the
    residual routes' visits and the tracks.
    """
    n = len(live.problem.locations)
    k = len(extra)
    residual = live.residual
    p = len(residual.locations) - n  # private rows

    def shift(i: int) -> int:
        return i + k if i >= n else i

    # Which problem row each private row copies.
    underlying = {t.now_row: t.here for t in live._tracks.values() if t.now_row is not None}
    rows = np.asarray([underlying[n + j] for j in range(p)], dtype=np.intp)
    matrices: dict[str, TravelMatrix] = {}
    done: dict[int, TravelMatrix] = {}
    for profile, m in residual.matrices.items():
        if p == 0 and problem is not None:
            matrices[profile] = problem.matrices[profile]  # the residual's are the problem's
            continue
        same = done.get(id(m))
        if same is not None:  # profiles sharing one matrix share its growth
            matrices[profile] = same
            continue
        out_t, out_d, in_t, in_d = blocks[profile]
        grown = []
        for a, out_rows, in_cols in ((m.durations, out_t, in_t), (m.distances, out_d, in_d)):
            out = np.empty((n + k + p, n + k + p), dtype=np.int64)
            out[:n, :n] = a[:n, :n]
            out[:n, n : n + k] = in_cols
            out[n : n + k, : n + k] = out_rows
            if p:
                out[:n, n + k :] = a[:n, n:]  # into a private row: never
                out[n : n + k, n + k :] = a[0:1, n:] if n else 0
                out[n + k :, :n] = a[n:, :n]
                out[n + k :, n : n + k] = in_cols[rows, :]  # from where the vehicle is
                out[n + k :, n + k :] = a[n:, n:]
            grown.append(out)
        # Every block comes from a checked matrix or was checked by the caller.
        matrices[profile] = done[id(m)] = TravelMatrix.of_checked(grown[0], grown[1])
    if p == 0:
        new_residual = copy.copy(residual)
        object.__setattr__(new_residual, "locations", problem.locations)
        object.__setattr__(new_residual, "matrices", matrices)
        return dataclasses.replace(
            live, problem=problem, residual=new_residual, _index=dict(live._index)
        )

    # Copies with the location moved: the objects were checked when made, and
    # hundreds of them (everything on board) change at each growth.
    def moved(obj: _T) -> _T:
        return _clone(obj, location=obj.location + k)  # type: ignore[attr-defined]

    def moved_order(o: Order) -> Order:
        pickup, delivery = o.pickup, o.delivery
        if (pickup is None or pickup.location < n) and (delivery is None or delivery.location < n):
            return o
        if pickup is not None and pickup.location >= n:
            pickup = moved(pickup)
        if delivery is not None and delivery.location >= n:
            delivery = moved(delivery)
        return _clone(o, pickup=pickup, delivery=delivery)

    orders = tuple(moved_order(o) for o in residual.orders)
    depots = tuple(d if d.location < n else moved(d) for d in residual.depots)
    new_residual = copy.copy(residual)
    object.__setattr__(new_residual, "locations", (*problem.locations, *residual.locations[n:]))
    object.__setattr__(new_residual, "matrices", matrices)
    object.__setattr__(new_residual, "depots", depots)
    new_residual = _with_orders(new_residual, orders)
    routes = tuple(
        dataclasses.replace(
            r,
            visits=tuple(v if v.location < n else moved(v) for v in r.visits),
        )
        for r in live.residual_plan.routes
    )
    tracks = {
        vid: t if t.now_row is None else dataclasses.replace(t, now_row=shift(t.now_row))
        for vid, t in live._tracks.items()
    }
    return dataclasses.replace(
        live,
        problem=problem,
        residual=new_residual,
        residual_plan=dataclasses.replace(live.residual_plan, routes=routes),
        _tracks=tracks,
        _index={
            vid: dataclasses.replace(ix, loc=[shift(i) if i >= 0 else i for i in ix.loc])
            for vid, ix in live._index.items()
        },
    )


def insert_order(problem: PlanningProblem, live: LivePlan, order: Order) -> Plan | Unassigned:
    """The full plan with ``order`` inserted at its cheapest feasible position.

    ``problem`` is ``live.problem`` or that problem grown by the order's
    locations (the live view is then grown, see :meth:`LivePlan.rebase`). Returns
    :class:`Unassigned` with a reason when no vehicle can take the order.
    The result has passed the validator (see :class:`LivePlan`).
    """
    if problem is not live.problem:
        live = live.rebase(problem)
    result = live.insert(order)
    return result.plan if isinstance(result, LivePlan) else result


def reassign_vehicle(
    problem: PlanningProblem,
    live: LivePlan,
    broken_vehicle_id: str,
    *,
    transfer_s: int | None = None,
) -> Plan:
    """The full plan after ``broken_vehicle_id`` broke down.

    See :meth:`LivePlan.without_vehicle`.
    """
    if problem is not live.problem:
        live = live.rebase(problem)
    return live.without_vehicle(broken_vehicle_id, transfer_s=transfer_s).plan


def reoptimise(
    problem: PlanningProblem,
    live: LivePlan,
    *,
    time_limit: float,
    engine: str = "auto",
    seed: int = 0,
    workers: int | None = None,
    keep_started: bool = False,
) -> Plan:
    """The full plan with everything not yet done planned again.

    See :meth:`LivePlan.reoptimise`.
    """
    if problem is not live.problem:
        live = live.rebase(problem)
    return live.reoptimise(
        time_limit=time_limit,
        engine=engine,
        seed=seed,
        workers=workers,
        keep_started=keep_started,
    ).plan


# ----------------------------------------------------------------------------------------
# Building the residual problem
# ----------------------------------------------------------------------------------------


def _key(v: Visit) -> StopKey:
    return (v.order_id or "", v.kind)


def _step(v: Visit) -> Step:
    return Step(v.kind, order_id=v.order_id, break_id=v.break_id, depot=v.depot)


def _plus(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def _exactly(t: int) -> tuple[TimeWindow, ...]:
    return (TimeWindow(t, t),)


@dataclass
class _History:
    track: _Track
    steps: list[Step]
    dead_load: tuple[int, ...]
    served: set[str]
    tasks_done: int
    reloads_done: int


class _Builder:
    def __init__(
        self,
        problem: PlanningProblem,
        plan: Plan,
        now_s: int,
        states: tuple[VehicleState, ...],
        unavailable: frozenset[str],
    ) -> None:
        self.problem = problem
        self.plan = plan
        self.now = int(now_s)
        self.unavailable = unavailable
        self.states: dict[str, VehicleState] = {}
        vehicle_ids = {v.id for v in problem.vehicles}
        for s in states:
            where = f"vehicle state {s.vehicle_id!r}"
            if s.vehicle_id not in vehicle_ids:
                raise InputError("no such vehicle in the problem", where=where)
            if s.vehicle_id in self.states:
                raise InputError("two states for one vehicle", where=where)
            if not 0 <= s.location < len(problem.locations):
                raise InputError(f"location {s.location} is not a matrix row", where=where)
            self.states[s.vehicle_id] = s
        for vid in unavailable:
            if vid not in vehicle_ids:
                raise InputError("no such vehicle in the problem", where=f"unavailable {vid!r}")
        self.zero = (0,) * len(problem.dimensions)

    def ready(self, vehicle_id: str) -> int:
        return max(self.states[vehicle_id].ready_s, self.now)

    def build(self) -> LivePlan:
        problem, plan = self.problem, self.plan
        known = {o.id for o in problem.orders}
        for planned in plan.routes:
            if planned.vehicle_id not in {v.id for v in problem.vehicles}:
                raise InputError(
                    "no such vehicle in the problem", where=f"route {planned.vehicle_id!r}"
                )
            for v in planned.visits:
                if v.order_id is not None and v.order_id not in known:
                    raise InputError(
                        f"visits order {v.order_id!r}, which the problem does not have",
                        where=f"route of {planned.vehicle_id!r}",
                    )
        started = bool(self.states)

        # History, goods on board and the remaining steps of each vehicle.
        tracks: dict[str, _Track] = {}
        steps: dict[str, list[Step]] = {}
        histories: dict[str, _History] = {}
        served: set[str] = set()
        for vehicle in problem.vehicles:
            route = plan.route_of(vehicle.id)
            if vehicle.id not in self.states:
                tracks[vehicle.id] = _Track(vehicle.id, started=False)
                if route is not None and route.tasks:
                    steps[vehicle.id] = [
                        _step(v) for v in route.visits if v.kind not in (_START, _END)
                    ]
                continue
            h = self.history(vehicle, route)
            histories[vehicle.id] = h
            tracks[vehicle.id] = h.track
            steps[vehicle.id] = h.steps
            served |= h.served

        # A private "now" row for each vehicle carrying goods.
        locations = list(problem.locations)
        now_rows: dict[str, int] = {}
        for vid, h in histories.items():
            if h.track.pinned or any(h.dead_load):
                now_rows[vid] = len(locations)
                row = self.states[vid].location
                locations.append(dataclasses.replace(problem.locations[row], name=f"{vid} now"))
        # Large enough that no other vehicle reaches the row by the time the goods
        # are picked up there, small enough for every engine's cost arithmetic.
        no_entry = _NO_ENTRY + max((self.ready(v) for v in now_rows), default=0)
        matrices = (
            _with_private_rows(
                problem.matrices, [self.states[v].location for v in now_rows], no_entry
            )
            if now_rows
            else dict(problem.matrices)
        )

        # Depots: the problem's, then where each started vehicle is now.
        depots = list(problem.depots)
        depot_map = list(range(len(depots)))
        start_depot: dict[str, int] = {}
        for vid in histories:
            start_depot[vid] = len(depots)
            where = now_rows.get(vid, self.states[vid].location)
            depots.append(Depot(f"{vid}@now", where, TimeWindow(self.ready(vid), HORIZON)))
            depot_map.append(-1)

        # Orders: what is left, the goods on board as pickups where the vehicle is.
        pinned_on = {oid: vid for vid, h in histories.items() for oid in h.track.pinned}
        remaining = {s.order_id for ss in steps.values() for s in ss if s.order_id}
        orders: list[Order] = []
        for o in problem.orders:
            if o.id in pinned_on:
                vid = pinned_on[o.id]
                orders.append(self.pinned_order(o, now_rows[vid], self.ready(vid)))
            elif o.id in remaining or o.id not in served:
                orders.append(_with_depot_skill(o) if started else o)
        for vid, h in histories.items():
            if any(h.dead_load):
                did = h.track.dead_load_id
                assert did is not None
                if did in known:
                    raise InputError("order id is reserved for goods on board", where=did)
                stop = Stop(now_rows[vid], time_windows=_exactly(self.ready(vid)), ref="on board")
                orders.append(Order(did, OrderKind.PICKUP, pickup=stop, amount=h.dead_load))

        # Vehicles.
        with_skill: dict[VehicleType, VehicleType] = {}

        def depot_type(t: VehicleType) -> VehicleType:
            if t not in with_skill:
                with_skill[t] = dataclasses.replace(t, skills=t.skills | {LOADED_AT_DEPOT})
            return with_skill[t]

        vehicles: list[Vehicle] = []
        for vehicle in problem.vehicles:
            vid = vehicle.id
            found = histories.get(vid)
            if found is None:
                shift = vehicle.shift
                if self.now > shift.start:
                    shift = TimeWindow(self.now, max(shift.end, self.now))
                vtype = depot_type(vehicle.type) if started else vehicle.type
                vehicles.append(dataclasses.replace(vehicle, type=vtype, shift=shift))
                continue
            h = found
            track = h.track
            pseudo = [Step(_PICKUP, order_id=oid) for oid in track.pinned]
            if any(h.dead_load):
                pseudo.append(Step(_JOB, order_id=track.dead_load_id))
            else:
                track = dataclasses.replace(track, dead_load_id=None)
            steps[vid] = pseudo + steps[vid]
            tracks[vid] = dataclasses.replace(
                track, now_row=now_rows.get(vid), here=self.states[vid].location
            )
            reload_ahead = any(s.kind is _RELOAD for s in h.steps)
            vtype = depot_type(vehicle.type) if reload_ahead else vehicle.type
            vehicles.append(self.started_vehicle(vehicle, h, vtype, start_depot[vid], len(pseudo)))

        strict = PlanningProblem(
            locations=tuple(locations),
            matrices=matrices,
            depots=tuple(depots),
            vehicles=tuple(vehicles),
            orders=tuple(orders),
            dimensions=problem.dimensions,
            name=problem.name,
            time_scale=problem.time_scale,
            travel_note=problem.travel_note,
        )
        started_ids = frozenset(histories)
        residual, relaxations, steps, depot_map, forecast = _relax(
            strict, steps, started_ids, depot_map
        )
        routes = []
        for before, vehicle in zip(strict.vehicles, residual.vehicles, strict=True):
            if vehicle.id not in steps:
                continue
            if vehicle == before:
                routes.append(forecast[vehicle.id])  # relaxed windows do not move any time
            else:
                routes.append(
                    _route(residual, vehicle.id, steps[vehicle.id], before.id in started_ids)
                )
        unassigned = _unassigned(residual, tuple(routes), plan.unassigned)
        residual_plan = Plan(tuple(routes), unassigned, plan.engine, plan.runtime_s)
        _check(residual, residual_plan, "the live plan")
        live = LivePlan(
            problem=problem,
            plan=plan,
            now_s=self.now,
            states=dict(self.states),
            residual=residual,
            residual_plan=residual_plan,
            relaxations=relaxations,
            unavailable=self.unavailable,
            _tracks=tracks,
            _depot_map=tuple(depot_map),
        )
        return dataclasses.replace(live, plan=_full_plan(live, residual_plan, plan.engine))

    def history(self, vehicle: Vehicle, route: Route | None) -> _History:
        """What a started vehicle has done, carries, and has left to do."""
        problem = self.problem
        state = self.states[vehicle.id]
        visits = route.visits if route is not None else ()
        keys = {_key(v): i for i, v in enumerate(visits) if v.is_task}
        done = state.completed | state.failed
        for k in sorted(done):
            if k not in keys:
                raise InputError(
                    f"stop {k[0]!r} ({k[1]}) is not on its route",
                    where=f"vehicle state {vehicle.id!r}",
                )
        frontier = max((keys[k] for k in done), default=0)
        failed_orders = {oid for oid, _ in state.failed}
        picked = {oid for oid, kind in state.completed if kind is _PICKUP}
        # The trip in progress began at the last reload behind the vehicle.
        trip_begin = max(
            (i for i, v in enumerate(visits) if v.kind is _RELOAD and i < frontier), default=0
        )
        behind: list[Visit] = []
        rest: list[Step] = []
        pinned: dict[str, OrderKind] = {}
        dead = self.zero
        served: set[str] = set()
        tasks_done = reloads_done = 0
        for i, v in enumerate(visits):
            kind = v.kind
            if kind is _START:
                behind.append(v)
            elif kind is _END:
                continue
            elif v.is_task:
                oid = v.order_id or ""
                order = problem.order(oid)
                k = _key(v)
                in_trip = i > trip_begin
                if k in done:
                    behind.append(v)
                    served.add(oid)
                    tasks_done += 1
                    # Goods that stay on board until the next depot.
                    if k in state.failed:
                        back = (kind is _JOB and order.kind is OrderKind.DELIVERY and in_trip) or (
                            kind is _DELIVERY and oid in picked
                        )
                    else:
                        back = kind is _JOB and order.kind is OrderKind.PICKUP and in_trip
                    if back:
                        dead = _plus(dead, problem.amount(order))
                    continue
                if oid in failed_orders:
                    continue  # the order failed at its other stop
                if kind is _DELIVERY and oid in picked:
                    pinned[oid] = OrderKind.SHIPMENT
                elif (
                    kind is _JOB
                    and order.kind is OrderKind.DELIVERY
                    and in_trip
                    and not any(w.kind is _RELOAD for w in visits[trip_begin + 1 : i])
                ):
                    pinned[oid] = OrderKind.DELIVERY
                    # Carried, it becomes the delivery half of a shipment from here.
                    rest.append(Step(_DELIVERY, order_id=oid))
                    continue
                rest.append(_step(v))
            elif i < frontier:
                # Breaks and reloads before the last stop reported were taken.
                behind.append(v)
                reloads_done += kind is _RELOAD
            else:
                rest.append(_step(v))
        travel, distance = state.travel_s, state.distance_m
        if travel is None or distance is None:
            last = next((v for v in reversed(behind) if v.kind is not _BREAK), None)
            t0 = last.travel if last is not None else 0
            d0 = last.distance if last is not None else 0
            if last is not None and last.location != state.location:
                m = problem.matrix_for(vehicle)
                t0 += int(m.durations[last.location, state.location])
                d0 += int(m.distances[last.location, state.location])
            travel = t0 if travel is None else travel
            distance = d0 if distance is None else distance
        track = _Track(
            vehicle.id,
            started=True,
            done=tuple(behind),
            travel_s=travel,
            distance_m=distance,
            pinned=pinned,
            dead_load_id=f"{vehicle.id}~on-board",
        )
        return _History(track, rest, dead, served, tasks_done, reloads_done)

    def pinned_order(self, order: Order, row: int, ready: int) -> Order:
        """A carried order as a shipment picked up where the vehicle is, at ``ready``."""
        assert order.delivery is not None
        return Order(
            order.id,
            OrderKind.SHIPMENT,
            pickup=Stop(row, time_windows=_exactly(ready), ref="on board"),
            delivery=order.delivery,
            amount=self.problem.amount(order),
            skills=order.skills,
            priority=order.priority,
        )

    def started_vehicle(
        self, vehicle: Vehicle, h: _History, vtype: VehicleType, depot: int, pseudo: int
    ) -> Vehicle:
        """The vehicle from where it is now, with what it has used taken off its limits."""
        ready = self.ready(vehicle.id)
        track = h.track
        end = vehicle.shift.end
        if vehicle.max_duration is not None and track.done:
            first = track.done[0]
            began = first.departure if first.kind is _START else first.start
            end = min(end, began + vehicle.max_duration)
        taken = {v.break_id for v in track.done if v.kind is _BREAK}

        def left(limit: int | None, used: int) -> int | None:
            return None if limit is None else max(0, limit - used)

        max_tasks = left(vehicle.max_tasks, h.tasks_done)
        return Vehicle(
            id=vehicle.id,
            type=vtype,
            start_depot=depot,
            end_depot=vehicle.end_depot,
            shift=TimeWindow(ready, max(end, ready)),
            max_duration=None,
            max_travel_time=left(vehicle.max_travel_time, track.travel_s),
            max_distance=left(vehicle.max_distance, track.distance_m),
            max_tasks=None if max_tasks is None else max_tasks + pseudo,
            breaks=tuple(b for b in vehicle.breaks if b.id not in taken),
            reload_depots=vehicle.reload_depots,
            max_reloads=left(vehicle.max_reloads, h.reloads_done),
        )


def _with_depot_skill(order: Order) -> Order:
    if order.kind is not OrderKind.DELIVERY or LOADED_AT_DEPOT in order.skills:
        return order
    return dataclasses.replace(order, skills=order.skills | {LOADED_AT_DEPOT})


def _with_private_rows(
    matrices: Mapping[str, TravelMatrix], rows: Sequence[int], no_entry: int
) -> dict[str, TravelMatrix]:
    """Each matrix grown by copies of ``rows`` that can be left but never entered."""
    k = len(rows)
    idx = np.asarray(rows, dtype=np.intp)
    out: dict[str, TravelMatrix] = {}
    for profile, m in matrices.items():
        grown = []
        for a in (m.durations, m.distances):
            n = a.shape[0]
            b = np.full((n + k, n + k), no_entry, dtype=np.int64)
            b[:n, :n] = a
            b[n:, :n] = a[idx, :]
            b[np.arange(n, n + k), np.arange(n, n + k)] = 0
            grown.append(b)
        out[profile] = TravelMatrix(grown[0], grown[1])
    return out


def _route(
    problem: PlanningProblem, vehicle_id: str, steps: Sequence[Step], started: bool
) -> Route:
    """The timed route; a started vehicle leaves where it is exactly when it is ready."""
    vehicle = problem.vehicle(vehicle_id)
    return build_route(problem, vehicle, steps, start_time=vehicle.shift.start if started else None)


def _stop_attr(order: Order, kind: VisitKind) -> str:
    if kind is _PICKUP or (kind is _JOB and order.kind is OrderKind.PICKUP):
        return "pickup"
    return "delivery"


def _relax(
    problem: PlanningProblem,
    steps: dict[str, list[Step]],
    started: frozenset[str],
    depot_map: list[int],
) -> tuple[
    PlanningProblem, tuple[Relaxation, ...], dict[str, list[Step]], list[int], dict[str, Route]
]:
    """Relax every promise the forecast routes already break to the forecast value.

    Returns the relaxed problem, what was relaxed, the steps (reload depots may
    be renamed), the depot map and the forecast routes (times are unchanged by
    relaxing)."""

    def clock(t: int) -> str:
        return format_clock(t, scale=problem.time_scale)

    notes: list[Relaxation] = []
    window_ends: dict[tuple[str, str], int] = {}
    vehicles = list(problem.vehicles)
    depots = list(problem.depots)
    depot_map = list(depot_map)
    steps = dict(steps)
    forecast: dict[str, Route] = {}
    for n, vehicle in enumerate(vehicles):
        vid = vehicle.id
        if vid not in steps:
            continue
        route = _route(problem, vid, steps[vid], vid in started)
        forecast[vid] = route
        changes: dict[str, object] = {}
        breaks = {b.id: b for b in vehicle.breaks}
        late_breaks: dict[str, int] = {}
        private: dict[int, int] = {}  # depot index -> latest forecast use
        top = list(route.visits[0].load) if route.visits else []
        for v in route.visits:
            top = [max(a, b) for a, b in zip(top, v.load, strict=True)]
            if v.is_task:
                order = problem.order(v.order_id or "")
                attr = _stop_attr(order, v.kind)
                stop = getattr(order, attr)
                assert isinstance(stop, Stop)
                w = stop.time_windows
                if w and v.start > w[-1].end:
                    window_ends[(order.id, attr)] = max(
                        window_ends.get((order.id, attr), 0), v.start
                    )
                    notes.append(
                        Relaxation(
                            vid,
                            "time_window",
                            f"order {order.id!r} ({attr}) is forecast at {clock(v.start)}, after "
                            f"its window ends at {clock(w[-1].end)}",
                            order.id,
                        )
                    )
            elif v.kind is _BREAK and v.break_id in breaks:
                w = breaks[v.break_id].time_windows
                if v.start > w[-1].end:
                    late_breaks[v.break_id] = v.start
                    notes.append(
                        Relaxation(
                            vid,
                            "break",
                            f"break {v.break_id!r} is forecast at {clock(v.start)}, after its "
                            f"window ends at {clock(w[-1].end)}",
                        )
                    )
            elif (
                v.kind is _RELOAD
                and v.depot is not None
                and v.start > depots[v.depot].time_window.end
            ):
                private[v.depot] = max(private.get(v.depot, 0), v.start)
        end_time = route.end_time
        if route.visits and route.visits[-1].kind is _END and vehicle.end_depot is not None:
            arrival = route.visits[-1].arrival
            if arrival > depots[vehicle.end_depot].time_window.end:
                private[vehicle.end_depot] = max(private.get(vehicle.end_depot, 0), arrival)
            end_time = arrival
        if late_breaks:
            changes["breaks"] = tuple(
                dataclasses.replace(
                    b,
                    time_windows=(
                        *b.time_windows[:-1],
                        TimeWindow(b.time_windows[-1].start, late_breaks[b.id]),
                    ),
                )
                if b.id in late_breaks
                else b
                for b in vehicle.breaks
            )
        if end_time > vehicle.shift.end:
            changes["shift"] = TimeWindow(vehicle.shift.start, end_time)
            notes.append(
                Relaxation(
                    vid,
                    "shift_end",
                    f"forecast to end at {clock(end_time)}, after its shift ends at "
                    f"{clock(vehicle.shift.end)}",
                )
            )
        first = route.visits[0] if route.visits else None
        if vehicle.max_duration is not None and first is not None:
            began = first.departure if first.kind is _START else first.start
            if end_time - began > vehicle.max_duration:
                changes["max_duration"] = end_time - began
                notes.append(
                    Relaxation(vid, "max_duration", f"forecast to work {end_time - began}s")
                )
        for name, used in (
            ("max_travel_time", route.travel),
            ("max_distance", route.distance),
            ("max_tasks", len(route.tasks)),
            ("max_reloads", sum(1 for v in route.visits if v.kind is _RELOAD)),
        ):
            limit = getattr(vehicle, name)
            if limit is not None and used > limit:
                changes[name] = used
                notes.append(Relaxation(vid, name, f"forecast {used}, over its limit {limit}"))
        if top and any(a > c for a, c in zip(top, vehicle.capacity, strict=True)):
            capacity = tuple(max(a, c) for a, c in zip(top, vehicle.capacity, strict=True))
            changes["type"] = dataclasses.replace(vehicle.type, capacity=capacity)
            notes.append(Relaxation(vid, "capacity", f"forecast to carry {top}, over its capacity"))
        if private:
            reloads = list(vehicle.reload_depots)
            renamed: dict[int, int] = {}
            for d, latest in private.items():
                src = depots[d]
                renamed[d] = len(depots)
                depots.append(
                    dataclasses.replace(
                        src,
                        id=f"{src.id}@{vid}",
                        time_window=TimeWindow(src.time_window.start, latest),
                    )
                )
                depot_map.append(depot_map[d])
                if d in reloads:
                    reloads.append(renamed[d])
                notes.append(
                    Relaxation(
                        vid,
                        "depot_window",
                        f"forecast at depot {src.id!r} at {clock(latest)}, after it closes at "
                        f"{clock(src.time_window.end)}",
                    )
                )
            if vehicle.end_depot in renamed:
                changes["end_depot"] = renamed[vehicle.end_depot]
            changes["reload_depots"] = tuple(reloads)
            steps[vid] = [
                dataclasses.replace(s, depot=renamed[s.depot])
                if s.kind is _RELOAD and s.depot in renamed
                else s
                for s in steps[vid]
            ]
        if changes:
            vehicles[n] = dataclasses.replace(vehicle, **changes)  # type: ignore[arg-type]
    if not notes and len(depots) == len(problem.depots):
        return problem, (), steps, depot_map, forecast
    orders = list(problem.orders)
    if window_ends:
        for n, o in enumerate(orders):
            for attr in ("pickup", "delivery"):
                late = window_ends.get((o.id, attr))
                if late is None:
                    continue
                stop = getattr(o, attr)
                w = stop.time_windows
                stop = dataclasses.replace(
                    stop, time_windows=(*w[:-1], TimeWindow(w[-1].start, late))
                )
                o = dataclasses.replace(o, **{attr: stop})
            orders[n] = o
    relaxed = dataclasses.replace(
        problem, depots=tuple(depots), vehicles=tuple(vehicles), orders=tuple(orders)
    )
    return relaxed, tuple(notes), steps, depot_map, forecast


def _readable(u: Unassigned) -> Unassigned:
    if LOADED_AT_DEPOT in u.reason:
        return Unassigned(
            u.order_id,
            "its goods wait at a depot and every vehicle able to take it has left its depot",
            "started",
        )
    return u


def _unassigned(
    problem: PlanningProblem, routes: tuple[Route, ...], known: Iterable[Unassigned]
) -> tuple[Unassigned, ...]:
    """Every order of ``problem`` no route serves, with the reason it already had or a new one."""
    from lastmile.planning.unassigned import explain_unassigned

    on = {v.order_id for r in routes for v in r.visits if v.order_id is not None}
    missing = [o.id for o in problem.orders if o.id not in on]
    if not missing:
        return ()
    reasons = {u.order_id: u for u in known if u.reason}
    if any(oid not in reasons for oid in missing):
        asked = Plan(routes, tuple(Unassigned(oid, "", "") for oid in missing))
        for u in explain_unassigned(problem, asked):
            reasons.setdefault(u.order_id, u)
    return tuple(_readable(reasons[oid]) for oid in missing)


def _with_orders(problem: PlanningProblem, orders: tuple[Order, ...]) -> PlanningProblem:
    """``problem`` with ``orders`` instead of its own, which the caller has checked
    (unique ids, rows and amounts in range). :class:`PlanningProblem` checks every
    order again on construction, which would cost more than an insertion itself."""
    new = copy.copy(problem)
    object.__setattr__(new, "orders", orders)
    object.__setattr__(new, "_by_id", {o.id: o for o in orders})
    new.__dict__.pop("features", None)
    return new


def _check(problem: PlanningProblem, plan: Plan, what: str) -> None:
    report = validate(problem, plan)
    if not report.ok:
        raise LiveChangeRejected(what, report.violations)


def _route_ok(problem: PlanningProblem, route: Route) -> bool:
    """Whether the validator accepts ``route`` on its own."""
    ids = {v.order_id for v in route.visits if v.order_id is not None}
    sub = _with_orders(problem, tuple(problem.order(oid) for oid in sorted(ids)))
    return validate(sub, Plan((route,))).ok


def _full_route(live: LivePlan, vehicle_id: str, residual: Route | None) -> Route | None:
    """History followed by the residual route, in the terms of ``live.problem``."""
    track = live._tracks[vehicle_id]
    visits = list(track.done)
    toff, doff = track.travel_s, track.distance_m
    depot_map = live._depot_map
    for v in residual.visits if residual is not None else ():
        oid = v.order_id
        if track.started and v.kind is _START:
            continue
        if oid is not None and (
            oid == track.dead_load_id or (v.kind is _PICKUP and oid in track.pinned)
        ):
            continue
        kind = v.kind
        if kind is _DELIVERY and track.pinned.get(oid or "") is OrderKind.DELIVERY:
            kind = _JOB
        location = (
            track.here if v.location == track.now_row and track.here is not None else v.location
        )
        visits.append(
            Visit(
                kind,
                location,
                v.arrival,
                v.start,
                v.departure,
                v.load,
                v.distance + doff,
                v.travel + toff,
                order_id=oid,
                break_id=v.break_id,
                depot=depot_map[v.depot] if v.depot is not None else None,
            )
        )
    if not visits:
        return None
    last = visits[-1]
    has_tasks = any(v.is_task for v in visits)
    vehicle = live.problem.vehicle(vehicle_id)
    cost = route_cost(vehicle, last.travel, last.distance) if has_tasks else 0
    return Route(vehicle_id, tuple(visits), cost)


def _full_plan(
    live: LivePlan, residual_plan: Plan, engine: str, *, only: str | None = None
) -> Plan:
    """The full plan of ``residual_plan``; with ``only``, just that vehicle's route is redone."""
    routes: list[Route] = []
    for vehicle in live.problem.vehicles:
        vid = vehicle.id
        if only is not None and vid != only:
            found = live.plan.route_of(vid)
        else:
            found = _full_route(live, vid, residual_plan.route_of(vid))
        if found is not None and (found.tasks or live._tracks[vid].started):
            routes.append(found)
    pseudo = {t.dead_load_id for t in live._tracks.values()}
    unassigned = tuple(u for u in residual_plan.unassigned if u.order_id not in pseudo)
    return Plan(tuple(routes), unassigned, engine, residual_plan.runtime_s)


# ----------------------------------------------------------------------------------------
# Insertion
# ----------------------------------------------------------------------------------------

BreakSpan = tuple[tuple[TimeWindow, ...], int]


def _through(t: int, breaks: Sequence[BreakSpan], leg: int) -> int | None:
    """Arrival after leaving at ``t`` for a ``leg`` with ``breaks`` taken on the way
    (the rule of :func:`~lastmile.planning.schedule.build_route`); None when a
    break's windows have all passed."""
    driven = 0
    for windows, duration in breaks:
        s = earliest_start(windows, t)
        if s is None:
            return None
        drive = min(leg - driven, s - t)
        driven += drive
        t = s + duration
    return t + leg - driven


def _latest_departure(breaks: Sequence[BreakSpan], leg: int, latest: int, lo: int) -> int:
    """The latest departure >= ``lo`` arriving by ``latest`` (arrival grows with departure)."""
    first = _through(lo, breaks, leg)
    if first is None or first > latest:
        return _NEG
    hi = max(lo, latest)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        arrival = _through(mid, breaks, leg)
        if arrival is not None and arrival <= latest:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _latest_arrival(windows: tuple[TimeWindow, ...], work: int, latest_departure: int) -> int:
    """The latest arrival from which service (in a window) ends by ``latest_departure``."""
    if not windows:
        return latest_departure - work
    for w in reversed(windows):
        if w.start + work <= latest_departure:
            return min(w.end, latest_departure - work)
    return _NEG


def _fits(load: tuple[int, ...], room: tuple[int, ...]) -> bool:
    for a, r in zip(load, room):  # noqa: B905, SIM110 -- equal lengths; a loop is faster here
        if a > r:
            return False
    return True


def _max(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x if x >= y else y for x, y in zip(a, b))  # noqa: B905


@dataclass
class _RouteIndex:
    """Everything needed to check an insertion into one residual route in O(1).

    Elements are the route's visits with a virtual start/end added for open
    routes (location -1, no travel). ``dep`` is the earliest departure,
    ``la_setup``/``la_same`` the latest arrival at a place that keeps the rest
    of the route feasible when arriving from another place / from the same
    place (setup spent or not).
    """

    vehicle_id: str
    rank: int
    vehicle: Vehicle
    steps: list[Step]
    started: bool
    loc: list[int]
    dep: list[int]
    place: list[bool]
    prev_place: list[int]
    next_place: list[int]
    leg_t: list[int]
    leg_d: list[int]
    groups: dict[int, list[tuple[int, tuple[TimeWindow, ...], int]]]
    windows: list[tuple[TimeWindow, ...]]
    work: list[int]
    setup: list[int]
    la_setup: list[int]
    la_same: list[int]
    load: list[tuple[int, ...]]
    pref: list[tuple[int, ...]]
    suf: list[tuple[int, ...]]
    first: int
    delivery_from: int | None
    travel: int
    distance: int
    tasks: int
    full_travel: int
    full_distance: int
    full_has_tasks: bool

    @classmethod
    def build(cls, live: LivePlan, route: Route) -> _RouteIndex:
        problem = live.residual
        vid = route.vehicle_id
        vehicle = problem.vehicle(vid)
        track = live._tracks[vid]
        matrix = problem.matrix_for(vehicle)
        dur, dist = matrix.durations, matrix.distances
        depots = problem.depots
        breaks = {b.id: b for b in vehicle.breaks}
        visits = route.visits
        zero = (0,) * len(problem.dimensions)

        loc: list[int] = []
        dep: list[int] = []
        kinds: list[VisitKind] = []
        windows: list[tuple[TimeWindow, ...]] = []
        work: list[int] = []
        setup: list[int] = []
        load: list[tuple[int, ...]] = []
        if visits and visits[0].kind is _START:
            s = visits[0]
            loc.append(s.location)
            if track.started or vehicle.start_depot is None:
                dep.append(s.departure)
            else:
                dep.append(max(vehicle.shift.start, depots[vehicle.start_depot].time_window.start))
            load.append(s.load)
            body = visits[1:]
        else:
            initial = zero
            for v in visits:
                if v.kind is _RELOAD:
                    break
                if v.kind is _JOB:
                    order = problem.order(v.order_id or "")
                    if order.kind is OrderKind.DELIVERY:
                        initial = _plus(initial, problem.amount(order))
            loc.append(-1)
            dep.append(vehicle.shift.start)
            load.append(initial)
            body = visits
        kinds.append(_START)
        windows.append(())
        work.append(0)
        setup.append(0)
        has_end = bool(body) and body[-1].kind is _END
        for v in body[:-1] if has_end else body:
            kinds.append(v.kind)
            load.append(v.load)
            dep.append(v.departure)
            if v.kind is _BREAK:
                brk = breaks[v.break_id or ""]
                loc.append(-1)
                windows.append(brk.time_windows)
                work.append(brk.duration)
                setup.append(0)
            elif v.kind is _RELOAD:
                depot = depots[v.depot if v.depot is not None else 0]
                loc.append(depot.location)
                windows.append((depot.time_window,))
                work.append(depot.reload_time)
                setup.append(0)
            else:
                order = problem.order(v.order_id or "")
                stop = getattr(order, _stop_attr(order, v.kind))
                loc.append(stop.location)
                windows.append(stop.time_windows)
                work.append(stop.service)
                setup.append(stop.setup)
        if has_end:
            e = body[-1]
            loc.append(e.location)
            dep.append(e.arrival)
            load.append(e.load)
            assert vehicle.end_depot is not None
            la_end = min(vehicle.shift.end, depots[vehicle.end_depot].time_window.end)
        else:
            loc.append(-1)
            dep.append(dep[-1])
            load.append(load[-1])
            la_end = vehicle.shift.end
        kinds.append(_END)
        windows.append(())
        work.append(0)
        setup.append(0)
        m = len(loc)

        place = [k is not _BREAK for k in kinds]
        prev_place = [0] * m
        last = 0
        for k in range(m):
            if place[k]:
                last = k
            prev_place[k] = last
        next_place = [m - 1] * m
        nxt = m - 1
        for k in range(m - 1, -1, -1):
            next_place[k] = nxt
            if place[k]:
                nxt = k
        leg_t = [0] * m
        leg_d = [0] * m
        groups: dict[int, list[tuple[int, tuple[TimeWindow, ...], int]]] = {}
        for p in range(m - 1):
            if not place[p]:
                continue
            x = next_place[p]
            if loc[p] >= 0 and loc[x] >= 0:
                leg_t[p] = int(dur[loc[p], loc[x]])
                leg_d[p] = int(dist[loc[p], loc[x]])
            if x > p + 1:
                groups[p] = [(k, windows[k], work[k]) for k in range(p + 1, x)]

        la_setup = [_NEG] * m
        la_same = [_NEG] * m
        la_setup[m - 1] = la_same[m - 1] = la_end
        for p in range(m - 2, -1, -1):
            if not place[p]:
                continue
            x = next_place[p]
            la_x = la_same[x] if loc[x] == loc[p] else la_setup[x]
            group = groups.get(p)
            if group is None:
                latest = la_x - leg_t[p]
            else:
                spans = [(w, d) for _, w, d in group]
                latest = _latest_departure(spans, leg_t[p], la_x, dep[p])
            la_setup[p] = _latest_arrival(windows[p], work[p] + setup[p], latest)
            la_same[p] = _latest_arrival(windows[p], work[p], latest)

        pref = list(load)
        for k in range(1, m):
            if kinds[k] not in (_RELOAD, _END):
                pref[k] = _max(pref[k - 1], load[k])
        suf = list(load)
        for k in range(m - 2, -1, -1):
            if kinds[k + 1] not in (_RELOAD, _END):
                suf[k] = _max(load[k], suf[k + 1])

        first = 0
        if track.started:
            for v in body:
                pinned = v.kind is _PICKUP and v.order_id in track.pinned
                dead = (
                    v.kind is _JOB and v.order_id is not None and v.order_id == track.dead_load_id
                )
                if not (pinned or dead):
                    break
                first += 1
            delivery_from = next((k for k in range(first, m - 1) if kinds[k] is _RELOAD), None)
        else:
            delivery_from = 0
        full = live.plan.route_of(vid)
        return cls(
            vehicle_id=vid,
            rank=next(i for i, v in enumerate(problem.vehicles) if v.id == vid),
            vehicle=vehicle,
            steps=[_step(v) for v in route.visits if v.kind not in (_START, _END)],
            started=track.started,
            loc=loc,
            dep=dep,
            place=place,
            prev_place=prev_place,
            next_place=next_place,
            leg_t=leg_t,
            leg_d=leg_d,
            groups=groups,
            windows=windows,
            work=work,
            setup=setup,
            la_setup=la_setup,
            la_same=la_same,
            load=load,
            pref=pref,
            suf=suf,
            first=first,
            delivery_from=delivery_from,
            travel=route.travel,
            distance=route.distance,
            tasks=len(route.tasks),
            full_travel=track.travel_s + route.travel,
            full_distance=track.distance_m + route.distance,
            full_has_tasks=full is not None and bool(full.tasks),
        )

    def split(self, anchor: int, k: int) -> tuple[list[BreakSpan], list[BreakSpan]]:
        """The breaks between place ``anchor`` and the next place, before/after element ``k``."""
        group = self.groups.get(anchor)
        if group is None:
            return [], []
        return [(w, d) for i, w, d in group if i <= k], [(w, d) for i, w, d in group if i > k]


@dataclass(frozen=True)
class _NewStop:
    """A stop of the order being inserted, with its matrix row and column as lists."""

    loc: int
    windows: tuple[TimeWindow, ...]
    service: int
    setup: int
    to_t: list[int]  # to_t[r]: travel time from row r to this stop (index -1: 0)
    from_t: list[int]
    to_d: list[int]
    from_d: list[int]


def _new_stop(matrix: TravelMatrix, stop: Stop) -> _NewStop:
    x = stop.location
    return _NewStop(
        x,
        stop.time_windows,
        stop.service,
        stop.setup,
        [*matrix.durations[:, x].tolist(), 0],
        [*matrix.durations[x, :].tolist(), 0],
        [*matrix.distances[:, x].tolist(), 0],
        [*matrix.distances[x, :].tolist(), 0],
    )


#: (added cost x 3.6e6 before rounding, added seconds, added metres, position(s))
Option = tuple[int, int, int, tuple[int, ...]]
_NO_LIMIT = 2**62


class _Inserter:
    """Cheapest feasible insertion of one order into a live plan."""

    def __init__(self, live: LivePlan, order: Order, problem: PlanningProblem) -> None:
        self.live = live
        self.order = order
        self.problem = problem  # the residual problem with the order
        self.amount = problem.amount(order)
        self.stops: dict[str, tuple[_NewStop, ...]] = {}

    def stops_for(self, vehicle: Vehicle) -> tuple[_NewStop, ...]:
        profile = vehicle.type.profile
        found = self.stops.get(profile)
        if found is None:
            matrix = self.problem.matrices[profile]
            found = tuple(_new_stop(matrix, s) for s in self.order.stops)
            self.stops[profile] = found
        return found

    def cost_delta(self, ix: _RouteIndex | None, vehicle: Vehicle, dt: int, dd: int) -> int:
        t = vehicle.type
        if ix is None:
            return t.fixed_cost + round(t.cost_per_hour * dt / 3600 + t.cost_per_km * dd / 1000)
        new = round(
            t.cost_per_hour * (ix.full_travel + dt) / 3600
            + t.cost_per_km * (ix.full_distance + dd) / 1000
        )
        old = round(
            t.cost_per_hour * ix.full_travel / 3600 + t.cost_per_km * ix.full_distance / 1000
        )
        return new - old + (0 if ix.full_has_tasks else t.fixed_cost)

    def able(self, vehicle: Vehicle, tasks: int) -> bool:
        order = self.order
        if not order.skills <= vehicle.skills or not _fits(self.amount, vehicle.capacity):
            return False
        return vehicle.max_tasks is None or tasks + len(order.stops) <= vehicle.max_tasks

    def within_limits(self, ix: _RouteIndex, dt: int, dd: int) -> bool:
        v = ix.vehicle
        if v.max_travel_time is not None and ix.travel + dt > v.max_travel_time:
            return False
        return v.max_distance is None or ix.distance + dd <= v.max_distance

    # -- one route -------------------------------------------------------------------------

    def single(self, ix: _RouteIndex) -> list[Option]:
        """Every feasible position of a one-stop order in the route, cheapest first."""
        if not self.able(ix.vehicle, ix.tasks):
            return []
        (u,) = self.stops_for(ix.vehicle)
        delivery = self.order.kind is OrderKind.DELIVERY
        room = tuple(c - a for c, a in zip(ix.vehicle.capacity, self.amount, strict=True))
        lo = ix.first
        if delivery:
            if ix.delivery_from is None:
                return []
            lo = max(lo, ix.delivery_from)
        caps = ix.pref if delivery else ix.suf
        loc, dep, prev_place, next_place = ix.loc, ix.dep, ix.prev_place, ix.next_place
        leg_t, leg_d, la_same, la_setup = ix.leg_t, ix.leg_d, ix.la_same, ix.la_setup
        to_t, from_t, to_d, from_d = u.to_t, u.from_t, u.to_d, u.from_d
        x, windows, service, setup = u.loc, u.windows, u.service, u.setup
        groups = ix.groups
        vehicle = ix.vehicle
        max_t = (
            _NO_LIMIT if vehicle.max_travel_time is None else vehicle.max_travel_time - ix.travel
        )
        max_d = _NO_LIMIT if vehicle.max_distance is None else vehicle.max_distance - ix.distance
        cph, cpk = vehicle.type.cost_per_hour * 1000, vehicle.type.cost_per_km * 3600
        out: list[Option] = []
        for k in range(lo, len(loc) - 1):
            if not _fits(caps[k], room):
                continue
            a = prev_place[k]
            b = next_place[k]
            la, lb = loc[a], loc[b]
            dt = to_t[la] + from_t[lb] - leg_t[a]
            dd = to_d[la] + from_d[lb] - leg_d[a]
            if dt > max_t or dd > max_d:
                continue
            if a in groups:
                before, after = ix.split(a, k)
                arrival = _through(dep[a], before, to_t[la])
                if arrival is None:
                    continue
            else:
                after = []
                arrival = dep[a] + to_t[la]
            start = earliest_start(windows, arrival)
            if start is None:
                continue
            leave = start + service + (setup if la != x else 0)
            if after:
                reach = _through(leave, after, from_t[lb])
                if reach is None:
                    continue
            else:
                reach = leave + from_t[lb]
            if reach > (la_same[b] if lb == x else la_setup[b]):
                continue
            out.append((cph * dt + cpk * dd, dt, dd, (k,)))
        out.sort()
        return out

    def best_pair(
        self, ix: _RouteIndex, bound: int | None, exclude: set[tuple[int, ...]]
    ) -> Option | None:
        """The cheapest feasible (pickup, delivery) positions of a shipment in the route.

        Pickup positions are taken in order of a lower bound on the added cost;
        for each, delivery positions in order of their own added cost, and the
        times after the pickup are propagated forward only as far as needed
        (until the delay is absorbed by waiting, or a window is missed). Pairs
        that cannot beat ``bound`` (the best change of the objective found so far
        elsewhere) or the route's best so far are never checked.
        """
        if not self.able(ix.vehicle, ix.tasks):
            return None
        p, d = self.stops_for(ix.vehicle)
        vehicle = ix.vehicle
        cph, cpk = vehicle.type.cost_per_hour * 1000, vehicle.type.cost_per_km * 3600
        max_t = (
            _NO_LIMIT if vehicle.max_travel_time is None else vehicle.max_travel_time - ix.travel
        )
        max_d = _NO_LIMIT if vehicle.max_distance is None else vehicle.max_distance - ix.distance
        loc, dep, prev_place, next_place = ix.loc, ix.dep, ix.prev_place, ix.next_place
        leg_t, leg_d, place = ix.leg_t, ix.leg_d, ix.place
        windows, work, setup = ix.windows, ix.work, ix.setup
        m = len(loc)
        room = tuple(c - a for c, a in zip(vehicle.capacity, self.amount, strict=True))
        # over[k]: the first element from k on that has no room for the goods.
        over = [m] * (m + 1)
        for k in range(m - 1, -1, -1):
            over[k] = over[k + 1] if _fits(ix.load[k], room) else k
        pd_t, pd_d = p.from_t[d.loc], p.from_d[d.loc]

        # latest[j]: the latest departure from the last place before a delivery put
        # after element j that keeps it and the rest of the route feasible.
        drops: list[tuple[int, int, int, int]] = []
        viable: list[tuple[int, int, int, int]] = []
        latest = [_NEG] * m
        for j in range(ix.first, m - 1):
            a, b = prev_place[j], next_place[j]
            la, lb = loc[a], loc[b]
            before, after = ix.split(a, j)
            la_b = ix.la_same[b] if lb == d.loc else ix.la_setup[b]
            if after:
                leave_by = _latest_departure(after, d.from_t[lb], la_b, -HORIZON)
            else:
                leave_by = la_b - d.from_t[lb]
            arrive_by = _latest_arrival(
                d.windows, d.service + (d.setup if la != d.loc else 0), leave_by
            )
            if before:
                latest[j] = _latest_departure(before, d.to_t[la], arrive_by, -HORIZON)
            else:
                latest[j] = arrive_by - d.to_t[la]
            dt = d.to_t[la] + d.from_t[lb] - leg_t[a]
            dd = d.to_d[la] + d.from_d[lb] - leg_d[a]
            drop = (cph * dt + cpk * dd, dt, dd, j)
            drops.append(drop)
            if latest[j] >= dep[a]:
                viable.append(drop)
        drops.sort()
        viable.sort()
        if not drops:
            return None
        cheapest_drop = drops[0][0]
        picks: list[tuple[int, int, int, int, int, int, int, int, int]] = []
        for i in range(ix.first, m - 1):
            if over[i] <= i:
                continue
            a, b = prev_place[i], next_place[i]
            la, lb = loc[a], loc[b]
            before, _ = ix.split(a, i)
            arrival = _through(dep[a], before, p.to_t[la])
            if arrival is None:
                continue
            start = earliest_start(p.windows, arrival)
            if start is None:
                continue
            leave = start + p.service + (p.setup if la != p.loc else 0)
            dt = p.to_t[la] + p.from_t[lb] - leg_t[a]
            dd = p.to_d[la] + p.from_d[lb] - leg_d[a]
            fine = cph * dt + cpk * dd
            ndt = p.to_t[la] + pd_t + d.from_t[lb] - leg_t[a]
            ndd = p.to_d[la] + pd_d + d.from_d[lb] - leg_d[a]
            near = cph * ndt + cpk * ndd
            picks.append((min(near, fine + cheapest_drop), fine, dt, dd, i, leave, near, ndt, ndd))
        picks.sort()

        fixed = 0 if ix.full_has_tasks else vehicle.type.fixed_cost
        # A pair whose added cost before rounding exceeds bound + 1 cannot beat it.
        limit = _NO_LIMIT if bound is None else (bound + 1 - fixed) * 3_600_000
        best: Option | None = None

        def take(fine: int, dt: int, dd: int, where: tuple[int, int]) -> None:
            nonlocal best, limit
            best = (fine, dt, dd, where)
            limit = min(limit, fine)

        for lb_fine, fine_p, dtp, ddp, i, leave, near, ndt, ndd in picks:
            if lb_fine >= limit:
                break
            hi = over[i]  # deliveries after i and before hi keep the goods within capacity
            x_i = next_place[i]
            if near < limit and ndt <= max_t and ndd <= max_d:
                for j in range(i, min(x_i, hi)):
                    if (i, j) not in exclude and self.drop_ok(ix, d, leave, p.loc, i, j):
                        take(near, ndt, ndd, (i, j))
                        break
            # A pickup that adds no driving cannot make any later visit earlier (setup
            # aside), so deliveries the route already reaches too late stay out of reach.
            later_only = dtp >= 0 and (loc[x_i] != p.loc or setup[x_i] == 0)
            # Forward from the pickup, as far as the deliveries looked at need.
            times: dict[int, int] = {}
            t, cur, cur_loc = leave, -1, p.loc
            pending: list[BreakSpan] = []
            e = i + 1
            dead = m  # the first place whose windows the delay misses
            settled = m  # from here on the times are the route's own
            for fine_d, dtd, ddd, j in viable if later_only else drops:
                fine = fine_p + fine_d
                if fine >= limit:
                    break
                if j < x_i or j >= hi or (i, j) in exclude:
                    continue
                if dtp + dtd > max_t or ddp + ddd > max_d:
                    continue
                last = prev_place[j]
                while e <= last and e < dead and e < settled:
                    if not place[e]:
                        pending.append((windows[e], work[e]))
                        e += 1
                        continue
                    arrival = _through(t, pending, p.from_t[loc[e]] if cur < 0 else leg_t[cur])
                    pending = []
                    start = None if arrival is None else earliest_start(windows[e], arrival)
                    if start is None:
                        dead = e
                        break
                    t = start + work[e] + (setup[e] if loc[e] != cur_loc else 0)
                    times[e] = t
                    cur, cur_loc = e, loc[e]
                    if t == dep[e]:
                        settled = e + 1
                    e += 1
                if last >= dead:
                    continue
                if (times[last] if last in times else dep[last]) <= latest[j]:
                    take(fine, dtp + dtd, ddp + ddd, (i, j))
                    break
        return best

    def drop_ok(
        self, ix: _RouteIndex, d: _NewStop, leave: int, here: int, after: int, j: int
    ) -> bool:
        """The delivery after element ``j``, leaving the last place (element ``after``,
        at row ``here``; the new pickup when ``after`` is its position) at ``leave``."""
        windows, work = ix.windows, ix.work
        breaks = [(windows[k], work[k]) for k in range(after + 1, j + 1) if not ix.place[k]]
        arrival = _through(leave, breaks, d.to_t[here])
        if arrival is None:
            return False
        start = earliest_start(d.windows, arrival)
        if start is None:
            return False
        t = start + d.service + (d.setup if here != d.loc else 0)
        b = ix.next_place[j]
        later = [(windows[k], work[k]) for k in range(j + 1, b)]
        reach = _through(t, later, d.from_t[ix.loc[b]])
        if reach is None:
            return False
        return reach <= (ix.la_same[b] if ix.loc[b] == d.loc else ix.la_setup[b])

    # -- unused vehicles ------------------------------------------------------------------

    def unused(self, vehicle: Vehicle) -> Option | None:
        """The order alone on a vehicle that has no route yet."""
        if not self.able(vehicle, 0):
            return None
        depots = self.problem.depots
        s = depots[vehicle.start_depot].location if vehicle.start_depot is not None else -1
        e = depots[vehicle.end_depot].location if vehicle.end_depot is not None else -1
        stops = self.stops_for(vehicle)
        dt = stops[0].to_t[s] + stops[-1].from_t[e]
        dd = stops[0].to_d[s] + stops[-1].from_d[e]
        if len(stops) == 2:
            dt += stops[0].from_t[stops[1].loc]
            dd += stops[0].from_d[stops[1].loc]
        t = vehicle.type
        return (t.cost_per_hour * dt * 1000 + t.cost_per_km * dd * 3600, dt, dd, ())

    # -- verification ---------------------------------------------------------------------

    def realise(self, vid: str, where: tuple[int, ...]) -> Route | None:
        """The route with the order at ``where``, if the validator accepts it; else None."""
        live, problem, order = self.live, self.problem, self.order
        started = live._tracks[vid].started
        if order.kind is OrderKind.SHIPMENT:
            new = [Step(_PICKUP, order_id=order.id), Step(_DELIVERY, order_id=order.id)]
        else:
            new = [Step(_JOB, order_id=order.id)]
        if not where:
            vehicle = problem.vehicle(vid)
            ordered = sorted(vehicle.breaks, key=lambda b: b.time_windows[0].start)
            for cut in _splits(len(ordered), len(new) + 1):
                steps: list[Step] = []
                at = 0
                for slot, upto in enumerate(cut):
                    steps += [Step(_BREAK, break_id=b.id) for b in ordered[at:upto]]
                    at = upto
                    if slot < len(new):
                        steps.append(new[slot])
                route = _route(problem, vid, steps, started)
                if _route_ok(problem, route):
                    return route
            return None
        ix = live._route_index(vid)
        assert ix is not None
        steps = list(ix.steps)
        if len(where) == 1:
            steps.insert(where[0], new[0])
        else:
            i, j = where
            steps.insert(j, new[1])
            steps.insert(i, new[0])
        route = _route(problem, vid, steps, started)
        return route if _route_ok(problem, route) else None


def _splits(n: int, slots: int) -> list[tuple[int, ...]]:
    """Every way to cut ``n`` ordered items into ``slots`` consecutive groups (cut points)."""
    if slots == 1:
        return [(n,)]
    out = []
    for first in range(n + 1):
        for rest in _splits(n - first, slots - 1):
            out.append((first, *(first + r for r in rest)))
    return out


def _insert(live: LivePlan, order: Order, *, known: bool = False) -> LivePlan | Unassigned:
    residual = live.residual
    where = f"order {order.id!r}"
    n_loc = len(live.problem.locations)
    for stop in order.stops:
        if stop.location >= n_loc:
            raise InputError(f"location {stop.location} is not a row of the problem", where=where)
    if order.amount and len(order.amount) != len(residual.dimensions):
        raise InputError(
            f"amount has {len(order.amount)} values for {len(residual.dimensions)} dimensions",
            where=f"{where}.amount",
        )
    in_residual = any(o.id == order.id for o in residual.orders)
    if in_residual:
        if order.id not in {u.order_id for u in live.residual_plan.unassigned}:
            raise InputError("the order is already planned", where=where)
    elif not known and any(o.id == order.id for o in live.problem.orders):
        raise InputError("the order is already served or on board", where=where)

    placed = _with_depot_skill(order) if live.states else order
    if in_residual:
        orders = tuple(placed if o.id == order.id else o for o in residual.orders)
    else:
        orders = (*residual.orders, placed)
    problem = _with_orders(residual, orders)
    ins = _Inserter(live, placed, problem)

    shipment = order.kind is OrderKind.SHIPMENT
    routed = {r.vehicle_id for r in live.residual_plan.routes}
    # One entry per vehicle: its cheapest remaining option; the heap gives the best overall.
    heap: list[tuple[int, int, int, tuple[int, ...], str]] = []
    streams: dict[str, tuple[list[Option], int]] = {}
    excluded: dict[str, set[tuple[int, ...]]] = {}
    pruned: list[str] = []
    best: int | None = None

    def push(vid: str, rank: int, option: Option) -> None:
        nonlocal best
        ix = live._route_index(vid)
        vehicle = problem.vehicles[rank]
        delta = ins.cost_delta(ix, vehicle, option[1], option[2])
        heapq.heappush(heap, (delta, option[0], rank, option[3], vid))
        best = delta if best is None else min(best, delta)

    def pair(vid: str, rank: int, bound: int | None) -> None:
        ix = live._route_index(vid)
        assert ix is not None
        option = ins.best_pair(ix, bound, excluded.setdefault(vid, set()))
        if option is not None:
            push(vid, rank, option)
        elif bound is not None:
            pruned.append(vid)

    ranks = {v.id: rank for rank, v in enumerate(problem.vehicles)}
    unused_seen: set[Vehicle] = set()
    for rank, vehicle in enumerate(problem.vehicles):
        vid = vehicle.id
        if vid in live.unavailable:
            continue
        if vid not in routed:
            key = dataclasses.replace(vehicle, id="")
            if key not in unused_seen:
                unused_seen.add(key)
                option = ins.unused(vehicle)
                if option is not None:
                    push(vid, rank, option)
        elif shipment:
            pair(vid, rank, best)
        else:
            ix = live._route_index(vid)
            assert ix is not None
            options = ins.single(ix)
            if options:
                streams[vid] = (options, 0)
                push(vid, rank, options[0])
    while heap:
        _, _, rank, at_pos, vid = heapq.heappop(heap)
        route = ins.realise(vid, at_pos)
        if route is not None:
            return _after_insert(live, problem, order, route)
        # Rejected on verification (a limit the O(1) checks leave to the validator):
        # the vehicle's next option takes its place.
        if vid in streams:
            options, at = streams[vid]
            if at + 1 < len(options):
                streams[vid] = (options, at + 1)
                push(vid, rank, options[at + 1])
        elif at_pos:
            excluded.setdefault(vid, set()).add(at_pos)
            pair(vid, rank, None)
            for other in pruned:
                pair(other, ranks[other], None)
            pruned.clear()
    asked = (Unassigned(order.id, "", ""), *live.residual_plan.unassigned)
    reasons = _unassigned(problem, live.residual_plan.routes, asked)
    return next(u for u in reasons if u.order_id == order.id)


def _after_insert(live: LivePlan, problem: PlanningProblem, order: Order, route: Route) -> LivePlan:
    vid = route.vehicle_id
    old = live.residual_plan
    if old.route_of(vid) is not None:
        routes = tuple(route if r.vehicle_id == vid else r for r in old.routes)
    else:
        routes = (*old.routes, route)
    unassigned = tuple(u for u in old.unassigned if u.order_id != order.id)
    residual_plan = Plan(routes, unassigned, old.engine, old.runtime_s)
    # The new route passed the validator (``_Inserter.realise``) and every other
    # route is unchanged and was valid: what is left is the order-level rule.
    served = [r.vehicle_id for r in routes for v in r.visits if v.order_id == order.id]
    if len(set(served)) != 1 or len(served) != len(order.stops):
        raise LiveChangeRejected(
            f"inserting order {order.id!r}",
            (Violation("duplicate", f"order {order.id!r} is served by {served}"),),
        )
    if any(o.id == order.id for o in live.problem.orders):
        full_orders = tuple(order if o.id == order.id else o for o in live.problem.orders)
    else:
        full_orders = (*live.problem.orders, order)
    index = {k: v for k, v in live._index.items() if k != vid}
    new = dataclasses.replace(
        live,
        problem=_with_orders(live.problem, full_orders),
        residual=problem,
        residual_plan=residual_plan,
        _index=index,
    )
    return dataclasses.replace(new, plan=_full_plan(new, residual_plan, old.engine, only=vid))


# ----------------------------------------------------------------------------------------
# A vehicle breaks down
# ----------------------------------------------------------------------------------------


def _deadline(order: Order) -> int:
    ends = [s.time_windows[-1].end for s in order.stops if s.time_windows]
    return min(ends) if ends else HORIZON


def _reassign(live: LivePlan, vehicle_id: str, transfer_s: int | None) -> LivePlan:
    where = f"vehicle {vehicle_id!r}"
    if vehicle_id not in {v.id for v in live.problem.vehicles}:
        raise InputError("no such vehicle in the problem", where=where)
    if transfer_s is not None and transfer_s < 0:
        raise InputError(f"must be >= 0, got {transfer_s}", where="transfer_s")
    residual = live.residual
    track = live._tracks[vehicle_id]
    route = live.residual_plan.route_of(vehicle_id)
    on_route: list[str] = []
    for v in route.tasks if route is not None else ():
        oid = v.order_id
        if oid is not None and oid != track.dead_load_id and oid not in on_route:
            on_route.append(oid)
    drop = set(on_route) | {track.dead_load_id}
    routes = tuple(r for r in live.residual_plan.routes if r.vehicle_id != vehicle_id)
    old = live.residual_plan
    stripped = dataclasses.replace(
        residual, orders=tuple(o for o in residual.orders if o.id not in drop)
    )
    residual_plan = Plan(routes, old.unassigned, old.engine, old.runtime_s)
    current = dataclasses.replace(
        live,
        residual=stripped,
        residual_plan=residual_plan,
        unavailable=live.unavailable | {vehicle_id},
        _index={k: v for k, v in live._index.items() if k != vehicle_id},
    )
    current = dataclasses.replace(
        current, plan=_full_plan(current, residual_plan, old.engine, only=vehicle_id)
    )

    moving = sorted(
        (residual.order(oid) for oid in on_route),
        key=lambda o: (_deadline(o), -o.priority, o.id),
    )
    left: list[tuple[Order, Unassigned]] = []
    ready = max(live.states[vehicle_id].ready_s, live.now_s) if track.started else live.now_s
    for order in moving:
        original = live.problem.order(order.id)
        if order.id in track.pinned:
            if transfer_s is None:
                left.append(
                    (
                        original,
                        Unassigned(
                            order.id,
                            f"on board {vehicle_id}, which broke down: it needs a transfer to "
                            "another vehicle",
                            "on_board",
                        ),
                    )
                )
                continue
            assert track.here is not None and order.delivery is not None
            order = Order(
                order.id,
                OrderKind.SHIPMENT,
                pickup=Stop(
                    track.here,
                    service=transfer_s,
                    time_windows=(TimeWindow(ready, HORIZON),),
                    ref=f"transfer from {vehicle_id}",
                ),
                delivery=order.delivery,
                amount=order.amount,
                skills=original.skills,
                priority=order.priority,
            )
        else:
            order = dataclasses.replace(order, skills=original.skills)
        result = _insert(current, order, known=True)
        if isinstance(result, LivePlan):
            current = result
        else:
            reason = f"moved off {vehicle_id}, which broke down: {result.reason}"
            left.append((original, Unassigned(order.id, reason, result.code)))
    if not left:
        return current
    # Orders that found no vehicle stay in the problem, unassigned with their reason.
    residual = dataclasses.replace(
        current.residual, orders=(*current.residual.orders, *(o for o, _ in left))
    )
    old = current.residual_plan
    residual_plan = Plan(
        old.routes, (*old.unassigned, *(u for _, u in left)), old.engine, old.runtime_s
    )
    _check(residual, residual_plan, f"moving the stops of {vehicle_id!r}")
    current = dataclasses.replace(current, residual=residual, residual_plan=residual_plan)
    return dataclasses.replace(current, plan=_full_plan(current, residual_plan, old.engine))


# ----------------------------------------------------------------------------------------
# Re-optimising what has not started
# ----------------------------------------------------------------------------------------


def _reoptimise(
    live: LivePlan,
    *,
    time_limit: float,
    engine: str,
    seed: int,
    workers: int | None,
    keep_started: bool,
    on_progress: Progress | None,
) -> LivePlan:
    from lastmile.planning.solve import solve

    residual = live.residual
    frozen: set[str] = set()
    for vid, track in live._tracks.items():
        if not track.started or vid in live.unavailable:
            continue
        route = live.residual_plan.route_of(vid)
        if keep_started or (route is not None and any(v.kind is _RELOAD for v in route.visits)):
            frozen.add(vid)
    label = live.plan.engine
    kept_as_is = dataclasses.replace(
        live, plan=dataclasses.replace(live.plan, engine=f"{label} (kept)")
    )
    deadline = time.monotonic() + time_limit
    # An engine may leave out goods a vehicle carries (they are only orders to it);
    # such vehicles keep their sequence and the rest is solved again, once.
    for attempt in range(2):
        out = frozen | live.unavailable
        kept = [r for r in live.residual_plan.routes if r.vehicle_id in frozen]
        on_kept = {v.order_id for r in kept for v in r.visits if v.order_id}
        vehicles = tuple(v for v in residual.vehicles if v.id not in out)
        orders = tuple(o for o in residual.orders if o.id not in on_kept)
        if not vehicles or not orders:
            return kept_as_is
        left = deadline - time.monotonic()
        budget = left * 0.6 if attempt == 0 else left
        if budget < 0.1:
            return kept_as_is
        result = solve(
            dataclasses.replace(residual, vehicles=vehicles, orders=orders),
            engine=engine,
            time_limit=budget,
            seed=seed,
            workers=workers,
            on_progress=on_progress,
        )
        found = {r.vehicle_id: r for r in result.routes}
        for v in vehicles:
            # A vehicle on the road still drives home when it gets nothing new.
            if live._tracks[v.id].started and v.id not in found:
                found[v.id] = _route(residual, v.id, [], True)
        lost = set()
        for vid, track in live._tracks.items():
            if vid in out or not track.started:
                continue
            served = {v.order_id for v in found[vid].visits}
            carried = set(track.pinned) | (
                {track.dead_load_id} if track.dead_load_id is not None else set()
            )
            if not carried <= served:
                lost.add(vid)
        if not lost:
            break
        frozen |= lost
    else:
        return kept_as_is
    routes = tuple(found[v.id] for v in residual.vehicles if v.id in found) + tuple(kept)
    unassigned = tuple(_readable(u) for u in result.unassigned)
    candidate_plan = Plan(routes, unassigned, f"{result.engine} (re-optimised)", result.runtime_s)
    _check(residual, candidate_plan, "re-optimising")
    candidate = dataclasses.replace(live, residual_plan=candidate_plan, _index={})
    full = _full_plan(candidate, candidate_plan, candidate_plan.engine)
    if (len(full.unassigned), full.cost) < (len(live.plan.unassigned), live.plan.cost):
        return dataclasses.replace(candidate, plan=full)
    return kept_as_is
