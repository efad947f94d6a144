// The customer's tracking page, live: polls the tracking answer (GET /track/{token}
// as JSON) every LASTMILE_TRACKING_REFRESH_S (20 s by default) and redraws what changed; shows the driver on a map when the
// answer holds their position (the server includes it only once few stops remain
// before the customer's); sends the forms to POST /track/replies with the link's
// token. Without this script the page still shows everything and the forms post.
import { t } from "/static/js/api.js";
import { createMap } from "/static/js/map.js";

const POLL_MS = Number(document.querySelector('meta[name="tracking-refresh-ms"]')?.content) || 20_000;
const token = document.querySelector('meta[name="tracking-token"]').content;
const zone = document.querySelector('meta[name="org-timezone"]').content;
const lang = document.documentElement.lang || "en";
const $ = (id) => document.getElementById(id);

// -- times in the organisation's zone ---------------------------------------------------

function parts(iso) {
  const fmt = new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, year: "numeric", month: "numeric", day: "numeric",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", weekday: "long",
  });
  const found = {};
  for (const p of fmt.formatToParts(new Date(iso))) found[p.type] = p.value;
  const weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
  return {
    key: `${found.year}-${found.month}-${found.day}`,
    date: t("track.date", {
      weekday: t(`track.weekday_${weekdays.indexOf(found.weekday)}`),
      day: Number(found.day),
      month: t(`track.month_${Number(found.month)}`),
    }),
    time: `${found.hour}:${found.minute}`,
  };
}

function span(startIso, endIso) {
  const a = parts(startIso);
  const b = parts(endIso);
  if (a.key === b.key) return t("track.span", { date: a.date, start: a.time, end: b.time });
  return t("track.span_days", { start: `${a.date} ${a.time}`, end: `${b.date} ${b.time}` });
}

// The offset (ms) of the organisation's zone from UTC at the instant `ms`.
function offsetAt(ms) {
  const fmt = new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, year: "numeric", month: "numeric", day: "numeric",
    hour: "numeric", minute: "numeric", second: "numeric", hourCycle: "h23",
  });
  const p = {};
  for (const part of fmt.formatToParts(new Date(ms))) p[part.type] = Number(part.value);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - ms;
}

// "2025-05-02" + "13:30" on the organisation's clock, as an ISO instant.
function instant(date, time) {
  const [y, m, d] = date.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  const wall = Date.UTC(y, m - 1, d, hh, mm);
  let ms = wall - offsetAt(wall);
  ms = wall - offsetAt(ms);
  return new Date(ms).toISOString();
}

// -- drawing the answer -----------------------------------------------------------------

let map = null;
let marker = null;
let home = null;

function dot(className, label) {
  return { title: label, alt: label, keyboard: false, icon: window.L.divIcon({ className, iconSize: [18, 18] }) };
}

function showDriver(driver, destination) {
  const section = $("driver");
  if (!driver) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  $("driver-text").textContent = `${t("track.driver_near")} ${t("track.driver_seen", { time: parts(driver.at).time })}`;
  const where = [driver.lat, driver.lon];
  if (!window.L) return;
  if (map === null) {
    map = createMap($("map"), {
      center: where,
      zoom: 15,
      roadsUrl: `/track/${encodeURIComponent(token)}/roads`,
    });
    marker = window.L.marker(where, dot("driver-dot", t("track.driver_marker"))).addTo(map);
  } else {
    marker.setLatLng(where);
  }
  if (destination && home === null) {
    home = window.L.marker([destination.lat, destination.lon], dot("home-dot", t("track.home_marker"))).addTo(map);
  }
  if (home) map.fitBounds(window.L.latLngBounds([where, home.getLatLng()]), { padding: [40, 40], maxZoom: 16 });
  else map.panTo(where);
}

function showProof(proof) {
  $("proof").hidden = !proof;
  if (!proof) return;
  const at = parts(proof.delivered_at);
  $("proof-at").textContent = t("track.delivered_at", { date: at.date, time: at.time });
  $("proof-recipient").textContent = proof.recipient_name || t("track.not_given");
  $("proof-photo").textContent = t(proof.photo ? "track.yes" : "track.no");
  $("proof-signature").textContent = t(proof.signature ? "track.yes" : "track.no");
}

