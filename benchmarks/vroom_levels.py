"""pyvroom alone on the realistic days: its cost by exploration level and timeout.

What the VROOM engine's choice of level (``plan_search``) rests on: on a
2-core machine, a level whose searches are cut short by the timeout against a
lower level run to its end. Each cell is VROOM's own summary cost, with the
wall time; ``end`` means no timeout. The days are those of
``benchmarks/realistic.py`` (same seeds, same files).

    .venv/bin/python benchmarks/vroom_levels.py [--runs 5x10,5x7,1x7,1xend,5xend] [--only 300,400]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from importlib.metadata import version

import vroom

import realistic
from lastmile.formats.vroom import read_problem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs",
        default="5x10,5x7,4x7,3x7,2x7,1x7,1xend,5xend",
        help="comma-separated LEVELxSECONDS (SECONDS 'end': no timeout)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", help="comma-separated order counts, e.g. 300,500")
    args = parser.parse_args(argv)
    runs = []
    for item in args.runs.split(","):
        level, _, seconds = item.partition("x")
        runs.append((int(level), None if seconds == "end" else float(seconds)))
    only = {int(n) for n in args.only.split(",")} if args.only else None
    print(f"pyvroom {version('pyvroom')}, {args.threads} threads")
    for seed, orders, vans, bikes in realistic.SPECS:
        if only is not None and orders not in only:
            continue
        path = realistic.make_instance(seed, orders, vans, bikes)
        tasks = sum(len(o.stops) for o in read_problem(path).orders)
        cells = []
        for level, seconds in runs:
            inp = vroom.Input.from_json(path)
            began = time.perf_counter()
            solution = inp.solve(
                exploration_level=level,
                nb_threads=args.threads,
                timeout=None if seconds is None else timedelta(seconds=seconds),
            )
            wall = time.perf_counter() - began
            label = f"x{level}/{'end' if seconds is None else f'{seconds:g}s'}"
            cells.append(f"{label} {int(solution.summary.cost):,} ({wall:.1f} s)")
        print(f"{orders} orders ({tasks} tasks): " + " | ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
