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

// geo: URI (any map app), OsmAnd, Google Maps directions: [name, href] pairs.
export function navigationLinks(lat, lon, label = "") {
  const at = `${lat},${lon}`;
  const q = label ? `${at}(${encodeURIComponent(label)})` : at;
  return [
    ["nav_geo", `geo:${at}?q=${q}`],
    ["nav_osmand", `https://osmand.net/map?pin=${at}#17/${lat}/${lon}`],
    ["nav_google", `https://www.google.com/maps/dir/?api=1&destination=${at}&travelmode=driving`],
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
