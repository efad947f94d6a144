"""Roads under the map, from the bundled Helsinki extract (OpenStreetMap contributors, ODbL)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from lastmile.analytics.roads import places_box, roads_around
from lastmile.cli import main
from lastmile.domain import DayRecord
from lastmile.travel.network.road_network import RoadNetwork

HELSINKI = Path(__file__).resolve().parents[1] / "data" / "osm" / "helsinki.osm.pbf"


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the extract, so that its parsed cache is written in a temporary folder."""
    copy = tmp_path_factory.mktemp("osm") / HELSINKI.name
    shutil.copy(HELSINKI, copy)
    return copy


def test_roads_around_the_places_of_the_day(day: DayRecord, extract: Path) -> None:
    box = places_box([day])
    assert box is not None
    roads = roads_around(RoadNetwork.from_pbf(extract), [day])
    assert roads and all(len(line) >= 2 for line in roads)
    lo_lon, lo_lat, hi_lon, hi_lat = box
    for line in roads:
        lons = [p[0] for p in line]
        lats = [p[1] for p in line]
        # Each line comes near the box (it may run on beyond it).
        assert min(lons) <= hi_lon and max(lons) >= lo_lon
        assert min(lats) <= hi_lat and max(lats) >= lo_lat
    placeless = dataclasses.replace(
        day,
        stops=tuple(dataclasses.replace(s, lon=None, lat=None) for s in day.stops),
        routes=tuple(dataclasses.replace(r, depot_lon=None, depot_lat=None) for r in day.routes),
        positions=(),
    )
    assert places_box([placeless]) is None
    assert roads_around(RoadNetwork.from_pbf(extract), [placeless]) == []


def test_report_draws_the_roads_of_an_extract(
    day: DayRecord, extract: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "day.json"
    record.write_text(json.dumps(day.to_dict()), encoding="utf-8")
    page = tmp_path / "r.html"
    assert main(["report", str(record), "--network", str(extract), "--html", str(page)]) == 0
    assert "© OpenStreetMap contributors" in page.read_text(encoding="utf-8")
    missing = tmp_path / "nowhere.osm.pbf"
    assert main(["report", str(record), "--network", str(missing), "--html", str(page)]) == 2
    assert "nowhere.osm.pbf" in capsys.readouterr().err
