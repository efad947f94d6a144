"""Pictures of a delivery day, as matplotlib :class:`~matplotlib.figure.Figure` objects.

Each function builds its own figure (no pyplot, no global state, safe in
threads and servers) and returns it; :func:`png` and :func:`svg` render one.

* :func:`route_map`: stops coloured by outcome, each vehicle's driven track
  (or its planned sequence when no position was recorded), the depots, over an
  optional road network.
* :func:`timeline`: one row per vehicle, planned and actual stops as bars,
  windows, lateness and failures.
* :func:`on_time_histogram`: when service started against the window's end.
* :func:`planned_vs_actual`: actual against planned arrival, per stop.
* :func:`eta_error_over_day`: ETA error against the time it was given, with the
  median and the middle half of the errors per half hour.

Colours are the Okabe-Ito palette (told apart with the common colour-vision
deficiencies), and outcomes also differ by marker shape. Time axes read local
clock time (``HH:MM``, seconds since the record's local midnight).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MultipleLocator

from lastmile.analytics.tables import clock
from lastmile.domain.day import DayRecord, StopOutcome, StopStatus

#: The Okabe-Ito palette.
BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#8C8C8C"
ROAD = "#D4D4D4"

#: Vehicle tracks: the palette's colours that no outcome uses, solid then dotted (a
#: track without positions, the planned order, is dashed). Beyond these, tracks repeat
#: and the legend names no vehicle.
TRACK_COLOURS = (BLUE, PURPLE, SKY_BLUE, BLACK, YELLOW)
TRACK_STYLES: tuple[tuple[str, Literal["-", ":"]], ...] = tuple(
    (colour, line) for line in ("-", ":") for colour in TRACK_COLOURS
)

#: Outcome of a stop: label, colour, marker.
ON_TIME = ("done", GREEN, "o")
LATE = ("done late", ORANGE, "s")
FAILED = ("failed", VERMILLION, "X")
NOT_REACHED = ("not reached", GREY, "^")
OUTCOMES = (ON_TIME, LATE, FAILED, NOT_REACHED)
#: Moved to another vehicle: drawn with that vehicle's stop, not here.
MOVED = ("moved", GREY, "")

OSM_ATTRIBUTION = "© OpenStreetMap contributors"
DPI = 100

Polyline = Sequence[tuple[float, float]]


def outcome(stop: StopOutcome) -> tuple[str, str, str]:
    """The outcome a stop is drawn as: ``ON_TIME``, ``LATE``, ``FAILED``, ``NOT_REACHED``
    or ``MOVED`` (not drawn: the vehicle it moved to draws it)."""
    if stop.status is StopStatus.MOVED:
        return MOVED
    if stop.status is StopStatus.FAILED:
        return FAILED
    if stop.status is StopStatus.NOT_REACHED:
        return NOT_REACHED
    return LATE if stop.on_time is False else ON_TIME


def _served_at(stop: StopOutcome) -> int | None:
    """When service started: ``start``, else ``arrival`` (``None``: never reached)."""
    return stop.start if stop.start is not None else stop.arrival


def _records(records: DayRecord | Iterable[DayRecord]) -> list[DayRecord]:
    return [records] if isinstance(records, DayRecord) else list(records)


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.grid(True, color="#E5E5E5", linewidth=0.6)
    ax.set_axisbelow(True)
    return fig, ax


def _nothing(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=GREY)


def _tz(records: Sequence[DayRecord]) -> str:
    zones = sorted({r.timezone for r in records})
    return ", ".join(zones) if zones else "local time"


def _clock_axis(axis: Axis, lo: float, hi: float) -> None:
    """Ticks every 15 min to 6 h (at most about 12 ticks), labelled ``HH:MM``."""
    span = max(hi - lo, 1.0)
    step = next((s for s in (900, 1800, 3600, 7200, 10800, 14400) if span / s <= 12), 21600)
    axis.set_major_locator(MultipleLocator(step))
    axis.set_major_formatter(FuncFormatter(lambda x, _pos: clock(x, with_seconds=False) or ""))


def _day_label(records: Sequence[DayRecord]) -> str:
    days = sorted({r.day for r in records})
    if not days:
        return "no day"
    if len(days) == 1:
        return days[0].isoformat()
    return f"{days[0].isoformat()} to {days[-1].isoformat()} ({len(days)} days)"


# -- route map --------------------------------------------------------------------------


def route_map(record: DayRecord, *, roads: Iterable[Polyline] | None = None) -> Figure:
    """Where the stops were and how they ended, each vehicle's track, the depots.

    ``roads``: polylines of ``(lon, lat)`` drawn underneath (e.g. the ways of
    a :mod:`lastmile.travel.network` extract); the map then credits
    OpenStreetMap. The view frames the stops, tracks and depots.
    """
    fig, ax = _figure(8.0, 8.0)
    ax.set_title(f"Routes on {record.day.isoformat()}: {len(record.stops)} stops")
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°N)")
    xs: list[float] = []
    ys: list[float] = []
    handles: list[object] = []

    by_vehicle: dict[str, list[tuple[int, float, float]]] = {}
    for p in record.positions:
        by_vehicle.setdefault(p.vehicle_id, []).append((p.t, p.lon, p.lat))
    many = len(record.routes) > len(TRACK_STYLES)
    for i, route in enumerate(record.routes):
        colour, solid = TRACK_STYLES[i % len(TRACK_STYLES)]
        track = sorted(by_vehicle.get(route.vehicle_id, ()))
        if len(track) >= 2:
            lons = [lon for _, lon, _ in track]
            lats = [lat for _, _, lat in track]
            style: Literal["-", ":", "--"] = solid
        else:
            # No positions: the planned sequence, straight from stop to stop.
            seq: list[tuple[int, float, float]] = sorted(
                (s.planned_arrival, s.lon, s.lat)
                for s in record.stops_of(route.vehicle_id)
                if s.lon is not None and s.lat is not None
            )
            lons = [lon for _, lon, _ in seq]
            lats = [lat for _, _, lat in seq]
            if route.depot_lon is not None and route.depot_lat is not None and seq:
                lons = [route.depot_lon, *lons, route.depot_lon]
                lats = [route.depot_lat, *lats, route.depot_lat]
            style = "--"
        if len(lons) < 2:
            continue
        ax.plot(lons, lats, style, color=colour, linewidth=1.4, alpha=0.75, zorder=2)
        xs += lons
        ys += lats
        if not many:
            label = route.vehicle_id + (" (planned order)" if style == "--" else "")
            handles.append(Line2D([], [], color=colour, linestyle=style, label=label))
    if many:
        handles.append(Line2D([], [], color=BLUE, label=f"{len(record.routes)} vehicles' tracks"))

    for label, colour, marker in OUTCOMES:
        pts = [
            (s.lon, s.lat)
            for s in record.stops
            if s.lon is not None and s.lat is not None and outcome(s)[0] == label
        ]
        if not pts:
            continue
        lon_a = [p[0] for p in pts]
        lat_a = [p[1] for p in pts]
        ax.scatter(
            lon_a,
            lat_a,
            s=36,
            c=colour,
            marker=marker,
            edgecolors="white",
            linewidths=0.6,
            zorder=4,
            label=f"{label} ({len(pts)})",
        )
        xs += lon_a
        ys += lat_a
    depots = sorted(
        {
            (r.depot_lon, r.depot_lat)
            for r in record.routes
            if r.depot_lon is not None and r.depot_lat is not None
        }
    )
    if depots:
        ax.scatter(
            [d[0] for d in depots],
            [d[1] for d in depots],
            s=140,
            c=BLACK,
            marker="*",
            zorder=5,
            label="depot",
        )
        xs += [d[0] for d in depots]
        ys += [d[1] for d in depots]

    drawn_roads = False
    if roads is not None:
        lines = [list(line) for line in roads if len(line) >= 2]
        if lines:
            ax.add_collection(LineCollection(lines, colors=ROAD, linewidths=0.6, zorder=1))
            drawn_roads = True
            if not xs:
                flat = np.asarray([pt for line in lines for pt in line], dtype=float)
                xs, ys = list(flat[:, 0]), list(flat[:, 1])
            fig.text(0.99, 0.005, OSM_ATTRIBUTION, ha="right", va="bottom", fontsize=8)

    if not xs:
        _nothing(ax, "no stop, track or depot has a position")
        return fig
    lo_x, hi_x, lo_y, hi_y = min(xs), max(xs), min(ys), max(ys)
    pad_x = max((hi_x - lo_x) * 0.05, 0.002)
    pad_y = max((hi_y - lo_y) * 0.05, 0.002)
    ax.set_xlim(lo_x - pad_x, hi_x + pad_x)
    ax.set_ylim(lo_y - pad_y, hi_y + pad_y)
    ax.set_aspect(1 / max(math.cos(math.radians((lo_y + hi_y) / 2)), 0.1), adjustable="box")
    handles = ax.get_legend_handles_labels()[0] + handles
    if drawn_roads:
        handles.append(Line2D([], [], color=ROAD, linewidth=1.5, label="roads"))
    ax.legend(handles=handles, loc="best", fontsize=8, framealpha=0.9)
    return fig


# -- timeline ------------------------------------------------------------------------------


def timeline(record: DayRecord) -> Figure:
    """One row per vehicle: planned stops (upper bars) and actual stops (lower
    bars, coloured by outcome), the time windows, lateness past the window and
    failed or unreached stops."""
    n = len(record.routes)
    fig, ax = _figure(11.0, min(2.2 + 0.55 * max(n, 1), 40.0))
    ax.set_title(f"Planned and actual stops per vehicle, {record.day.isoformat()}")
    ax.set_xlabel(f"time of day (HH:MM, {record.timezone})")
    ax.set_ylabel("vehicle")
    if not n:
        _nothing(ax, "no routes")
        return fig
    times: list[int] = []
    min_bar = 60
    for y, route in enumerate(record.routes):
        stops = record.stops_of(route.vehicle_id)
        ax.hlines(y - 0.2, route.planned_start, route.planned_end, color=SKY_BLUE, linewidth=0.8)
        times += [route.planned_start, route.planned_end]
        if route.actual_start is not None and route.actual_end is not None:
            ax.hlines(y + 0.2, route.actual_start, route.actual_end, color=BLUE, linewidth=0.8)
            times += [route.actual_start, route.actual_end]
        windows = [
            (s.window_start, s.window_end)
            for s in stops
            if s.window_start is not None and s.window_end is not None
        ]
        if windows:
            ax.hlines(
                [y] * len(windows),
                [w[0] for w in windows],
                [w[1] for w in windows],
                color=GREY,
                linewidth=2.0,
                alpha=0.25,
            )
        planned = [
            (s.planned_arrival, max(s.planned_departure - s.planned_arrival, min_bar))
            for s in stops
        ]
        ax.broken_barh(planned, (y - 0.38, 0.3), facecolors=SKY_BLUE, edgecolors="white")
        times += [s.planned_arrival for s in stops]
        for label, colour, _ in (ON_TIME, LATE):
            bars = [
                (arrival, max((s.departure or arrival) - arrival, min_bar))
                for s in stops
                if (arrival := s.arrival) is not None and outcome(s)[0] == label
            ]
            if bars:
                ax.broken_barh(bars, (y + 0.08, 0.3), facecolors=colour, edgecolors="white")
        late = [
            (end, served)
            for s in stops
            if s.lateness_s
            and (end := s.window_end) is not None
            and (served := _served_at(s)) is not None
        ]
        if late:
            ax.hlines(
                [y + 0.23] * len(late),
                [a for a, _ in late],
                [b for _, b in late],
                color=VERMILLION,
                linewidth=2.2,
            )
        failed = [
            a for s in stops if s.status is StopStatus.FAILED and (a := s.arrival) is not None
        ]
        if failed:
            ax.scatter(failed, [y + 0.23] * len(failed), marker="X", s=60, c=VERMILLION, zorder=4)
        missed = [s.planned_arrival for s in stops if s.status is StopStatus.NOT_REACHED]
        if missed:
            ax.scatter(
                missed,
                [y + 0.23] * len(missed),
                marker="^",
                s=40,
                facecolors="none",
                edgecolors=GREY,
                zorder=4,
            )
        times += [s.arrival for s in stops if s.arrival is not None]
        times += [s.departure for s in stops if s.departure is not None]
    ax.set_yticks(range(n))
    ax.set_yticklabels(
        [r.vehicle_id + (f"\n{r.driver_id}" if r.driver_id else "") for r in record.routes],
        fontsize=8,
    )
    ax.set_ylim(n - 0.5, -0.5)
    lo, hi = min(times), max(times)
    pad = max((hi - lo) * 0.02, 300)
    ax.set_xlim(lo - pad, hi + pad)
    _clock_axis(ax.xaxis, lo, hi)
    fig.legend(
        handles=[
            Patch(color=SKY_BLUE, label="planned stop"),
            Patch(color=GREEN, label="actual stop, on time"),
            Patch(color=ORANGE, label="actual stop, late"),
            Line2D([], [], color=VERMILLION, linewidth=2.2, label="lateness past the window"),
            Line2D([], [], color=VERMILLION, marker="X", linestyle="", label="failed"),
            Line2D(
                [],
                [],
                color=GREY,
                marker="^",
                markerfacecolor="none",
                linestyle="",
                label="not reached (planned time)",
            ),
            Line2D([], [], color=GREY, linewidth=3, alpha=0.35, label="time windows"),
        ],
        loc="outside lower center",
        ncol=4,
        fontsize=8,
        frameon=False,
    )
    return fig


# -- on-time histogram ---------------------------------------------------------------------


def on_time_histogram(records: DayRecord | Iterable[DayRecord]) -> Figure:
    """How long before or after its window closed each reached stop's service
    started, in minutes (stops without a window are left out)."""
    records = _records(records)
    fig, ax = _figure(8.0, 4.5)
    ax.set_xlabel("service start minus window end (min; negative: before the window closed)")
    ax.set_ylabel("stops")
    values = np.asarray(
        [
            (served - end) / 60
            for r in records
            for s in r.stops
            if s.lateness_s is not None
            and (end := s.window_end) is not None
            and (served := _served_at(s)) is not None
        ],
        dtype=float,
    )
    if not values.size:
        ax.set_title(f"On time, {_day_label(records)}")
        _nothing(ax, "no reached stop has a time window")
        return fig
    on_time = values <= 0
    ax.set_title(
        f"On time, {_day_label(records)}: {on_time.mean():.1%} of {values.size} reached "
        "stops with a window"
    )
    lo, hi = math.floor(min(values.min(), 0)), math.ceil(max(values.max(), 0))
    width = 5.0
    while (hi - lo) / width > 60:
        width *= 2
    edges = np.arange(math.floor(lo / width) * width, hi + width + 1e-9, width)
    if len(edges) < 2:
        edges = np.asarray([-width, 0.0, width])
    ax.hist(
        [values[on_time], values[~on_time]],
        bins=[float(e) for e in edges],
        stacked=True,
        color=[GREEN, VERMILLION],
        label=[f"on time ({on_time.sum()})", f"late ({(~on_time).sum()})"],
        edgecolor="white",
        linewidth=0.5,
    )
    ax.axvline(0, color=BLACK, linewidth=1.0, linestyle="--", label="window end")
    ax.legend(fontsize=8)
    return fig


# -- planned against actual ----------------------------------------------------------------


def planned_vs_actual(records: DayRecord | Iterable[DayRecord]) -> Figure:
    """Each reached stop's actual arrival against its planned one: points above
    the diagonal came later than planned."""
    records = _records(records)
    fig, ax = _figure(7.0, 7.0)
    tz = _tz(records)
    ax.set_title(f"Planned against actual arrival, {_day_label(records)}")
    ax.set_xlabel(f"planned arrival (HH:MM, {tz})")
    ax.set_ylabel(f"actual arrival (HH:MM, {tz})")
    stops = [(s, a) for r in records for s in r.stops if (a := s.arrival) is not None]
    if not stops:
        _nothing(ax, "no stop was reached")
        return fig
    for label, colour, marker in (ON_TIME, LATE, FAILED):
        pts = [(s.planned_arrival, a) for s, a in stops if outcome(s)[0] == label]
        if pts:
            ax.scatter(
                [p[0] for p in pts],
                [p[1] for p in pts],
                s=22,
                c=colour,
                marker=marker,
                alpha=0.8,
                edgecolors="white",
                linewidths=0.4,
                label=f"{label} ({len(pts)})",
            )
    values = [s.planned_arrival for s, _ in stops] + [a for _, a in stops]
    lo, hi = min(values), max(values)
    pad = max((hi - lo) * 0.03, 300)
    ax.plot(
        [lo - pad, hi + pad],
        [lo - pad, hi + pad],
        color=BLACK,
        linewidth=0.8,
        linestyle="--",
        label="as planned",
    )
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal")
    _clock_axis(ax.xaxis, lo, hi)
    _clock_axis(ax.yaxis, lo, hi)
    ax.legend(fontsize=8, loc="upper left")
    return fig


# -- ETA error over the day ----------------------------------------------------------------


def eta_error_over_day(records: DayRecord | Iterable[DayRecord], *, bin_s: int = 1800) -> Figure:
    """Each ETA's error (actual minus predicted arrival, minutes: positive came
    later than told) against the time it was given; per ``bin_s`` the median
    and the band from the 25th to the 75th percentile (bins of 3 samples or more)."""
    records = _records(records)
    fig, ax = _figure(9.0, 4.5)
    ax.set_xlabel(f"time the ETA was given (HH:MM, {_tz(records)})")
    ax.set_ylabel("ETA error (min; positive: later than predicted)")
    samples = [e for r in records for e in r.eta_samples]
    if not samples:
        ax.set_title(f"ETA error over the day, {_day_label(records)}")
        _nothing(ax, "no ETA samples")
        return fig
    t = np.asarray([e.asked_at for e in samples], dtype=float)
    err = np.asarray([e.actual_arrival - e.predicted_arrival for e in samples], dtype=float) / 60
    ax.set_title(
        f"ETA error over the day, {_day_label(records)}: mean absolute "
        f"{np.abs(err).mean():.1f} min over {err.size} ETAs"
    )
    ax.axhline(0, color=BLACK, linewidth=0.8)
    ax.scatter(t, err, s=6, c=SKY_BLUE, alpha=0.35, linewidths=0, label="one ETA")
    bins = np.floor(t / bin_s).astype(int)
    centres: list[float] = []
    q25: list[float] = []
    q50: list[float] = []
    q75: list[float] = []
    for b in np.unique(bins):
        chosen = err[bins == b]
        if chosen.size < 3:
            continue
        a, m, c = np.percentile(chosen, [25, 50, 75])
        centres.append((b + 0.5) * bin_s)
        q25.append(float(a))
        q50.append(float(m))
        q75.append(float(c))
    if centres:
        ax.fill_between(
            centres,
            q25,
            q75,
            color=BLUE,
            alpha=0.2,
            linewidth=0,
            label="middle half (25th to 75th percentile)",
        )
        ax.plot(
            centres,
            q50,
            color=BLUE,
            linewidth=2.0,
            marker="o",
            markersize=3,
            label=f"median per {bin_s // 60} min",
        )
    lo, hi = float(t.min()), float(t.max())
    pad = max((hi - lo) * 0.02, 300)
    ax.set_xlim(lo - pad, hi + pad)
    _clock_axis(ax.xaxis, lo, hi)
    spread = np.percentile(np.abs(err), 99)
    if spread > 0:
        ax.set_ylim(-spread * 1.15, spread * 1.15)
    ax.legend(fontsize=8, loc="upper left")
    return fig


# -- rendering -----------------------------------------------------------------------------


def png(fig: Figure, *, dpi: float | None = None) -> bytes:
    """The figure as PNG bytes (at the figure's own resolution unless ``dpi``)."""
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=dpi or fig.dpi)
    return out.getvalue()


def svg(fig: Figure) -> str:
    """The figure as an SVG document (text drawn as paths: it looks the same
    without the fonts)."""
    out = io.BytesIO()
    fig.savefig(out, format="svg")
    return out.getvalue().decode("utf-8")
