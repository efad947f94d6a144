// The dispatcher's day, live: the plan of the chosen day (its dispatched plan, else
// the latest one) on a map and a timeline, alerts, key figures, and the changes a
// dispatcher makes to it (live_actions.js).
//
// Loading reads the API (the plan, each route with its stops, its stop events and
// its ETAs); afterwards /live keeps the page current. Live events only change the
// state and mark what they touched as dirty; one animation frame then redraws just
// that (a vehicle's marker, a stop's colour and bar, the figures, the alerts), so
// fifty GPS fixes a second cost one map update per vehicle per frame.
import { api, ApiError, live, t } from "/static/js/api.js";
import { LiveMap, vehicleColour } from "/static/dashboard/live_map.js";
import { Timeline } from "/static/dashboard/timeline.js";
import { Alerts } from "/static/dashboard/live_alerts.js";
import { setUpActions } from "/static/dashboard/live_actions.js";

const TIMEZONE = document.querySelector('meta[name="org-timezone"]')?.content || "UTC";
const LANG = document.documentElement.lang || "en";
const STALE_MIN = 10; // a started route without a fix for this long is an alert
const OFF_ROUTE_M = { roads: 500, straight: 2000 }; // how far from the drawn route is "off"

const timeFormat = new Intl.DateTimeFormat(LANG, { timeZone: TIMEZONE, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const secondsFormat = new Intl.DateTimeFormat(LANG, {
  timeZone: TIMEZONE, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});
const fmt = (date) => (date ? timeFormat.format(date) : "–");
const numberFormat = new Intl.NumberFormat(LANG, { maximumFractionDigits: 1 });

// The service's clock when it is simulated (a day played faster than real time,
// lastmile serve --demo), read from /health and carried on from there: it is elsewhere
// in time than the browser's and runs faster, and "now" on this page (today, the
// timeline's line, how long ago a vehicle's last fix was) is then the service's. On
// the wall clock, the browser's.
const serviceClock = { simulated: false, now: 0, readAt: 0, speed: 1, held: false };

async function readServiceClock() {
  try {
    const response = await fetch("/health", { credentials: "same-origin" });
    const clock = response.ok ? (await response.json()).clock : null;
    const now = clock ? Date.parse(clock.now) : NaN;
    if (Number.isFinite(now)) {
      Object.assign(serviceClock, {
        simulated: Boolean(clock.simulated),
        now,
        readAt: performance.now(),
        speed: Number(clock.speed) || 1,
        held: Boolean(clock.held),
      });
    }
  } catch {
    // The browser's clock stands in until the next reading.
  }
}

export function serviceNow() {
  if (!serviceClock.simulated) return Date.now();
  if (serviceClock.held) return serviceClock.now;
  return serviceClock.now + (performance.now() - serviceClock.readAt) * serviceClock.speed;
}

export function todayInZone() {
  // en-CA writes dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat("en-CA", { timeZone: TIMEZONE }).format(new Date(serviceNow()));
}

const $ = (id) => document.getElementById(id);

const state = {
  day: null,
  plan: null,
  routes: new Map(), // route id -> route (see buildRoute)
  stops: new Map(), // "routeId:sequence" -> stop
  byOrder: new Map(), // order id -> stop
  newestFix: null, // Date of the newest GPS fix received
  dirty: {
    stops: new Set(), vehicles: new Set(), routes: new Set(), figures: false, alerts: false, movable: false,
  },
  frame: 0,
  loading: 0,
  changes: 0, // changes made to the plan while driven, when it was read
};

// What the page spends on live events, for benchmarks/dashboard_browser.py: events
// handled, frames drawn, milliseconds in both, the longest frame.
const work = { events: 0, eventMs: 0, frames: 0, frameMs: 0, longestFrameMs: 0 };
window.lastmileLiveWork = work;

const map = new LiveMap($("live-map"));
const timeline = new Timeline($("live-timeline-body"), fmt, serviceNow);
const alerts = new Alerts($("live-alert-list"), $("live-alerts-none"), $("live-alert-count"));

// -- loading ---------------------------------------------------------------------------

async function findPlan(day) {
  // Plans come newest first; the plan of a day has its epoch at that day's local midnight.
  const plans = [];
  for (let offset = 0; offset < 1000; offset += 100) {
    const page = await api(`/plans?limit=100&offset=${offset}`);
    plans.push(...page.filter((p) => p.epoch.slice(0, 10) === day));
    if (page.length < 100) break;
  }
  return plans.find((p) => p.status === "dispatched") ?? plans[0] ?? null;
}

async function optional(path) {
  try {
    return await api(path);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 409)) return null;
    throw error;
  }
}

