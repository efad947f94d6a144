"""Road travel benchmark: lastmile's matrix and routes beside OSRM's, same extract, same run.

    .venv/bin/python benchmarks/travel.py [--points 1000] [--repeat 3] [--no-osrm]

Prints, for the Monaco extract (tests/data/osm/monaco.osm.pbf):
- the N x N duration + distance matrix time (snapping included), best of --repeat;
- OSRM ``table`` for the same points on a local osrm-routed (MLD), HTTP and JSON
  included, best of --repeat, and the ratio lastmile / OSRM;
- one route with its geometry (median and 95th percentile over 200 pairs);
- the largest difference to an independent heapq Dijkstra (tests/travel/road_reference.py);
- how far lastmile's figures are from OSRM's (median ratio; OSRM adds turn penalties).

Map data (c) OpenStreetMap contributors, ODbL.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from lastmile.domain import Location
from lastmile.travel.network import ATTRIBUTION
from lastmile.travel.road import RoadTravelModel

REPO = Path(__file__).resolve().parents[1]
MONACO = REPO / "tests" / "data" / "osm" / "monaco.osm.pbf"


def load_reference() -> object:
    path = REPO / "tests" / "travel" / "road_reference.py"
    spec = importlib.util.spec_from_file_location("road_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best_of(repeat: int, fn: object) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best, result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--routes", type=int, default=200)
    ap.add_argument("--dijkstra-rows", type=int, default=10)
    ap.add_argument("--no-osrm", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    figures: dict[str, object] = {"points": args.points}
    t0 = time.perf_counter()
    model = RoadTravelModel.from_pbf(MONACO, profile="car")
    net = model.network
    figures["load_s"] = time.perf_counter() - t0
    print(f"network: {net} (loaded in {figures['load_s']:.2f} s)")
    rng = np.random.default_rng(2024)
    k = rng.choice(net.n_nodes, args.points, replace=False)
    lon = net.node_lon[k] + rng.normal(0, 0.0003, args.points)
    lat = net.node_lat[k] + rng.normal(0, 0.0003, args.points)
    places = [Location(float(x), float(y)) for x, y in zip(lon, lat, strict=True)]

    model.float_matrix(places[:3])  # compile / load the kernels once
    cpu0 = time.process_time()
    secs, (dur, dist) = best_of(args.repeat, lambda: model.float_matrix(places))  # type: ignore[misc]
    cpu = (time.process_time() - cpu0) / args.repeat
    figures["lastmile_matrix_s"] = secs
    figures["lastmile_matrix_cpu_s"] = cpu
    print(
        f"lastmile {args.points}x{args.points} durations+distances: {secs:.3f} s "
        f"(CPU {cpu:.3f} s per run, all threads)"
    )

    pairs = rng.integers(0, args.points, size=(args.routes, 2))
    model.path(places[0], places[1])
    route_times = []
    n_coords = []
    for i, j in pairs:
        t0 = time.perf_counter()
        route = model.path(places[i], places[j])
        route.polyline()
        route.geojson()
        route_times.append(time.perf_counter() - t0)
        n_coords.append(len(route.coordinates))
    route_times.sort()
    figures["route_median_ms"] = 1000 * statistics.median(route_times)
    figures["route_p95_ms"] = 1000 * route_times[int(0.95 * len(route_times)) - 1]
    print(
        f"one route with geometry (GeoJSON + polyline): median {figures['route_median_ms']:.2f}"
        f" ms, p95 {figures['route_p95_ms']:.2f} ms, {statistics.median(n_coords):.0f} points"
    )

    reference = load_reference()
    snaps = model.snap(places)
    rows = list(range(args.dijkstra_rows))
    ref_dur, ref_dist = reference.reference_matrix(net, snaps, sources=rows)  # type: ignore[attr-defined]
    figures["dijkstra_max_abs_diff_s"] = float(np.abs(dur[rows] - ref_dur).max())
    figures["dijkstra_max_abs_diff_m"] = float(np.abs(dist[rows] - ref_dist).max())
    print(
        f"independent Dijkstra, {len(rows)} rows x {args.points}: max |diff| "
        f"{figures['dijkstra_max_abs_diff_s']:.2e} s, {figures['dijkstra_max_abs_diff_m']:.2e} m"
    )

    if not args.no_osrm:
        run_osrm(args, places, dur, dist, figures)
    print(ATTRIBUTION)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def run_osrm(
    args: argparse.Namespace,
    places: list[Location],
    dur: np.ndarray,
    dist: np.ndarray,
    figures: dict[str, object],
) -> None:
    import httpx

    from lastmile.travel import osrm_server
    from lastmile.travel.osrm import OSRMTravelModel, OSRMUnavailable

    cache = REPO / ".cache" / "osrm"
    try:
        t0 = time.perf_counter()
        base = osrm_server.prepare(MONACO, cache_dir=cache)
        figures["osrm_prepare_s"] = time.perf_counter() - t0
        server = osrm_server.OSRMServer(base, cache_dir=cache).start()
    except OSRMUnavailable as exc:
        print(f"OSRM not run: {exc}")
        return
    try:
        with server.client() as client:
            osrm = OSRMTravelModel(client)
            osrm.float_matrix(places[:3])
            secs, (o_dur, o_dist) = best_of(args.repeat, lambda: osrm.float_matrix(places))  # type: ignore[misc]
            # The server's share: the same request without decoding the JSON answer.
            coords = ";".join(f"{p.lon:.6f},{p.lat:.6f}" for p in places)
            url = f"{server.url}/table/v1/driving/{coords}?annotations=duration,distance"
            http_s, _ = best_of(args.repeat, lambda: httpx.get(url, timeout=300).content)
    finally:
        server.stop()
    figures["osrm_table_s"] = secs
    ratio = float(figures["lastmile_matrix_s"]) / secs  # type: ignore[arg-type]
    figures["ratio_lastmile_over_osrm"] = ratio
    figures["osrm_table_http_only_s"] = http_s
    print(
        f"OSRM table (osrm-routed MLD) {args.points}x{args.points}: {secs:.3f} s with JSON "
        f"decoding, {http_s:.3f} s for the HTTP answer alone"
    )
    figures["ratio_lastmile_over_osrm_http_only"] = float(figures["lastmile_matrix_s"]) / http_s  # type: ignore[arg-type]
    print(
        f"ratio lastmile / OSRM: {ratio:.2f} "
        f"(against the HTTP answer alone: {figures['ratio_lastmile_over_osrm_http_only']:.2f})"
    )
    off = ~np.eye(len(places), dtype=bool)
    figures["median_duration_ratio_osrm_over_lastmile"] = float(
        np.median(o_dur[off] / np.maximum(dur[off], 1.0))
    )
    figures["median_distance_ratio_osrm_over_lastmile"] = float(
        np.median(o_dist[off] / np.maximum(dist[off], 1.0))
    )
    print(
        "OSRM / lastmile figures, median over pairs: durations "
        f"{figures['median_duration_ratio_osrm_over_lastmile']:.3f}, distances "
        f"{figures['median_distance_ratio_osrm_over_lastmile']:.3f}"
    )


if __name__ == "__main__":
    sys.exit(main())
