"""Re-planning a plan that is being driven.

Three changes happen to a plan during the day: an urgent order arrives
(:func:`insert_order`), a vehicle breaks down (:func:`reassign_vehicle`), or
the dispatcher wants everything that has not happened yet planned again
(:func:`reoptimise`, which says whether it kept the current plan and why in
a :class:`ReoptimiseOutcome`). Each works on a :class:`LivePlan`: the plan
plus what has happened so far, and returns a new full plan only after the
planner's validator has accepted the change.

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

Modules, bottom to top: :mod:`~lastmile.planning.live.state` (small types),
:mod:`~lastmile.planning.live.routes` (shared route and problem operations),
:mod:`~lastmile.planning.live.index` (the insertion index),
:mod:`~lastmile.planning.live.view` (the live view's data),
:mod:`~lastmile.planning.live.assemble` (full plans),
:mod:`~lastmile.planning.live.relax` (broken promises),
:mod:`~lastmile.planning.live.residual` (building the residual problem),
:mod:`~lastmile.planning.live.grow` (adding locations),
:mod:`~lastmile.planning.live.search` (the positions of one order),
:mod:`~lastmile.planning.live.insertion` (inserting it),
:mod:`~lastmile.planning.live.breakdown` (a vehicle breaks down),
:mod:`~lastmile.planning.live.move` (a dispatcher moves an order),
:mod:`~lastmile.planning.live.reoptimisation` (re-optimisation) and
:mod:`~lastmile.planning.live.plan` (:class:`LivePlan`).
"""

from lastmile.planning.live.grow import Between as Between
from lastmile.planning.live.move import Move as Move
from lastmile.planning.live.plan import LivePlan as LivePlan
from lastmile.planning.live.plan import MoveOutcome as MoveOutcome
from lastmile.planning.live.plan import ReoptimiseOutcome as ReoptimiseOutcome
from lastmile.planning.live.plan import insert_order as insert_order
from lastmile.planning.live.plan import reassign_vehicle as reassign_vehicle
from lastmile.planning.live.plan import reoptimise as reoptimise
from lastmile.planning.live.reoptimisation import ReoptimiseReason as ReoptimiseReason
from lastmile.planning.live.state import LOADED_AT_DEPOT as LOADED_AT_DEPOT
from lastmile.planning.live.state import LiveChangeRejected as LiveChangeRejected
from lastmile.planning.live.state import Relaxation as Relaxation
from lastmile.planning.live.state import StopKey as StopKey
from lastmile.planning.live.state import VehicleState as VehicleState

__all__ = [
    "LOADED_AT_DEPOT",
    "Between",
    "LiveChangeRejected",
    "LivePlan",
    "Move",
    "MoveOutcome",
    "Relaxation",
    "ReoptimiseOutcome",
    "ReoptimiseReason",
    "StopKey",
    "VehicleState",
    "insert_order",
    "reassign_vehicle",
    "reoptimise",
]
