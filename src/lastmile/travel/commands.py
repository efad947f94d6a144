"""``lastmile route`` and ``lastmile matrix``: travel queries from the command line.

The main CLI adds these with ``add_route_parser(subparsers)`` and
``add_matrix_parser(subparsers)``; each sets ``func`` to its command, which
returns the exit status.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from lastmile.domain import Location
from lastmile.exceptions import InputError, LastmileError
from lastmile.travel.network import ATTRIBUTION, DEFAULT_MAX_SNAP_M, PROFILES
from lastmile.travel.road import RoadTravelModel, RoutePath


def _lonlat(text: str) -> Location:
    try:
        lon_s, lat_s = text.split(",")
        return Location(lon=float(lon_s), lat=float(lat_s))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LON,LAT, got {text!r}") from None


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--network", metavar="PBF", help="OpenStreetMap extract (.osm.pbf)")
    p.add_argument(
        "--profile", default="car", choices=sorted(PROFILES), help="who travels (default car)"
    )
    p.add_argument(
        "--osrm-url", metavar="URL", help="use a running osrm-routed instead of --network"
    )
    p.add_argument(
        "--max-snap-m",
        type=float,
        default=DEFAULT_MAX_SNAP_M,
        help="flag points further than this from any road (default %(default)g)",
    )


def add_route_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``lastmile route --network PBF --from LON,LAT --to LON,LAT``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "route", help="fastest route between two points, with its geometry"
    )
    _add_engine_options(p)
    p.add_argument("--from", dest="origin", type=_lonlat, required=True, metavar="LON,LAT")
    p.add_argument("--to", dest="destination", type=_lonlat, required=True, metavar="LON,LAT")
    p.add_argument(
        "--format",
        default="geojson",
        choices=("geojson", "polyline", "json"),
        help="geojson: a Feature; polyline: the encoded line; json: figures and both",
    )
    p.set_defaults(func=route_command)
    return p


def add_matrix_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``lastmile matrix --network PBF --points CSV -o OUT.csv|npz``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "matrix", help="durations and distances between all points of a CSV"
    )
    _add_engine_options(p)
    p.add_argument(
        "--points", required=True, type=Path, help="CSV with lon,lat columns (and optional id)"
    )
    p.add_argument(
        "-o", "--output", required=True, type=Path, help="OUT.csv (one row per pair) or OUT.npz"
    )
    p.set_defaults(func=matrix_command)
    return p


def _model(args: argparse.Namespace) -> Any:
    if args.osrm_url:
        from lastmile.travel.osrm import OSRMClient, OSRMTravelModel

        return OSRMTravelModel(OSRMClient(args.osrm_url))
    if not args.network:
        raise InputError("give --network PBF or --osrm-url URL", where="arguments")
    return RoadTravelModel.from_pbf(args.network, profile=args.profile, max_snap_m=args.max_snap_m)


def _warn_far(model: Any, points: list[Location], names: list[str], err: TextIO) -> None:
    if not isinstance(model, RoadTravelModel):
        return
    snaps = model.snap(points)
    for k in snaps.far_indices:
        err.write(
            f"warning: point {names[k]} is {snaps.distance_m[k]:.0f} m from the nearest road\n"
        )


def route_command(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        model = _model(args)
        _warn_far(model, [args.origin, args.destination], ["--from", "--to"], sys.stderr)
        path: RoutePath = model.path(args.origin, args.destination)
    except LastmileError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if args.format == "polyline":
        out.write(path.polyline() + "\n")
    elif args.format == "geojson":
        json.dump(path.feature(), out)
        out.write("\n")
    else:
        json.dump(
            {
                "duration_s": path.duration_s,
                "distance_m": path.distance_m,
                "snap_m": list(path.snap_m),
                "geometry": path.geojson(),
                "polyline": path.polyline(),
                "travel": model.description,
            },
            out,
        )
        out.write("\n")
    return 0


def read_points(path: Path) -> tuple[list[Location], list[str]]:
    """Points from a CSV with ``lon`` and ``lat`` columns (``id``/``name`` optional)."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = {f.strip().lower(): f for f in reader.fieldnames or []}
            lon_key = fields.get("lon") or fields.get("lng") or fields.get("longitude")
            lat_key = fields.get("lat") or fields.get("latitude")
            if lon_key is None or lat_key is None:
                raise InputError("needs lon and lat columns", where=str(path))
            id_key = fields.get("id") or fields.get("name")
            points: list[Location] = []
            names: list[str] = []
            for row_no, row in enumerate(reader, start=2):
                try:
                    loc = Location(lon=float(row[lon_key]), lat=float(row[lat_key]))
                except (TypeError, ValueError) as exc:
                    raise InputError(f"bad lon/lat: {exc}", where=f"{path}:{row_no}") from None
                points.append(loc)
                names.append(row[id_key] if id_key else str(len(names)))
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", where=str(path)) from None
    if not points:
        raise InputError("no points", where=str(path))
    return points, names


def matrix_command(args: argparse.Namespace) -> int:
    try:
        points, names = read_points(args.points)
        model = _model(args)
        _warn_far(model, points, names, sys.stderr)
        t0 = time.perf_counter()
        durations, distances = model.float_matrix(points)
        elapsed = time.perf_counter() - t0
        suffix = args.output.suffix.lower()
        if suffix == ".npz":
            np.savez(
                args.output,
                durations_s=durations,
                distances_m=distances,
                ids=np.array(names),
                attribution=np.array(ATTRIBUTION),
            )
        elif suffix == ".csv":
            with args.output.open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["from", "to", "duration_s", "distance_m"])
                for i, a in enumerate(names):
                    for j, b in enumerate(names):
                        w.writerow([a, b, f"{durations[i, j]:.3f}", f"{distances[i, j]:.3f}"])
        else:
            raise InputError("must end in .csv or .npz", where="--output")
    except LastmileError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stderr.write(
        f"{len(points)}x{len(points)} matrix in {elapsed:.3f} s -> {args.output}\n"
        f"travel: {model.description}\n"
    )
    return 0
