// The driver's app: today's route stop by stop, actions through the outbox,
// positions while the page is open, and the route's live changes.

import { api, live, t } from "/static/js/api.js";
import { el, navigationLinks, newId, time } from "./format.js";
import { explain, Outbox, retriable } from "./outbox.js";
import { SignaturePad } from "./signature.js";

const CACHE_KEY = "lastmile.driver.route";
const PING_EVERY_MS = 15000;
const LIVE_ROUTE = ["dispatched", "started", "completed"];

const $ = (id) => document.getElementById(id);
const state = { route: null, outcomes: [], pending: [], position: null, stream: null, pings: [] };

// -- the route -----------------------------------------------------------------------------

const stopKey = (orderId, stop) => `${orderId}:${stop}`;

function pickRoute(routes) {
  return (
    routes.find((r) => r.status === "started") ??
    routes.find((r) => r.status === "dispatched") ??
    routes[0] ??
    null
  );
}

async function loadRoute() {
  try {
    const routes = await api("/me/routes?limit=20");
    const route = pickRoute(routes);
    const outcomes = route ? await api(`/routes/${route.id}/outcomes`) : [];
    state.route = route;
    state.outcomes = outcomes;
    localStorage.setItem(CACHE_KEY, JSON.stringify({ route, outcomes }));
  } catch (error) {
    if (!retriable(error)) throw error;
    const kept = JSON.parse(localStorage.getItem(CACHE_KEY) ?? "null");
    if (kept && !state.route) Object.assign(state, kept);
  }
  render();
  follow();
  sendPings();
}

let reloading = null;
function reloadSoon() {
  clearTimeout(reloading);
  reloading = setTimeout(() => loadRoute().catch(showError), 300);
}

// What each stop has become: the API's outcomes, then what waits in the outbox.
function statuses() {
  const found = new Map();
  for (const o of state.outcomes) if (o.outcome) found.set(stopKey(o.order_id, o.stop), { kind: o.outcome, reason: o.reason });
  for (const item of state.pending) {
    if (item.refused) continue;
    const key = stopKey(item.order_id, item.stop);
    const outcome = item.kind === "event" ? item.body.kind : item.body.outcome;
    const before = found.get(key);
    if (outcome !== "arrived" || !before) found.set(key, { kind: outcome, reason: item.body.failure_reason ?? "", pending: true });
  }
  return found;
}

const finished = (status) => status && status.kind !== "arrived";

function render() {
  const list = $("stops");
  list.replaceChildren();
  const route = state.route;
  if (!route) {
    $("route-summary").textContent = t("driver.no_route");
    return;
  }
  const stops = route.visits.filter((v) => v.stop);
  const status = statuses();
  const done = stops.filter((v) => finished(status.get(stopKey(v.order_id, v.kind)))).length;
  const vehicle = [route.vehicle_name, route.vehicle_registration].filter(Boolean).join(" ");
  const summary = t("driver.route_summary", { vehicle, done, total: stops.length });
  $("route-summary").textContent = route.status === "completed" ? `${summary} · ${t("driver.route_status_completed")}` : summary;
  const next = stops.find((v) => !finished(status.get(stopKey(v.order_id, v.kind))));
  stops.forEach((visit, index) => list.append(stopCard(visit, index + 1, status.get(stopKey(visit.order_id, visit.kind)), visit === next)));
}

function statusText(status) {
  if (!status) return "";
  if (status.pending && status.kind !== "arrived") return `${t(`driver.status_${status.kind}`, { reason: reasonText(status.reason) })} · ${t("driver.status_pending")}`;
  return t(`driver.status_${status.kind}`, { reason: reasonText(status.reason) });
}

const reasonText = (code) => (code ? t(`common.reason_${code}`) : "");