function stopName(visit) {
  const s = visit.stop;
  if (!s) return visit.order_id ?? "";
  const who = s.customer_name || s.address;
  return s.external_id ? `${s.external_id} · ${who}` : who;
}

function buildRoute(detail, index) {
  const route = {
    id: detail.id,
    vehicleId: detail.vehicle_id,
    vehicleName: detail.vehicle_name || detail.vehicle_registration || t("dashboard.breakdown_vehicle"),
    driverName: detail.driver_name,
    status: detail.status,
    startedAt: detail.started_at ? new Date(detail.started_at) : null,
    colour: vehicleColour(index),
    visits: detail.visits,
    startAt: new Date(detail.start_at),
    endAt: new Date(detail.end_at),
    distanceM: detail.distance_m,
    stops: [],
    others: [],
    fix: null,
    vehicleTooltip: "",
  };
  route.vehicleTooltip = route.vehicleName;
  for (const v of detail.visits) {
    if (v.kind === "break" || v.kind === "reload") {
      route.others.push({ kind: v.kind, start: new Date(v.start_at), end: new Date(v.departure_at) });
      continue;
    }
    if (!v.order_id) continue;
    const stop = {
      key: `${route.id}:${v.sequence}`,
      route,
      sequence: v.sequence,
      orderId: v.order_id,
      kind: v.kind,
      lat: v.lat,
      lon: v.lon,
      name: stopName(v),
      start: new Date(v.start_at),
      end: new Date(v.departure_at),
      windows: (v.stop?.time_windows ?? []).map((w) => ({ start: new Date(w.start), end: new Date(w.end) })),
      distanceM: v.distance_m,
      status: "planned",
      doneAt: null,
      late: false,
      predictedStart: null,
      display: "planned",
      label: "",
    };
    stop.label = t("dashboard.live_stop", { sequence: v.sequence, name: stop.name });
    route.stops.push(stop);
  }
  return route;
}

function applyEvent(stop, kind, at) {
  if (kind === "arrived") {
    if (stop.status === "planned") stop.status = "arrived";
  } else if (kind === "delivered" || kind === "picked_up") {
    stop.status = "delivered";
    stop.doneAt = at;
  } else if (kind === "failed") {
    stop.status = "failed";
    stop.doneAt = at;
  }
  refreshDisplay(stop);
}

function refreshDisplay(stop) {
  const done = stop.status === "delivered" || stop.status === "failed";
  stop.display = !done && stop.late ? "late" : stop.status;
  state.dirty.stops.add(stop.key);
}

