"""One self-contained HTML page about one or several delivery days.

The page needs nothing but itself: the figures are PNG images embedded as
``data:`` URIs, the style sheet is inline, and it links to nothing outside, so
it opens offline, from a mail attachment or a shared folder alike.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import Iterable, Sequence

from matplotlib.figure import Figure

from lastmile import __version__
from lastmile.analytics import figures
from lastmile.analytics.display import MISSING, kpi_lines, labels_of
from lastmile.analytics.kpis import NONE, Grouping, Kpis, summarise
from lastmile.analytics.tables import clock
from lastmile.domain.day import DayRecord, StopStatus

#: Days beyond this many get no map and timeline of their own (the rest of the
#: report still covers them).
MAX_DAY_FIGURES = 7

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1180px; padding: 1.5rem; color: #1a1a1a; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 2px solid #0072B2; }
.meta { color: #555; margin-top: 0; }
nav a { margin-right: 1rem; color: #0072B2; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.9rem; margin: 0.6rem 0 1.2rem; }
th, td { padding: 0.25rem 0.7rem; border-bottom: 1px solid #ddd; text-align: right;
         white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f2f2f2; position: sticky; top: 0; }
td.text { text-align: left; white-space: normal; }
figure { margin: 1.2rem 0; } figure img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9rem; }
.none { color: #777; font-style: italic; }
footer { margin-top: 3rem; color: #777; font-size: 0.85rem; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _img(fig: Figure, alt: str) -> str:
    data = base64.b64encode(figures.png(fig)).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _figure(fig: Figure, alt: str, caption: str) -> str:
    return f"<figure>{_img(fig, alt)}<figcaption>{_e(caption)}</figcaption></figure>"


def _kpi_table(groups: list[Kpis], heading: str) -> str:
    """KPIs as rows, groups as columns."""
    labels = labels_of(groups)
    values = [dict(kpi_lines(k)) for k in groups]
    head = "".join(f"<th>{_e(k.group)}</th>" for k in groups)
    body = "".join(
        f"<tr><td>{_e(label)}</td>"
        + "".join(f"<td>{_e(v.get(label, MISSING))}</td>" for v in values)
        + "</tr>"
        for label in labels
    )
    return (
        f'<div class="scroll"><table><thead><tr><th>{_e(heading)}</th>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _table(header: Sequence[str], rows: Iterable[Sequence[object]], empty: str) -> str:
    rows = list(rows)
    if not rows:
        return f'<p class="none">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="text">{_e(c)}</td>' if i == len(r) - 1 else f"<td>{_e(c)}</td>"
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


_HOW_TO_READ = """
<ul>
<li><b>On time</b>: of the stops a driver reached (served or failed) that had a time window,
the share whose service started before the window closed. <b>Lateness</b> is how long after
the window closed it started (on-time stops count as 0 s). Stops never reached are counted
apart (<i>stops not reached</i>).</li>
<li><b>First-attempt success</b>: of the stops reached on their first attempt, the share
served. <b>Promises kept</b>: of the stops whose customer was told a range for the start of
service, the share whose service started inside it (a stop never reached breaks its
promise).</li>
<li><b>Cost</b> is counted as the planner counts it: fixed cost, plus cost per hour of driving
(of the whole route when waiting is paid), plus cost per km. <b>Per stop</b> figures divide the
actual day by the stops done.</li>
<li><b>ETA error</b>: actual minus predicted arrival of every ETA given during the day; positive
means customers were told too early a time. <b>Bias</b> is its mean, which should be near 0.</li>
<li><b>Peak load / capacity</b> and <b>route time / shift</b> say how full the vehicles and the
drivers' days were.</li>
<li>“—” marks a figure that has nothing to count (for example no stop with a window).</li>
<li>The <b>map</b> shows each stop coloured by how it ended and each vehicle's track (dashed:
its planned order, where no positions were recorded). The <b>timeline</b> shows per vehicle the
planned stops (upper, light blue) above the actual ones (lower, coloured by outcome), the open
time windows in grey and lateness in red. In the <b>scatter</b>, points above the diagonal came
later than planned. The <b>ETA error</b> figure shows each ETA and, per half hour, the median and
the middle half of the errors.</li>
</ul>
"""


def html_report(
    records: DayRecord | Iterable[DayRecord],
    *,
    title: str = "Delivery day report",
    roads: Iterable[Sequence[tuple[float, float]]] | None = None,
) -> str:
    """The whole report as one HTML document (a string; write it as UTF-8).

    It holds the key figures overall and per vehicle, driver, depot and day,
    the map and timeline of each day (up to :data:`MAX_DAY_FIGURES` days), the
    on-time histogram, the planned-against-actual scatter and the ETA error
    over the day, the unassigned orders with their reasons, the failed stops,
    the incidents, and how to read it all. ``roads`` (polylines of ``(lon,
    lat)``) are drawn under the maps.
    """
    records = [records] if isinstance(records, DayRecord) else list(records)
    records.sort(key=lambda r: r.day)
    road_lines = None if roads is None else [list(line) for line in roads]
    days = sorted({r.day for r in records})
    zones = sorted({r.timezone for r in records})
    sources = sorted({r.source for r in records if r.source})
    travels = sorted({r.travel for r in records if r.travel})

    parts: list[str] = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
    ]
    meta = [
        f"{len(days)} day{'s' if len(days) != 1 else ''}: "
        + (
            ", ".join(d.isoformat() for d in days)
            if len(days) <= 7
            else f"{days[0].isoformat()} to {days[-1].isoformat()}"
        )
        if days
        else "no day",
        f"times of day in {', '.join(zones)}" if zones else "",
        f"from {', '.join(sources)}" if sources else "",
        f"travel: {'; '.join(travels)}" if travels else "",
    ]
    parts.append(f'<p class="meta">{_e(" · ".join(m for m in meta if m))}</p>')
    parts.append(
        '<nav><a href="#kpis">Key figures</a><a href="#figures">Figures</a>'
        '<a href="#unassigned">Unassigned</a><a href="#failed">Failed stops</a>'
        '<a href="#incidents">Incidents</a><a href="#read">How to read this</a></nav>'
    )

    # Key figures.
    parts.append('<section id="kpis"><h2>Key figures</h2>')
    parts.append(_kpi_table(summarise(records), "overall"))
    groupings: tuple[tuple[Grouping, str], ...] = (
        ("vehicle", "per vehicle"),
        ("driver", "per driver"),
        ("depot", "per depot"),
        ("day", "per day"),
    )
    for by, heading in groupings:
        groups = summarise(records, by=by)
        if not groups or (by in ("driver", "depot") and all(g.group == NONE for g in groups)):
            continue
        if by == "day" and len(groups) < 2:
            continue
        parts.append(f"<h3>{_e(heading.capitalize())}</h3>")
        parts.append(_kpi_table(groups, heading))
    parts.append("</section>")

    # Figures.
    parts.append('<section id="figures"><h2>Figures</h2>')
    for record in records[:MAX_DAY_FIGURES]:
        day = record.day.isoformat()
        parts.append(
            _figure(
                figures.route_map(record, roads=road_lines),
                f"map of the routes on {day}",
                f"Routes on {day}: stops by outcome, tracks per vehicle, depots.",
            )
        )
        parts.append(
            _figure(
                figures.timeline(record),
                f"timeline per vehicle on {day}",
                f"{day}: planned (upper) and actual (lower) stops per vehicle.",
            )
        )
    if len(records) > MAX_DAY_FIGURES:
        parts.append(
            f'<p class="none">Maps and timelines are shown for the first {MAX_DAY_FIGURES} '
            f"days of {len(records)}; the figures below cover them all.</p>"
        )
    parts.append(
        _figure(
            figures.on_time_histogram(records),
            "histogram of service start against window end",
            "Service start against window end: left of the dashed line is on time.",
        )
    )
    parts.append(
        _figure(
            figures.planned_vs_actual(records),
            "scatter of planned against actual arrival",
            "Actual against planned arrival: above the diagonal is later than planned.",
        )
    )
    parts.append(
        _figure(
            figures.eta_error_over_day(records),
            "ETA error over the day",
            "ETA error against the time it was given, with the median per half hour.",
        )
    )
    parts.append("</section>")

    # Unassigned orders, failures, incidents.
    many = len(records) > 1
    parts.append('<section id="unassigned"><h2>Unassigned orders</h2>')
    parts.append(
        _table(
            (["day"] if many else []) + ["order", "code", "reason"],
            (
                ([r.day.isoformat()] if many else []) + [u.order_id, u.code, u.reason]
                for r in records
                for u in r.unassigned
            ),
            "Every order was assigned to a route.",
        )
    )
    parts.append('</section><section id="failed"><h2>Failed stops</h2>')
    parts.append(
        _table(
            (["day"] if many else []) + ["time", "vehicle", "order", "attempt", "reason"],
            (
                ([r.day.isoformat()] if many else [])
                + [
                    clock(s.arrival, with_seconds=False),
                    s.vehicle_id,
                    s.order_id,
                    s.attempt,
                    s.failure_reason or "not given",
                ]
                for r in records
                for s in r.stops
                if s.status is StopStatus.FAILED
            ),
            "No stop failed.",
        )
    )
    parts.append('</section><section id="incidents"><h2>Incidents</h2>')
    parts.append(
        _table(
            (["day"] if many else []) + ["time", "kind", "vehicle", "order", "what happened"],
            (
                ([r.day.isoformat()] if many else [])
                + [
                    clock(x.t, with_seconds=False),
                    x.kind,
                    x.vehicle_id or "",
                    x.order_id or "",
                    x.detail,
                ]
                for r in records
                for x in sorted(r.incidents, key=lambda i: i.t)
            ),
            "No incident was recorded.",
        )
    )
    parts.append("</section>")
    parts.append(f'<section id="read"><h2>How to read this</h2>{_HOW_TO_READ}</section>')
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    footer = f"Made by lastmile {__version__} on {generated}."
    if road_lines:
        footer += f" Map data {figures.OSM_ATTRIBUTION}."
    parts.append(f"<footer>{_e(footer)}</footer></body></html>\n")
    return "\n".join(parts)
