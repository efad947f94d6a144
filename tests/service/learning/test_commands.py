"""``lastmile learn`` on trace files: pings and stop events written as CSV, a profile out."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from lastmile import cli
from lastmile.travel.mapmatch import simulate_day, write_events_csv, write_pings_csv
from lastmile.travel.network import RoadNetwork
from lastmile.travel.time_dependent import TimeDependentModel
from lastmile.travel.traffic import TrafficProfile

MONACO = Path(__file__).resolve().parents[2] / "data" / "osm" / "monaco.osm.pbf"


def test_learn_from_files_writes_a_profile_the_traffic_option_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    network = RoadNetwork.from_pbf(MONACO, profile="car")
    base = TrafficProfile.default()
    truth = TrafficProfile(road_classes=base.road_classes, factors=base.factors * 0.7)
    pings, events = [], []
    rng = np.random.default_rng(2)
    for d in range(2):
        day = dt.datetime(2024, 3, 5 + d)
        model = TimeDependentModel(network, truth, epoch=day)
        nodes = model._largest_component()
        for v in range(2):
            stops = [int(x) for x in rng.choice(nodes, size=9, replace=False)]
            sim = simulate_day(model, stops, vehicle=f"{d}-{v}", interval_s=10.0, seed=d * 10 + v)
            pings += sim.pings
            events += sim.events
    write_pings_csv(tmp_path / "pings.csv", pings)
    write_events_csv(tmp_path / "events.csv", events)
    out = tmp_path / "learned.csv"
    args = ["learn", "--network", str(MONACO), "--positions", str(tmp_path / "pings.csv")]
    args += ["--events", str(tmp_path / "events.csv"), "-o", str(out)]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "traces: 4 vehicle(s)" in printed
    matched = int(printed.split("legs matched: ")[1].split(" ")[0])
    assert 28 <= matched <= 32  # 4 vans x 8 legs; a leg whose trace breaks is left out
    lines = {line.split(":")[0]: line for line in printed.splitlines()}
    before = float(lines["error before"].split("median ")[1].split(" s")[0])
    after = float(lines["error after"].split("median ")[1].split(" s")[0])
    assert after < 0.5 * before
    learned = TrafficProfile.from_csv(out)
    assert learned.factors.shape == base.factors.shape
    assert (learned.factors <= base.factors + 1e-9).mean() > 0.95
    # Bad input names what is wrong.
    assert cli.main(["learn", "--network", str(MONACO), "-o", str(out)]) == 2
    assert "--database-url" in capsys.readouterr().err
    bad = [*args[:5], "--events", str(tmp_path / "nowhere.csv"), "-o", str(out)]
    assert cli.main(bad) == 2
    assert "nowhere.csv" in capsys.readouterr().err