export async function load(day) {
  const ticket = ++state.loading;
  state.day = day;
  $("live-plan").textContent = t("common.loading");
  const plan = await findPlan(day);
  if (ticket !== state.loading) return;
  state.routes.clear();
  state.stops.clear();
  state.byOrder.clear();
  alerts.clear();
  if (!plan) {
    state.plan = null;
    $("live-plan").textContent = t("dashboard.live_no_plan", { day });
    map.clear();
    timeline.render([]);
    renderFigures();
    actions.update(null, []);
    return;
  }
  if (plan.status !== "dispatched" && plan.status !== "ready") {
    state.plan = null;
    $("live-plan").textContent = t("dashboard.live_plan_not_ready", { day, status: plan.status });
    map.clear();
    timeline.render([]);
    renderFigures();
    actions.update(null, []);
    return;
  }
  const [detail, depots, geometry, changes] = await Promise.all([
    api(`/plans/${plan.id}`),
    api("/depots?limit=1000"),
    optional(`/plans/${plan.id}/geometry`),
    api(`/plans/${plan.id}/changes`),
  ]);
  // Each route with its stops named (customer, address, windows) and its progress.
  const routes = await Promise.all(
    detail.routes.map(async (r) => {
      const [full, events, eta] = await Promise.all([
        api(`/routes/${r.id}`),
        plan.status === "dispatched" ? api(`/routes/${r.id}/events`) : [],
        plan.status === "dispatched" ? optional(`/routes/${r.id}/eta`) : null,
      ]);
      return { full, events, eta };
    }),
  );
  if (ticket !== state.loading) return;
  performance.mark("lastmile:data-read");
  state.plan = detail;
  state.changes = changes.length;
  routes.forEach(({ full }, index) => {
    const route = buildRoute(full, index);
    state.routes.set(route.id, route);
    for (const stop of route.stops) {
      state.stops.set(stop.key, stop);
      state.byOrder.set(stop.orderId, stop);
    }
  });
  for (const { full, events, eta } of routes) {
    const route = state.routes.get(full.id);
    for (const e of events) {
      const stop = state.stops.get(`${route.id}:${e.sequence}`);
      if (stop) applyEvent(stop, e.kind, new Date(e.at));
      if (e.kind === "failed" && stop) alerts.failed(route, stop, e.reason);
    }
    if (eta) {
      for (const s of eta.stops ?? []) {
        const stop = state.stops.get(`${route.id}:${s.sequence}`);
        if (stop && s.late) markLate(stop, s.start_at, s.window_end_at);
      }
      if (eta.position) route.fix = { at: new Date(eta.position.at), lat: eta.position.lat, lon: eta.position.lon };
    }
  }
  const used = new Set(detail.routes.flatMap((r) => r.visits.map((v) => v.depot_id)).filter(Boolean));
  const ordered = [...state.routes.values()];
  map.draw({ depots: depots.filter((d) => used.has(d.id)), routes: ordered, geometry });
  timeline.render(ordered);
  performance.mark("lastmile:routes-drawn");
  state.newestFix = null;
  for (const route of ordered) {
    if (route.fix) {
      noteFix(route.fix.at);
      state.dirty.vehicles.add(route.id);
    }
  }
  const stops = ordered.reduce((n, r) => n + r.stops.length, 0);
  $("live-plan").textContent = t("dashboard.live_plan", {
    name: detail.name || t("dashboard.live_plan_unnamed", { day }),
    status: detail.status,
    routes: ordered.length,
    stops,
  });
  state.dirty.figures = true;
  checkStale();
  schedule();
  actions.update(detail, ordered);
}

function markLate(stop, startAt, windowEndAt) {
  stop.late = true;
  stop.predictedStart = startAt ? new Date(startAt) : null;
  refreshDisplay(stop);
  if (stop.display === "late") {
    alerts.late(stop.route, stop, stop.predictedStart, windowEndAt ? new Date(windowEndAt) : null);
  }
}

function noteFix(at) {
  if (!state.newestFix || at > state.newestFix) state.newestFix = at;
}

// -- live events ---------------------------------------------------------------------------

function onEvent(event) {
  const began = performance.now();
  handle(event);
  work.events += 1;
  work.eventMs += performance.now() - began;
}

