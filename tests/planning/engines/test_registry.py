"""The registry builds engines with their options; support follows the declared
capabilities; docs/engines.md shows the capabilities the engines actually declare."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lastmile.domain import (
    Break,
    Depot,
    Location,
    Order,
    OrderKind,
    Stop,
    TimeWindow,
    Vehicle,
    VehicleType,
)
from lastmile.exceptions import UnknownEngine, UnsupportedConstraint
from lastmile.planning.engines import (
    REGISTRY,
    BaseEngine,
    capability_table,
    capable_engines,
    engine_options,
    get_engine,
)
from lastmile.planning.problem import Feature, PlanningProblem, TravelMatrix

DOC = Path(__file__).resolve().parents[3] / "docs" / "engines.md"


def problem(vehicle: Vehicle | None = None) -> PlanningProblem:
    m = np.array([[0, 100], [100, 0]], dtype=np.int64)
    return PlanningProblem(
        locations=(Location(0.0, 0.0, planar=True), Location(1.0, 0.0, planar=True)),
        matrices={"car": TravelMatrix(m, m * 10)},
        depots=(Depot("d", 0),),
        vehicles=(vehicle or Vehicle("v", VehicleType("t", (10,))),),
        orders=(Order("a", OrderKind.DELIVERY, delivery=Stop(1), amount=(1,)),),
        dimensions=("kg",),
    )


def with_breaks() -> PlanningProblem:
    lunch = Break("lunch", (TimeWindow(0, 100),), 30)
    return problem(Vehicle("v", VehicleType("t", (10,)), breaks=(lunch,)))


def test_capability_table_in_docs_is_current() -> None:
    assert capability_table() in DOC.read_text()


def test_every_feature_is_honoured_by_some_engine() -> None:
    covered = frozenset().union(*(get_engine(n).capabilities for n in REGISTRY))
    assert covered == frozenset(Feature)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_registered_engines_are_base_engines_under_their_name(name: str) -> None:
    engine = get_engine(name)
    assert isinstance(engine, BaseEngine)
    assert engine.name == name


def test_options_are_passed_to_the_engine() -> None:
    assert engine_options("vroom") == (
        "nb_threads",
        "exploration_level",
        "aim_share",
        "stoppable",
        "construct_only",
    )
    vroom = get_engine("vroom", nb_threads=1, aim_share=0.5)
    assert (vroom.nb_threads, vroom.aim_share) == (1, 0.5)  # type: ignore[attr-defined]
    assert get_engine("pyvrp", prize_collecting=False).prize_collecting is False  # type: ignore[attr-defined]
    ortools = get_engine("ortools", metaheuristic="TABU_SEARCH")
    assert ortools.metaheuristic == "TABU_SEARCH"  # type: ignore[attr-defined]


def test_an_unknown_option_is_a_type_error_naming_the_options() -> None:
    with pytest.raises(TypeError, match=r"engine 'vroom' has no option 'threads'.*nb_threads"):
        get_engine("vroom", threads=2)
    with pytest.raises(TypeError, match="'ortools' has no option 'prize_collecting'"):
        get_engine("ortools", prize_collecting=True)


def test_option_values_are_checked_by_the_engine() -> None:
    with pytest.raises(ValueError, match="nb_threads"):
        get_engine("vroom", nb_threads=0)


def test_an_unknown_engine_is_named() -> None:
    with pytest.raises(UnknownEngine, match="unknown engine 'gurobi'"):
        get_engine("gurobi")


@pytest.mark.parametrize("name", list(REGISTRY))
def test_supports_follows_the_capabilities(name: str) -> None:
    engine = get_engine(name)
    assert engine.supports(problem()) is None
    if Feature.BREAKS in engine.capabilities:
        assert engine.supports(with_breaks()) is None
    else:
        reason = engine.supports(with_breaks())
        assert reason is not None and "breaks" in reason


def test_supports_includes_what_the_capabilities_cannot_say() -> None:
    # PyVRP models max_tasks and reloads, but not both together.
    vt = VehicleType("t", (10,))
    v = Vehicle("v", vt, max_tasks=3, reload_depots=(0,))
    p = problem(v)
    assert {Feature.MAX_TASKS, Feature.RELOADS} <= p.features
    pyvrp = get_engine("pyvrp")
    assert p.features <= pyvrp.capabilities
    assert "max_tasks with shipments or reloads" in (pyvrp.supports(p) or "")
    with pytest.raises(UnsupportedConstraint):
        pyvrp.solve(p, time_limit=0.1)


def test_capable_engines_are_listed_best_first() -> None:
    assert capable_engines(problem()) == list(REGISTRY)
    assert "pyvrp" not in capable_engines(with_breaks())


def test_engines_without_a_parallel_search_decline_it_at_once() -> None:
    for name in ("vroom", "ortools"):
        engine = get_engine(name)
        assert engine.solve_parallel(problem(), time_limit=5.0, workers=2) is None
