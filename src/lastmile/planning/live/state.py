"""The small types of a live plan: vehicle states, tracks, relaxations, refusals.

Everything the other modules of :mod:`lastmile.planning.live` pass around:
what a started vehicle has done (:class:`VehicleState`), a promise the
forecast already breaks (:class:`Relaxation`), one vehicle's history and how
its residual route maps back (:class:`Track`), and the refusal of a change
(:class:`LiveChangeRejected`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lastmile.domain import OrderKind, Visit, VisitKind
from lastmile.exceptions import InputError
from lastmile.planning.validate import InvalidPlan, Violation

#: Reserved skill: the order's goods wait at a depot (deliveries).
LOADED_AT_DEPOT = "lastmile:loaded-at-depot"
#: At least this much travel time (s) and distance (m) into a vehicle's private "now"
#: row (more when the day runs longer): never in time for goods picked up there at once.
NO_ENTRY = 2 * 86_400
#: Below any time: "no feasible time".
NEG = -(2**62)

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

    ``at_depot``: the vehicle stands at a depot (``location`` is that depot's
    row) with nothing on board, ready to load there: a vehicle back from its
    round. A new trip begins there: what it brought back was unloaded, the
    stops ahead are not on board, and it can take goods waiting at a depot
    (:data:`LOADED_AT_DEPOT`).
    """

    vehicle_id: str
    location: int
    ready_s: int
    completed: frozenset[StopKey] = frozenset()
    failed: frozenset[StopKey] = frozenset()
    travel_s: int | None = None
    distance_m: int | None = None
    at_depot: bool = False

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
class Track:
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
    #: Standing at a depot, ready to load there (:attr:`VehicleState.at_depot`).
    at_depot: bool = False
