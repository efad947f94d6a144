// The CSV import of the orders page: send the file, then show the summary, every
// problem by row and column, and the customer changes the import kept.

import { api, ApiError, t } from "/static/js/api.js";
import { problem, row } from "./orders-format.js";

const form = document.getElementById("import-form");
const result = document.getElementById("import-result");
const errors = document.getElementById("import-errors");
const conflicts = document.getElementById("import-conflicts");

function showErrors(items) {
  errors.querySelector("tbody").replaceChildren(
    ...items.map((e) => row([e.row == null ? "" : String(e.row), e.column ?? "", e.reason])),
  );
  errors.hidden = items.length === 0;
}

function showConflicts(items) {
  conflicts.querySelector("tbody").replaceChildren(
    ...items.map((c) => row([String(c.row), c.external_id, c.field, c.customer_value, c.file_value])),
  );
  conflicts.hidden = items.length === 0;
}

function summary(answer) {
  const counts = {
    created: answer.created,
    updated: answer.updated,
    unchanged: answer.unchanged,
    rejected: answer.rejected.length,
  };
  const lines = [t("dashboard.import_done", counts)];
  if (answer.needs_review.length) lines.push(t("dashboard.import_to_review", { count: answer.needs_review.length }));
  return lines.join(" ");
}

export function setUpImport(onImported) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const file = data.get("file");
    if (!(file instanceof File) || !file.name) return;
    const body = new FormData();
    body.append("file", file, file.name);
    body.append("mode", String(data.get("mode")));
    const params = new URLSearchParams();
    if (data.get("date")) params.set("date", String(data.get("date")));
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    result.className = "";
    result.textContent = t("common.loading");
    showErrors([]);
    showConflicts([]);
    try {
      const answer = await api(`/orders/import?${params}`, { method: "POST", form: body });
      result.textContent = summary(answer);
      result.className = answer.rejected.length ? "orders-warn" : "ok";
      showErrors(answer.rejected.flatMap((r) => r.errors));
      showConflicts(answer.conflicts);
      await onImported();
    } catch (error) {
      result.className = "error";
      if (error instanceof ApiError && error.status === 422 && error.body?.errors?.length) {
        result.textContent = t("dashboard.import_failed", { detail: error.body.detail });
        showErrors(error.body.errors);
      } else {
        result.textContent = problem(error);
      }
    } finally {
      button.disabled = false;
    }
  });
}