function stopCard(visit, number, status, isNext) {
  const stop = visit.stop;
  const id = `stop-${visit.order_id}-${visit.kind}`;
  const windows = (stop.time_windows ?? []).map((w) => t("driver.window", { start: time(w.start), end: time(w.end) }));
  const parcels = stop.parcels.map((p) =>
    el("li", { text: p.barcode ? `${p.barcode}${p.quantity > 1 ? ` ×${p.quantity}` : ""} · ${p.description}` : t("driver.parcel_whole", { description: p.description }) }),
  );
  const card = el(
    "li",
    { class: `stop${isNext ? " next" : ""}${finished(status) ? " done" : ""}`, id, "data-order": visit.order_id },
    el(
      "h2",
      { id: `${id}-title` },
      el("span", { class: "number", text: isNext ? t("driver.next_stop") : t("driver.stop_number", { number }) }),
      el("span", { class: "customer", text: stop.customer_name }),
    ),
    el("p", { class: `kind ${stop.kind}`, text: t(`driver.kind_${stop.kind}`) }),
    el("p", { class: "address", text: stop.address }),
    el("p", { class: "times", text: [...windows, t("driver.eta", { time: time(visit.eta_at) })].join(" · ") }),
    stop.customer_phone ? el("p", {}, el("a", { href: `tel:${stop.customer_phone.replace(/\s+/g, "")}`, text: t("driver.call", { phone: stop.customer_phone }) })) : null,
    stop.instructions ? el("p", { class: "instructions" }, el("strong", { text: `${t("driver.instructions")}: ` }), stop.instructions) : null,
    parcels.length ? el("div", { class: "parcels" }, el("p", { class: "label", text: t("driver.parcels") }), el("ul", {}, ...parcels)) : null,
  );
  const links = finished(status) ? [] : navigationLinks(stop.navigation);
  if (links.length) {
    card.append(
      el("nav", { class: "navigate", "aria-label": t("driver.navigate") },
        ...links.map(([name, href]) => el("a", { href, text: t(`driver.${name}`), target: href.startsWith("http") ? "_blank" : null, rel: "noopener" }))),
    );
  }
  if (status) card.append(el("p", { class: `status ${status.kind}`, text: statusText(status) }));
  if (!finished(status) && LIVE_ROUTE.includes(state.route.status)) {
    const done = stop.kind === "pickup" ? "picked_up" : "delivered";
    card.append(
      el("div", { class: "actions" },
        status?.kind === "arrived" ? null : el("button", { type: "button", class: "arrived", text: t("driver.arrived"), onclick: () => arrived(visit) }),
        el("button", { type: "button", class: "primary done", text: t(`driver.${done}`), onclick: () => openDialog(visit, done) }),
        el("button", { type: "button", class: "failed", text: t("driver.failed"), onclick: () => openDialog(visit, "failed") })),
    );
  }
  return card;
}

// -- actions -------------------------------------------------------------------------------

const here = () => (state.position ? { lon: state.position.lon, lat: state.position.lat } : {});

function notice(text) {
  $("notice").textContent = text;
}

function showError(error) {
  notice(t("common.error", { detail: explain(error) }));
}

async function arrived(visit) {
  await outbox.add({
    id: newId(),
    kind: "event",
    route_id: state.route.id,
    order_id: visit.order_id,
    stop: visit.kind,
    label: t("driver.kind_action_arrived", { name: visit.stop.customer_name }),
    body: { kind: "arrived", order_id: visit.order_id, at: new Date().toISOString(), ...here() },
  });
}

const dialog = $("complete");
const pad = new SignaturePad($("signature"));
const scan = { visit: null, outcome: null, scanned: [], remaining: [] };

function openDialog(visit, outcome) {
  Object.assign(scan, { visit, outcome, scanned: [], remaining: visit.stop.parcels.map((p) => p.barcode).filter(Boolean) });
  const name = visit.stop.customer_name;
  const mode = outcome === "failed" ? "failed" : visit.stop.kind;
  $("complete-title").textContent = t(`driver.complete_${mode}`, { name });
  $("complete-who").textContent = visit.stop.address;
  $("complete-submit").textContent = t(`driver.confirm_${mode}`);
  $("scan-box").hidden = outcome === "failed" || scan.remaining.length === 0;
  $("deliver-box").hidden = outcome === "failed";
  $("fail-box").hidden = outcome !== "failed";
  for (const id of ["recipient", "note", "photo", "scan-input"]) $(id).value = "";
  $("scan-message").textContent = $("signature-message").textContent = "";
  pad.clear();
  showScanned();
  dialog.showModal();
  (outcome === "failed" ? $("reason") : scan.remaining.length ? $("scan-input") : $("recipient")).focus();
}

function closeDialog() {
  stopCamera();
  dialog.close();
}

