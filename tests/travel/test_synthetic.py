"""The synthetic grid road network: its layout, road classes, speeds and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from lastmile.exceptions import InputError
from lastmile.travel.haversine import HaversineModel
from lastmile.travel.synthetic import grid_network


def test_grid_has_every_street_both_ways() -> None:
    rows, cols = 4, 6
    net = grid_network(rows=rows, cols=cols)
    assert net.num_nodes == rows * cols
    one_way = rows * (cols - 1) + cols * (rows - 1)
    assert len(net.edge_tail) == len(net.edge_head) == 2 * one_way
    edges = set(zip(net.edge_tail.tolist(), net.edge_head.tolist(), strict=True))
    assert len(edges) == 2 * one_way
    assert all((h, t) in edges for t, h in edges)
    # only neighbours are joined: one column apart in a row, or one row apart
    for t, h in edges:
        (rt, ct), (rh, ch) = divmod(t, cols), divmod(h, cols)
        assert abs(rt - rh) + abs(ct - ch) == 1
    assert net.name == "grid 4x6"


def test_neighbours_are_spacing_apart_around_the_centre() -> None:
    center = (2.35, 48.85)
    net = grid_network(rows=3, cols=3, spacing_m=200.0, center=center, jitter=0.0)
    assert net.node_lon[4] == pytest.approx(center[0])
    assert net.node_lat[4] == pytest.approx(center[1])
    model = HaversineModel()
    middle, east, north = net.locations([4, 5, 7])
    assert middle.name == "n4"
    _, d = model.between([middle], [east, north])
    assert d[0].tolist() == pytest.approx([200, 200], abs=1)
    assert net.node_lat[7] > net.node_lat[4] and net.node_lon[5] > net.node_lon[4]
    # without jitter every edge is exactly the spacing
    assert np.allclose(net.edge_length_m, 200.0)


def test_arterials_are_faster_than_residential_streets() -> None:
    net = grid_network(rows=6, cols=6, arterial_every=5, jitter=0.2, seed=3)
    assert tuple(net.class_names) == ("primary", "residential")
    speed_kph = net.edge_length_m / net.edge_freeflow_s * 3.6
    assert np.allclose(speed_kph[net.edge_class == 0], 50.0)
    assert np.allclose(speed_kph[net.edge_class == 1], 30.0)
    cols = 6
    for t, h, k in zip(net.edge_tail, net.edge_head, net.edge_class, strict=True):
        (rt, ct), rh = divmod(int(t), cols), int(h) // cols
        # the row of an east-west street, the column of a north-south one
        line = rt if rt == rh else ct
        assert k == (0 if line % 5 == 0 else 1)


def test_jitter_bounds_edge_lengths_and_both_directions_agree() -> None:
    net = grid_network(rows=5, cols=5, spacing_m=100.0, jitter=0.1, seed=1)
    assert net.edge_length_m.min() >= 90.0 and net.edge_length_m.max() <= 110.0
    assert net.edge_length_m.std() > 0
    half = len(net.edge_tail) // 2
    assert np.array_equal(net.edge_tail[:half], net.edge_head[half:])
    assert np.array_equal(net.edge_length_m[:half], net.edge_length_m[half:])


def test_same_seed_same_network_other_seed_other_lengths() -> None:
    a, b, c = grid_network(seed=5), grid_network(seed=5), grid_network(seed=6)
    assert np.array_equal(a.edge_length_m, b.edge_length_m)
    assert np.array_equal(a.edge_tail, c.edge_tail)
    assert not np.array_equal(a.edge_length_m, c.edge_length_m)


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [({"rows": 1}, "grid"), ({"cols": 1}, "grid"), ({"spacing_m": 0.0}, "spacing_m")],
)
def test_degenerate_grids_are_refused(kwargs: dict[str, float], where: str) -> None:
    with pytest.raises(InputError) as info:
        grid_network(**kwargs)  # type: ignore[arg-type]
    assert info.value.where == where
