// The live page's map: depots, stops coloured by status, one colour per vehicle for
// its route (on the road geometry when the service has one, straight lines between
// the stops otherwise) and the vehicles where their last GPS fix puts them.
//
// Everything is drawn on one canvas (Leaflet's preferCanvas): a thousand stops
// and their restyling stay cheap. Callers change styles in batches (live.js calls
// these from one animation frame).
import { createMap } from "/static/js/map.js";
import { t } from "/static/js/api.js";

const L = window.L;

// Fill colours by stop status; the legend (dashboard.css) uses the same ones.
export const STATUS_COLOURS = {
  planned: "#5b6b7b",
  arrived: "#0b5cad",
  delivered: "#1e6b34",
  failed: "#b3261e",
  late: "#d97706",
};

// Vehicle colours, distinct enough from each other and from the status colours.
const VEHICLE_COLOURS = [
  "#6a3d9a", "#1f78b4", "#e7298a", "#33a02c", "#ff7f00", "#a6761d",
  "#17becf", "#7f7f7f", "#b15928", "#1b9e77", "#d95f02", "#7570b3",
];

export function vehicleColour(index) {
  return VEHICLE_COLOURS[index % VEHICLE_COLOURS.length];
}

export class LiveMap {
  constructor(element) {
    this.map = createMap(element);
    this.layer = L.layerGroup().addTo(this.map);
    this.stops = new Map(); // "routeId:sequence" -> circle marker
    this.vehicles = new Map(); // routeId -> circle marker
    this.lines = new Map(); // routeId -> [[lat, lon], ...] (what the route is drawn on)
  }

  clear() {
    this.layer.clearLayers();
    this.stops.clear();
    this.vehicles.clear();
    this.lines.clear();
  }

  // Depots, routes and stops of a plan. ``geometry``: GeoJSON lines by route, or null.
  draw({ depots, routes, geometry }) {
    this.clear();
    const bounds = [];
    for (const depot of depots) {
      const marker = L.circleMarker([depot.lat, depot.lon], {
        radius: 9, color: "#13294b", weight: 3, fillColor: "#ffffff", fillOpacity: 1,
      });
      marker.bindTooltip(t("dashboard.live_depot", { name: depot.name }));
      marker.addTo(this.layer);
      bounds.push([depot.lat, depot.lon]);
    }
    const byRoute = new Map();
    for (const feature of geometry?.features ?? []) {
      const id = feature.properties?.route_id;
      if (id && feature.geometry?.type === "LineString") {
        byRoute.set(id, feature.geometry.coordinates.map(([lon, lat]) => [lat, lon]));
      }
    }
    for (const route of routes) {
      const points = route.visits.filter((v) => v.lat != null && v.lon != null).map((v) => [v.lat, v.lon]);
      const line = byRoute.get(route.id) ?? points;
      this.lines.set(route.id, line);
      L.polyline(line, { color: route.colour, weight: 4, opacity: 0.8, interactive: false }).addTo(this.layer);
      for (const stop of route.stops) {
        const marker = L.circleMarker([stop.lat, stop.lon], {
          radius: 6, color: route.colour, weight: 2, fillColor: STATUS_COLOURS[stop.display], fillOpacity: 1,
        });
        marker.bindTooltip(() => stop.label);
        marker.addTo(this.layer);
        this.stops.set(stop.key, marker);
        bounds.push([stop.lat, stop.lon]);
      }
    }
    if (bounds.length) this.map.fitBounds(bounds, { padding: [20, 20] });
    this.geometryOnRoads = byRoute.size > 0;
  }

  restyleStop(stop) {
    this.stops.get(stop.key)?.setStyle({ fillColor: STATUS_COLOURS[stop.display] });
  }

  moveVehicle(route, fix) {
    let marker = this.vehicles.get(route.id);
    if (!marker) {
      marker = L.circleMarker([fix.lat, fix.lon], {
        radius: 9, color: "#ffffff", weight: 3, fillColor: route.colour, fillOpacity: 1,
      });
      marker.bindTooltip(() => route.vehicleTooltip);
      marker.addTo(this.layer);
      marker.bringToFront();
      this.vehicles.set(route.id, marker);
    } else {
      marker.setLatLng([fix.lat, fix.lon]);
    }
  }

  // Metres from (lat, lon) to the nearest point of the route's line.
  distanceToRoute(routeId, lat, lon) {
    const line = this.lines.get(routeId);
    if (!line || line.length === 0) return 0;
    const k = Math.cos((lat * Math.PI) / 180) * 111_320;
    const px = lon * k;
    const py = lat * 110_540;
    let best = Infinity;
    for (let i = 0; i < line.length; i += 1) {
      const [alat, alon] = line[i];
      const [blat, blon] = line[Math.min(i + 1, line.length - 1)];
      const ax = alon * k, ay = alat * 110_540, bx = blon * k, by = blat * 110_540;
      const dx = bx - ax, dy = by - ay;
      const len = dx * dx + dy * dy;
      const u = len === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len));
      const d = Math.hypot(px - (ax + u * dx), py - (ay + u * dy));
      if (d < best) best = d;
    }
    return best;
  }
}
