"""The figures render, at their size, with titles, units, clock times and legends."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from PIL import Image

from lastmile.analytics import figures
from lastmile.domain import DayRecord

EMPTY = DayRecord(day=dt.date(2026, 12, 8), timezone="UTC", routes=(), stops=())
CLOCK = re.compile(r"^\d\d:\d\d$")


def _ticks(fig: Figure, axis: str = "x") -> list[str]:
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [t.get_text() for t in labels if t.get_text()]


def _all(day: DayRecord) -> dict[str, Figure]:
    return {
        "route_map": figures.route_map(day),
        "timeline": figures.timeline(day),
        "on_time_histogram": figures.on_time_histogram(day),
        "planned_vs_actual": figures.planned_vs_actual([day]),
        "eta_error_over_day": figures.eta_error_over_day([day]),
    }


def test_every_figure_renders_at_its_size_with_labels_and_legend(day: DayRecord) -> None:
    for name, fig in _all(day).items():
        data = figures.png(fig)
        assert data.startswith(b"\x89PNG"), name
        width, height = fig.get_size_inches() * fig.dpi
        assert Image.open(io.BytesIO(data)).size == (round(width), round(height)), name
        ax = fig.axes[0]
        assert ax.get_title(), name
        assert ax.get_xlabel() and ax.get_ylabel(), name
        assert ax.get_legend() is not None or fig.legends, name


def test_time_axes_read_clock_times_with_their_unit(day: DayRecord) -> None:
    for fig in (figures.timeline(day), figures.eta_error_over_day(day)):
        assert "HH:MM" in fig.axes[0].get_xlabel()
        ticks = _ticks(fig)
        assert ticks and all(CLOCK.match(t) for t in ticks), ticks
    scatter = figures.planned_vs_actual(day)
    assert all(CLOCK.match(t) for t in _ticks(scatter, "y"))
    assert "min" in figures.on_time_histogram(day).axes[0].get_xlabel()


def test_the_histogram_counts_on_time_and_late(day: DayRecord) -> None:
    ax = figures.on_time_histogram(day).axes[0]
    assert "66.7%" in ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "on time (2)" in labels and "late (1)" in labels
    heights = sum(p.get_height() for p in ax.patches)
    assert heights == 3


def test_the_map_shows_outcomes_depot_and_tracks(day: DayRecord) -> None:
    fig = figures.route_map(day)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    for label in ("done (3)", "done late (1)", "failed (1)", "not reached (1)", "depot", "van-1"):
        assert label in labels
    assert not fig.texts  # no roads: no attribution


def test_roads_are_drawn_under_and_credited(day: DayRecord) -> None:
    roads = [[(24.94, 60.17), (24.96, 60.18), (24.98, 60.16)], [(24.95, 60.16), (24.97, 60.18)]]
    fig = figures.route_map(day, roads=iter(roads))
    assert [t.get_text() for t in fig.texts] == ["© OpenStreetMap contributors"]
    ax = fig.axes[0]
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(lines.get_segments()) == 2
    assert lines.get_zorder() < min(c.get_zorder() for c in ax.collections if c is not lines)


def test_without_positions_the_map_draws_the_planned_order(day: DayRecord) -> None:
    import dataclasses

    fig = figures.route_map(dataclasses.replace(day, positions=()))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "van-1 (planned order)" in labels


def test_eta_error_draws_the_median_band() -> None:
    from lastmile.domain import EtaSample, RouteOutcome

    samples = tuple(
        EtaSample(f"o{i}", "v", 8 * 3600 + 60 * i, 10 * 3600, 10 * 3600 + 30 * (i % 5))
        for i in range(60)
    )
    record = DayRecord(
        day=dt.date(2026, 12, 8), timezone="UTC",
        routes=(RouteOutcome("v", 0, 0, 0, 0),), stops=(), eta_samples=samples,
    )  # fmt: skip
    ax = figures.eta_error_over_day(record).axes[0]
    median = [line for line in ax.get_lines() if line.get_label().startswith("median")]
    assert median and len(median[0].get_xdata()) == 2  # two half hours of samples
    # Errors 0, 30, 60, 90, 120 s, evenly: the median is 60 s, 1 minute.
    assert list(median[0].get_ydata()) == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize(
    "draw",
    [
        figures.route_map,
        figures.timeline,
        figures.on_time_histogram,
        figures.planned_vs_actual,
        figures.eta_error_over_day,
    ],
)
def test_an_empty_day_draws_an_empty_figure(draw: object) -> None:
    fig = draw(EMPTY)  # type: ignore[operator]
    assert figures.png(fig).startswith(b"\x89PNG")
    assert fig.axes[0].get_title()


def test_svg(day: DayRecord) -> None:
    text = figures.svg(figures.timeline(day))
    assert text.lstrip().startswith("<?xml") and "<svg" in text and "</svg>" in text
