// Formatting for the orders and plan pages: times in the organisation's time zone,
// distances and durations, in the page's language.

import { t } from "/static/js/api.js";

export const zone = () => document.querySelector('meta[name="org-timezone"]')?.content || "UTC";
const lang = () => document.documentElement.lang || "en";

const dayFormat = () =>
  new Intl.DateTimeFormat(lang(), { timeZone: zone(), weekday: "short", day: "numeric", month: "short" });
const timeFormat = () =>
  new Intl.DateTimeFormat(lang(), { timeZone: zone(), hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const dateKey = (d) =>
  new Intl.DateTimeFormat("en-CA", { timeZone: zone(), year: "numeric", month: "2-digit", day: "2-digit" }).format(d);

/** Today in the organisation's time zone, as YYYY-MM-DD. */
export const today = () => dateKey(new Date());

/** A day ("Tue 8 Dec") in the organisation's time zone. */
export const day = (iso) => dayFormat().format(new Date(iso));

/** A time of day (HH:MM) in the organisation's time zone. */
export const clock = (iso) => timeFormat().format(new Date(iso));

/** "Fri 2 May 09:00–18:00" for one window (in the organisation's time zone). */
export function window_(w) {
  const start = new Date(w.start);
  const end = new Date(w.end);
  const days = dayFormat();
  if (dateKey(start) === dateKey(end)) return `${days.format(start)} ${clock(w.start)}–${clock(w.end)}`;
  return `${days.format(start)} ${clock(w.start)} – ${days.format(end)} ${clock(w.end)}`;
}

/** Every window of a stop, or "any time". */
export const windows = (list) => (list?.length ? list.map(window_).join(", ") : t("dashboard.orders_any_time"));

/** Kilometres with one decimal. */
export const km = (metres) =>
  new Intl.NumberFormat(lang(), { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(metres / 1000);

/** A whole number in the page's language. */
export const number = (n) => new Intl.NumberFormat(lang()).format(n);

/** "2 h 05 min" or "45 min". */
export function duration(seconds) {
  const minutes = Math.round(seconds / 60);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h ? t("dashboard.plan_hours_minutes", { h, m: String(m).padStart(2, "0") }) : t("dashboard.plan_minutes", { m });
}

/** An element with text (never HTML). */
export function el(tag, text = "", attrs = {}) {
  const node = document.createElement(tag);
  if (text !== "") node.textContent = text;
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

/** A table row of text cells; the first is a row header. */
export function row(cells) {
  const tr = document.createElement("tr");
  cells.forEach((cell, k) => {
    const td = document.createElement(k === 0 ? "th" : "td");
    if (k === 0) td.setAttribute("scope", "row");
    if (cell instanceof Node) td.append(cell);
    else td.textContent = cell ?? "";
    tr.append(td);
  });
  return tr;
}

/** What went wrong with an API call, in words (with each problem the API listed). */
export function problem(error) {
  const reasons = (error?.body?.errors ?? []).map((e) => (e.column ? `${e.column}: ${e.reason}` : e.reason));
  const detail = [error?.message ?? String(error), ...reasons].join("; ");
  return t("common.error", { detail });
}
