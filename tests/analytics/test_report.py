"""html_report: one page that needs nothing but itself, with the figures and the numbers."""

from __future__ import annotations

import re

from lastmile.analytics.report import html_report
from lastmile.domain import DayRecord

ROADS = [[(24.94, 60.17), (24.96, 60.18), (24.98, 60.16)]]


def _assert_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", page)
    assert refs, "the page has images and internal links"
    for ref in refs:
        assert ref.startswith(("data:", "#")), ref
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "<script" not in page and "@import" not in page


def test_the_report_is_self_contained_and_has_everything(day: DayRecord) -> None:
    page = html_report(day, title="Tuesday <north>", roads=ROADS)
    _assert_self_contained(page)
    assert "<title>Tuesday &lt;north&gt;</title>" in page
    assert page.count('src="data:image/png;base64,') == 5
    # The key figures, as worked out by hand in conftest.
    for text in ("66.7%", "480 s", "21,100.00", "75.0%", "33.3%", "80.0%", "-40 s"):
        assert text in page, text
    assert "Per vehicle" in page and "Per driver" in page and "Per depot" in page
    # Unassigned, failures, incidents, how to read.
    assert "o9" in page and "no vehicle can carry 400 kg" in page
    assert "customer absent" in page
    assert "Mannerheimintie closed" in page and "09:00" in page
    assert "How to read this" in page
    assert "© OpenStreetMap contributors" in page


def test_several_days(fleet: list[DayRecord]) -> None:
    page = html_report(fleet)
    _assert_self_contained(page)
    # A map and a timeline per day, and the three figures over both days.
    assert page.count('src="data:image/png;base64,') == 2 * 2 + 3
    assert "Per day" in page and "2026-12-09" in page
    assert "OpenStreetMap" not in page


def test_an_empty_day(fleet: list[DayRecord]) -> None:
    import dataclasses

    page = html_report(dataclasses.replace(fleet[0], routes=(), stops=(), eta_samples=()))
    _assert_self_contained(page)
    assert "Every order was assigned" in page and "No incident" in page
