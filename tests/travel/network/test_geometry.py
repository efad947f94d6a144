"""Great-circle distances over arrays agree with the one-pair formula."""

from __future__ import annotations

import numpy as np
import pytest

from lastmile.domain import Location
from lastmile.domain.geo import EARTH_RADIUS_M, haversine_m
from lastmile.travel.network.geometry import haversine_m_array


def test_element_wise_distances_equal_the_scalar_haversine() -> None:
    rng = np.random.default_rng(3)
    lon1, lon2 = rng.uniform(-180, 180, (2, 50))
    lat1, lat2 = rng.uniform(-89, 89, (2, 50))
    got = haversine_m_array(lon1, lat1, lon2, lat2)
    assert got.shape == (50,)
    for k in range(50):
        want = haversine_m(Location(lon1[k], lat1[k]), Location(lon2[k], lat2[k]))
        assert got[k] == pytest.approx(want, rel=1e-9)


def test_known_distances() -> None:
    zero = np.zeros(1)
    # A quarter of the equator, one degree of latitude, and antipodes (no NaN from rounding).
    assert haversine_m_array(zero, zero, zero + 90, zero)[0] == pytest.approx(
        np.pi / 2 * EARTH_RADIUS_M
    )
    assert haversine_m_array(zero, zero, zero, zero + 1)[0] == pytest.approx(
        np.pi / 180 * EARTH_RADIUS_M
    )
    assert haversine_m_array(zero, zero, zero + 180, zero)[0] == pytest.approx(
        np.pi * EARTH_RADIUS_M
    )
