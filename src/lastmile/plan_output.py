"""Showing and saving a plan: the summary table that ``lastmile solve`` and the demo
print, and files written all at once (never half-written).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lastmile.domain import Plan
from lastmile.domain.time import format_clock
from lastmile.planning.problem import PlanningProblem


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` all at once (no half-written file on failure)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def summary_table(problem: PlanningProblem, plan: Plan) -> Table:
    """One row per route, then totals."""
    scale = problem.time_scale
    clock: Callable[[int], str] = lambda t: format_clock(t, scale=scale)  # noqa: E731

    def dist(m: int) -> str:
        return f"{m / scale:,.1f}" if scale != 1 else f"{m / 1000:,.1f} km"

    def dur(s: int) -> str:
        return f"{s / scale:,.1f}" if scale != 1 else f"{s // 3600}h{(s % 3600) // 60:02d}"

    table = Table(title=f"Plan for {problem.name or 'problem'} ({plan.engine})", show_lines=False)
    for col in ("vehicle", "stops", "start", "end", "driving", "distance", "waiting", "cost"):
        table.add_column(col, justify="left" if col == "vehicle" else "right")
    for route in plan.routes:
        table.add_row(
            route.vehicle_id,
            str(len(route.tasks)),
            clock(route.start_time),
            clock(route.end_time),
            dur(route.travel),
            dist(route.distance),
            dur(route.wait),
            f"{route.cost / scale:,.1f}" if scale != 1 else f"{route.cost:,}",
        )
    table.add_section()
    table.add_row(
        f"{plan.num_vehicles} vehicles",
        str(sum(len(r.tasks) for r in plan.routes)),
        "",
        "",
        dur(plan.travel),
        dist(plan.distance),
        dur(sum(r.wait for r in plan.routes)),
        f"{plan.cost / scale:,.1f}" if scale != 1 else f"{plan.cost:,}",
    )
    return table


def print_plan(console: Console, problem: PlanningProblem, plan: Plan, *, valid: bool) -> None:
    """The summary table, then what was planned, what was not and why."""
    console.print(summary_table(problem, plan))
    served = sum(len(r.tasks) for r in plan.routes)
    console.print(
        f"{len(problem.orders) - len(plan.unassigned)}/{len(problem.orders)} orders planned "
        f"({served} stops), {len(plan.unassigned)} unassigned; "
        f"validator: {'[green]OK[/green]' if valid else '[red]VIOLATIONS[/red]'}; "
        f"solved in {plan.runtime_s:.2f} s"
    )
    if problem.travel_note:
        console.print(f"travel: {problem.travel_note}")
    for u in plan.unassigned[:20]:
        console.print(f"  unassigned {u.order_id}: {u.reason}")
    if len(plan.unassigned) > 20:
        console.print(f"  ... and {len(plan.unassigned) - 20} more (see the output file)")
