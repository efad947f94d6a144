// Times in the organisation's time zone, and links that hand a stop to a navigation app.

const zone = () => document.querySelector('meta[name="org-timezone"]')?.content || undefined;

let clock = null;
export function time(iso) {
  if (!iso) return "";
  clock ??= new Intl.DateTimeFormat(document.documentElement.lang || "en", {
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone(),
  });
  return clock.format(new Date(iso));
}

// The API's navigation links of a stop (geo: URI for any map app, OsmAnd, Google
// Maps, Apple Maps) as [name, href] pairs, in that order.
export function navigationLinks(navigation) {
  if (!navigation) return [];
  return [
    ["nav_geo", navigation.geo],
    ["nav_osmand", navigation.osmand],
    ["nav_google", navigation.google_maps],
    ["nav_apple", navigation.apple_maps],
  ];
}

// A new element: el("li", {class: "x", text: "..."}, child, ...).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

// An id of the sender's own (event ids make sending twice harmless).
export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
