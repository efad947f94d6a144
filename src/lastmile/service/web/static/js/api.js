// Talking to the API from a signed-in page: the session cookie goes along by itself;
// requests that change something carry the session's CSRF token.

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(path, { method = "GET", body, headers = {}, form } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrf();
  if (form !== undefined) init.body = form;
  else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// The page's texts (rendered by the server from texts/<language>/), with {name} placeholders.
let catalogue = null;
export function t(name, values = {}) {
  catalogue ??= JSON.parse(document.getElementById("texts")?.textContent ?? "{}");
  const text = catalogue[name] ?? name;
  return text.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : `{${key}}`));
}

// Live events (server-sent events of /live), reconnecting by itself.
export function live(path, onEvent) {
  const source = new EventSource(path, { withCredentials: true });
  source.onmessage = (e) => onEvent(JSON.parse(e.data));
  for (const type of ["hello", "position", "stop_event", "route_status", "eta", "late", "lagged", "plan", "order"]) {
    source.addEventListener(type, (e) => onEvent(JSON.parse(e.data)));
  }
  return source;
}
