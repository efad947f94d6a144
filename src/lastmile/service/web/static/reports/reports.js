// The reports page: KPIs of a range of days (GET /reports/kpis), the figures of one
// day (PNG from /reports/days/{day}/figures/...), and the downloads.

import { api, t } from "/static/js/api.js";
import { day as dayName, problem, today } from "/static/dashboard/orders-format.js";

const root = document.getElementById("reports");
const maxDays = Number(root.dataset.maxDays || 92);
const form = document.getElementById("reports-form");
const fromInput = document.getElementById("reports-from");
const toInput = document.getElementById("reports-to");
const byInput = document.getElementById("reports-by");
const status = document.getElementById("reports-status");
const table = document.getElementById("reports-kpis");
const none = document.getElementById("reports-none");
const daySelect = document.getElementById("reports-day");
const images = [...document.querySelectorAll("img[data-figure]")];
const lang = () => document.documentElement.lang || "en";

const DAY_MS = 86_400_000;
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
const parseDay = (text) => Date.parse(`${text}T00:00:00Z`);
const validDay = (text) => /^\d{4}-\d{2}-\d{2}$/.test(text ?? "") && !Number.isNaN(parseDay(text));

/** The range and grouping asked for in the address, or the last seven days. */
function asked() {
  const params = new URLSearchParams(window.location.search);
  const to = validDay(params.get("to")) ? params.get("to") : today();
  const from = validDay(params.get("from")) ? params.get("from") : isoDay(parseDay(to) - 6 * DAY_MS);
  const by = ["driver", "vehicle", "depot", "day"].includes(params.get("by")) ? params.get("by") : "";
  const figureDay = validDay(params.get("day")) ? params.get("day") : "";
  return { from, to, by, figureDay };
}

/** A column's heading: its text, or its name in words. */
function heading(key) {
  const name = `reports.column_${key}`;
  const text = t(name);
  return text === name ? key.replaceAll("_", " ") : text;
}

/** Rates and utilisations (fractions of 1) read as percentages. */
const isShare = (key) => key.endsWith("_rate") || key.includes("utilisation");

function cell(key, value) {
  if (value === null || value === undefined || value === "") return "–";
  if (typeof value === "number" && isShare(key)) {
    return new Intl.NumberFormat(lang(), { style: "percent", maximumFractionDigits: 1 }).format(value);
  }
  if (typeof value === "number") {
    return new Intl.NumberFormat(lang(), { maximumFractionDigits: Number.isInteger(value) ? 0 : 2 }).format(value);
  }
  return String(value);
}

function showKpis(rows) {
  const head = table.querySelector("thead tr");
  const body = table.querySelector("tbody");
  head.replaceChildren();
  body.replaceChildren();
  none.hidden = rows.length > 0;
  table.hidden = rows.length === 0;
  if (!rows.length) return;
  const keys = Object.keys(rows[0]);
  for (const key of keys) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = heading(key);
    th.dataset.key = key;
    head.append(th);
  }
  for (const row of rows) {
    const tr = document.createElement("tr");
    keys.forEach((key, k) => {
      const td = document.createElement(k === 0 ? "th" : "td");
      if (k === 0) td.scope = "row";
      td.dataset.key = key;
      td.textContent = cell(key, row[key]);
      tr.append(td);
    });
    body.append(tr);
  }
}

function links({ from, to, by }) {
  const range = new URLSearchParams({ from, to });
  const grouped = new URLSearchParams({ from, to, ...(by ? { by } : {}) });
  document.getElementById("reports-kpis-csv").href = `/reports/kpis.csv?${grouped}`;
  document.getElementById("reports-stops-csv").href = `/reports/stops.csv?${range}`;
  document.getElementById("reports-html").href = `/reports/report.html?${range}`;
}

function showFigures(day) {
  for (const img of images) {
    const name = img.dataset.figure;
    img.hidden = !day;
    if (!day) {
      img.removeAttribute("src");
      continue;
    }
    img.alt = t("reports.figure_alt", { figure: t(`reports.figure_${name}`), day: dayName(`${day}T12:00:00Z`) });
    img.src = `/reports/days/${day}/figures/${name}.png`;
  }
}

function fillDays(days, wanted) {
  daySelect.replaceChildren();
  for (const d of days) {
    const option = document.createElement("option");
    option.value = d;
    option.textContent = dayName(`${d}T12:00:00Z`);
    daySelect.append(option);
  }
  daySelect.disabled = days.length === 0;
  const chosen = days.includes(wanted) ? wanted : days.at(-1) ?? "";
  daySelect.value = chosen;
  return chosen;
}

async function load() {
  const range = asked();
  fromInput.value = range.from;
  toInput.value = range.to;
  byInput.value = range.by;
  links(range);
  const span = (parseDay(range.to) - parseDay(range.from)) / DAY_MS + 1;
  if (span < 1 || span > maxDays) {
    status.textContent = t("reports.bad_range", { days: maxDays });
    showKpis([]);
    showFigures("");
    return;
  }
  status.textContent = t("common.loading");
  const query = new URLSearchParams({ from: range.from, to: range.to });
  try {
    const [rows, perDay] = await Promise.all([
      api(`/reports/kpis?${query}${range.by ? `&by=${range.by}` : ""}`),
      api(`/reports/kpis?${query}&by=day`),
    ]);
    const days = perDay.map((r) => String(r.group)).filter(validDay).sort();
    showKpis(days.length ? rows : []); // no day: nothing to measure (not a row of zeros)
    showFigures(fillDays(days, range.figureDay));
    status.textContent = t("reports.loaded", { days: days.length });
  } catch (error) {
    status.textContent = problem(error);
  }
}

daySelect.addEventListener("change", () => {
  const params = new URLSearchParams(window.location.search);
  params.set("day", daySelect.value);
  history.replaceState(null, "", `?${params}`);
  showFigures(daySelect.value);
});

form.addEventListener("submit", (event) => {
  if (!fromInput.value || !toInput.value) return;
  event.preventDefault();
  const params = new URLSearchParams({ from: fromInput.value, to: toInput.value });
  if (byInput.value) params.set("by", byInput.value);
  history.pushState(null, "", `?${params}`);
  load();
});
window.addEventListener("popstate", load);

load();
