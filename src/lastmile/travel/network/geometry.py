"""Great-circle distances over arrays of coordinates (metres)."""

from __future__ import annotations

import numpy as np

from lastmile.domain.geo import EARTH_RADIUS_M
from lastmile.travel.network.results import Floats


def haversine_m_array(lon1: Floats, lat1: Floats, lon2: Floats, lat2: Floats) -> Floats:
    """Great-circle distances in metres, element-wise."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h))))
