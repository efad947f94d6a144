"""Straight-line travel: great-circle distances, speed, detour, and planar matrices."""

from __future__ import annotations

import numpy as np
import pytest

from lastmile.domain import Location
from lastmile.exceptions import InputError
from lastmile.travel.haversine import HaversineModel, euclidean_matrix

PARIS = Location(2.3522, 48.8566, name="Paris")
LYON = Location(4.8357, 45.7640, name="Lyon")
MARSEILLE = Location(5.3698, 43.2965, name="Marseille")


def test_paris_to_lyon_is_about_392_km() -> None:
    m = HaversineModel(speed_kph=36).matrix([PARIS, LYON])
    metres = int(m.distances[0, 1])
    assert 390_000 < metres < 394_000
    # 36 km/h is 10 m/s
    assert abs(int(m.durations[0, 1]) - metres / 10) <= 1


def test_a_quarter_meridian_is_a_quarter_of_the_circumference() -> None:
    m = HaversineModel().matrix([Location(0.0, 0.0), Location(0.0, 90.0)])
    assert m.distances[0, 1] == round(np.pi / 2 * 6_371_008.8)


def test_matrix_is_symmetric_with_a_zero_diagonal() -> None:
    m = HaversineModel(speed_kph=50).matrix([PARIS, LYON, MARSEILLE, PARIS])
    for a in (m.durations, m.distances):
        assert np.array_equal(a, a.T)
        assert not np.diag(a).any()
    # the same place twice is zero apart, and the triangle inequality holds
    assert m.distances[0, 3] == 0
    assert m.distances[0, 2] <= m.distances[0, 1] + m.distances[1, 2] + 1


def test_detour_and_speed_scale_linearly() -> None:
    plain = HaversineModel(speed_kph=30).matrix([PARIS, LYON])
    detour = HaversineModel(speed_kph=30, detour_factor=1.5).matrix([PARIS, LYON])
    faster = HaversineModel(speed_kph=60).matrix([PARIS, LYON])
    assert abs(detour.distances[0, 1] - 1.5 * plain.distances[0, 1]) <= 1
    assert abs(detour.durations[0, 1] - 1.5 * plain.durations[0, 1]) <= 1
    assert faster.distances[0, 1] == plain.distances[0, 1]
    assert abs(2 * faster.durations[0, 1] - plain.durations[0, 1]) <= 1


def test_between_is_the_block_of_the_full_matrix() -> None:
    model = HaversineModel(speed_kph=40, detour_factor=1.2)
    everything = model.matrix([PARIS, LYON, MARSEILLE])
    t, d = model.between([LYON], [PARIS, MARSEILLE], departure=8 * 3600)
    assert t.shape == d.shape == (1, 2)
    assert t.tolist() == [[everything.durations[1, 0], everything.durations[1, 2]]]
    assert d.tolist() == [[everything.distances[1, 0], everything.distances[1, 2]]]


def test_description_names_detour_and_speed() -> None:
    assert HaversineModel(speed_kph=25).description == "straight-line distance at 25 km/h"
    assert (
        HaversineModel(speed_kph=25, detour_factor=1.3).description
        == "straight-line distance x1.3 detour at 25 km/h"
    )


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [({"speed_kph": 0}, "speed_kph"), ({"detour_factor": 0.9}, "detour_factor")],
)
def test_bad_parameters_are_refused(kwargs: dict[str, float], where: str) -> None:
    with pytest.raises(InputError) as info:
        HaversineModel(**kwargs)
    assert info.value.where == where


def test_planar_locations_are_refused_with_their_index() -> None:
    with pytest.raises(InputError, match="longitude/latitude") as info:
        HaversineModel().between([PARIS], [LYON, Location(3.0, 4.0, planar=True)])
    assert info.value.where == "destination 1"


def test_euclidean_matrix_rounds_or_truncates() -> None:
    pts = [(0.0, 0.0), (3.0, 4.0), (1.0, 1.0)]
    rounded = euclidean_matrix(pts, scale=10)
    truncated = euclidean_matrix(pts, scale=10, rounding="trunc")
    assert rounded.distances[0, 1] == 50 and truncated.distances[0, 1] == 50
    # sqrt(2) * 10 = 14.14..., sqrt(13) * 10 = 36.05...
    assert rounded.distances[0, 2] == 14 and truncated.distances[0, 2] == 14
    assert rounded.distances[1, 2] == 36 and truncated.distances[1, 2] == 36
    half = euclidean_matrix([(0.0, 0.0), (0.0, 0.75)], scale=2)
    assert half.distances[0, 1] == 2  # 1.5 rounds to even
    assert (
        euclidean_matrix([(0.0, 0.0), (0.0, 0.75)], scale=2, rounding="trunc").distances[0, 1] == 1
    )
    assert np.array_equal(rounded.durations, rounded.distances)
    with pytest.raises(InputError, match="unknown rounding 'ceil'"):
        euclidean_matrix(pts, rounding="ceil")
