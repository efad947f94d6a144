// The timeline (a Gantt chart): one row per vehicle, each stop's service as a bar
// over its time window (a band), breaks and reloads, stops predicted late marked,
// and a line for now. Positions are percentages of the day's span, so the chart
// follows the page's width without being drawn again; a stop's change of status
// only changes the class of its bar.
import { t } from "/static/js/api.js";

export class Timeline {
  constructor(element, format, now = Date.now) {
    this.element = element;
    this.format = format; // Date -> "HH:MM" in the organisation's zone
    this.now = now; // the service's time now, in ms since the epoch
    this.bars = new Map(); // stop key -> bar element
    this.lateMarks = new Map(); // stop key -> mark element
    this.span = null;
  }

  _x(date) {
    const { from, to } = this.span;
    return `${(((date - from) / (to - from)) * 100).toFixed(3)}%`;
  }

  _w(start, end) {
    const { from, to } = this.span;
    return `${Math.max(0.15, ((end - start) / (to - from)) * 100).toFixed(3)}%`;
  }

  render(routes) {
    this.bars.clear();
    this.lateMarks.clear();
    this.element.replaceChildren();
    if (routes.length === 0) return;
    let from = Infinity, to = -Infinity;
    for (const r of routes) {
      from = Math.min(from, r.startAt.getTime());
      to = Math.max(to, r.endAt.getTime());
    }
    // Whole hours around the routes.
    const hour = 3_600_000;
    from = Math.floor(from / hour) * hour;
    to = Math.max(from + hour, Math.ceil(to / hour) * hour);
    this.span = { from, to };

    const chart = document.createElement("div");
    chart.className = "chart";
    chart.append(this._axis());
    for (const route of routes) chart.append(this._row(route));
    const now = document.createElement("div");
    now.className = "now";
    now.setAttribute("aria-hidden", "true");
    now.title = t("dashboard.timeline_now");
    this.nowLine = now;
    chart.append(now);
    this.element.append(chart);
    this.tick();
  }

  _axis() {
    const axis = document.createElement("div");
    axis.className = "row axis";
    axis.setAttribute("aria-hidden", "true");
    const head = document.createElement("div");
    head.className = "head";
    const track = document.createElement("div");
    track.className = "track";
    for (let at = this.span.from; at <= this.span.to; at += 3_600_000) {
      const mark = document.createElement("span");
      mark.className = "hour";
      mark.style.left = this._x(new Date(at));
      mark.textContent = this.format(new Date(at));
      track.append(mark);
    }
    axis.append(head, track);
    return axis;
  }

  _row(route) {
    const row = document.createElement("div");
    row.className = "row";
    row.dataset.routeId = route.id;
    const head = document.createElement("div");
    head.className = "head";
    const name = document.createElement("strong");
    name.textContent = route.vehicleName;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = route.colour;
    name.prepend(swatch);
    const driver = document.createElement("span");
    driver.className = "driver";
    driver.textContent = route.driverName
      ? t("dashboard.timeline_driver", { driver: route.driverName })
      : t("dashboard.timeline_no_driver");
    const status = document.createElement("span");
    status.className = "route-status";
    status.textContent = t(`dashboard.live_status_route_${route.status}`);
    route.statusElement = status;
    head.append(name, driver, status);

    const track = document.createElement("div");
    track.className = "track";
    track.setAttribute("role", "img");
    track.setAttribute(
      "aria-label",
      `${route.vehicleName}: ${t("dashboard.timeline_summary", {
        stops: route.stops.length,
        start: this.format(route.startAt),
        end: this.format(route.endAt),
      })}`,
    );
    const span = document.createElement("div");
    span.className = "span";
    span.style.left = this._x(route.startAt);
    span.style.width = this._w(route.startAt, route.endAt);
    span.style.borderColor = route.colour;
    track.append(span);
    for (const other of route.others) {
      const bar = document.createElement("div");
      bar.className = `bar ${other.kind}`;
      bar.style.left = this._x(other.start);
      bar.style.width = this._w(other.start, other.end);
      bar.title = t(`dashboard.timeline_${other.kind}`, {
        start: this.format(other.start),
        end: this.format(other.end),
      });
      track.append(bar);
    }
    for (const stop of route.stops) {
      for (const w of stop.windows) {
        const band = document.createElement("div");
        band.className = "window";
        band.style.left = this._x(w.start);
        band.style.width = this._w(w.start, w.end);
        track.append(band);
      }
    }
    for (const stop of route.stops) {
      const bar = document.createElement("div");
      bar.dataset.key = stop.key;
      bar.style.left = this._x(stop.start);
      bar.style.width = this._w(stop.start, stop.end);
      this.bars.set(stop.key, bar);
      track.append(bar);
      this.update(stop);
    }
    row.append(head, track);
    route.trackElement = track;
    return row;
  }

  // A stop's status or lateness changed.
  update(stop) {
    const bar = this.bars.get(stop.key);
    if (!bar) return;
    bar.className = `bar stop status-${stop.display}`;
    const windows = stop.windows
      .map((w) => t("dashboard.timeline_window", { start: this.format(w.start), end: this.format(w.end) }))
      .join(", ");
    let title = t("dashboard.timeline_stop", {
      name: stop.name,
      start: this.format(stop.start),
      end: this.format(stop.end),
    });
    if (windows) title += `; ${windows}`;
    if (stop.display === "late" && stop.predictedStart) {
      title += `; ${t("dashboard.timeline_late", { time: this.format(stop.predictedStart) })}`;
    }
    bar.title = title;
    let mark = this.lateMarks.get(stop.key);
    if (stop.display === "late" && stop.predictedStart && this.span) {
      if (!mark) {
        mark = document.createElement("div");
        mark.className = "late-mark";
        this.lateMarks.set(stop.key, mark);
        bar.parentElement?.append(mark);
      }
      mark.style.left = this._x(stop.predictedStart);
    } else if (mark) {
      mark.remove();
      this.lateMarks.delete(stop.key);
    }
  }

  updateRoute(route) {
    if (route.statusElement) {
      route.statusElement.textContent = t(`dashboard.live_status_route_${route.status}`);
    }
  }

  // Moves the line for now (called every half minute).
  tick() {
    if (!this.nowLine || !this.span) return;
    const now = this.now();
    const inside = now >= this.span.from && now <= this.span.to;
    this.nowLine.hidden = !inside;
    if (inside) {
      // The line spans the tracks: offset by the head column (CSS variable).
      this.nowLine.style.setProperty("--at", ((now - this.span.from) / (this.span.to - this.span.from)).toFixed(5));
    }
  }
}
