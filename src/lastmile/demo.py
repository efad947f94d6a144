"""The demo day: what ``make demo`` runs.

Generates a realistic delivery day (see :mod:`lastmile.simulate.scenario`),
plans it with the default engines on every core, checks the plan with the
independent validator, prints the summary and writes the plan as a VROOM
solution and as GeoJSON. Then it drives the plan through the day with the
digital twin (:mod:`lastmile.simulate.twin`, seeded): travel times vary
(the default log-normal noise), a few customers are away, an urgent order
arrives mid-morning and is inserted, a van breaks down around 11:00 and its
stops are re-planned onto the others. It prints the day's key figures
(:func:`lastmile.analytics.summarise`, overall and per vehicle) and writes
the day's record (``record.json``, a :class:`~lastmile.domain.day.DayRecord`)
and the HTML report (``report.html``, :func:`lastmile.analytics.report.html_report`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lastmile.analytics import Kpis, summarise
from lastmile.analytics.commands import group_table
from lastmile.analytics.display import ROWS, fmt
from lastmile.domain import Plan
from lastmile.domain.day import DayRecord, StopStatus
from lastmile.formats.geojson import plan_to_geojson
from lastmile.formats.vroom import write_problem, write_solution
from lastmile.plan_output import print_plan, write_atomically
from lastmile.planning import solve
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.validate import validate
from lastmile.simulate import city_day
from lastmile.simulate.incidents import BREAKDOWN, Scheduled
from lastmile.simulate.twin import TwinConfig, simulate_day

#: The demo city's time zone (Lyon).
TIMEZONE = "Europe/Paris"
#: When the van breaks down, and when the urgent order may arrive (seconds since midnight).
BREAKDOWN_AT = 11 * 3600
URGENT_BETWEEN = (10 * 3600, 10 * 3600 + 1800)
#: The figures of the day's overall summary, in reading order.
OVERALL = (
    "stops_planned",
    "stops_done",
    "stops_failed",
    "stops_not_reached",
    "stops_moved",
    "on_time_rate",
    "lateness_p90_s",
    "first_attempt_success_rate",
    "promises_kept_rate",
    "planned_cost",
    "actual_cost",
    "distance_km",
    "route_h",
    "time_utilisation",
    "eta_mae_s",
)
_LABELS = {name: (label, formatter) for name, label, formatter in ROWS}


def demo_day(*, seed: int = 7, orders: int = 250, waiting_costs: bool = True) -> PlanningProblem:
    """The demo's delivery day; ``waiting_costs``: drivers paid by the hour, so
    waiting costs what driving costs (the service's default)."""
    problem = city_day(n_orders=orders, n_vans=12, n_bikes=3, seed=seed)
    return dataclasses.replace(problem, cost_waiting=waiting_costs)


def breakdown_van(plan: Plan, at: int = BREAKDOWN_AT) -> str | None:
    """The van that breaks down at ``at``: of the vans out by then, the one with the
    most stops still ahead (None: no van is out with stops ahead)."""
    ahead = {
        r.vehicle_id: sum(v.arrival >= at for v in r.tasks)
        for r in plan.routes
        if r.vehicle_id.startswith("van") and r.tasks and r.start_time < at
    }
    ahead = {vid: n for vid, n in ahead.items() if n > 0}
    return max(sorted(ahead), key=lambda vid: ahead[vid]) if ahead else None


def drive_day(
    problem: PlanningProblem, plan: Plan, *, seed: int, day: dt.date | None = None
) -> DayRecord:
    """The demo day driven by the twin (see the module docstring), dated ``day``
    (default: today)."""
    config = TwinConfig(
        absent_rate=0.03,
        urgent_orders=1,
        incident_window=URGENT_BETWEEN,
        day=day or dt.date.today(),
        timezone=TIMEZONE,
    )
    van = breakdown_van(plan)
    incidents = [Scheduled(BREAKDOWN_AT, BREAKDOWN, vehicle_id=van)] if van else []
    result = simulate_day(problem, plan, config=config, seed=seed, incidents=incidents)
    return result.record


def overall_table(kpis: Kpis, record: DayRecord) -> Table:
    """The day's main figures, two to a line."""
    cells = [(_LABELS[n][0], fmt(getattr(kpis, n), _LABELS[n][1])) for n in OVERALL]
    table = Table(
        title=f"The day as driven ({record.day.isoformat()})",
        title_justify="left",
        box=None,
        show_header=False,
        pad_edge=False,
    )
    for justify in ("left", "right", "left", "right"):
        table.add_column(justify=justify)
    half = (len(cells) + 1) // 2
    for left, right in zip(cells[:half], [*cells[half:], ("", "")], strict=False):
        table.add_row(*left, *right)
    return table


def _incidents(console: Console, record: DayRecord) -> None:
    """What happened to the plan: the incidents, the stops moved, the failed attempts."""
    for incident in record.incidents:
        hh, mm = divmod(incident.t // 60, 60)
        what = incident.kind.replace("_", " ")
        who = incident.vehicle_id if incident.kind == BREAKDOWN else incident.order_id
        console.print(f"  {hh:02d}:{mm:02d} {what} ({who}): {incident.detail}")
    moved: dict[str, set[str]] = {}
    for s in record.stops:
        if s.status is StopStatus.MOVED:
            for other in record.stops:
                if other.order_id == s.order_id and other.vehicle_id != s.vehicle_id:
                    moved.setdefault(other.vehicle_id, set()).add(s.order_id)
    if moved:
        spread = ", ".join(f"{len(ids)} to {vid}" for vid, ids in sorted(moved.items()))
        console.print(f"  orders re-planned onto other vehicles: {spread}")
    failed = [s for s in record.stops if s.status is StopStatus.FAILED]
    reasons = sorted({s.failure_reason or "failed" for s in failed})
    console.print(f"  {len(failed)} failed attempts ({', '.join(reasons) or 'none'})")


def run_demo(
    *,
    out_dir: Path,
    time_limit: float = 10.0,
    seed: int = 7,
    orders: int = 250,
    waiting_costs: bool = True,
    day: dt.date | None = None,
) -> int:
    """Plan one demo day, drive it through the twin and report on it; return 0 if
    the plan validates (1 if not: nothing is driven then)."""
    console = Console(highlight=False)
    began = time.perf_counter()
    problem = demo_day(seed=seed, orders=orders, waiting_costs=waiting_costs)
    console.print(
        f"[bold]{problem.name}[/bold]: {len(problem.orders)} orders, "
        f"{len(problem.vehicles)} vehicles, {len(problem.depots)} depots; "
        f"constraints: {', '.join(sorted(problem.features))}"
    )
    charged = "route duration (waiting too)" if waiting_costs else "driving time only"
    console.print(
        f"planning with up to {time_limit:g} s of wall time; hours charged: {charged} ..."
    )
    plan = solve(problem, time_limit=time_limit, seed=seed)
    report = validate(problem, plan)
    print_plan(console, problem, plan, valid=report.ok)
    # VROOM's format has no waiting costs: the file holds the day, charged as VROOM does.
    as_vroom = dataclasses.replace(problem, cost_waiting=False)
    write_atomically(out_dir / "problem.json", json.dumps(write_problem(as_vroom)) + "\n")
    write_atomically(
        out_dir / "plan.json",
        json.dumps(write_solution(problem, plan, computing_time_s=plan.runtime_s), indent=1) + "\n",
    )
    write_atomically(out_dir / "plan.geojson", json.dumps(plan_to_geojson(problem, plan)) + "\n")
    console.print(f"wrote {out_dir}/problem.json, plan.json, plan.geojson", soft_wrap=True)
    if not report.ok:
        for v in report.violations[:20]:
            console.print(f"[red]violation[/red] {v.code}: {v.message}")
        console.print("[red]the plan fails validation: not driving it[/red]")
        return 1

    console.print(
        "\n[bold]driving the day[/bold] with the digital twin (seed "
        f"{seed}: log-normal travel times, customers away, an urgent order mid-morning, "
        "a van breaking down at 11:00) ..."
    )
    record = drive_day(problem, plan, seed=seed, day=day)
    _incidents(console, record)
    report_day(console, record, out_dir, title=f"{problem.name}: the day as driven")
    console.print(f"done in {time.perf_counter() - began:.1f} s in all")
    return 0


def report_day(
    console: Console,
    record: DayRecord,
    out_dir: Path,
    *,
    title: str,
    also: dict[str, Path] | None = None,
) -> None:
    """The day's key figures overall and per vehicle, then ``record.json`` and
    ``report.html`` written to ``out_dir``; their paths (and ``also``'s) printed."""
    overall = summarise(record)[0]
    console.print()
    console.print(overall_table(overall, record))
    console.print(group_table(summarise(record, by="vehicle"), "vehicle"))

    from lastmile.analytics.report import html_report  # matplotlib loads here

    write_atomically(out_dir / "record.json", json.dumps(record.to_dict()) + "\n")
    write_atomically(out_dir / "report.html", html_report(record, title=title))
    # Paths on one line each, whatever the width: they are for copying.
    console.print(f"record: {out_dir / 'record.json'}", soft_wrap=True)
    for label, path in (also or {}).items():
        console.print(f"{label}: {path}", soft_wrap=True)
    console.print(f"report: {out_dir / 'report.html'} (opens offline)", soft_wrap=True)
