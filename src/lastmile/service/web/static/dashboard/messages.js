// The messages page: read a template (GET /message-templates/{kind}/{channel}/{language}),
// edit it with a live preview and SMS length (POST /message-templates/preview), save it
// (PUT) or restore the default (DELETE).

import { api, ApiError, t } from "/static/js/api.js";

const $ = (id) => document.getElementById(id);
const kind = $("messages-kind");
const channel = $("messages-channel");
const language = $("messages-language");
const subject = $("messages-subject");
const body = $("messages-body");
const source = $("messages-source");
const status = $("messages-status");
const length = $("messages-length");
const preview = $("messages-preview");
const previewSubject = $("messages-preview-subject");
const problems = $("messages-problems");
const pickup = $("messages-pickup");
const late = $("messages-late");

const path = () =>
  `/message-templates/${kind.value}/${channel.value}/${encodeURIComponent(language.value.trim().toLowerCase())}`;
const isEmail = () => channel.value === "email";

function showProblems(error) {
  const items = error?.body?.errors ?? [];
  problems.replaceChildren();
  const lead = document.createElement("p");
  lead.textContent = items.length ? t("messages.problems") : (error?.message ?? String(error));
  problems.append(lead);
  if (items.length) {
    const list = document.createElement("ul");
    for (const item of items) {
      const li = document.createElement("li");
      const where = (item.column ?? "").replace(/^body\./, "");
      li.textContent = where ? `${where}: ${item.reason}` : item.reason;
      list.append(li);
    }
    problems.append(list);
  }
  problems.hidden = false;
}

function showLength(sms) {
  length.classList.toggle("ucs2", Boolean(sms && sms.encoding === "UCS-2"));
  if (!sms) {
    length.textContent = "";
    return;
  }
  const capacity = sms.segments > 1 ? sms.segments * sms.per_segment : sms.per_segment;
  let text = t("messages.sms_length", {
    segments: sms.segments,
    encoding: sms.encoding,
    units: sms.units,
    capacity,
  });
  if (sms.non_gsm.length) text += ` — ${t("messages.sms_non_gsm", { chars: sms.non_gsm.join(" ") })}`;
  length.textContent = text;
}

let previewSeq = 0;
async function refreshPreview() {
  const seq = ++previewSeq;
  const request = {
    kind: kind.value,
    channel: channel.value,
    language: language.value.trim().toLowerCase() || "en",
    body: body.value,
    subject: isEmail() ? subject.value : "",
    pickup: pickup.checked,
    late: late.checked,
  };
  try {
    const answer = await api("/message-templates/preview", { method: "POST", body: request });
    if (seq !== previewSeq) return;
    problems.hidden = true;
    preview.textContent = answer.text;
    previewSubject.textContent = answer.subject;
    showLength(answer.sms);
  } catch (error) {
    if (seq !== previewSeq) return;
    preview.textContent = "";
    showLength(null);
    showProblems(error);
  }
}

let timer = null;
function schedulePreview() {
  clearTimeout(timer);
  timer = setTimeout(refreshPreview, 250);
}

let loadSeq = 0;
async function load() {
  const seq = ++loadSeq;
  status.textContent = "";
  $("messages-subject-row").hidden = !isEmail();
  $("messages-preview-subject-row").hidden = !isEmail();
  try {
    const template = await api(path());
    if (seq !== loadSeq) return; // another message was picked meanwhile
    subject.value = template.subject;
    body.value = template.body;
    source.textContent = `(${t(template.customised ? "messages.customised" : "messages.default")})`;
    $("messages-restore").disabled = !template.customised;
  } catch (error) {
    if (seq !== loadSeq) return;
    if (error instanceof ApiError && error.status === 404) {
      // A language without defaults: start from nothing, English is sent until saved.
      subject.value = "";
      body.value = "";
      source.textContent = "";
      $("messages-restore").disabled = true;
    } else {
      showProblems(error);
      return;
    }
  }
  await refreshPreview();
}

async function save(event) {
  event.preventDefault();
  status.textContent = "";
  try {
    await api(path(), {
      method: "PUT",
      body: { subject: isEmail() ? subject.value : "", body: body.value },
    });
    await load();
    status.textContent = t("messages.saved");
  } catch (error) {
    showProblems(error);
  }
}

async function restore() {
  try {
    await api(path(), { method: "DELETE" });
    await load();
    status.textContent = t("messages.restored");
  } catch (error) {
    showProblems(error);
  }
}

function insert(name) {
  const text = `{{ ${name} }}`;
  const target = document.activeElement === subject ? subject : body;
  const start = target.selectionStart ?? target.value.length;
  const end = target.selectionEnd ?? start;
  target.setRangeText(text, start, end, "end");
  target.focus();
  schedulePreview();
}

let lastField = body;
async function variables() {
  const list = $("messages-variables");
  const found = await api("/message-templates/variables");
  for (const variable of found) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = variable.name;
    button.addEventListener("mousedown", (e) => e.preventDefault()); // keep the cursor
    button.addEventListener("click", () => {
      lastField.focus();
      insert(variable.name);
    });
    li.append(button, document.createTextNode(variable.description));
    list.append(li);
  }
}

for (const field of [subject, body]) {
  field.addEventListener("input", schedulePreview);
  field.addEventListener("focus", () => (lastField = field));
}
for (const control of [kind, channel]) control.addEventListener("change", load);
language.addEventListener("change", () => language.checkValidity() && load());
for (const box of [pickup, late]) box.addEventListener("change", refreshPreview);
$("messages-editor").addEventListener("submit", save);
$("messages-pick").addEventListener("submit", (event) => {
  event.preventDefault();
  if (language.checkValidity()) load();
});
$("messages-restore").addEventListener("click", restore);

variables().catch(showProblems);
load();
