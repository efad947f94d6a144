"""Arrival and departure detection from GPS fixes (lastmile.operations.arrival).

Stops sit on a line running east from (2.35, 48.85); positions are given in
metres east (and north) of the origin, converted here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lastmile.exceptions import InputError
from lastmile.operations.arrival import (
    ArrivalDetector,
    ArrivalSettings,
    Detection,
    DetectorState,
    Fix,
    GeoStop,
    Movement,
    Report,
    distance_m,
)

LON0, LAT0 = 2.35, 48.85
M_PER_DEG = 111_320.0


def at(east: float, north: float = 0.0) -> tuple[float, float]:
    lat = LAT0 + north / M_PER_DEG
    lon = LON0 + east / (M_PER_DEG * math.cos(math.radians(LAT0)))
    return lon, lat


def stop(seq: int, east: float, north: float = 0.0) -> GeoStop:
    lon, lat = at(east, north)
    return GeoStop(seq, lon, lat)


def fix(t: float, east: float, north: float = 0.0, accuracy: float | None = None) -> Fix:
    lon, lat = at(east, north)
    return Fix(t, lon, lat, accuracy)


def drive(t0: float, east0: float, east1: float, speed: float, every: float = 10.0) -> list[Fix]:
    """Fixes every ``every`` s driving from east0 to east1 at ``speed`` m/s (end excluded)."""
    out = []
    n = int(abs(east1 - east0) / speed / every)
    for k in range(n):
        out.append(fix(t0 + k * every, east0 + math.copysign(speed * k * every, east1 - east0)))
    return out


def park(t0: float, t1: float, east: float, every: float = 10.0) -> list[Fix]:
    return [fix(t, east) for t in np.arange(t0, t1, every)]


def kinds(found: list[Detection]) -> list[tuple[str, int]]:
    return [(d.kind.value, d.sequence) for d in found]


def test_distance_is_metres() -> None:
    a, b = at(0), at(1000)
    assert distance_m(*a, *b) == pytest.approx(1000, rel=3e-3)  # the helper's 111,320 m/degree


def test_clean_arrival_and_departure() -> None:
    det = ArrivalDetector([stop(1, 1000), stop(2, 3000)])
    fixes = drive(0, 0, 1000, 10) + park(100, 400, 1000) + drive(400, 1000, 3000, 10)
    found = det.feed_all(fixes)
    assert kinds(found) == [("arrived", 1), ("departed", 1)]
    arrived, departed = found
    # Dated at the first fix inside the circle, settled after the dwell time.
    assert 90 <= arrived.at <= 100
    assert arrived.decided_at - arrived.at >= det.settings.dwell_s
    assert arrived.decided_at <= 100 + 40
    assert 400 < departed.at <= 420


def test_noisy_jitter_arrives_once_and_leaves_once() -> None:
    rng = np.random.default_rng(3)
    det = ArrivalDetector([stop(1, 1000), stop(2, 3000)])
    fixes = drive(0, 0, 1000, 10)
    # Parked 10 minutes with 20 m of noise: fixes wander around the edge of the circle.
    for t in np.arange(100, 700, 10):
        east, north = rng.normal(0, 20, 2)
        fixes.append(fix(t, 1000 + east, north, accuracy=20))
    fixes.append(fix(400, 1000 + 900, 0))  # a jump of 900 m in 10 s: ignored
    fixes.sort(key=lambda f: f.t)
    fixes += drive(700, 1000, 3000, 10)
    found = det.feed_all(fixes)
    assert kinds(found) == [("arrived", 1), ("departed", 1)]
    assert found[1].at > 700


def test_inaccurate_fixes_are_ignored() -> None:
    det = ArrivalDetector([stop(1, 0)], ArrivalSettings(max_accuracy_m=50))
    found = det.feed_all([fix(t, 0, accuracy=80) for t in range(0, 300, 10)])
    assert found == []
    assert det.feed_all([fix(t, 0, accuracy=10) for t in range(300, 360, 10)])


def test_driving_past_without_stopping_is_no_arrival() -> None:
    det = ArrivalDetector([stop(1, 1000), stop(2, 3000)])
    # 8 m/s (29 km/h) straight past stop 1 with a fix every 5 s.
    found = det.feed_all(drive(0, 0, 2500, 8, every=5))
    assert found == []
    # Then it stops at stop 2: the arrival is stop 2's, out of order.
    found = det.feed_all(drive(320, 2500, 3000, 8, every=5) + park(390, 480, 3000))
    assert kinds(found) == [("arrived", 2)]


def test_close_neighbours_only_the_next_expected_stops_count() -> None:
    # Stop 1 and stop 9 share a building; stop 9 comes last on the route.
    stops = [stop(1, 1000), stop(2, 2000), stop(3, 3000), stop(4, 4000), stop(9, 1010)]
    det = ArrivalDetector(stops, ArrivalSettings(lookahead=3))
    found = det.feed_all(park(0, 200, 1005))
    assert kinds(found) == [("arrived", 1)]  # not 9: not among the next three
    # The driver finishes stop 1 and stays: stop 9 is still not a candidate.
    assert det.report(1, Report.FINISHED, 200) == []
    assert kinds(det.feed_all(park(210, 400, 1005))) == []


def test_two_customers_in_one_building() -> None:
    det = ArrivalDetector([stop(1, 1000), stop(2, 1020), stop(3, 3000)])
    found = det.feed_all(park(0, 300, 1010))
    assert kinds(found) == [("arrived", 1)]  # the first expected; the vehicle is busy there
    # The driver finishes stop 1 at 300 and walks next door: stop 2 is arrived then.
    found = det.report(1, Report.FINISHED, 300)
    assert kinds(found) == [("arrived", 2)]
    assert found[0].at == 300
    found = det.feed_all(park(310, 500, 1010) + drive(500, 1010, 3000, 10))
    assert kinds(found) == [("departed", 1), ("departed", 2)]


def test_a_neighbour_inside_the_departure_circle_is_reached_without_reports() -> None:
    """No driver reports: stop 2 is 80 m from stop 1, inside its departure circle, so
    the vehicle never departs stop 1 by the circle; it has clearly moved over."""
    det = ArrivalDetector([stop(1, 1000), stop(2, 1080), stop(3, 3000)])
    found = det.feed_all(drive(0, 0, 1000, 10) + park(100, 400, 1000))
    assert kinds(found) == [("arrived", 1)]
    rng = np.random.default_rng(7)
    # Standing at stop 1 with noise: never taken for stop 2.
    jitter = [fix(400 + 30 * k, 1000 + rng.normal(0, 15), rng.normal(0, 15)) for k in range(60)]
    assert kinds(det.feed_all(jitter)) == []
    # It moves to stop 2 and stays there (fixes every 30 s).
    found = det.feed_all(park(2200, 2600, 1078, every=30))
    assert kinds(found) == [("departed", 1), ("arrived", 2)]
    assert [d.at for d in found] == [2200, 2200] and found[1].decided_at == 2230
    found = det.feed_all(drive(2600, 1080, 3000, 10))
    assert kinds(found) == [("departed", 2)]


def test_a_driver_at_an_unfinished_stop_next_door_holds_it() -> None:
    """Two customers 20 m apart: fixes between them never move the vehicle over."""
    det = ArrivalDetector([stop(1, 1000), stop(2, 1020)])
    assert kinds(det.feed_all(park(0, 100, 1000))) == [("arrived", 1)]
    assert kinds(det.feed_all(park(100, 900, 1020))) == []


def test_a_fix_around_the_edge_confirms_a_stay_begun_inside() -> None:
    """Fixes every 30 s, accurate to 5 m: the second, 70 m off, is not clearly outside
    (95 m): the vehicle is there, arrived at the first fix."""
    det = ArrivalDetector([stop(1, 1000), stop(2, 3000)])
    det.feed_all(drive(0, 0, 900, 10))
    found = det.feed_all([fix(100, 1010, accuracy=5), fix(130, 1000, 70, accuracy=5)])
    assert kinds(found) == [("arrived", 1)]
    assert (found[0].at, found[0].decided_at) == (100, 130)
    # Clearly outside (100 m) after one fix inside: no arrival, the stay ends.
    det = ArrivalDetector([stop(1, 1000), stop(2, 3000)])
    far = [fix(100, 1010, accuracy=5), fix(130, 1000, 100, accuracy=5)]
    assert kinds(det.feed_all([*far, fix(160, 1000, 100, accuracy=5)])) == []
    # Passing: inside, then 30 s later at the edge on the far side, too far to be noise.
    det = ArrivalDetector([stop(1, 1000), stop(2, 3000)])
    passing = [fix(100, 955, accuracy=5), fix(130, 1070, accuracy=5)]
    assert kinds(det.feed_all(passing)) == []


def test_a_fix_without_accuracy_is_as_noisy_as_a_phones() -> None:
    """No accuracy reported: 70 m off is inside the 60 m geofence for a 15 m fix."""
    det = ArrivalDetector([stop(1, 1000), stop(2, 3000)])
    det.feed_all(drive(0, 0, 900, 10))
    found = det.feed_all([fix(100, 1000, 70), fix(130, 1010, 68)])
    assert kinds(found) == [("arrived", 1)] and found[0].at == 100
    det = ArrivalDetector([stop(1, 1000), stop(2, 3000)])
    det.feed_all(drive(0, 0, 900, 10))
    exact = [fix(100, 1000, 70, accuracy=1), fix(130, 1010, 68, accuracy=1)]
    assert kinds(det.feed_all(exact)) == []


def test_what_the_driver_reported_is_not_detected_again() -> None:
    det = ArrivalDetector([stop(1, 1000), stop(2, 3000)])
    det.feed_all(drive(0, 0, 1000, 10))
    assert det.report(1, Report.ARRIVED, 95) == []
    found = det.feed_all(park(100, 300, 1000))
    assert found == []  # pressed already
    # Its departure is still seen (the driver pressed arrived, not departed).
    found = det.feed_all(drive(300, 1000, 3000, 10))
    assert kinds(found) == [("departed", 1)]
    # A departure the driver reports is not detected.
    det.feed_all(park(500, 600, 3000))
    det.report(2, Report.DEPARTED, 600)
    assert det.feed_all(drive(600, 3000, 5000, 10)) == []


def test_finished_stop_is_not_a_candidate() -> None:
    det = ArrivalDetector([stop(1, 1000), stop(2, 3000)])
    det.report(1, Report.FINISHED, 0)  # delivered from afar (e.g. a locker)
    assert det.feed_all(park(10, 300, 1000)) == []


def test_old_fixes_are_ignored() -> None:
    det = ArrivalDetector([stop(1, 1000)])
    det.feed(fix(500, 0))
    assert det.feed_all(park(0, 400, 1000)) == []


def test_state_round_trips_through_json() -> None:
    stops = [stop(1, 1000), stop(2, 3000)]
    fixes = drive(0, 0, 1000, 10) + park(100, 400, 1000) + drive(400, 1000, 3000, 10)
    whole = ArrivalDetector(stops).feed_all(fixes)
    pieces: list[Detection] = []
    state = None
    for k in range(0, len(fixes), 7):
        det = ArrivalDetector(stops, state=DetectorState.from_json(state))
        pieces += det.feed_all(fixes[k : k + 7])
        state = det.state.to_json()
    assert pieces == whole
    assert [d.kind for d in whole] == [Movement.ARRIVED, Movement.DEPARTED]


@pytest.mark.parametrize(
    ("field", "value"),
    [("radius_m", 0), ("dwell_s", -1), ("lookahead", 0), ("exit_radius_m", 10.0)],
)
def test_bad_settings_name_the_field(field: str, value: float) -> None:
    with pytest.raises(InputError, match=field):
        ArrivalSettings(**{field: value})


def test_fixes_that_keep_disagreeing_with_a_jump_are_believed() -> None:
    # The first fix is far off; the ones after it agree with each other: they win.
    det = ArrivalDetector([stop(1, 1000), stop(2, 3000)])
    assert det.feed(fix(0, 1000)) == []
    found = det.feed_all(park(1, 200, 3000))
    assert kinds(found) == [("arrived", 2)]


def test_a_stay_with_a_long_silence_is_forgotten() -> None:
    det = ArrivalDetector([stop(1, 1000)], ArrivalSettings(max_gap_s=300))
    assert det.feed(fix(0, 1000)) == []
    # Half an hour without a fix, then one at the door: it starts a new stay.
    assert det.feed(fix(1800, 1000)) == []
    assert kinds(det.feed(fix(1830, 1000))) == [("arrived", 1)]


def test_crawling_through_in_traffic_is_no_arrival() -> None:
    # 4 m/s (14 km/h) past stop 1: 30 s inside its circle, over six fixes, never stopped.
    det = ArrivalDetector([stop(1, 1000), stop(2, 3000)])
    assert det.feed_all(drive(0, 800, 1300, 4, every=5)) == []
    # Without the speed rule the same fixes would be an arrival.
    lax = ArrivalDetector([stop(1, 1000), stop(2, 3000)], ArrivalSettings(max_stay_speed_mps=50))
    assert kinds(lax.feed_all(drive(0, 800, 1300, 4, every=5)))[0] == ("arrived", 1)
