"""The network container: array checks, the disk cache, query input checks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from lastmile.exceptions import InputError
from lastmile.travel.network import RoadNetwork


def _load(name: str) -> ModuleType:
    """Import ``tests/travel/<name>.py`` (importlib mode puts no test folder on sys.path)."""
    key = f"lastmile_tests_travel_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).parents[1] / f"{name}.py")
        assert spec is not None and spec.loader is not None
        sys.modules[key] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[key])
    return sys.modules[key]


helpers = _load("road_helpers")


@pytest.fixture(scope="module")
def monaco() -> RoadNetwork:
    return RoadNetwork.from_pbf(helpers.MONACO, profile="car")


def test_cache_is_keyed_by_profile_and_reloads_equal(tmp_path: Path) -> None:
    car = RoadNetwork.from_pbf(helpers.MONACO, profile="car", cache_dir=tmp_path)
    files = list(tmp_path.glob("monaco.osm.pbf.car.*.lastmile.npz"))
    assert len(files) == 1
    again = RoadNetwork.from_pbf(helpers.MONACO, profile="car", cache_dir=tmp_path)
    for name in ("node_id", "node_lon", "edge_tail", "edge_head", "edge_freeflow_s"):
        assert np.array_equal(getattr(car, name), getattr(again, name))
    van = RoadNetwork.from_pbf(helpers.MONACO, profile="van", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.lastmile.npz"))) == 2
    assert van.profile == "van"
    # The van's cap only slows it down.
    assert van.edge_freeflow_s.sum() >= car.edge_freeflow_s.sum()


def test_network_arrays_refuse_loops_and_twin_edges() -> None:
    base = {
        "node_id": [1, 2],
        "node_lon": [0.0, 0.001],
        "node_lat": [45.0, 45.0],
        "edge_length_m": [79.0, 79.0],
        "edge_freeflow_s": [10.0, 12.0],
        "edge_class": [0, 0],
    }
    with pytest.raises(InputError, match="two edges from node 0 to node 1"):
        RoadNetwork(edge_tail=[0, 0], edge_head=[1, 1], **base)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="loop"):
        RoadNetwork(edge_tail=[0, 1], edge_head=[0, 0], **base)  # type: ignore[arg-type]


def test_bad_inputs_name_the_field(monaco: RoadNetwork) -> None:
    with pytest.raises(InputError, match="max_snap_m"):
        monaco.snap([7.42], [43.73], max_snap_m=-1)
    with pytest.raises(InputError, match="finite"):
        monaco.snap([np.nan], [43.73])
    with pytest.raises(InputError, match="edge_time_s"):
        monaco.check_edge_time(np.ones(3))
    bad = monaco.edge_freeflow_s.copy()
    bad[5] = 0.0
    with pytest.raises(InputError, match="edge 5"):
        monaco.check_edge_time(bad)
