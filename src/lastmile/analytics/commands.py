"""``lastmile report``: key figures of recorded days, as a table, CSV files and an HTML page.

The main CLI adds it with ``add_report_parser(subparsers)``; the command
returns the exit status (bad files raise an ``InputError`` naming the file and
the field, which the CLI answers with status 2).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from lastmile.analytics.display import headline, kpi_lines
from lastmile.analytics.io import read_records, write_csv
from lastmile.analytics.kpis import GROUPINGS, Kpis, summarise
from lastmile.analytics.tables import leg_table, stop_table
from lastmile.domain.day import DayRecord
from lastmile.exceptions import InputError


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``lastmile report RECORD.json [...] [--by ...] [--html ...] [--csv ...]``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="key figures, tables and an HTML report of recorded delivery days",
        description="Measure one or several delivery days (DayRecord JSON files, one record "
        "or a list of records each): on-time rate, lateness, cost, distance, utilisation, "
        "ETA accuracy... printed as a table and written as CSV or a self-contained HTML page.",
    )
    p.add_argument("records", nargs="+", type=Path, metavar="RECORD.json")
    p.add_argument(
        "--by", choices=GROUPINGS, help="also one summary per driver, vehicle, depot or day"
    )
    p.add_argument("--html", type=Path, metavar="REPORT.html", help="write the HTML report here")
    p.add_argument("--title", default="Delivery day report", help="the HTML report's title")
    p.add_argument(
        "--network",
        type=Path,
        metavar="PBF",
        help="draw the roads of this OpenStreetMap extract (.osm.pbf) under the report's maps",
    )
    p.add_argument(
        "--csv",
        type=Path,
        metavar="KPIS.csv",
        help="write the key figures here (one row overall, then one per group with --by)",
    )
    p.add_argument(
        "--stops-csv", type=Path, metavar="STOPS.csv", help="planned against actual per stop"
    )
    p.add_argument(
        "--legs-csv", type=Path, metavar="LEGS.csv", help="planned against actual per leg"
    )
    p.set_defaults(func=report_command)
    return p


def _overall_table(kpis: Kpis, records: list[DayRecord]) -> Table:
    days = sorted({r.day.isoformat() for r in records})
    caption = ", ".join(days) if len(days) <= 5 else f"{days[0]} to {days[-1]}, {len(days)} days"
    table = Table(title=f"Key figures ({caption})", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in kpi_lines(kpis):
        table.add_row(label, value)
    return table


def group_table(groups: list[Kpis], by: str) -> Table:
    """One line per group with the headline figures (fits 80 columns)."""
    rows = [(k.group, *(value for _, value in headline(k))) for k in groups]
    headers = [by, *(label for label, _ in headline(groups[0]))]
    table = Table(
        title=f"Per {by}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for i, header in enumerate(headers):
        widest = max(*(len(row[i]) for row in rows), *(len(w) for w in header.split()))
        table.add_column(header, justify="left" if i == 0 else "right", min_width=widest)
    for row in rows:
        table.add_row(*row)
    return table


_OUTPUTS = (
    ("csv", "--csv"),
    ("stops_csv", "--stops-csv"),
    ("legs_csv", "--legs-csv"),
    ("html", "--html"),
)


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse, before any work, an output whose folder does not exist."""
    if args.network and not args.html:
        raise InputError("draws the roads under the HTML report's maps: give --html too",
                         where="--network")  # fmt: skip
    for name, option in _OUTPUTS:
        path: Path | None = getattr(args, name)
        if path is not None and not path.resolve().parent.is_dir():
            raise InputError(f"no such folder: {path.parent}", where=option)


def _write(path: Path, option: str, write: Callable[[Path], None]) -> None:
    try:
        write(path)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}", where=option) from exc


def _write_text(text: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    return write


def report_command(args: argparse.Namespace) -> int:
    _check_outputs(args)
    records: list[DayRecord] = []
    for path in args.records:
        records += read_records(path)
    overall = summarise(records)
    groups = summarise(records, by=args.by) if args.by else []
    console = Console(highlight=False, soft_wrap=False)
    console.print(_overall_table(overall[0], records))
    if groups:
        console.print(group_table(groups, args.by))

    if args.csv:
        rows = [k.as_row() for k in overall + groups]
        _write(args.csv, "--csv", lambda p: write_csv(rows, p))
    if args.stops_csv:
        _write(args.stops_csv, "--stops-csv", lambda p: write_csv(stop_table(records), p))
    if args.legs_csv:
        _write(args.legs_csv, "--legs-csv", lambda p: write_csv(leg_table(records), p))
    if args.html:
        from lastmile.analytics.report import html_report

        roads = None
        if args.network:
            from lastmile.analytics.roads import roads_around
            from lastmile.travel.network.road_network import RoadNetwork

            roads = roads_around(RoadNetwork.from_pbf(args.network), records)
        page = html_report(records, title=args.title, roads=roads)
        _write(args.html, "--html", _write_text(page))
    for label, path in (
        ("key figures", args.csv),
        ("stops", args.stops_csv),
        ("legs", args.legs_csv),
        ("report", args.html),
    ):
        if path:
            console.print(f"{label}: {path}")
    return 0