function showScanned() {
  $("scan-list").replaceChildren(...scan.scanned.map((b) => el("li", { text: b })));
  $("scan-remaining").textContent = scan.remaining.length
    ? t("driver.scan_remaining", { barcodes: scan.remaining.join(", ") })
    : t("driver.scan_all_done");
}

async function addBarcode(raw) {
  const barcode = raw.trim();
  const message = $("scan-message");
  message.textContent = "";
  if (!barcode) return;
  if (scan.scanned.includes(barcode)) {
    message.textContent = t("driver.scan_duplicate", { barcode });
    return;
  }
  const order = scan.visit.order_id;
  try {
    const answer = await api(`/routes/${state.route.id}/pod/scan`, {
      method: "POST",
      body: { order_id: order, barcode, scanned: scan.scanned },
    });
    scan.remaining = answer.remaining;
    if (!answer.duplicate) scan.scanned.push(answer.barcode);
  } catch (error) {
    if (!retriable(error)) {
      message.textContent = explain(error);
      return;
    }
    // No network: check it against the parcels the route lists.
    if (!scan.remaining.includes(barcode)) {
      message.textContent = t("driver.scan_wrong", { barcode });
      return;
    }
    scan.scanned.push(barcode);
    scan.remaining = scan.remaining.filter((b) => b !== barcode);
  }
  $("scan-input").value = "";
  showScanned();
}

async function submitDialog(event) {
  event.preventDefault();
  const { visit, outcome } = scan;
  const failed = outcome === "failed";
  const rules = document.querySelector('meta[name="pod-rules"]')?.content.split(/\s+/) ?? [];
  if (!failed && rules.includes("parcels") && scan.remaining.length) {
    $("scan-message").textContent = t("driver.scan_missing", { barcodes: scan.remaining.join(", ") });
    $("scan-input").focus();
    return;
  }
  if (!failed && outcome === "delivered" && rules.includes("signature") && pad.empty) {
    $("signature-message").textContent = t("driver.signature_missing");
    return;
  }
  const photo = $("photo").files[0];
  const signature = failed ? null : await pad.toBlob();
  const body = {
    order_id: visit.order_id,
    outcome,
    at: new Date().toISOString(),
    barcodes: scan.scanned,
    recipient_name: failed ? "" : $("recipient").value.trim(),
    failure_reason: failed ? $("reason").value : null,
    note: $("note").value.trim(),
    ...here(),
  };
  closeDialog();
  notice(t("driver.queued"));
  await outbox.add({
    id: newId(),
    kind: "proof",
    route_id: state.route.id,
    order_id: visit.order_id,
    stop: visit.kind,
    label: t("driver.kind_action_proof", { outcome: t(`driver.${outcome}`), name: visit.stop.customer_name }),
    body,
    files: { signature, photos: photo ? [photo] : [] },
  });
}

