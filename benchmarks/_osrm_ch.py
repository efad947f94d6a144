"""OSRM's contraction hierarchy on a lastmile ``RoadNetwork``: the road-matrix peer.

Uses the programs of PyPI's ``osrm-bindings`` wheel (``lastmile.travel.osrm_server``
downloads and unpacks it) and, for the in-process table, the wheel's Python
module in a throwaway CPython >= 3.12 environment (the wheel is abi3 for 3.12+;
lastmile's own interpreter may be older). All under ``cache_dir``:

- ``prepare``: the network as OSM XML (``_osm_xml.write_osm_xml``), then
  ``osrm-extract -p car.lua`` and ``osrm-contract`` (CH), or ``osrm-partition``
  and ``osrm-customize`` (MLD); cached per network content, with the seconds
  each step took when it ran;
- ``table_in_process``: ``_osrm_table_child.py`` loads the data with
  ``osrm.OSRM(algorithm="CH")`` (or ``"MLD"``) and times ``Table`` (best of
  ``repeat``, load time apart);
- ``table_http``: ``osrm-routed --algorithm ch`` (or ``mld``) and a ``/table``
  request over HTTP, best of ``repeat``.

Every step raises ``OSRMUnavailable`` with the reason when it cannot run here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from _osm_xml import WRITER_VERSION, write_osm_xml
from lastmile.travel import osrm_server
from lastmile.travel.osrm import OSRMUnavailable

HERE = Path(__file__).resolve().parent
#: OSRM's car profile drives at ``speed_reduction`` (0.8) x ``maxspeed``.
CAR_SPEED_REDUCTION = 0.8


def network_digest(net: Any) -> str:
    """A short hash of the network's content (nodes, edges, classes, times)."""
    h = hashlib.sha256()
    for arr in (
        net.node_id, net.node_lon, net.node_lat, net.edge_tail, net.edge_head,
        net.edge_length_m, net.edge_freeflow_s, net.edge_class, net.edge_way_id,
    ):  # fmt: skip
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(f"writer {WRITER_VERSION} osrm {osrm_server.OSRM_BINDINGS_VERSION}".encode())
    return h.hexdigest()[:16]


def _check_speed_reduction(package: Path) -> None:
    lua = (package / "share" / "profiles" / "car.lua").read_text()
    if f"speed_reduction           = {CAR_SPEED_REDUCTION}" not in lua:
        raise OSRMUnavailable(
            f"car.lua no longer sets speed_reduction = {CAR_SPEED_REDUCTION}; "
            "the maxspeed tags written for it would be off"
        )


