"""The live plan: the one object callers hold while a plan is being driven.

:class:`LivePlan` wraps a :class:`~lastmile.planning.live.view.LiveView` and
offers the three changes of the day -- an urgent order (:meth:`LivePlan.insert`),
a breakdown (:meth:`LivePlan.without_vehicle`), re-optimising what has not
happened (:meth:`LivePlan.reoptimise`, with a typed :class:`ReoptimiseOutcome`)
-- and growing the view by locations. :func:`insert_order`,
:func:`reassign_vehicle` and :func:`reoptimise` do the same from a problem
that may have grown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lastmile.domain import Location, Order, OrderKind, Plan, Route, Unassigned
from lastmile.planning.live.breakdown import without_vehicle
from lastmile.planning.live.grow import Between, grown, only_adds_locations, with_locations
from lastmile.planning.live.insertion import insert
from lastmile.planning.live.move import Move, move
from lastmile.planning.live.reoptimisation import ReoptimiseReason, reoptimise_view
from lastmile.planning.live.residual import build_view
from lastmile.planning.live.state import Relaxation, VehicleState
from lastmile.planning.live.view import LiveView
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.solve import Progress


@dataclass(frozen=True)
class LivePlan:
    """A plan being driven: the full plan, the states, and the residual problem.

    Build one with :meth:`build`. ``plan`` is the full plan (the visits behind
    each vehicle followed by the forecast of the rest); ``residual`` and
    ``residual_plan`` are what is left, as an ordinary problem and a plan the
    validator accepts. ``unavailable`` vehicles take no new work. ``view``
    holds all of it (with what maps the residual back onto the problem).
    """

    view: LiveView

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
        return cls(build_view(problem, plan, now_s=now_s, states=states, unavailable=unavailable))

    # -- the view ------------------------------------------------------------------------

    @property
    def problem(self) -> PlanningProblem:
        """The problem the plan was made for (grown by inserted orders)."""
        return self.view.problem

    @property
    def plan(self) -> Plan:
        """The full plan: the visits behind each vehicle, then the forecast of the rest."""
        return self.view.plan

    @property
    def now_s(self) -> int:
        """When the view was taken."""
        return self.view.now_s

    @property
    def states(self) -> Mapping[str, VehicleState]:
        """The vehicles on the road, by id."""
        return self.view.states

    @property
    def residual(self) -> PlanningProblem:
        """What is left, as an ordinary problem."""
        return self.view.residual

    @property
    def residual_plan(self) -> Plan:
        """What is left, as a plan of :attr:`residual` the validator accepts."""
        return self.view.residual_plan

    @property
    def relaxations(self) -> tuple[Relaxation, ...]:
        """The promises the forecast already breaks (tolerated, never made worse)."""
        return self.view.relaxations

    @property
    def unavailable(self) -> frozenset[str]:
        """Vehicles that take no new work."""
        return self.view.unavailable

    # -- queries -------------------------------------------------------------------------

    def is_started(self, vehicle_id: str) -> bool:
        """Whether ``vehicle_id`` has left its depot (it has a state)."""
        return vehicle_id in self.view.states

    def residual_route(self, vehicle_id: str) -> Route | None:
        """What is left of ``vehicle_id``'s route (None without one)."""
        return self.view.residual_plan.route_of(vehicle_id)

    def pinned(self, vehicle_id: str) -> Mapping[str, OrderKind]:
        """Orders on board ``vehicle_id`` that it still has to serve."""
        track = self.view.tracks.get(vehicle_id)
        return track.pinned if track is not None else {}

    def standing(self, vehicle_id: str) -> tuple[int, int] | None:
        """Where a vehicle on the road stands (a row of :attr:`problem`) and from when
        what it carries can be handed over (its ready time, never before now); None
        for a vehicle that has not left. A transfer after a breakdown
        (:meth:`without_vehicle`) is picked up there."""
        track = self.view.tracks.get(vehicle_id)
        if track is None or not track.started or track.here is None:
            return None
        return track.here, max(self.view.states[vehicle_id].ready_s, self.view.now_s)

    # -- changes ---------------------------------------------------------------------------

    def insert(self, order: Order) -> LivePlan | Unassigned:
        """Cheapest feasible insertion of ``order`` (new, or unassigned so far).

        Returns the new live view, or an :class:`Unassigned` with the reason when
        no position of any available vehicle is feasible.
        """
        result = insert(self.view, order)
        return LivePlan(result) if isinstance(result, LiveView) else result

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
        return LivePlan(without_vehicle(self.view, vehicle_id, transfer_s))

    def move(self, order_id: str, vehicle_id: str, *, position: int | None = None) -> MoveOutcome:
        """``order_id`` moved onto ``vehicle_id``'s route, at ``position`` among its stops
        (the stops done included) or, without one, at the cheapest position the
        validator accepts; the outcome holds the validator's verdict and, when it
        accepts the move, the live plan after it. Nothing that cannot move at all
        (served, on board another vehicle, a position among the stops done) is
        tried: :class:`~lastmile.exceptions.InputError` names the field. See
        :mod:`lastmile.planning.live.move`.
        """
        found = move(self.view, order_id, vehicle_id, position)
        return MoveOutcome(found, LivePlan(found.view) if found.view is not None else None)

    def reoptimise(
        self,
        *,
        time_limit: float,
        engine: str = "auto",
        seed: int = 0,
        workers: int | None = None,
        keep_started: bool = False,
        on_progress: Progress | None = None,
    ) -> ReoptimiseOutcome:
        """Everything not yet done planned again by :func:`~lastmile.planning.solve.solve`.

        Vehicles on the road take part from where they are with what they
        carry; with ``keep_started`` (and always for a started vehicle with a
        reload ahead) their remaining sequence is kept as it is. The new plan
        replaces the current one only if it leaves fewer orders unassigned, or
        as many at a lower cost: the outcome says which (:attr:`ReoptimiseOutcome.kept`)
        and why (:attr:`ReoptimiseOutcome.reason`); a kept plan's engine ends
        in ``" (kept)"``.
        """
        reason, view = reoptimise_view(
            self.view,
            time_limit=time_limit,
            engine=engine,
            seed=seed,
            workers=workers,
            keep_started=keep_started,
            on_progress=on_progress,
        )
        return ReoptimiseOutcome(LivePlan(view), reason)

    def rebase(self, problem: PlanningProblem) -> LivePlan:
        """The same live view over ``problem`` (e.g. the same problem with rows added).

        When ``problem`` only adds locations at the end (same orders, vehicles
        and depots, the same matrices on the rows already there), the view is
        grown in place of being rebuilt: O(locations^2) array copies instead of
        forecasting and validating every route again.
        """
        view = self.view
        if only_adds_locations(view.problem, problem):
            return LivePlan(grown(view, problem))
        return LivePlan.build(
            problem,
            view.plan,
            now_s=view.now_s,
            states=view.states.values(),
            unavailable=view.unavailable,
        )

    @property
    def next_row(self) -> int:
        """The matrix row the next location added by :meth:`with_locations` gets."""
        return len(self.view.residual.locations)

    def with_locations(
        self, locations: Sequence[Location], between: Mapping[str, Between]
    ) -> LivePlan:
        """The same live view with ``locations`` added (say, the address of an order
        about to be inserted), at rows :attr:`next_row` onwards.

        See :func:`~lastmile.planning.live.grow.with_locations`.
        """
        if not locations:
            return self
        return LivePlan(with_locations(self.view, locations, between))


@dataclass(frozen=True)
class ReoptimiseOutcome:
    """What :meth:`LivePlan.reoptimise` did: the live plan after it, and why.

    ``live`` holds the new plan when :attr:`reason` is
    :attr:`ReoptimiseReason.IMPROVED`, else the current plan, kept.
    """

    live: LivePlan
    reason: ReoptimiseReason

    @property
    def kept(self) -> bool:
        """Whether the current plan was kept (nothing better was found or tried)."""
        return self.reason.kept

    @property
    def plan(self) -> Plan:
        """The full plan after re-optimising: the new one, or the current one kept."""
        return self.live.plan


@dataclass(frozen=True)
class MoveOutcome:
    """What :meth:`LivePlan.move` found: the move as the validator sees it, and the
    live plan after it (None when the validator refuses it)."""

    move: Move
    live: LivePlan | None

    @property
    def ok(self) -> bool:
        """Whether the validator accepts the move."""
        return self.move.ok

    @property
    def plan(self) -> Plan:
        """The full plan the move gives (even one the validator refuses)."""
        return self.move.plan


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
) -> ReoptimiseOutcome:
    """Everything not yet done planned again: the outcome, with the full plan as
    :attr:`ReoptimiseOutcome.plan`.

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
    )
