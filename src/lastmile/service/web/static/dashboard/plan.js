// The plan page: plan a day (POST /plans), follow the job, read the routes and
// the orders left out, and dispatch with a confirmation.

import { api, t } from "/static/js/api.js";
import { clock, day, duration, km, number, problem, row, today } from "./orders-format.js";

const POLL_MS = 500;
const form = document.getElementById("plan-form");
const progress = document.getElementById("plan-progress");
const bar = document.getElementById("plan-progress-bar");
const progressText = document.getElementById("plan-progress-text");
const cancel = document.getElementById("plan-cancel");
const result = document.getElementById("plan-result");
const summary = document.getElementById("plan-summary");
const heading = document.getElementById("plan-result-heading");
const routes = document.querySelector("#plan-routes tbody");
const unassigned = document.getElementById("plan-unassigned");
const dispatch = document.getElementById("plan-dispatch");
const dispatchStatus = document.getElementById("plan-dispatch-status");
const live = document.getElementById("plan-live");
const confirm = document.getElementById("plan-confirm");

let current = null; // the plan shown
let names = null; // vehicle and driver names by id

async function loadNames() {
  const [vehicles, drivers] = await Promise.all([api("/vehicles?limit=1000"), api("/drivers?limit=1000")]);
  names = {
    vehicles: new Map(vehicles.map((v) => [v.id, v.name || v.registration])),
    drivers: new Map(drivers.map((d) => [d.id, d.name])),
  };
}

/** Before dispatch: the driver each route will get, by id (the shift that uses its
 * vehicle when the route starts, as dispatch picks it). */
async function expectedDrivers(plan) {
  const waiting = plan.routes.filter((r) => !r.driver_id);
  if (!waiting.length) return new Map();
  const starts = waiting.map((r) => r.start_at).sort();
  const params = new URLSearchParams({ start: starts[0], end: starts.at(-1), limit: "1000" });
  const shifts = await api(`/shifts?${params}`);
  const found = new Map();
  for (const route of waiting) {
    const at = Date.parse(route.start_at);
    const shift = shifts.find(
      (s) => s.vehicle_id === route.vehicle_id && Date.parse(s.start_at) <= at && at < Date.parse(s.end_at),
    );
    if (shift) found.set(route.id, shift.driver_id);
  }
  return found;
}

function driverOf(route, expected) {
  if (route.driver_id) return names.drivers.get(route.driver_id) ?? "";
  const driver = expected.get(route.id);
  if (!driver) return t("dashboard.plan_driver_none");
  return t("dashboard.plan_driver_expected", { driver: names.drivers.get(driver) ?? "" });
}

const stopsOf = (route) => route.visits.filter((v) => v.order_id).length;
const seconds = (from, to) => Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);

function showProgress(job) {
  const limit = job.time_limit_s;
  progress.hidden = false;
  const since = job.started_at ?? job.created_at;
  const elapsed = Math.round(seconds(since, job.finished_at ?? new Date().toISOString()));
  const state = t(`dashboard.plan_job_${job.status}`);
  if (limit) {
    bar.max = limit;
    bar.value = Math.min(elapsed, limit);
    progressText.textContent = t("dashboard.plan_elapsed_of", { elapsed, limit, state });
  } else {
    bar.max = 1;
    bar.value = job.progress;
    progressText.textContent = t("dashboard.plan_elapsed", { elapsed, state });
  }
  if (job.message) progressText.textContent += ` ${job.message}`;
  if (job.status === "failed" && job.error) progressText.textContent += ` ${job.error}`;
  cancel.hidden = !["queued", "running"].includes(job.status);
}