// Barcodes through the camera, where the browser can read them.
let camera = null;
async function scanWithCamera() {
  const video = $("scan-video");
  try {
    const detector = new window.BarcodeDetector();
    camera = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    video.srcObject = camera;
    video.hidden = false;
    await video.play();
    while (camera) {
      const found = await detector.detect(video);
      if (found.length) {
        const value = found[0].rawValue;
        stopCamera();
        await addBarcode(value);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } catch {
    stopCamera();
    $("scan-message").textContent = t("driver.scan_camera_failed");
  }
}

function stopCamera() {
  camera?.getTracks().forEach((track) => track.stop());
  camera = null;
  $("scan-video").hidden = true;
}

// -- the outbox on screen ------------------------------------------------------------------

async function showOutbox() {
  state.pending = await outbox.items();
  const box = $("outbox");
  box.hidden = state.pending.length === 0;
  $("outbox-count").textContent = t("driver.pending_count", { count: state.pending.length });
  $("outbox-list").replaceChildren(
    ...state.pending.map((item) => {
      const wait = Math.max(0, Math.round((item.next_at - Date.now()) / 1000));
      const detail = item.refused ? t("driver.pending_refused", { detail: item.refused }) : item.attempts ? t("driver.pending_retry", { seconds: wait }) : t("driver.status_pending");
      return el("li", { class: item.refused ? "refused" : "" }, `${item.label} — ${detail} `,
        item.refused ? el("button", { type: "button", text: t("driver.pending_dismiss"), onclick: () => outbox.dismiss(item.id) }) : null);
    }),
  );
  render();
}

const outbox = new Outbox({
  onChange: () => showOutbox().catch(showError),
  onSent: (item, answer, error) => {
    if (error) notice(t("driver.pending_refused", { detail: explain(error) }));
    else {
      // Shown as done at once; the route's outcomes are read again just after.
      const outcome = item.kind === "event" ? item.body.kind : item.body.outcome;
      const reason = item.body.failure_reason ?? "";
      state.outcomes = state.outcomes.filter((o) => stopKey(o.order_id, o.stop) !== stopKey(item.order_id, item.stop));
      state.outcomes.push({ order_id: item.order_id, stop: item.stop, outcome, reason });
      notice(t("driver.sent"));
      reloadSoon();
    }
  },
});

// -- network, positions, live changes ------------------------------------------------------

function showNetwork() {
  $("offline").hidden = navigator.onLine;
  if (navigator.onLine) {
    outbox.flush({ force: true }).catch(showError);
    sendPings();
    reloadSoon();
  }
}

function watchPosition() {
  if (!navigator.geolocation) return;
  navigator.geolocation.watchPosition(
    (fix) => {
      const c = fix.coords;
      state.position = { lon: c.longitude, lat: c.latitude };
      state.pings.push({
        event_id: newId(),
        at: new Date(fix.timestamp).toISOString(),
        lon: c.longitude,
        lat: c.latitude,
        speed_kph: c.speed != null && c.speed >= 0 ? c.speed * 3.6 : null,
        heading_deg: c.heading != null && !Number.isNaN(c.heading) ? c.heading : null,
        accuracy_m: c.accuracy ?? null,
      });
      state.pings = state.pings.slice(-1000);
      if (!state.pinged) sendPings(); // the first fix at once, then every PING_EVERY_MS
    },
    () => {},
    { enableHighAccuracy: true, maximumAge: 10000 },
  );
}

async function sendPings() {
  const route = state.route;
  if (!route || !state.pings.length || !navigator.onLine || !["dispatched", "started"].includes(route.status)) return;
  const batch = state.pings.splice(0, 500);
  try {
    await api(`/routes/${route.id}/pings`, { method: "POST", body: { pings: batch } });
    state.pinged = true;
  } catch (error) {
    if (retriable(error)) state.pings.unshift(...batch);
  }
}

function follow() {
  const id = state.route?.id;
  if (!id || state.stream?.routeId === id) return;
  state.stream?.close();
  state.stream = live(`/live?route_id=${encodeURIComponent(id)}`, (event) => {
    if (event.type === "hello") document.body.dataset.live = "connected";
    if (event.type === "plan") notice(t("driver.route_changed", { summary: event.summary }));
    if (["plan", "stop_event", "route_status"].includes(event.type) && event.route_id === id) reloadSoon();
  });
  state.stream.routeId = id;
  state.stream.addEventListener("error", () => { document.body.dataset.live = ""; });
}

// -- start ---------------------------------------------------------------------------------

$("complete-form").addEventListener("submit", (e) => submitDialog(e).catch(showError));
$("complete-cancel").addEventListener("click", closeDialog);
dialog.addEventListener("close", stopCamera);
$("signature-clear").addEventListener("click", () => pad.clear());
$("scan-add").addEventListener("click", () => addBarcode($("scan-input").value).catch(showError));
$("scan-input").addEventListener("keydown", (e) => {
  if (e.key === "Enter") {
    e.preventDefault();
    addBarcode($("scan-input").value).catch(showError);
  }
});
if ("BarcodeDetector" in window && navigator.mediaDevices?.getUserMedia) {
  $("scan-camera").hidden = false;
  $("scan-camera").addEventListener("click", scanWithCamera);
}
// Signing out forgets the route kept for offline use (what waits in the outbox stays).
document.querySelector("form.signout")?.addEventListener("submit", () => localStorage.removeItem(CACHE_KEY));
window.addEventListener("online", showNetwork);
window.addEventListener("offline", showNetwork);
setInterval(() => outbox.flush().catch(showError), 3000);
setInterval(sendPings, PING_EVERY_MS);
if ("serviceWorker" in navigator) navigator.serviceWorker.register("/driver/sw.js", { scope: "/driver" }).catch(() => {});

$("offline").hidden = navigator.onLine;
watchPosition();
showOutbox()
  .then(loadRoute)
  .then(() => outbox.flush())
  .catch(showError);
