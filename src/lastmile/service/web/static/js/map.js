// The base map every page shares (Leaflet, served from /static/vendor/leaflet; load
// /static/vendor/leaflet/dist/leaflet.js and its CSS in the page first).
//
// Tiles come from the deployment's tile server (LASTMILE_MAP_TILE_URL, in the page's
// <meta name="map-tiles">) when one is configured. Without one, the roads of the
// service's road network are drawn as the base layer (GET /map/roads, GeoJSON), so the
// map stays readable offline. "© OpenStreetMap contributors" is always shown.
import { t } from "/static/js/api.js";

const L = window.L;

export function createMap(
  element,
  { center = [60.17, 24.94], zoom = 13, roadsUrl = "/map/roads" } = {},
) {
  const map = L.map(element, { preferCanvas: true, zoomControl: true }).setView(center, zoom);
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution(t("common.osm_attribution"));
  const tiles = document.querySelector('meta[name="map-tiles"]')?.content;
  if (tiles) {
    L.tileLayer(tiles, { maxZoom: 19 }).addTo(map);
  } else {
    drawRoads(map, roadsUrl);
  }
  return map;
}

async function drawRoads(map, url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) return; // straight-line service: no roads to draw
  const roads = await response.json();
  const layer = L.geoJSON(roads, {
    interactive: false,
    style: (feature) => ({
      color: "#9aa5b1",
      weight: feature?.properties?.major ? 3 : 1.5,
      opacity: 0.9,
    }),
  });
  layer.addTo(map);
  layer.bringToBack();
}
