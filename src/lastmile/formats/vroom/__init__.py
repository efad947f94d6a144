"""VROOM's JSON problem and solution formats (VROOM ``docs/API.md``, 1.14+).

:func:`read_problem` turns a VROOM problem into a :class:`PlanningProblem`;
:func:`write_problem` does the reverse (with ``location_index`` and custom
``matrices``, so any problem can be fed to the ``vroom`` binary);
:func:`write_solution` writes a :class:`Plan` in VROOM's solution format.

Modules: ``fields`` (typed readers of JSON values whose errors name the field;
ids as VROOM writes them), ``problem_reader``, ``problem_writer`` and
``solution_writer``; the names above are re-exported here.

Mapping (VROOM -> lastmile):

- a job with a ``delivery`` amount (or none) is a DELIVERY order, one with a
  ``pickup`` amount a PICKUP order; its id is ``str(id)``. A job with both
  non-zero is rejected (one order moves goods one way).
- a shipment is one SHIPMENT order with id ``"s<pickup id>-<delivery id>"``;
  its stops carry ``ref`` = the step ids.
- vehicle starts/ends become depots, one per distinct location; vehicles with
  the same (capacity, skills, profile, costs) share a vehicle type.
- skills (integers) become strings; amounts become dimensions ``amount_0``...;
  all-zero amounts are stored as none, and a vehicle without ``capacity``
  carries nothing when others have one (VROOM's default amount is zero).
- ``time_window``/``time_windows`` ends at or beyond ``2**32 - 1`` (VROOM's
  "no end") mean no end.
- with ``matrices`` the matrices are used exactly as given. A vehicle with a
  ``speed_factor`` other than 1 gets a derived profile (e.g. ``car@x1.5``)
  whose durations are the profile's multiplied by ``round(100/speed_factor)/100``
  and rounded per leg (VROOM scales the same way but rounds cumulated times,
  so arrivals may differ by a second per leg). Without matrices, matrices are
  computed from the coordinates with the given travel model and
  ``problem.travel_note`` says so.

Extension (lastmile's own, ignored by VROOM): a vehicle may carry
``"reloads": {"depots": [{"location_index": 0, "service": 600,
"time_window": [0, 72000]}], "max": 2}``: the places where it may return
mid-route to load again (``location`` and/or ``location_index``, like a
vehicle's start; each becomes a depot), the seconds a reload takes there
(``service``; a ``service`` next to ``depots`` is the default for its entries),
the depot's opening hours (optional) and the most reloads (optional, default
no limit). Without ``depots`` the vehicle reloads at its start (or its end).
Two vehicles reloading at one place must agree on its service and hours.
:func:`write_problem` writes the same object, and
:func:`write_solution` writes reload steps as ``{"type": "reload", "depot":
<depot id>, ...}``. See docs/formats.md.

Whatever the model cannot represent (per-type setup/service, custom cost
matrices, vehicle ``steps``, break ``max_load``, ``per_task_hour`` costs, a job
with both pickup and delivery amounts, unknown keys) raises
:class:`InputError` naming the field; malformed JSON, missing fields and wrong
types raise :class:`FormatError`. Descriptions of tasks become the name of
their location (joined with ``" / "`` when several tasks share it); vehicle
and break descriptions are not kept.
"""

from __future__ import annotations

from lastmile.formats.vroom.fields import DEFAULT_PER_HOUR as DEFAULT_PER_HOUR
from lastmile.formats.vroom.fields import DEFAULT_PROFILE as DEFAULT_PROFILE
from lastmile.formats.vroom.fields import json_id as json_id
from lastmile.formats.vroom.problem_reader import read_problem as read_problem
from lastmile.formats.vroom.problem_reader import scale_durations as scale_durations
from lastmile.formats.vroom.problem_reader import speed_profile as speed_profile
from lastmile.formats.vroom.problem_writer import write_problem as write_problem
from lastmile.formats.vroom.solution_writer import write_solution as write_solution
from lastmile.planning.engines.vroom import VROOM_MAX_TIME as VROOM_MAX_TIME

__all__ = [
    "VROOM_MAX_TIME",
    "read_problem",
    "write_problem",
    "write_solution",
]
