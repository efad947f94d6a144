"""The roads under a day's map: a road network's lines around the records' places.

    network = RoadNetwork.from_pbf("helsinki.osm.pbf")
    html_report(records, roads=roads_around(network, records))

Lines come from :func:`lastmile.travel.network.drawing.road_lines` (OpenStreetMap
data: the map credits "© OpenStreetMap contributors" when it draws them).
"""

from __future__ import annotations

from collections.abc import Iterable

from lastmile.domain.day import DayRecord
from lastmile.travel.network.drawing import Box, road_lines
from lastmile.travel.network.road_network import RoadNetwork

Polyline = list[tuple[float, float]]


def places_box(records: Iterable[DayRecord], *, margin_deg: float = 0.005) -> Box | None:
    """The box around every stop, depot and position of ``records`` (``None``: no place)."""
    lons: list[float] = []
    lats: list[float] = []
    for record in records:
        for s in record.stops:
            if s.lon is not None and s.lat is not None:
                lons.append(s.lon)
                lats.append(s.lat)
        for r in record.routes:
            if r.depot_lon is not None and r.depot_lat is not None:
                lons.append(r.depot_lon)
                lats.append(r.depot_lat)
        for p in record.positions:
            lons.append(p.lon)
            lats.append(p.lat)
    if not lons:
        return None
    return (
        min(lons) - margin_deg,
        min(lats) - margin_deg,
        max(lons) + margin_deg,
        max(lats) + margin_deg,
    )


def roads_around(
    network: RoadNetwork, records: Iterable[DayRecord], *, tolerance_m: float = 5.0
) -> list[Polyline]:
    """The network's roads that may cross the box around the records' places,
    simplified to ``tolerance_m`` metres (none when the records have no place)."""
    box = places_box(records)
    if box is None:
        return []
    lines = [line.simplified(tolerance_m) for line in road_lines(network) if line.meets(box)]
    return [list(zip(line.lon.tolist(), line.lat.tolist(), strict=True)) for line in lines]
