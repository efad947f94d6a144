// The alerts panel: stops predicted late, failed stops, vehicles off their route,
// vehicles whose GPS has gone quiet. Each alert has a key (one per stop or vehicle
// and kind), so a repeated event updates it instead of adding another; an alert
// whose cause is gone (the stop was served, the van is back on its route) goes.
// The list is drawn again only when it changed, at most once per animation frame.
import { t } from "/static/js/api.js";

const TIMEZONE = document.querySelector('meta[name="org-timezone"]')?.content || "UTC";
const LANG = document.documentElement.lang || "en";
const hm = new Intl.DateTimeFormat(LANG, { timeZone: TIMEZONE, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const fmt = (d) => (d ? hm.format(d) : "–");
const SHOWN = 100; // the newest alerts shown; the count says how many there are
const ORDER = { failed: 0, late: 1, off_route: 2, stale: 3, notice: 4 };

export class Alerts {
  constructor(list, none, count) {
    this.list = list;
    this.none = none;
    this.count = count;
    this.items = new Map(); // key -> {kind, text, at}
    this.changed = true;
  }

  clear() {
    this.items.clear();
    this.changed = true;
  }

  _set(key, kind, text) {
    const old = this.items.get(key);
    if (old && old.text === text) return;
    this.items.set(key, { kind, text, at: old?.at ?? Date.now() });
    this.changed = true;
  }

  resolve(key) {
    if (this.items.delete(key)) this.changed = true;
  }

  late(route, stop, startAt, windowEnd) {
    this._set(
      `late:${stop.key}`,
      "late",
      t("dashboard.alert_late", {
        vehicle: route.vehicleName,
        name: stop.name,
        time: fmt(startAt),
        end: fmt(windowEnd),
      }),
    );
  }

  resolveLate(stop) {
    this.resolve(`late:${stop.key}`);
  }

  failed(route, stop, reason) {
    // The failure reasons' words are shared with the driver app (texts/<lang>/common.json).
    const known = reason ? t(`common.reason_${reason}`) : "";
    const reasonText = () => (known && known !== `common.reason_${reason}` ? known : reason || "–");
    this._set(
      `failed:${stop.key}`,
      "failed",
      t("dashboard.alert_failed", { vehicle: route.vehicleName, name: stop.name, reason: reasonText(reason) }),
    );
  }

  offRoute(route, metres) {
    this._set(
      `off:${route.id}`,
      "off_route",
      t("dashboard.alert_off_route", { vehicle: route.vehicleName, distance: (metres / 1000).toFixed(1) }),
    );
  }

  stale(route, minutes, never) {
    const text = never
      ? t("dashboard.alert_no_fix", { vehicle: route.vehicleName })
      : t("dashboard.alert_stale", { vehicle: route.vehicleName, minutes });
    this._set(`stale:${route.id}`, "stale", text);
  }

  notice(text) {
    this._set(`notice:${Date.now()}`, "notice", text);
  }

  render() {
    if (!this.changed) return;
    this.changed = false;
    const sorted = [...this.items.values()].sort(
      (a, b) => ORDER[a.kind] - ORDER[b.kind] || b.at - a.at,
    );
    const items = sorted.slice(0, SHOWN).map((a) => {
      const li = document.createElement("li");
      li.className = `alert alert-${a.kind}`;
      li.textContent = a.text;
      return li;
    });
    this.list.replaceChildren(...items);
    this.none.hidden = sorted.length > 0;
    this.count.textContent = String(sorted.length);
  }
}
