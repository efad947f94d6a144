// Changing the running plan from the live page: insert an urgent (pending) order,
// move an order to another route or position (previewed first: the validator's
// verdict, the cost change and the stops whose times change are shown before
// anything is saved), report a vehicle's breakdown. Each goes through the API;
// the page reads the plan again when the plan changed.
import { api, ApiError, t } from "/static/js/api.js";

const $ = (id) => document.getElementById(id);

function option(value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  return o;
}

function orderName(order) {
  const who = order.customer?.name || order.delivery?.address || order.pickup?.address || "";
  return [order.external_id, who].filter(Boolean).join(" · ") || order.id;
}

function say(element, text, kind = "") {
  element.className = `result ${kind}`;
  element.replaceChildren();
  if (text) {
    const p = document.createElement("p");
    p.textContent = text;
    element.append(p);
  }
  return element;
}

function errorText(error) {
  if (error instanceof ApiError) {
    const detail = error.body?.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((d) => d.msg ?? JSON.stringify(d)).join("; ");
  }
  return error.message;
}

export function setUpActions({ reload, format }) {
  let plan = null;
  let routes = [];
  let preview = null; // {body, answer} of the last preview

  // -- insert ------------------------------------------------------------------------------
  const insertForm = $("insert-form");
  const insertSelect = $("insert-order");
  const insertResult = $("insert-result");

  async function fillPending() {
    const pending = await api("/orders?status=pending&limit=1000");
    insertSelect.replaceChildren(
      ...(pending.length
        ? pending.map((o) => option(o.id, orderName(o)))
        : [option("", t("dashboard.insert_none"))]),
    );
  }

  insertForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!plan || !insertSelect.value) return;
    const button = insertForm.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const answer = await api(`/plans/${plan.id}/orders`, {
        method: "POST",
        body: { order_id: insertSelect.value },
      });
      if (answer.applied) {
        say(insertResult, t("dashboard.insert_applied", {
          summary: answer.summary, before: answer.cost_before, after: answer.cost_after,
        }), "ok");
        await reload();
      } else {
        say(insertResult, t("dashboard.insert_refused", {
          summary: [answer.summary, ...answer.unassigned.map((u) => u.reason)].join(" "),
        }), "error");
      }
    } catch (error) {
      say(insertResult, t("common.error", { detail: errorText(error) }), "error");
    } finally {
      button.disabled = false;
    }
  });

  // -- move --------------------------------------------------------------------------------
  const moveForm = $("move-form");
  const moveOrder = $("move-order");
  const moveRoute = $("move-route");
  const movePosition = $("move-position");
  const moveSave = $("move-save");
  const moveResult = $("move-result");

  function moveBody() {
    const body = { order_id: moveOrder.value, to_route_id: moveRoute.value };
    if (movePosition.value !== "") body.position = Number(movePosition.value);
    return body;
  }

  function formChanged() {
    if (preview) {
      preview = null;
      moveSave.disabled = true;
      say(moveResult, t("dashboard.move_changed"));
    }
  }
  for (const input of [moveOrder, moveRoute, movePosition]) input.addEventListener("input", formChanged);

  function showPreview(answer) {
    const box = say(moveResult, answer.feasible ? t("dashboard.move_feasible") : t("dashboard.move_infeasible"),
      answer.feasible ? "ok" : "error");
    if (answer.violations.length) {
      const list = document.createElement("ul");
      list.className = "violations";
      for (const v of answer.violations) {
        const li = document.createElement("li");
        li.textContent = v.message;
        list.append(li);
      }
      box.append(list);
    }
    const cost = document.createElement("p");
    cost.className = "cost";
    const delta = answer.cost_delta > 0 ? `+${answer.cost_delta}` : String(answer.cost_delta);
    cost.textContent = t("dashboard.move_cost", {
      before: answer.cost_before, after: answer.cost_after, delta, unit: answer.cost_unit,
    });
    box.append(cost);
    const changed = answer.changed_routes.flatMap((r) => r.stops.map((s) => ({ route: r, stop: s })));
    if (changed.length) {
      const title = document.createElement("p");
      title.textContent = t("dashboard.move_stops");
      const list = document.createElement("ul");
      list.className = "moved-stops";
      // Named as the page names them (the API's labels carry ids, for logs).
      const vehicles = new Map(routes.map((r) => [r.vehicleId, r.vehicleName]));
      const orders = new Map(routes.flatMap((r) => r.stops.map((s) => [s.orderId, s.name])));
      for (const { route, stop } of changed) {
        const li = document.createElement("li");
        li.textContent = `${vehicles.get(route.vehicle_id) ?? route.vehicle}: ${t("dashboard.move_stop_row", {
          name: orders.get(stop.order_id) ?? stop.order,
          previous: stop.previous_start_at ? format(new Date(stop.previous_start_at)) : t("dashboard.move_new"),
          start: format(new Date(stop.start_at)),
        })}`;
        list.append(li);
      }
      box.append(title, list);
    }
  }

  $("move-preview").addEventListener("click", async () => {
    if (!plan || !moveOrder.value || !moveRoute.value) return;
    const body = moveBody();
    moveSave.disabled = true;
    try {
      const answer = await api(`/plans/${plan.id}/moves/preview`, { method: "POST", body });
      preview = { body, answer };
      showPreview(answer);
      moveSave.disabled = !answer.feasible;
    } catch (error) {
      preview = null;
      if (error instanceof ApiError && (error.status === 404 || error.status === 405) && !error.body?.errors) {
        say(moveResult, t("dashboard.move_unavailable"), "error");
      } else {
        say(moveResult, t("common.error", { detail: errorText(error) }), "error");
      }
    }
  });

  moveForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!plan || !preview?.answer.feasible) return;
    moveSave.disabled = true;
    try {
      const answer = await api(`/plans/${plan.id}/moves`, { method: "POST", body: preview.body });
      preview = null;
      say(moveResult, t("dashboard.move_saved", { summary: answer.summary }), "ok");
      await reload();
    } catch (error) {
      say(moveResult, t("common.error", { detail: errorText(error) }), "error");
    }
  });

  // -- breakdown ---------------------------------------------------------------------------
  const breakdownForm = $("breakdown-form");
  const breakdownVehicle = $("breakdown-vehicle");
  const breakdownResult = $("breakdown-result");

  breakdownForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!plan || !breakdownVehicle.value) return;
    const button = breakdownForm.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const answer = await api(`/plans/${plan.id}/breakdown`, {
        method: "POST",
        body: { vehicle_id: breakdownVehicle.value },
      });
      const box = say(breakdownResult, answer.applied
        ? t("dashboard.breakdown_applied", { summary: answer.summary })
        : t("dashboard.breakdown_refused", { summary: answer.summary }), answer.applied ? "ok" : "error");
      if (answer.unassigned.length) {
        const p = document.createElement("p");
        p.textContent = t("dashboard.breakdown_unassigned", {
          orders: answer.unassigned.map((u) => `${u.order} (${u.reason})`).join("; "),
        });
        box.append(p);
      }
      $("breakdown-confirm").checked = false;
      if (answer.applied) await reload();
    } catch (error) {
      say(breakdownResult, t("common.error", { detail: errorText(error) }), "error");
    } finally {
      button.disabled = false;
    }
  });

  // -- the plan shown changed ----------------------------------------------------------------
  function update(newPlan, newRoutes) {
    plan = newPlan;
    routes = newRoutes;
    preview = null;
    moveSave.disabled = true;
    const live = routes.filter((r) => r.status !== "completed" && r.status !== "broken_down");
    fillMovable();
    moveRoute.replaceChildren(...live.map((r) => option(r.id, r.vehicleName)));
    breakdownVehicle.replaceChildren(...live.map((r) => option(r.vehicleId, r.vehicleName)));
    for (const form of [insertForm, moveForm, breakdownForm]) {
      for (const control of form.elements) {
        if (control.id !== "move-save") control.disabled = plan === null;
      }
    }
    if (plan) fillPending().catch((error) => say(insertResult, t("common.error", { detail: errorText(error) }), "error"));
  }

  // The orders that can still move: on a running route, the driver not yet there.
  function fillMovable() {
    const keep = moveOrder.value;
    const movable = routes
      .filter((r) => r.status !== "completed" && r.status !== "broken_down")
      .flatMap((r) =>
        r.stops
          .filter((s) => s.status === "planned")
          .map((s) => option(s.orderId, `${s.name} (${r.vehicleName}, ${format(s.start)})`)),
      );
    moveOrder.replaceChildren(...movable);
    if (keep && movable.some((o) => o.value === keep)) moveOrder.value = keep;
    else if (keep) formChanged(); // the order chosen was served meanwhile
  }

  // Stops were reported: served ones leave the list of orders to move.
  function stopsChanged() {
    if (plan) fillMovable();
  }

  return { update, stopsChanged };
}
