// The orders page: the order table (filters, search, paging), the CSV import and
// the geocoded addresses waiting for a dispatcher.

import { api, live, t } from "/static/js/api.js";
import { setUpImport } from "./import.js";
import { loadReview } from "./import-review.js";
import { el, problem, row, windows } from "./orders-format.js";

const PAGE = 25;
const form = document.getElementById("orders-filters");
const body = document.querySelector("#orders-table tbody");
const empty = document.getElementById("orders-empty");
const prev = document.getElementById("orders-prev");
const next = document.getElementById("orders-next");
const pageLabel = document.getElementById("orders-page");
let page = 0;

/** The stop the customer is at: the pickup of a pickup order, else the delivery. */
const customerStop = (order) => (order.kind === "pickup" ? order.pickup : order.delivery);

function routeOf(order) {
  if (!order.route) return "";
  const { vehicle_name: vehicle, driver_name: driver } = order.route;
  return driver ? t("dashboard.orders_route_driver", { vehicle, driver }) : vehicle;
}

function status(order) {
  const span = el("span", t(`dashboard.orders_status_${order.status}`), { class: `orders-status orders-status-${order.status}` });
  return span;
}

function orderRow(order) {
  const stop = customerStop(order) ?? {};
  const address = stop.address || stop.geocode?.matched_address || "";
  const cells = [order.external_id ?? "", order.customer.name, address, windows(stop.time_windows), status(order), routeOf(order)];
  const tr = row(cells);
  tr.dataset.orderId = order.id;
  return tr;
}

function query() {
  const data = new FormData(form);
  const params = new URLSearchParams({ limit: String(PAGE + 1), offset: String(page * PAGE) });
  for (const name of ["q", "status", "day"]) {
    const value = String(data.get(name) ?? "").trim();
    if (value) params.set(name, value);
  }
  return params;
}

export async function loadOrders() {
  body.setAttribute("aria-busy", "true");
  try {
    const orders = await api(`/orders?${query()}`);
    body.replaceChildren(...orders.slice(0, PAGE).map(orderRow));
    empty.hidden = orders.length > 0;
    prev.disabled = page === 0;
    next.disabled = orders.length <= PAGE;
    pageLabel.textContent = t("dashboard.orders_page", { page: page + 1 });
  } catch (error) {
    body.replaceChildren(row([problem(error)]));
  } finally {
    body.removeAttribute("aria-busy");
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  page = 0;
  loadOrders();
});
form.addEventListener("reset", () => {
  page = 0;
  setTimeout(loadOrders); // after the fields are cleared
});
prev.addEventListener("click", () => {
  page = Math.max(0, page - 1);
  loadOrders();
});
next.addEventListener("click", () => {
  page += 1;
  loadOrders();
});

const refresh = () => Promise.all([loadOrders(), loadReview(refresh)]);
setUpImport(refresh);
refresh();

// Statuses change on the road: reload the page of orders shown (at most once a second).
let pending = null;
live("/live", (event) => {
  if (!["stop_event", "route_status"].includes(event.type) || pending) return;
  pending = setTimeout(() => {
    pending = null;
    loadOrders();
  }, 1000);
});
