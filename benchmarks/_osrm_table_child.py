"""Time OSRM's table in-process: run by a CPython >= 3.12 with the ``osrm-bindings`` wheel.

    python3.12 _osrm_table_child.py BASE.osrm POINTS.json OUT_PREFIX REPEAT [CH|MLD]

``POINTS.json`` is ``[[lon, lat], ...]``. Loads ``BASE.osrm`` (CH by default, read into
memory: no shared memory, no mmap, as ``osrm-routed`` by default), then calls
``OSRM.Table`` on every point as source and target, best of ``REPEAT`` wall
seconds, once with ``annotations=["duration"]`` and once with
``["duration", "distance"]`` (the second unpacks every path for its length);
the very first call's time is reported apart.
Writes ``OUT_PREFIX.durations`` and ``OUT_PREFIX.distances`` (float64, row
major, NaN where OSRM has no route) and prints one JSON line of figures.
Standard library only: the throwaway environment holds just the wheel.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import sys
import time
from array import array

import osrm  # type: ignore[import-not-found]


def main() -> None:
    base, points_file, out, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    algorithm = sys.argv[5] if len(sys.argv) > 5 else "CH"
    with open(points_file) as fh:
        coords = [(float(x), float(y)) for x, y in json.load(fh)]
    figures: dict[str, object] = {
        "osrm_bindings": importlib.metadata.version("osrm-bindings"),
        "python": sys.version.split()[0],
    }
    t0, c0 = time.perf_counter(), time.process_time()
    engine = osrm.OSRM(
        algorithm=algorithm,
        storage_config=base,
        use_shared_memory=False,
        use_mmap=False,  # read the data now, as osrm-routed does by default
        max_locations_distance_table=max(100, len(coords)),
    )
    figures["load_s"] = time.perf_counter() - t0
    figures["load_cpu_s"] = time.process_time() - c0

    result = None
    for key, wanted in (("durations", ["duration"]), ("both", ["duration", "distance"])):
        params = osrm.TableParameters(coordinates=coords, annotations=wanted, generate_hints=False)
        best, best_cpu = math.inf, math.inf
        for k in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            result = engine.Table(params)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            if k == 0 and "first_table_s" not in figures:
                figures["first_table_s"] = seconds
            if seconds < best:
                best, best_cpu = seconds, cpu
        assert result is not None and result["code"] == "Ok", result["code"]
        figures[f"table_{key}_s"] = best
        figures[f"table_{key}_cpu_s"] = best_cpu

    assert result is not None
    t0 = time.perf_counter()
    for name in ("durations", "distances"):
        values = array("d")
        for row in result[name]:
            values.extend(math.nan if v is None else float(v) for v in row)
        with open(f"{out}.{name}", "wb") as fh:
            values.tofile(fh)
    snap = [float(w["distance"]) for w in result["sources"]]
    figures["snap_max_m"] = max(snap)
    figures["snap_median_m"] = sorted(snap)[len(snap) // 2]
    figures["convert_s"] = time.perf_counter() - t0
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