function draw(answer) {
  const status = $("status");
  if (status.dataset.status !== answer.status) {
    status.dataset.status = answer.status;
    status.textContent = t(`track.status_${answer.status}`);
  }
  const expected = $("expected");
  if (answer.expected_from && answer.expected_to) {
    const from = parts(answer.expected_from);
    expected.textContent = answer.running_late
      ? t("track.running_late", { time: from.time, date: from.date })
      : t("track.expected", { span: span(answer.expected_from, answer.expected_to) });
    expected.classList.toggle("late", answer.running_late);
    expected.hidden = false;
  } else {
    expected.hidden = true;
  }
  const stops = $("stops-before");
  stops.hidden = answer.stops_before === null;
  if (answer.stops_before !== null) stops.textContent = t("track.stops_before", { count: answer.stops_before });
  const windows = $("windows");
  windows.replaceChildren(
    ...(answer.time_windows.length ? answer.time_windows.map((w) => span(w.start, w.end)) : [t("track.no_window")]).map(
      (text) => Object.assign(document.createElement("span"), { className: "window", textContent: text }),
    ),
  );
  $("instructions").textContent = answer.instructions || t("track.no_instructions");
  showDriver(answer.driver, answer.destination);
  showProof(answer.proof);
  $("replies").hidden = ["completed", "cancelled"].includes(answer.status);
}

// -- polling ----------------------------------------------------------------------------

let lastGood = null;

async function refresh() {
  const updated = $("updated");
  try {
    const response = await fetch(`/track/${encodeURIComponent(token)}`, {
      headers: { Accept: "application/json" },
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
    if (!response.ok) return;
    const answer = await response.json();
    draw(answer);
    updated.textContent = t("track.updated_at", { time: parts(new Date().toISOString()).time });
    updated.hidden = false;
    lastGood = new Date().toISOString();
  } catch {
    if (lastGood) {
      updated.textContent = t("track.offline", { time: parts(lastGood).time });
      updated.hidden = false;
    }
  }
}

// -- the forms, through the API ---------------------------------------------------------

function body(form) {
  const data = new FormData(form);
  const kind = data.get("kind");
  const reply = { kind, text: String(data.get("text") ?? "") };
  if (kind === "new_window") {
    reply.window_start = instant(String(data.get("date")), String(data.get("start")));
    reply.window_end = instant(String(data.get("date")), String(data.get("end")));
  } else if (kind === "leave_with_neighbour") {
    reply.neighbour_name = String(data.get("neighbour_name") ?? "");
    reply.neighbour_address = String(data.get("neighbour_address") ?? "");
  }
  return reply;
}

function say(text, ok) {
  const box = $("reply-result");
  const p = Object.assign(document.createElement("p"), { className: ok ? "ok" : "error", textContent: text });
  box.replaceChildren(p);
  $("reply-error")?.remove();
}

const FIELD_ERRORS = ["window_start", "window_end", "neighbour_name", "text", "instructions", "kind"];

function errorText(detail) {
  const items = Array.isArray(detail?.errors) ? detail.errors : [];
  const text = typeof detail?.detail === "string" ? detail.detail : "";
  for (const field of FIELD_ERRORS) {
    if (items.some((e) => String(e.column ?? e.field ?? "").endsWith(field)) || text.startsWith(`${field}:`)) {
      return t(`track.error_${field}`);
    }
  }
  return t("track.error_other");
}

for (const form of document.querySelectorAll("form.reply")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    say(t("track.sending"), true);
    try {
      const response = await fetch("/track/replies", {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify(body(form)),
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
      const answer = await response.json().catch(() => null);
      if (response.ok) {
        const kind = answer.kind === "new_window" && !answer.applied ? "new_window_pending" : answer.kind;
        say(t(`track.sent_${kind}`), true);
        form.reset();
        await refresh();
      } else {
        say(errorText(answer), false);
      }
    } catch {
      say(t("track.error_other"), false);
    } finally {
      button.disabled = false;
    }
  });
}

draw(JSON.parse($("tracking").textContent));
// Drawn by the script from here on (the styles show the map only then).
document.documentElement.classList.add("js");
setInterval(refresh, POLL_MS);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) refresh();
});