function handle(event) {
  if (!state.plan) return;
  const route = event.route_id ? state.routes.get(event.route_id) : null;
  switch (event.type) {
    case "position": {
      if (!route) return;
      const at = new Date(event.at);
      if (route.fix && at < route.fix.at) return; // an older fix arriving late
      route.fix = { at, lat: event.lat, lon: event.lon };
      noteFix(at);
      state.dirty.vehicles.add(route.id);
      break;
    }
    case "stop_event": {
      const stop = route && state.stops.get(`${route.id}:${event.sequence}`);
      if (!stop) return;
      applyEvent(stop, event.kind, new Date(event.at));
      if (stop.status !== "planned" && stop.status !== "arrived") alerts.resolveLate(stop);
      state.dirty.movable = true;
      if (event.kind === "failed") alerts.failed(route, stop, event.reason);
      state.dirty.figures = true;
      break;
    }
    case "route_status": {
      if (!route) return;
      route.status = event.status;
      if (event.status === "started" && !route.startedAt) route.startedAt = new Date(serviceNow());
      state.dirty.routes.add(route.id);
      break;
    }
    case "eta": {
      if (!route) return;
      const late = new Set(event.late ?? []);
      for (const stop of route.stops) {
        if (stop.late && !late.has(stop.sequence)) {
          stop.late = false;
          refreshDisplay(stop);
          alerts.resolveLate(stop);
        }
      }
      break;
    }
    case "late": {
      const stop = route && state.stops.get(`${route.id}:${event.sequence}`);
      if (stop) markLate(stop, event.start_at, event.window_end_at);
      break;
    }
    case "lagged":
      // Events were lost: read the day again from the API.
      alerts.notice(t("dashboard.alert_lagged", { count: event.dropped }));
      load(state.day);
      return;
    case "plan":
    case "order":
      return;
    default:
      return;
  }
  schedule();
}

function schedule() {
  if (!state.frame) state.frame = requestAnimationFrame(flush);
}

function flush() {
  const began = performance.now();
  draw();
  const spent = performance.now() - began;
  work.frames += 1;
  work.frameMs += spent;
  work.longestFrameMs = Math.max(work.longestFrameMs, spent);
}

function draw() {
  state.frame = 0;
  const dirty = state.dirty;
  for (const key of dirty.stops) {
    const stop = state.stops.get(key);
    if (!stop) continue;
    map.restyleStop(stop);
    timeline.update(stop);
  }
  if (dirty.stops.size) dirty.figures = true;
  dirty.stops.clear();
  const offLimit = map.geometryOnRoads ? OFF_ROUTE_M.roads : OFF_ROUTE_M.straight;
  for (const id of dirty.vehicles) {
    const route = state.routes.get(id);
    if (!route?.fix) continue;
    route.vehicleTooltip = t("dashboard.live_vehicle_at", {
      vehicle: route.vehicleName,
      time: secondsFormat.format(route.fix.at),
    });
    map.moveVehicle(route, route.fix);
    const off = map.distanceToRoute(route.id, route.fix.lat, route.fix.lon);
    if (off > offLimit) alerts.offRoute(route, off);
    else alerts.resolve(`off:${route.id}`);
    alerts.resolve(`stale:${route.id}`);
  }
  if (dirty.vehicles.size) renderNewestFix();
  dirty.vehicles.clear();
  for (const id of dirty.routes) {
    const route = state.routes.get(id);
    if (route) timeline.updateRoute(route);
  }
  dirty.routes.clear();
  if (dirty.figures) renderFigures();
  dirty.figures = false;
  if (dirty.movable) actions.stopsChanged();
  dirty.movable = false;
  alerts.render();
}

// -- figures -----------------------------------------------------------------------------

function renderNewestFix() {
  const cell = $("kpi-newest-fix");
  if (!state.newestFix) {
    cell.textContent = "–";
    cell.dataset.at = "";
    return;
  }
  cell.textContent = secondsFormat.format(state.newestFix);
  cell.dataset.at = state.newestFix.toISOString();
}