def prepare(
    net: Any,
    name: str,
    cache_dir: Path,
    algorithm: str = "ch",
    *,
    fresh: bool = False,
    timeout_s: float = 1800.0,
) -> tuple[Path, dict[str, Any]]:
    """The ``.osrm`` base of ``net`` prepared for ``algorithm``, and how it was made.

    ``"ch"``: ``osrm-contract``; ``"mld"``: ``osrm-partition`` and ``osrm-customize``
    (both on one ``osrm-extract`` output). The figures are ``write_osm_s``,
    ``extract_s`` and ``contract_s`` or ``partition_s`` + ``customize_s`` (wall
    seconds, measured when the cache entry was made, ``built``), ``cached`` and the
    OSM counts. A step running longer than ``timeout_s`` raises ``OSRMUnavailable``.
    """
    if algorithm not in ("ch", "mld"):
        raise ValueError(f"algorithm must be 'ch' or 'mld', not {algorithm!r}")
    package = osrm_server.ensure_binaries(cache_dir)
    _check_speed_reduction(package)
    folder = cache_dir / "data" / f"{name}-{network_digest(net)}-car"
    base = folder / "map.osrm"
    extract_stamp = folder / "extract.json"
    stamp = folder / f"{algorithm}.json"
    if stamp.is_file() and extract_stamp.is_file() and not fresh:
        figures = {**json.loads(extract_stamp.read_text()), **json.loads(stamp.read_text())}
        figures["cached"] = True
        return base, figures
    threads = str(max(1, os.cpu_count() or 1))
    bin_dir = package / "bin"
    if fresh or not extract_stamp.is_file():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        extract: dict[str, Any] = {}
        t0 = time.perf_counter()
        extract["osm"] = write_osm_xml(
            net, folder / "map.osm", maxspeed_factor=1.0 / CAR_SPEED_REDUCTION
        )
        extract["write_osm_s"] = time.perf_counter() - t0
        lua = package / "share" / "profiles" / "car.lua"
        t0 = time.perf_counter()
        osrm_server._run(
            [str(bin_dir / "osrm-extract"), "-t", threads, "-p", str(lua), "map.osm"],
            cwd=folder,
            timeout_s=timeout_s,
        )
        extract["extract_s"] = time.perf_counter() - t0
        extract["threads"] = int(threads)
        extract_stamp.write_text(json.dumps(extract, indent=1) + "\n")
    steps = (
        [("contract_s", "osrm-contract")]
        if algorithm == "ch"
        else [("partition_s", "osrm-partition"), ("customize_s", "osrm-customize")]
    )
    done: dict[str, Any] = {}
    for key, program in steps:
        t0 = time.perf_counter()
        osrm_server._run(
            [str(bin_dir / program), "-t", threads, "map.osrm"], cwd=folder, timeout_s=timeout_s
        )
        done[key] = time.perf_counter() - t0
    done["built"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    stamp.write_text(json.dumps(done, indent=1) + "\n")
    figures = {**json.loads(extract_stamp.read_text()), **done}
    figures["cached"] = False
    return base, figures


def find_python312() -> str:
    """A CPython >= 3.12: ``$LASTMILE_PYTHON312``, this one, ``python3.1x`` on PATH,
    or one installed by pyenv (whose shims on PATH may not be selected)."""
    candidates = [os.environ.get("LASTMILE_PYTHON312", "")]
    if sys.version_info >= (3, 12):
        candidates.append(sys.executable)
    candidates += [shutil.which(f"python3.{m}") or "" for m in (12, 13, 14)]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += [str(p) for p in sorted(pyenv.glob("3.1[2-9]*/bin/python3"))]
    for exe in candidates:
        if not exe:
            continue
        proc = subprocess.run(
            [exe, "-c", "import sys; print(sys.version_info >= (3, 12))"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode == 0 and proc.stdout.strip() == "True":
            return exe
    raise OSRMUnavailable(
        "no CPython >= 3.12 for the osrm-bindings module (set LASTMILE_PYTHON312)"
    )


def ensure_bindings_env(cache_dir: Path) -> Path:
    """The python of a venv (CPython >= 3.12) with the cached osrm-bindings wheel."""
    osrm_server.ensure_binaries(cache_dir)
    version = osrm_server.OSRM_BINDINGS_VERSION
    env = cache_dir / f"py312-osrm-bindings-{version}"
    python = env / "bin" / "python"
    stamp = env / "ready"
    if stamp.is_file() and python.is_file():
        return python
    wheels = sorted((cache_dir / "wheels").glob(f"osrm_bindings-{version}-*.whl"))
    if not wheels:
        raise OSRMUnavailable(f"no osrm-bindings {version} wheel in {cache_dir / 'wheels'}")
    shutil.rmtree(env, ignore_errors=True)
    osrm_server._run([find_python312(), "-m", "venv", str(env)], timeout_s=300)
    osrm_server._run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            str(wheels[-1]),
        ],
        timeout_s=600,
    )
    osrm_server._run([str(python), "-c", "import osrm; osrm.TableParameters"], timeout_s=60)
    stamp.write_text(version)
    return python


def table_in_process(
    python: Path, base: Path, lonlat: np.ndarray, repeat: int, work: Path, algorithm: str = "ch"
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Figures of ``_osrm_table_child.py``, and its durations and distances (n x n)."""
    n = len(lonlat)
    points = work / "points.json"
    points.write_text(json.dumps(lonlat.tolist()))
    out = work / "osrm-table"
    cmd = [str(python), str(HERE / "_osrm_table_child.py"), str(base), str(points), str(out)]
    try:
        proc = subprocess.run(
            [*cmd, str(repeat), algorithm.upper()],
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OSRMUnavailable(f"the in-process OSRM table could not run: {exc}") from exc
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise OSRMUnavailable(f"the in-process OSRM table failed ({proc.returncode}): {tail}")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    dur = np.fromfile(f"{out}.durations", dtype=np.float64).reshape(n, n)
    dist = np.fromfile(f"{out}.distances", dtype=np.float64).reshape(n, n)
    return figures, dur, dist


def table_http(
    base: Path, lonlat: np.ndarray, repeat: int, cache_dir: Path, algorithm: str = "ch"
) -> tuple[dict[str, Any], np.ndarray]:
    """``osrm-routed --algorithm ALGORITHM``: the ``/table`` answer over HTTP, best of
    ``repeat``."""
    import httpx

    n = len(lonlat)
    coords = ";".join(f"{x:.7f},{y:.7f}" for x, y in lonlat.tolist())
    url = "/table/v1/driving/" + coords + "?annotations=duration,distance&generate_hints=false"
    figures: dict[str, Any] = {}
    t0 = time.perf_counter()
    server = osrm_server.OSRMServer(
        base, cache_dir=cache_dir, algorithm=algorithm, max_table_size=max(n, 100)
    )
    server.start(timeout_s=300)
    figures["start_s"] = time.perf_counter() - t0
    try:
        best, body = float("inf"), b""
        for _ in range(repeat):
            t0 = time.perf_counter()
            body = httpx.get(server.url + url, timeout=3600).content
            best = min(best, time.perf_counter() - t0)
    finally:
        server.stop()
    answer = json.loads(body)
    if answer.get("code") != "Ok":
        raise OSRMUnavailable(f"osrm-routed table answered {answer.get('code')}")
    figures["table_s"] = best
    dur = np.array(
        [[np.nan if v is None else v for v in row] for row in answer["durations"]], dtype=float
    )
    return figures, dur