async function follow(plan) {
  current = plan;
  result.hidden = true;
  for (;;) {
    let job;
    try {
      job = await api(`/plans/${plan.id}/job`);
    } catch (error) {
      progressText.textContent = problem(error);
      return;
    }
    if (current?.id !== plan.id) return; // another plan was started
    showProgress(job);
    if (job.status === "succeeded") {
      await showPlan(await api(`/plans/${plan.id}`));
      return;
    }
    if (["failed", "cancelled"].includes(job.status)) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The orders a plan left out, named by external id and customer (they are pending). */
async function leftOut(plan) {
  const named = new Map();
  if (!plan.unassigned.length) return named;
  const wanted = new Set(plan.unassigned.map((u) => u.order_id));
  try {
    for (const order of await api("/orders?status=pending&limit=1000")) {
      if (!wanted.has(order.id) || !order.external_id) continue;
      const label = order.external_id;
      named.set(order.id, order.customer.name ? t("dashboard.plan_order_customer", { order: label, customer: order.customer.name }) : label);
    }
  } catch {
    // the plan's own labels are shown instead
  }
  return named;
}

async function showPlan(plan) {
  current = plan;
  if (!names || plan.routes.some((r) => !names.vehicles.has(r.vehicle_id) || (r.driver_id && !names.drivers.has(r.driver_id)))) {
    await loadNames();
  }
  const expected = plan.status === "dispatched" ? new Map() : await expectedDrivers(plan).catch(() => new Map());
  if ([...expected.values()].some((d) => !names.drivers.has(d))) await loadNames();
  routes.replaceChildren(
    ...plan.routes.map((r) =>
      row([
        names.vehicles.get(r.vehicle_id) ?? "",
        driverOf(r, expected),
        number(stopsOf(r)),
        km(r.distance_m),
        `${duration(seconds(r.start_at, r.end_at))} (${clock(r.start_at)}–${clock(r.end_at)})`,
        t("dashboard.plan_cost_value", { cost: number(r.cost) }),
      ]),
    ),
  );
  const left = await leftOut(plan);
  unassigned.querySelector("tbody").replaceChildren(...plan.unassigned.map((u) => row([left.get(u.order_id) ?? u.order, u.reason])));
  unassigned.hidden = plan.unassigned.length === 0;
  summary.textContent = t("dashboard.plan_summary", {
    routes: plan.routes.length,
    stops: plan.routes.reduce((n, r) => n + stopsOf(r), 0),
    km: km(plan.distance_m),
    cost: number(plan.cost),
    unassigned: plan.unassigned.length,
  });
  heading.textContent = t("dashboard.plan_result_for", { day: day(plan.epoch) });
  const dispatched = plan.status === "dispatched";
  dispatch.hidden = dispatched || plan.routes.length === 0;
  dispatchStatus.textContent = dispatched ? t("dashboard.plan_dispatched", { time: clock(plan.dispatched_at) }) : "";
  live.hidden = !dispatched;
  // The live page opens on this plan's day (its epoch is midnight in the org's zone).
  live.querySelector("a").href = `/dashboard?day=${plan.epoch.slice(0, 10)}`;
  result.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const limit = Number(data.get("time_limit_s"));
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const plan = await api("/plans", { method: "POST", body: { date: data.get("date"), time_limit_s: limit } });
    await follow(plan);
  } catch (error) {
    progress.hidden = false;
    progressText.textContent = problem(error);
  } finally {
    button.disabled = false;
  }
});

cancel.addEventListener("click", async () => {
  if (!current) return;
  try {
    await api(`/plans/${current.id}/cancel`, { method: "POST" });
  } catch (error) {
    progressText.textContent = problem(error);
  }
});

dispatch.addEventListener("click", () => {
  if (!current) return;
  document.getElementById("plan-confirm-text").textContent = t("dashboard.plan_confirm_text", {
    routes: current.routes.length,
  });
  confirm.returnValue = "";
  confirm.showModal();
});

confirm.addEventListener("close", async () => {
  if (confirm.returnValue !== "dispatch" || !current) {
    dispatch.focus();
    return;
  }
  dispatch.disabled = true;
  try {
    await showPlan(await api(`/plans/${current.id}/dispatch`, { method: "POST", body: {} }));
    live.querySelector("a").focus();
  } catch (error) {
    dispatchStatus.textContent = problem(error);
  } finally {
    dispatch.disabled = false;
  }
});

// The day to plan: today in the organisation's time zone; the newest plan is shown.
document.getElementById("plan-date").value = today();
(async () => {
  try {
    const [latest] = await api("/plans?limit=1");
    if (!latest) return;
    if (latest.status === "planning") await follow(latest);
    else if (["ready", "dispatched"].includes(latest.status)) await showPlan(await api(`/plans/${latest.id}`));
  } catch (error) {
    progress.hidden = false;
    progressText.textContent = problem(error);
  }
})();
