// Geocoded stops the geocoder was unsure of: a dispatcher confirms the position
// or corrects it (PATCH of the stop with lon/lat clears the flag).

import { api, t } from "/static/js/api.js";
import { el, number, problem, row } from "./orders-format.js";

const list = document.getElementById("review-list");
const body = list.querySelector("tbody");
const empty = document.getElementById("review-empty");
const status = document.getElementById("review-status");

/** The stop as PATCH takes it, at ``lon``/``lat``. */
const stopAt = (stop, lon, lat) => ({
  address: stop.address,
  lon,
  lat,
  time_windows: stop.time_windows,
  service_s: stop.service_s,
});

async function place(order, name, lon, lat, message, onChange) {
  try {
    await api(`/orders/${order.id}`, { method: "PATCH", body: { [name]: stopAt(order[name], lon, lat) } });
    status.className = "ok";
    status.textContent = t(message, { order: order.external_id ?? order.id });
    await onChange();
  } catch (error) {
    status.className = "error";
    status.textContent = problem(error);
  }
}

function correctForm(order, name, onChange) {
  const stop = order[name];
  const form = el("form", "", { class: "review-correct" });
  const label = order.external_id ?? order.id;
  for (const [field, value, min, max] of [["lon", stop.lon, -180, 180], ["lat", stop.lat, -90, 90]]) {
    const id = `review-${field}-${order.id}-${name}`;
    form.append(
      el("label", t(`dashboard.review_${field}`, { order: label }), { for: id }),
      el("input", "", { id, name: field, type: "number", step: "any", min, max, required: "", value: String(value) }),
    );
  }
  const save = el("button", t("dashboard.review_save"), { type: "submit" });
  form.append(save);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    place(order, name, Number(data.get("lon")), Number(data.get("lat")), "dashboard.review_corrected", onChange);
  });
  return form;
}

function reviewRow(order, name, onChange) {
  const stop = order[name];
  const label = order.external_id ?? order.id;
  const confidence = stop.geocode?.confidence;
  const actions = el("div", "", { class: "review-actions" });
  const confirm = el("button", t("dashboard.review_confirm"), {
    type: "button",
    "aria-label": t("dashboard.review_confirm_order", { order: label }),
  });
  confirm.addEventListener("click", () =>
    place(order, name, stop.lon, stop.lat, "dashboard.review_confirmed", onChange),
  );
  const correct = el("button", t("dashboard.review_correct"), {
    type: "button",
    "aria-expanded": "false",
    "aria-label": t("dashboard.review_correct_order", { order: label }),
  });
  correct.addEventListener("click", () => {
    const open = actions.querySelector("form");
    if (open) {
      open.remove();
      correct.setAttribute("aria-expanded", "false");
      return;
    }
    const form = correctForm(order, name, onChange);
    actions.append(form);
    correct.setAttribute("aria-expanded", "true");
    form.querySelector("input")?.focus();
  });
  actions.append(confirm, correct);
  return row([
    label,
    stop.address,
    stop.geocode?.matched_address ?? "",
    confidence == null ? t("dashboard.review_no_confidence") : `${number(Math.round(confidence * 100))} %`,
    `${stop.lat.toFixed(5)}, ${stop.lon.toFixed(5)}`,
    actions,
  ]);
}

/** (Re)load the orders waiting for review; ``onChange`` after a confirm or correct. */
export async function loadReview(onChange) {
  try {
    const orders = await api("/orders?needs_review=true&limit=200");
    const rows = orders.flatMap((order) =>
      ["pickup", "delivery"].filter((n) => order[n]?.needs_review).map((n) => reviewRow(order, n, onChange)),
    );
    body.replaceChildren(...rows);
    list.hidden = rows.length === 0;
    empty.hidden = rows.length > 0;
  } catch (error) {
    status.className = "error";
    status.textContent = problem(error);
  }
}
