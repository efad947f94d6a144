"""Drawing a road network: streets once each, joined between junctions, split where
a road turns from major to minor; simplification in metres; paths through points."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lastmile.exceptions import InputError
from lastmile.travel.network import ROAD_CLASSES, RoadNetwork
from lastmile.travel.network.drawing import RoadLine, path_line, road_lines

PRIMARY = ROAD_CLASSES.index("primary")
RESIDENTIAL = ROAD_CLASSES.index("residential")
LAT = 60.0
#: About 55.7 m of longitude at 60 degrees north.
STEP = 0.001


def network(
    nodes: list[tuple[float, float]], streets: list[tuple[int, int, int, bool]]
) -> RoadNetwork:
    """``streets``: (a, b, class, two_way)."""
    tail, head, cls = [], [], []
    for a, b, c, two_way in streets:
        tail.append(a)
        head.append(b)
        cls.append(c)
        if two_way:
            tail.append(b)
            head.append(a)
            cls.append(c)
    m = len(tail)
    return RoadNetwork(
        node_id=np.arange(len(nodes)),
        node_lon=[p[0] for p in nodes],
        node_lat=[p[1] for p in nodes],
        edge_tail=tail,
        edge_head=head,
        edge_length_m=np.full(m, 50.0),
        edge_freeflow_s=np.full(m, 5.0),
        edge_class=cls,
    )


def _nodes_of(line: RoadLine, net: RoadNetwork) -> list[int]:
    out = []
    for x, y in zip(line.lon.tolist(), line.lat.tolist(), strict=True):
        k = np.flatnonzero((net.node_lon == x) & (net.node_lat == y))
        out.append(int(k[0]))
    return out


def _segments(lines: list[list[int]]) -> list[tuple[int, int]]:
    return sorted((min(a, b), max(a, b)) for nodes in lines for a, b in itertools.pairwise(nodes))


def test_streets_are_drawn_once_and_joined_between_junctions() -> None:
    nodes = [(24 + k * STEP, LAT) for k in range(4)] + [(24 + 2 * STEP, LAT + STEP)]
    net = network(
        nodes,
        [
            (0, 1, PRIMARY, True),
            (1, 2, PRIMARY, True),
            (2, 3, RESIDENTIAL, True),
            (2, 4, RESIDENTIAL, False),  # one way: still one street
        ],
    )
    lines = road_lines(net)
    drawn = {
        tuple(sorted((n[0], n[-1]))): (n, line.major)
        for line in lines
        for n in [_nodes_of(line, net)]
    }
    assert set(drawn) == {(0, 2), (2, 3), (2, 4)}
    assert drawn[(0, 2)][1] is True and len(drawn[(0, 2)][0]) == 3  # through node 1
    assert drawn[(2, 3)][1] is False and drawn[(2, 4)][1] is False
    assert _segments([n for n, _ in drawn.values()]) == [(0, 1), (1, 2), (2, 3), (2, 4)]


def test_a_road_turning_from_major_to_minor_is_split_there() -> None:
    nodes = [(24 + k * STEP, LAT) for k in range(3)]
    net = network(nodes, [(0, 1, PRIMARY, True), (1, 2, RESIDENTIAL, True)])
    lines = sorted(road_lines(net), key=lambda line: float(line.lon[0] + line.lon[-1]))
    assert [line.major for line in lines] == [True, False]
    assert [sorted(_nodes_of(line, net)) for line in lines] == [[0, 1], [1, 2]]


def test_a_loop_without_junctions_is_one_closed_line() -> None:
    nodes = [(24.0, LAT), (24 + STEP, LAT), (24 + STEP, LAT + STEP)]
    net = network(
        nodes, [(0, 1, RESIDENTIAL, True), (1, 2, RESIDENTIAL, True), (2, 0, RESIDENTIAL, True)]
    )
    [line] = road_lines(net)
    found = _nodes_of(line, net)
    assert len(found) == 4 and found[0] == found[-1]
    assert _segments([found]) == [(0, 1), (0, 2), (1, 2)]


def test_simplification_drops_vertices_closer_than_the_tolerance() -> None:
    metre = 1 / 111_320  # of latitude
    line = RoadLine(
        lon=np.array([24.0, 24 + STEP, 24 + 2 * STEP, 24 + 3 * STEP, 24 + 4 * STEP]),
        lat=np.array([LAT, LAT + 0.5 * metre, LAT, LAT + 20 * metre, LAT]),
        major=False,
    )
    kept = line.simplified(2.0)
    assert kept.lon.tolist() == [24.0, 24 + 2 * STEP, 24 + 3 * STEP, 24 + 4 * STEP]
    assert kept.major is False
    assert line.simplified(0.1).lon.tolist() == line.lon.tolist()
    assert line.simplified(0.0) is line
    assert line.simplified(50.0).lon.tolist() == [24.0, 24 + 4 * STEP]


def test_a_box_meets_the_lines_whose_extent_it_overlaps() -> None:
    line = RoadLine(lon=np.array([24.0, 24.01]), lat=np.array([60.0, 60.01]), major=True)
    assert line.meets((24.005, 60.005, 24.02, 60.02))
    assert line.meets((23.0, 59.0, 25.0, 61.0))
    assert not line.meets((24.02, 60.0, 24.03, 60.01))


def test_a_path_through_points_follows_the_roads_from_the_first_point_to_the_last() -> None:
    nodes = [(24 + k * STEP, LAT) for k in range(4)] + [(24 + 2 * STEP, LAT + STEP)]
    net = network(
        nodes,
        [
            (0, 1, PRIMARY, True),
            (1, 2, PRIMARY, True),
            (2, 3, RESIDENTIAL, True),
            (2, 4, RESIDENTIAL, True),
        ],
    )
    start = (24.0002, LAT - 0.0001)  # beside the road, near node 0
    end = (24 + 2 * STEP + 0.0001, LAT + STEP)  # beside node 4
    lon, lat = path_line(net, [start, start, end])
    assert (lon[0], lat[0]) == start and (lon[-1], lat[-1]) == end
    inner = set(zip(lon[1:-1], lat[1:-1], strict=True))
    assert {nodes[1], nodes[2]} <= inner  # along the road, round the corner at node 2
    assert len(lon) == len(set(zip(lon, lat, strict=True)))
    assert path_line(net, [start]) == ([start[0]], [start[1]])
    with pytest.raises(InputError, match="points"):
        path_line(net, [])
