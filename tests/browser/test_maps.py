"""The shared base map offline: with no tile server configured, ``createMap`` draws
the roads of the service's road network (``GET /map/roads``) and credits
OpenStreetMap, with every other site out of reach; on straight lines the map has
no roads but still works."""

from __future__ import annotations

import json
from typing import Any

from lastmile.service.web.texts import catalogue

ATTRIBUTION = "© OpenStreetMap contributors"
#: Monaco's port, inside the extract.
CENTRE = [43.7355, 7.4215]


def _map_page(page: Any) -> None:
    """A bare page with the base map, as a page of the service would make one: the
    vendored Leaflet and static/js/map.js from the server, no tile server."""
    texts = json.dumps({"common.osm_attribution": catalogue("en")["common.osm_attribution"]})
    page.set_content(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Map</title>
<meta name="map-tiles" content="">
<link rel="stylesheet" href="/static/vendor/leaflet/dist/leaflet.css">
<script src="/static/vendor/leaflet/dist/leaflet.js"></script>
</head><body><main>
<div id="map" style="width: 800px; height: 600px"></div>
</main>
<script type="application/json" id="texts">{texts}</script>
<script type="module">
  import {{ createMap }} from "/static/js/map.js";
  window.baseMap = createMap(document.getElementById("map"), {{ center: {CENTRE}, zoom: 15 }});
</script>
</body></html>"""
    )
    page.wait_for_function("window.baseMap !== undefined")


ROAD_LAYERS = """() => { let n = 0; window.baseMap.eachLayer((l) => { if (l.feature) n += 1; });
                  return n; }"""
#: Pixels of the map's vector canvas that something was drawn on.
PAINTED = """() => {
  const canvas = document.querySelector("#map .leaflet-overlay-pane canvas");
  if (!canvas) return 0;
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n += 1;
  return n;
}"""


def test_without_tiles_the_map_draws_the_networks_roads_offline(
    network_page: Any, network_org: Any, sign_in: Any, shot: Any
) -> None:
    page = network_page()
    sign_in(page, network_org.emails["dispatcher"], "/auth/me")
    with page.expect_response("**/map/roads") as answer:
        _map_page(page)
    assert answer.value.status == 200
    page.wait_for_function(f"({ROAD_LAYERS})() > 100")
    roads = page.evaluate(ROAD_LAYERS)
    total = len(network_org.api().get("/map/roads").json()["features"])
    assert roads == total
    page.wait_for_function(f"({PAINTED})() > 10000")
    attribution = page.locator(".leaflet-control-attribution")
    assert ATTRIBUTION in attribution.inner_text()
    shot(page, "map-roads")
    assert page.blocked == []


def test_on_straight_lines_the_map_has_no_roads_but_credits_openstreetmap(
    new_page: Any, org: Any, sign_in: Any
) -> None:
    page = new_page()
    sign_in(page, org.emails["dispatcher"], "/auth/me")
    with page.expect_response("**/map/roads") as answer:
        _map_page(page)
    assert answer.value.status == 404
    assert page.evaluate(ROAD_LAYERS) == 0
    assert ATTRIBUTION in page.locator(".leaflet-control-attribution").inner_text()
    assert page.blocked == []
