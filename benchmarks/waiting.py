"""The demo day planned with waiting charged like driving, and without.

Drivers paid by the hour cost the same waiting as driving. This plans the demo
day (``lastmile demo``: the same problem, seed and time limit) twice: with
``cost_waiting`` off (the objective charges driving time only, VROOM's) and on
(it charges each route's whole duration), validates both plans and prints, for
each, the hours driven, waited, spent at stops and paid (route durations), the
orders served, and both objectives computed on the plan.

    .venv/bin/python benchmarks/waiting.py [--time-limit 10] [--seed 7] [--orders 250]
"""

from __future__ import annotations

import argparse
import sys

from lastmile.demo import demo_day
from lastmile.domain import Plan
from lastmile.planning import solve
from lastmile.planning.problem import PlanningProblem, route_cost
from lastmile.planning.validate import validate


def _costs(problem: PlanningProblem, plan: Plan) -> tuple[int, int]:
    """The plan's objective charging driving time only, and charging route duration."""
    driving = paid = 0
    for route in plan.routes:
        if not route.tasks:
            continue
        vehicle = problem.vehicle(route.vehicle_id)
        driving += route_cost(vehicle, route.travel, route.distance)
        paid += route_cost(vehicle, route.travel, route.distance, duration_s=route.duration)
    return driving, paid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--orders", type=int, default=250)
    args = parser.parse_args(argv)
    print(
        f"demo day, {args.orders} orders, seed {args.seed}, {args.time_limit:g} s per plan\n"
        f"{'waiting charged':<16} {'engine':<16} {'served':>6} {'routes':>6} "
        f"{'driving h':>9} {'waiting h':>9} {'at stops h':>10} {'paid h':>7} "
        f"{'cost (driving)':>14} {'cost (paid h)':>13}"
    )
    ok = True
    for waiting in (False, True):
        problem = demo_day(seed=args.seed, orders=args.orders, waiting_costs=waiting)
        plan = solve(problem, time_limit=args.time_limit, seed=args.seed)
        report = validate(problem, plan)
        ok &= report.ok
        routes = [r for r in plan.routes if r.tasks]
        driving_cost, paid_cost = _costs(problem, plan)
        assert plan.cost == (paid_cost if waiting else driving_cost)

        def hours(seconds: float) -> str:
            return f"{seconds / 3600:.1f}"

        print(
            f"{'yes' if waiting else 'no':<16} {plan.engine:<16} "
            f"{len(problem.orders) - len(plan.unassigned):>6} {len(routes):>6} "
            f"{hours(sum(r.travel for r in routes)):>9} {hours(sum(r.wait for r in routes)):>9} "
            f"{hours(sum(r.service for r in routes)):>10} "
            f"{hours(sum(r.duration for r in routes)):>7} "
            f"{driving_cost:>14,} {paid_cost:>13,}" + ("" if report.ok else "  INVALID")
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