function renderFigures() {
  let total = 0, done = 0, served = 0, onTime = 0, planned = 0, driven = 0;
  for (const route of state.routes.values()) {
    planned += route.distanceM;
    let reached = 0;
    for (const stop of route.stops) {
      total += 1;
      if (stop.status === "delivered" || stop.status === "failed") {
        done += 1;
        reached = Math.max(reached, stop.distanceM);
      } else if (stop.status === "arrived") {
        reached = Math.max(reached, stop.distanceM);
      }
      if (stop.status === "delivered") {
        served += 1;
        const last = stop.windows.length ? stop.windows[stop.windows.length - 1].end : null;
        if (!last || stop.doneAt <= last) onTime += 1;
      }
    }
    driven += reached;
  }
  $("kpi-on-time").textContent = served
    ? t("dashboard.kpi_on_time_value", {
        percent: Math.round((onTime / served) * 100),
        count: onTime,
        total: served,
      })
    : "–";
  $("kpi-stops").textContent = t("dashboard.kpi_stops_value", { done, total });
  $("kpi-km").textContent = t("dashboard.kpi_km_value", {
    driven: numberFormat.format(driven / 1000),
    planned: numberFormat.format(planned / 1000),
  });
  renderNewestFix();
}

function checkStale() {
  const now = serviceNow();
  for (const route of state.routes.values()) {
    if (route.status !== "started") {
      alerts.resolve(`stale:${route.id}`);
      continue;
    }
    const since = route.fix?.at ?? route.startedAt;
    const minutes = since ? Math.floor((now - since.getTime()) / 60_000) : null;
    if (minutes !== null && minutes >= STALE_MIN) alerts.stale(route, minutes, !route.fix);
    else alerts.resolve(`stale:${route.id}`);
  }
  state.dirty.alerts = true;
  schedule();
}

// -- the page ----------------------------------------------------------------------------

const actions = setUpActions({ reload: () => load(state.day), format: fmt });

await readServiceClock();
const dayInput = $("live-day");
const wanted = new URLSearchParams(location.search).get("day");
dayInput.value = wanted && /^\d{4}-\d{2}-\d{2}$/.test(wanted) ? wanted : todayInZone();
dayInput.addEventListener("change", () => {
  if (!dayInput.value) return;
  const url = new URL(location.href);
  url.searchParams.set("day", dayInput.value);
  history.replaceState(null, "", url);
  load(dayInput.value).catch(showError);
});
$("live-day-form").addEventListener("submit", (e) => e.preventDefault());

function showError(error) {
  $("live-plan").textContent = t("common.error", { detail: error.message });
}

const stream = live("/live", onEvent);
stream.addEventListener("open", () => {
  $("live-connection").textContent = t("dashboard.live_connected");
});
stream.addEventListener("error", () => {
  $("live-connection").textContent = t("dashboard.live_disconnected");
});
// The live stream only has what happens from now on: a stream that reconnects reads
// the day again (hello comes first on every connection).
let hellos = 0;
stream.addEventListener("hello", () => {
  hellos += 1;
  if (hellos > 1 && state.day) load(state.day).catch(showError);
});

// Changes to the plan made elsewhere (another dispatcher's insertion, move or
// breakdown) are not live events: the page looks for new ones every half minute.
async function checkChanges() {
  if (!state.plan || document.hidden) return;
  const plan = state.plan;
  const changes = await api(`/plans/${plan.id}/changes`);
  if (state.plan === plan && changes.length !== state.changes) await load(state.day);
}

setInterval(() => {
  timeline.tick();
  checkStale();
  checkChanges().catch(showError);
  readServiceClock(); // held or run again since: counted from the next round
}, 30_000);
// A simulated clock's half minute can be half an hour of the day: the line for now
// moves more often then.
setInterval(() => {
  if (serviceClock.simulated && serviceClock.speed > 1 && !serviceClock.held) timeline.tick();
}, 2_000);

load(dayInput.value)
  .then(() => {
    document.body.dataset.liveReady = "true";
  })
  .catch(showError);
